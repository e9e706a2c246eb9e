//! The SDK against a real service (in this process, over a real socket, on
//! a SQLite file): local evaluations agree with the service's, changes
//! arrive, an outage keeps the last rules and resumes without loss, offline
//! files serve their values.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ff_sdk::{Context, ErrorCode, FlagClient, Reason, SdkError, Status};
use ff_server::ServeConfig;
use serde_json::{Value, json};

const ADMIN: &str = ff_testkit::ADMIN_TOKEN;
const WAIT: Duration = Duration::from_secs(10);

/// A running service (the harness's, `production` made ordinary) and the
/// client the tests administer it with.
struct Service {
    service: ff_testkit::Service,
    address: SocketAddr,
    http: reqwest::Client,
}

impl Service {
    /// Serves the SQLite database at `db` on `address` (port 0: any).
    async fn start(db: &Path, address: SocketAddr) -> Service {
        // Before the client is built: reqwest has no provider of its own.
        ff_testkit::install_crypto_provider();
        Service::start_with(db, address, |_| {}, reqwest::Client::new()).await
    }

    /// [`Service::start`] with settings changed by `configure`, called
    /// with `http`.
    async fn start_with(
        db: &Path,
        address: SocketAddr,
        configure: impl FnOnce(&mut ServeConfig),
        http: reqwest::Client,
    ) -> Service {
        let service = ff_testkit::Service::builder(&format!("sqlite://{}", db.display()))
            .address(address)
            .configure(configure)
            .start()
            .await;
        Service {
            address: service.address,
            service,
            http,
        }
    }

    fn url(&self) -> String {
        self.service.url.clone()
    }

    async fn stop(self) {
        self.service.stop().await;
    }

    /// An admin call; panics unless 2xx. Returns the answer's JSON.
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url()))
            .bearer_auth(ADMIN)
            // Production is protected: changes that reach it say why, and
            // deletes of what it serves are confirmed.
            .header("x-change-reason", "ff-sdk tests")
            .header("x-confirm", "true");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the service answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        // 202 would be a change held for approval: not what the tests mean.
        assert!(
            status.is_success() && status != reqwest::StatusCode::ACCEPTED,
            "{method} {path}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.admin(reqwest::Method::POST, path, Some(body)).await
    }

    /// The service's revision now.
    async fn revision(&self) -> i64 {
        let ready = self
            .admin(reqwest::Method::GET, "/health/ready", None)
            .await;
        ready["revision"].as_i64().unwrap()
    }

    /// A server key for `environment`; returns (id, secret).
    async fn server_key(&self, environment: &str) -> (String, String) {
        let key = self
            .post(
                "/api/v1/api-keys",
                json!({"name": "sdk test", "kind": "server", "environment": environment}),
            )
            .await;
        (
            key["id"].as_str().unwrap().to_owned(),
            key["key"].as_str().unwrap().to_owned(),
        )
    }

    /// What the service evaluates for `flag` in `environment`.
    async fn evaluate(&self, flag: &str, environment: &str, context: &Value) -> Value {
        self.post(
            "/api/v1/evaluate",
            json!({"flag_id": flag, "environment": environment, "context": context}),
        )
        .await
    }
}

/// A client of `service` with `key`, with short backoffs, ready.
async fn ready_client(service: &Service, key: &str) -> FlagClient {
    let client = FlagClient::builder(service.url(), key)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(client.wait_until_ready(WAIT).await, "{:?}", client.status());
    assert_eq!(client.status(), Status::Connected);
    client
}

/// Waits until the client has the service's current rules.
async fn caught_up(client: &FlagClient, service: &Service) {
    let revision = service.revision().await;
    assert!(
        client.wait_for_revision(revision, WAIT).await,
        "the client stays at {:?}, the service is at {revision}: {:?}",
        client.revision(),
        client.status()
    );
}

fn flags() -> Vec<Value> {
    vec![
        json!({
            "flag_id": "new_checkout", "type": "boolean", "default_value": false,
            "environments": {"development": true},
            "targeting_rules": [
                {"name": "europe", "conditions": [{"attribute": "country", "operator": "in", "value": ["IT", "DE"]}],
                 "value": true, "percentage": 50},
                {"name": "beta", "conditions": [{"operator": "in_segment", "value": "beta_testers"}],
                 "value": true}
            ]
        }),
        json!({
            "flag_id": "checkout_theme", "type": "string", "default_value": "classic",
            "variants": {"classic": "classic", "bold": "bold", "calm": "calm"},
            "targeting_rules": [{"name": "split", "conditions": [],
                "variants": [{"variant": "classic", "weight": 50}, {"variant": "bold", "weight": 30}, {"variant": "calm", "weight": 20}]}]
        }),
        json!({
            "flag_id": "api_timeout_seconds", "type": "number", "default_value": 30,
            "environments": {"development": 45}
        }),
        json!({
            "flag_id": "ui_theme_config", "type": "json", "default_value": {"theme": "light"},
            "environments": {"development": {"theme": "dark", "debug": true}}
        }),
        json!({
            "flag_id": "express_pay", "type": "boolean", "default_value": true,
            "depends_on": [{"flag": "new_checkout", "required_value": true}]
        }),
    ]
}

async fn seeded(service: &Service) {
    // Production holds no changes for approval (the harness made it an
    // ordinary environment): these tests change flags directly.
    service
        .post(
            "/api/v1/segments",
            json!({"segment_id": "beta_testers", "conditions": [{"attribute": "plan", "operator": "equals", "value": "beta"}]}),
        )
        .await;
    for flag in flags() {
        service.post("/api/v1/flags", flag).await;
    }
}

/// A seeded service on a fresh SQLite file, a server key of `environment`
/// (its id) and a ready client with it. Keep the directory while testing.
async fn seeded_service(environment: &str) -> (tempfile::TempDir, Service, String, FlagClient) {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("flags.db"), ([127, 0, 0, 1], 0).into()).await;
    seeded(&service).await;
    let (id, key) = service.server_key(environment).await;
    let client = ready_client(&service, &key).await;
    (dir, service, id, client)
}

/// Waits (at most 3 s) until the client's status satisfies `wanted`; the
/// last status seen.
async fn status_becomes(client: &FlagClient, wanted: impl Fn(&Status) -> bool) -> Status {
    let mut status = client.status();
    for _ in 0..300 {
        if wanted(&status) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        status = client.status();
    }
    status
}

fn context_of(value: &Value) -> Context {
    serde_json::from_value(value.clone()).unwrap()
}

/// Local evaluations agree with the service's, user by user, in an
/// environment that inherits (staging auto-syncs from development).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_evaluations_agree_with_the_service() {
    let (_dir, service, _, client) = seeded_service("staging").await;

    let countries = ["IT", "DE", "US"];
    let plans = ["beta", "free", "pro"];
    for user in 0..60 {
        let context = json!({
            "user_id": format!("user-{user}"),
            "country": countries[user % 3],
            "plan": plans[(user / 3) % 3],
        });
        for flag in flags() {
            let id = flag["flag_id"].as_str().unwrap();
            let expected = service.evaluate(id, "staging", &context).await;
            let local = client.evaluate(id, &context_of(&context), Value::Null);
            assert_eq!(local.value, expected["value"], "{id} for {context}");
            assert_eq!(
                local.reason.as_str(),
                expected["reason"],
                "{id} for {context}"
            );
            assert_eq!(
                local.variant.as_deref(),
                expected["variant"].as_str(),
                "{id} for {context}"
            );
            assert_eq!(local.error, None);
        }
    }

    // The typed getters, inherited values included.
    let anyone = Context::for_user("user-1");
    assert_eq!(client.int_value("api_timeout_seconds", &anyone, 0), 45);
    assert_eq!(
        client.number_value("api_timeout_seconds", &anyone, 0.0),
        45.0
    );
    assert_eq!(
        client.json_value("ui_theme_config", &anyone, json!({})),
        json!({"theme": "dark", "debug": true})
    );
    let beta = Context::for_user("user-2").with("plan", "beta");
    assert!(
        client.is_enabled("new_checkout", &beta),
        "the segment's rule"
    );
    assert!(
        client.bool_value("express_pay", &beta, false),
        "its prerequisite holds"
    );
    let theme = client.string_value("checkout_theme", &anyone, "none");
    assert!(
        ["classic", "bold", "calm"].contains(&theme.as_str()),
        "{theme}"
    );

    // Never an error into the app: the caller's default, and why.
    assert_eq!(
        client.string_value("new_checkout", &anyone, "fallback"),
        "fallback"
    );
    assert!(client.bool_value("no_such_flag", &anyone, true));
    let missing = client.evaluate("no_such_flag", &anyone, json!(7));
    assert_eq!((missing.value, missing.reason), (json!(7), Reason::Error));
    assert_eq!(missing.error, Some(ErrorCode::FlagNotFound));
    let mismatch = client.evaluate("api_timeout_seconds", &anyone, json!("text"));
    assert_eq!(mismatch.value, json!("text"));
    assert_eq!(mismatch.error, Some(ErrorCode::TypeMismatch));

    drop(client);
    service.stop().await;
}

/// Kill switch, edits, segment changes and deletes reach the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_the_client() {
    let (_dir, service, _, client) = seeded_service("development").await;
    let beta = Context::for_user("user-9").with("plan", "beta");
    let matched = client.evaluate("new_checkout", &beta, json!(false));
    assert_eq!(
        (matched.value, matched.reason),
        (json!(true), Reason::TargetingMatch)
    );

    // The kill switch.
    service
        .post(
            "/api/v1/emergency/disable",
            json!({"flag_id": "new_checkout", "environment": "development", "reason": "incident"}),
        )
        .await;
    caught_up(&client, &service).await;
    let killed = client.evaluate("new_checkout", &beta, json!(true));
    assert_eq!(
        (killed.value, killed.reason),
        (json!(false), Reason::Disabled)
    );
    assert!(
        !client.bool_value("express_pay", &beta, true),
        "a dependent flag follows its prerequisite"
    );
    service
        .post(
            "/api/v1/emergency/enable",
            json!({"flag_id": "new_checkout", "environment": "development"}),
        )
        .await;
    caught_up(&client, &service).await;
    assert!(client.is_enabled("new_checkout", &beta));

    // An edit, and a segment that no longer holds the user.
    service
        .admin(
            reqwest::Method::PATCH,
            "/api/v1/flags/api_timeout_seconds",
            Some(json!({"environments": {"development": 90}})),
        )
        .await;
    service
        .admin(
            reqwest::Method::PUT,
            "/api/v1/segments/beta_testers",
            Some(json!({"segment_id": "beta_testers", "conditions": [{"attribute": "plan", "operator": "equals", "value": "early"}]})),
        )
        .await;
    caught_up(&client, &service).await;
    assert_eq!(client.int_value("api_timeout_seconds", &beta, 0), 90);
    let reason = |context: &Context| {
        client
            .evaluate("new_checkout", context, json!(false))
            .reason
    };
    assert_eq!(reason(&beta), Reason::Default, "out of the segment");
    let early = Context::for_user("u").with("plan", "early");
    assert_eq!(reason(&early), Reason::TargetingMatch, "in the segment");

    // A delete.
    service
        .admin(
            reqwest::Method::DELETE,
            "/api/v1/flags/ui_theme_config",
            None,
        )
        .await;
    caught_up(&client, &service).await;
    let gone = client.evaluate("ui_theme_config", &beta, json!({"theme": "default"}));
    assert_eq!(gone.value, json!({"theme": "default"}));
    assert_eq!(gone.error, Some(ErrorCode::FlagNotFound));

    drop(client);
    service.stop().await;
}

/// While the service is down the client serves its last rules; when it is
/// back, the client resumes and gets what was committed meanwhile (replayed
/// from the change log by `Last-Event-ID`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_keeps_the_last_rules_and_resumes_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flags.db");
    let service = Service::start(&db, ([127, 0, 0, 1], 0).into()).await;
    let address = service.address;
    seeded(&service).await;
    let (_, key) = service.server_key("development").await;
    let client = ready_client(&service, &key).await;
    let user = Context::for_user("user-3");
    let before = client.revision().unwrap();
    service.stop().await;

    // Down: the last rules, and the status says why.
    let status = status_becomes(&client, |s| matches!(s, Status::Reconnecting(_))).await;
    assert!(matches!(status, Status::Reconnecting(_)), "{status:?}");
    assert_eq!(client.int_value("api_timeout_seconds", &user, 0), 45);
    assert_eq!(client.revision(), Some(before));

    // Meanwhile another node on the same database commits a change.
    let other = Service::start(&db, ([127, 0, 0, 1], 0).into()).await;
    other
        .admin(
            reqwest::Method::PATCH,
            "/api/v1/flags/api_timeout_seconds",
            Some(json!({"environments": {"development": 120}})),
        )
        .await;
    let committed = other.revision().await;
    other.stop().await;

    // Back on its address: the client resumes and catches up.
    let back = Service::start(&db, address).await;
    assert!(
        client.wait_for_revision(committed, WAIT).await,
        "{:?}",
        client.status()
    );
    assert_eq!(client.status(), Status::Connected);
    assert_eq!(client.int_value("api_timeout_seconds", &user, 0), 120);

    drop(client);
    back.stop().await;
}

/// A revoked key ends the stream; the client keeps its last rules and keeps
/// trying (and says why).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_keeps_the_last_rules() {
    let (_dir, service, id, client) = seeded_service("development").await;
    service
        .admin(
            reqwest::Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            None,
        )
        .await;
    let refused = |s: &Status| matches!(s, Status::Reconnecting(reason) if reason.contains("401"));
    let status = status_becomes(&client, refused).await;
    assert!(refused(&status), "{status:?}");
    assert_eq!(
        client.int_value("api_timeout_seconds", &Context::new(), 0),
        45
    );

    drop(client);
    service.stop().await;
}

/// Offline: a snapshot file's values for every context; wrong files refused.
#[tokio::test]
async fn offline_files_serve_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flags.json");
    std::fs::write(
        &file,
        json!({
            "format": "feature-flags-snapshot", "version": 1, "scenario": "all_flags_on",
            "environment": "production", "generated_at": "2026-12-04T00:00:00Z",
            "flags": {
                "new_checkout": {"value": true, "reason": "STATIC"},
                "checkout_theme": {"value": "bold", "variant": "bold", "reason": "DEFAULT"},
                "api_timeout_seconds": {"value": 30, "reason": "STATIC"}
            }
        })
        .to_string(),
    )
    .unwrap();
    let client = FlagClient::builder("unused", "unused")
        .offline_file(&file)
        .build()
        .unwrap();
    assert_eq!(client.status(), Status::Offline);
    assert!(client.wait_until_ready(Duration::from_millis(1)).await);
    let anyone = Context::for_user("user-5");
    assert!(client.is_enabled("new_checkout", &anyone));
    assert_eq!(client.int_value("api_timeout_seconds", &anyone, 0), 30);
    let theme = client.evaluate("checkout_theme", &anyone, json!("classic"));
    assert_eq!(theme.value, json!("bold"));
    assert_eq!(
        (theme.reason, theme.variant.as_deref()),
        (Reason::Default, Some("bold"))
    );
    let mismatch = client.evaluate("new_checkout", &anyone, json!(1));
    assert_eq!(
        (mismatch.value, mismatch.error),
        (json!(1), Some(ErrorCode::TypeMismatch))
    );
    let missing = client.evaluate("other", &anyone, json!(false));
    assert_eq!(missing.error, Some(ErrorCode::FlagNotFound));

    std::fs::write(
        &file,
        r#"{"format": "something-else", "version": 1, "flags": {}}"#,
    )
    .unwrap();
    let refused = FlagClient::builder("unused", "unused")
        .offline_file(&file)
        .build();
    assert!(
        matches!(&refused, Err(SdkError::OfflineFile { detail, .. }) if detail.contains("something-else")),
        "{refused:?}"
    );
    let absent = FlagClient::builder("", "")
        .offline_file(dir.path().join("none.json"))
        .build();
    assert!(
        matches!(absent, Err(SdkError::OfflineFile { .. })),
        "{absent:?}"
    );
}

/// Settings that cannot work are refused when the client is made.
#[tokio::test]
async fn bad_settings_are_refused() {
    for (url, key) in [
        ("flags.example.com", "ff_server_x"),
        ("http://127.0.0.1:1", ""),
    ] {
        let built = FlagClient::builder(url, key).build();
        assert!(
            matches!(built, Err(SdkError::Config(_))),
            "{url} {key}: {built:?}"
        );
    }
}

/// Local evaluations are counted and reported to the service: on demand,
/// with their outcomes and reasons; while the service is down lookups go on
/// and the counts wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_evaluations_are_reported_and_survive_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flags.db");
    let service = Service::start(&db, ([127, 0, 0, 1], 0).into()).await;
    let address = service.address;
    seeded(&service).await;
    let (_, key) = service.server_key("development").await;
    let client = ready_client(&service, &key).await;
    for i in 0..30 {
        let user = Context::for_user(format!("user-{i}"));
        client.is_enabled("new_checkout", &user);
        client.string_value("checkout_theme", &user, "classic");
    }
    client.is_enabled("no_such_flag", &Context::for_user("u"));
    let accepted = client.flush_metrics().await.unwrap();
    assert_eq!(accepted.accepted, 60);
    assert_eq!(accepted.dropped, 1);
    assert_eq!(accepted.unknown_flags, ["no_such_flag"]);
    let counts = service
        .admin(
            reqwest::Method::GET,
            "/api/v1/flags/checkout_theme/metrics?environment=development",
            None,
        )
        .await;
    let totals = &counts["totals"];
    assert_eq!(totals["evaluations"], 30, "{counts}");
    assert_eq!(totals["by_reason"], json!({"SPLIT": 30}));
    let by_variant = totals["by_outcome"].as_object().unwrap();
    assert!(
        by_variant
            .keys()
            .all(|v| ["classic", "bold", "calm"].contains(&v.as_str())),
        "{by_variant:?}"
    );
    let on = service
        .admin(
            reqwest::Method::GET,
            "/api/v1/flags/new_checkout/metrics",
            None,
        )
        .await;
    assert_eq!(on["totals"]["by_outcome"], json!({"true": 30}), "{on}");
    // Nothing new: nothing sent.
    assert_eq!(client.flush_metrics().await.unwrap().accepted, 0);
    // Tracked events go out with the metrics, stored under a hashed id.
    client.track("checkout_completed", "user-3", None);
    client.track("revenue", "user-3", Some(19.99));
    client.flush_metrics().await.unwrap();
    let subject = service
        .admin(reqwest::Method::GET, "/api/v1/subjects/user-3", None)
        .await;
    let events: Vec<&str> = subject["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{subject}");
    assert!(events.contains(&"revenue") && events.contains(&"checkout_completed"));

    // The service goes away: lookups still answer; the report fails and
    // keeps its counts until the service is back.
    service.stop().await;
    let user = Context::for_user("user-1");
    for _ in 0..1000 {
        assert!(client.is_enabled("new_checkout", &user));
    }
    assert!(client.flush_metrics().await.is_err());
    let back = Service::start(&db, address).await;
    assert_eq!(client.flush_metrics().await.unwrap().accepted, 1000);
    let on = back
        .admin(
            reqwest::Method::GET,
            "/api/v1/flags/new_checkout/metrics",
            None,
        )
        .await;
    assert_eq!(on["totals"]["evaluations"], 1030);
    assert_eq!(client.metrics_dropped(), 0);
    drop(client);
    back.stop().await;
}

/// A private CA (PEM) and a certificate for 127.0.0.1 it signed, written
/// as `cert.pem` and `key.pem` into `dir`.
fn private_ca(dir: &Path) -> String {
    let ca_key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("a CA key: {e}"));
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap_or_else(|e| panic!("CA parameters: {e}"));
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ff-sdk test CA");
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let ca = rcgen::CertifiedIssuer::self_signed(params, ca_key)
        .unwrap_or_else(|e| panic!("a CA certificate: {e}"));
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("a key: {e}"));
    let certificate = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .and_then(|params| params.signed_by(&key, &ca))
        .unwrap_or_else(|e| panic!("a certificate: {e}"));
    std::fs::write(dir.join("cert.pem"), certificate.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    ca.pem()
}

/// A service that speaks https with a certificate from a private CA: the
/// client given that CA follows it; without it, it never connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_follows_an_https_service_given_its_ca() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let ca = private_ca(dir.path());
    let admin_http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let service = Service::start_with(
        &dir.path().join("flags.db"),
        "127.0.0.1:0".parse().unwrap(),
        |config| {
            config.tls_cert = Some(dir.path().join("cert.pem"));
            config.tls_key = Some(dir.path().join("key.pem"));
        },
        admin_http,
    )
    .await;
    assert!(service.url().starts_with("https://"), "{}", service.url());
    seeded(&service).await;
    let (_, key) = service.server_key("development").await;

    let client = FlagClient::builder(service.url(), &key)
        .ca_certificates_pem(&ca)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(client.wait_until_ready(WAIT).await, "{:?}", client.status());
    caught_up(&client, &service).await;
    let beta = Context::for_user("user-9").with("plan", "beta");
    assert!(client.is_enabled("new_checkout", &beta));
    // A change reaches it over the https stream.
    service
        .post(
            "/api/v1/emergency/disable",
            json!({"flag_id": "new_checkout", "environment": "development", "reason": "incident"}),
        )
        .await;
    caught_up(&client, &service).await;
    assert!(!client.is_enabled("new_checkout", &beta));
    assert!(
        client.flush_metrics().await.is_ok(),
        "metrics are reported over https too"
    );

    // Without the CA the certificate is refused: never ready.
    let stranger = FlagClient::builder(service.url(), &key)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .metrics_interval(None)
        .build()
        .unwrap();
    assert!(!stranger.wait_until_ready(Duration::from_millis(500)).await);
    assert_ne!(stranger.status(), Status::Connected);
    // PEM that is not a certificate is a configuration error.
    let error = FlagClient::builder(service.url(), &key)
        .ca_certificates_pem("not a certificate")
        .build()
        .err()
        .unwrap();
    assert!(matches!(error, SdkError::Config(_)), "{error:?}");

    drop((client, stranger));
    service.stop().await;
}
