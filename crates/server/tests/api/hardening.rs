//! Hostile input and careless operators: requests that used to stall the
//! service, secrets that used to be shown, connections that never ended.
//!
//! Where a test shows that the service stays responsive, its bounds are
//! generous (tens of seconds against the milliseconds it takes): the point
//! is that a stall of minutes would fail, not how fast this machine is.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(
    nested_bodies_are_refused_without_stalling_anyone,
    operator_tokens_are_never_shown,
    silent_and_slow_connections_are_closed,
    open_streams_outlive_the_idle_timeout,
    connections_beyond_the_limit_wait_for_a_free_one,
    shutdown_does_not_wait_for_ever_on_a_half_sent_request,
    control_characters_and_overlong_text_are_refused_alike,
    a_key_made_on_another_node_works_at_once,
    large_documents_are_capped_and_audit_pages_by_size,
    control_characters_in_query_strings_are_refused_alike,
);

/// What no caller of the service may wait longer than while a hostile
/// request is parsed (it used to be about a minute per request).
const RESPONSIVE: Duration = Duration::from_secs(20);

async fn nested_bodies_are_refused_without_stalling_anyone(app: TestApp) {
    let viewer = app.key_with_role("viewer").await;
    let editor = app.key_with_role("editor").await;
    // The reported attack: 200 kB of brackets, declared as JSON, twice at
    // once; and the same as undeclared (form-encoded) bodies, which are
    // tried as JSON and then as YAML.
    let brackets = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let attack = |path: &str, key: &str, content_type: &'static str| {
        app.request(Method::POST, path, Some(key))
            .header("content-type", content_type)
            .body(brackets.clone())
            .send()
    };
    let check = "/api/v1/dependencies/check?environment=production";
    let attacks = futures::future::join_all([
        attack(check, &viewer, "application/json"),
        attack(check, &viewer, "application/x-www-form-urlencoded"),
        attack(check, &viewer, "application/yaml"),
        attack("/api/v1/import", &editor, "application/json"),
        attack(
            "/api/v1/import",
            &editor,
            "application/x-www-form-urlencoded",
        ),
        attack("/api/v1/import?format=yaml", &editor, "text/plain"),
    ]);
    let probe = async {
        for _ in 0..5 {
            let live = tokio::time::timeout(
                RESPONSIVE,
                app.request(Method::GET, "/health/live", None).send(),
            )
            .await
            .expect("the service answers while hostile bodies are parsed")
            .unwrap();
            assert_eq!(live.status(), 200);
        }
    };
    let (answers, ()) =
        tokio::time::timeout(RESPONSIVE * 3, async { tokio::join!(attacks, probe) })
            .await
            .expect("every hostile request is answered");
    for answer in answers {
        let answer = crate::support::Reply::read(answer.unwrap()).await;
        assert_eq!(answer.status, 400, "{answer}");
        let code = answer.body["error"]["code"].as_str().unwrap();
        assert!(
            ["malformed_json", "malformed_yaml", "document_too_deep"].contains(&code),
            "{answer}"
        );
    }

    // Declared JSON is never read as YAML: the YAML text that would parse is
    // a JSON error.
    let yaml_as_json = app
        .send(
            app.request(Method::POST, check, Some(&viewer))
                .header("content-type", "application/json")
                .body("dependencies: []"),
        )
        .await;
    yaml_as_json.expect_error(400, "malformed_json");
    // Depth is capped at 64 in JSON bodies of every route, naming where.
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    let refused = app
        .send(
            app.request(Method::POST, check, Some(&viewer))
                .header("content-type", "application/json")
                .body(deep.clone()),
        )
        .await;
    let error = refused.expect_error(400, "document_too_deep");
    assert!(
        error["message"].as_str().unwrap().contains("64 levels"),
        "{refused}"
    );
    let flag = format!(r#"{{"flag_id": "deep", "type": "json", "default_value": {deep}}}"#);
    app.send(
        app.request(Method::POST, "/api/v1/flags", Some(ADMIN_TOKEN))
            .header("content-type", "application/json")
            .body(flag),
    )
    .await
    .expect_error(400, "document_too_deep");
    // Ordinary documents in either format still work.
    let yaml = "dependencies:\n  - flag: a\n    depends_on: []\n";
    app.send(
        app.request(Method::POST, check, Some(&viewer))
            .header("content-type", "application/yaml")
            .body(yaml),
    )
    .await
    .expect_status(200);
    // A dependencies document has a size of its own (1 MiB).
    let large = format!(
        r#"{{"dependencies": [], "padding": "{}"}}"#,
        "x".repeat(1_100_000)
    );
    app.send(
        app.request(Method::POST, check, Some(&viewer))
            .header("content-type", "application/json")
            .body(large),
    )
    .await
    .expect_error(413, "payload_too_large");
}

async fn operator_tokens_are_never_shown(app: TestApp) {
    // The app was started with an operator-chosen token: no part of it is
    // stored, listed or audited.
    let keys = app
        .get("/api/v1/api-keys", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let initial = keys
        .items()
        .iter()
        .find(|k| k["name"] == "initial admin key")
        .unwrap_or_else(|| panic!("{keys}"));
    assert_eq!(initial["prefix"], "", "{keys}");
    let viewer = app.key_with_role("viewer").await;
    let audit = app
        .get("/api/v1/audit?action=api_key.create&limit=100", &viewer)
        .await
        .expect_status(200);
    let shown = audit.body.to_string();
    assert!(!shown.contains(&ADMIN_TOKEN[..9 + 4]), "{audit}");
    // A generated key shows its label and four random characters.
    let reply = app
        .post(
            "/api/v1/api-keys",
            ADMIN_TOKEN,
            &json!({"name": "sdk", "kind": "server", "environment": "development"}),
        )
        .await
        .expect_status(201);
    let secret = reply.body["key"].as_str().unwrap();
    let prefix = reply.body["prefix"].as_str().unwrap();
    assert_eq!(prefix.len(), "ff_server_".len() + 4, "{reply}");
    assert!(secret.starts_with(prefix));
}

/// The address of the app, for raw TCP clients.
fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or `RESPONSIVE` passes);
/// returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(RESPONSIVE, stream.read_to_end(&mut received)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open; it sent: {}",
        String::from_utf8_lossy(&received)
    );
    String::from_utf8_lossy(&received).into_owned()
}

async fn silent_and_slow_connections_are_closed(app: TestApp) {
    let app = app
        .fresh(|config| {
            config.header_read_timeout_secs = 1;
            config.body_read_timeout_secs = 1;
        })
        .await;
    let address = address(&app);
    // A connection that never says anything.
    let mut silent = TcpStream::connect(&address).await.unwrap();
    assert_eq!(read_until_closed(&mut silent).await, "");
    // Headers that never end (slowloris).
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut slow).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // A kept-alive connection that goes idle after its request.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    // A body that stops half-way: 408 in the envelope, then closed.
    let mut dripping = TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/flags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"flag_id\":"
    );
    dripping.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut dripping).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    // The service itself is fine.
    app.send(app.request(Method::GET, "/health/live", None))
        .await
        .expect_status(200);
}

async fn open_streams_outlive_the_idle_timeout(app: TestApp) {
    let app = app
        .fresh(|config| config.header_read_timeout_secs = 1)
        .await;
    let (_, server_key) = app
        .create_key(json!({"name": "sdk", "kind": "server", "environment": "development"}))
        .await;
    let mut stream = app
        .request(Method::GET, "/api/v1/stream", Some(&server_key))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("put"));
    // Well past the header-read timeout, the stream still delivers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    app.create_flag(&crate::support::simple_flag("after_idle"))
        .await;
    let next = tokio::time::timeout(RESPONSIVE, async {
        let mut seen = String::new();
        while !seen.contains("after_idle") {
            let chunk = stream.chunk().await.unwrap().expect("the stream is open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        seen
    })
    .await
    .expect("the change reaches the stream");
    assert!(next.contains("after_idle"));
}

async fn connections_beyond_the_limit_wait_for_a_free_one(app: TestApp) {
    let app = app
        .fresh(|config| {
            config.max_connections = 3;
            config.header_read_timeout_secs = 600;
        })
        .await;
    let address = address(&app);
    // Three connections that say nothing take every place...
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(&address).await.unwrap());
    }
    // ...so a fourth client's request is not served...
    let fourth = tokio::spawn({
        let request = app.request(Method::GET, "/health/live", None);
        async move { request.send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!fourth.is_finished(), "served beyond the connection limit");
    // ...until one of them goes away.
    drop(held.pop());
    let status = tokio::time::timeout(RESPONSIVE, fourth)
        .await
        .expect("served once a place is free")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

async fn shutdown_does_not_wait_for_ever_on_a_half_sent_request(app: TestApp) {
    let app = app
        .fresh(|config| {
            config.body_read_timeout_secs = 600;
            config.shutdown_timeout_secs = 1;
        })
        .await;
    let mut half = TcpStream::connect(address(&app)).await.unwrap();
    let head = format!(
        "POST /api/v1/flags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Length: 1000\r\n\r\n{{"
    );
    half.write_all(head.as_bytes()).await.unwrap();
    // The request is in the handler, waiting for the rest of its body.
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::time::timeout(RESPONSIVE, app.shutdown())
        .await
        .expect("shutdown ends at its timeout");
}

async fn control_characters_and_overlong_text_are_refused_alike(app: TestApp) {
    let refused = |reply: crate::support::Reply, field: &str| {
        let error = reply.expect_error(422, "validation_failed").clone();
        let shown = error.to_string();
        assert!(shown.contains(field), "{field}: {shown}");
    };
    // A NUL in a flag's value (PostgreSQL cannot store it; SQLite could).
    refused(
        app.post(
            "/api/v1/flags",
            ADMIN_TOKEN,
            &json!({"flag_id": "nul_value", "default_value": "a\u{0}b"}),
        )
        .await,
        "default_value",
    );
    // In an API key's name, and a tab too.
    for name in ["a\u{0}b", "tab\tname"] {
        refused(
            app.post(
                "/api/v1/api-keys",
                ADMIN_TOKEN,
                &json!({"name": name, "kind": "admin", "role": "viewer"}),
            )
            .await,
            "name",
        );
    }
    // In a reason or a deployment id given in a body.
    app.create_flag(&crate::support::simple_flag("plain")).await;
    refused(
        app.post(
            "/api/v1/emergency/disable",
            ADMIN_TOKEN,
            &json!({"flag_id": "plain", "environment": "development", "reason": "x\u{0}y"}),
        )
        .await,
        "reason",
    );
    refused(
        app.post(
            "/api/v1/flags/bulk",
            ADMIN_TOKEN,
            &json!({"operations": [{"op": "disable", "flag_id": "plain", "environment": "staging"}],
                    "deployment_id": "deploy\u{0}1"}),
        )
        .await,
        "deployment_id",
    );
    // An overlong reason in a header.
    refused(
        app.send(
            app.request(Method::PATCH, "/api/v1/flags/plain", Some(ADMIN_TOKEN))
                .header("x-change-reason", "r".repeat(2001))
                .json(&json!({"description": "longer"})),
        )
        .await,
        "reason",
    );
    // Nothing of it was written, and a long request id is no reason to refuse.
    assert_eq!(
        app.get("/api/v1/flags/plain", ADMIN_TOKEN).await.body["version"],
        1
    );
    app.send(
        app.request(Method::PATCH, "/api/v1/flags/plain", Some(ADMIN_TOKEN))
            .header("x-request-id", "i".repeat(5000))
            .json(&json!({"description": "longer"})),
    )
    .await
    .expect_status(200);
}

async fn a_key_made_on_another_node_works_at_once(app: TestApp) {
    // On SQLite two nodes hear of each other's commits only at their
    // periodic refresh (every 10 s): without consulting the store, the
    // second node refuses the new key until then.
    let other = app.another_node().await;
    for round in 0..3 {
        let (_, key) = app
            .create_key(json!({"name": format!("sdk {round}"), "kind": "server", "environment": "development"}))
            .await;
        let reply = other
            .send(
                other
                    .request(Method::POST, "/ofrep/v1/evaluate/flags", Some(&key))
                    .json(&json!({"context": {"targetingKey": "u1"}})),
            )
            .await;
        assert_eq!(reply.status, 200, "round {round}: {reply}");
    }
    // A key that exists nowhere is still refused, and asking again soon
    // is refused too.
    for _ in 0..3 {
        other
            .send(other.request(
                Method::GET,
                "/api/v1/flags",
                Some("ff_admin_no_such_key_0123456789abcdef"),
            ))
            .await
            .expect_error(401, "unauthorized");
    }
}

async fn large_documents_are_capped_and_audit_pages_by_size(app: TestApp) {
    // Over the 256 KiB default: refused, naming the flag and the setting,
    // through every way a flag is written.
    let oversized = json!({"flag_id": "huge", "default_value": false,
        "description": "x".repeat(300 * 1024)});
    for reply in [
        app.post("/api/v1/flags", ADMIN_TOKEN, &oversized).await,
        app.post(
            "/api/v1/import",
            ADMIN_TOKEN,
            &json!({"flags": [oversized.clone()]}),
        )
        .await,
        app.post(
            "/api/v1/import?dry_run=true",
            ADMIN_TOKEN,
            &json!({"flags": [oversized.clone()]}),
        )
        .await,
    ] {
        let problems = crate::support::problems(&reply);
        assert_eq!(reply.status, 422, "{reply}");
        assert!(
            problems.iter().any(
                |(path, message)| path == "flags[huge]" && message.contains("--max-flag-bytes")
            ),
            "{reply}"
        );
    }
    // A configured limit takes larger ones.
    let roomy = app
        .fresh(|config| config.max_flag_bytes = 1024 * 1024)
        .await;
    roomy
        .post("/api/v1/flags", ADMIN_TOKEN, &oversized)
        .await
        .expect_status(201);

    // Audit entries carry documents whole: a page stops at about 4 MiB of
    // them, and the cursor leads to the rest.
    let mut doc = json!({"flag_id": "big", "default_value": 0,
        "description": "y".repeat(200 * 1024)});
    app.post("/api/v1/flags", ADMIN_TOKEN, &doc)
        .await
        .expect_status(201);
    for i in 1..=14 {
        doc["default_value"] = json!(i);
        app.put("/api/v1/flags/big", ADMIN_TOKEN, &doc)
            .await
            .expect_status(200);
    }
    let mut seen = 0;
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(id) => format!("/api/v1/audit?flag_id=big&limit=1000&before_id={id}"),
            None => "/api/v1/audit?flag_id=big&limit=1000".to_owned(),
        };
        let page = app.get(&path, ADMIN_TOKEN).await.expect_status(200);
        let count = page.items().len();
        assert!(count >= 1, "{page}");
        seen += count;
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 20, "the cursor does not advance");
    }
    assert_eq!(seen, 15, "every entry once");
    assert!(pages >= 2, "15 entries of ~400 KiB fit no single page");
}

/// A control character in a list's filter: PostgreSQL cannot compare with a
/// NUL and the service answered 503 there (SQLite: an empty list). Refused
/// alike on both backends, in every query string (found by schemathesis).
async fn control_characters_in_query_strings_are_refused_alike(app: TestApp) {
    for path in [
        "/api/v1/rollout-plans?status=E%00x",
        "/api/v1/schedules?flag_id=a%01b",
        "/api/v1/change-requests?environment=%7F",
        "/api/v1/audit?actor=key%C2%85",
        "/api/v1/flags?tag=a%00",
    ] {
        app.get(path, ADMIN_TOKEN)
            .await
            .expect_error(400, "invalid_query");
    }
    // Text that only looks like an escape is text.
    app.get("/api/v1/flags?q=100%25", ADMIN_TOKEN)
        .await
        .expect_status(200);
    // OFREP answers in its own shape.
    let context = json!({"context": {}});
    for path in [
        "/ofrep/v1/evaluate/flags?environment=a%00",
        "/ofrep/v1/evaluate/flags/some_flag?environment=a%00",
    ] {
        let reply = app
            .post(path, ADMIN_TOKEN, &context)
            .await
            .expect_status(400);
        assert_eq!(reply.body["errorCode"], "GENERAL", "{reply}");
    }
}
