//! Outgoing webhooks, end to end: a real HTTP receiver on a local port
//! records what the service sends; deliveries are checked for their event,
//! body and signature, retried when the receiver fails, kept across a
//! restart, sent once by two nodes, filtered by event and environment.
//! Waits are bounded by patience, never asserted as speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Mutex;

use crate::support::{ADMIN_TOKEN, Reply, TestApp, problems};

api_tests!(
    registration_is_audited_and_the_secret_shown_once,
    bad_input_is_refused_with_what_and_where,
    a_flag_change_and_the_kill_switch_arrive_signed,
    a_failing_receiver_gets_the_delivery_retried,
    a_restart_loses_no_delivery,
    two_nodes_deliver_each_event_once,
    events_and_environments_are_filtered,
    the_slack_format_is_a_text_body,
    a_test_ping_is_sent_and_listed,
);

mod governed {
    use super::*;
    governed_api_tests!(change_requests_and_schedules_are_events);
}

/// What the receiver got: one request.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        match serde_json::from_str(&self.body) {
            Ok(value) => value,
            Err(error) => panic!("not JSON ({error}): {}", self.body),
        }
    }

    /// Panics unless `X-FF-Signature` is `t=…,v1=HMAC(secret, "t.body")`.
    #[track_caller]
    fn assert_signed(&self, secret: &str) {
        let header = self.header("x-ff-signature");
        let Some((t, v1)) = header
            .strip_prefix("t=")
            .and_then(|rest| rest.split_once(",v1="))
        else {
            panic!("malformed X-FF-Signature: {header:?}");
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            panic!("HMAC takes any key");
        };
        mac.update(format!("{t}.{}", self.body).as_bytes());
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(v1, expected, "signature of {}", self.body);
        let Ok(t) = t.parse::<i64>() else {
            panic!("t is not a number: {header}");
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!((now - t).abs() < 600, "t={t} is far from now ({now})");
    }
}

/// A local HTTP endpoint that records every request and answers 500 to the
/// first `failures` of them, then 200.
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(AtomicUsize::new(0));
        let (log, failing) = (received.clone(), failures.clone());
        let handler = move |headers: HeaderMap, body: String| {
            let (log, failing) = (log.clone(), failing.clone());
            async move {
                log.lock().await.push(Received { headers, body });
                let fail = failing
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if fail {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        };
        let router = axum::Router::new().route("/hook", axum::routing::post(handler));
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("cannot bind the receiver: {error}"),
        };
        let url = match listener.local_addr() {
            Ok(address) => format!("http://{address}/hook"),
            Err(error) => panic!("{error}"),
        };
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver {
            url,
            received,
            failures,
        }
    }

    /// Answers 500 to the next `n` requests.
    fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }

    async fn all(&self) -> Vec<Received> {
        self.received.lock().await.clone()
    }

    /// Waits (with patience) until `done` holds for what was received.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let all = self.all().await;
            if done(&all) {
                return all;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("gave up waiting for {what}; received: {all:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Registers an endpoint; answers (id, secret).
async fn register(app: &TestApp, body: Value) -> (String, String) {
    let reply = app
        .post("/api/v1/webhooks", ADMIN_TOKEN, &body)
        .await
        .expect_status(201);
    match (reply.body["id"].as_str(), reply.body["secret"].as_str()) {
        (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
        _ => panic!("no id or secret: {reply}"),
    }
}

async fn deliveries(app: &TestApp, id: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/webhooks/{id}/deliveries"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .items()
        .clone()
}

/// Waits until every delivery of an endpoint is settled (none pending) and
/// there are at least `count`.
async fn settled(app: &TestApp, id: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let items = deliveries(app, id).await;
        if items.len() >= count && items.iter().all(|d| d["status"] != "pending") {
            return items;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("deliveries of {id} never settled: {items:#?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn set_entry(app: &TestApp, flag: &str, env: &str, value: Value) {
    app.put(
        &format!("/api/v1/flags/{flag}/environments/{env}"),
        ADMIN_TOKEN,
        &value,
    )
    .await
    .expect_status(200);
}

async fn kill(app: &TestApp, flag: &str, env: &str) {
    app.post(
        "/api/v1/emergency/disable",
        ADMIN_TOKEN,
        &json!({"flag_id": flag, "environment": env, "reason": "incident 7"}),
    )
    .await
    .expect_status(200);
}

fn checkout() -> Value {
    json!({
        "flag_id": "checkout_v2",
        "default_value": false,
        "environments": {"staging": true, "production": true}
    })
}

async fn registration_is_audited_and_the_secret_shown_once(app: TestApp) {
    let reply = app
        .post(
            "/api/v1/webhooks",
            ADMIN_TOKEN,
            &json!({"url": "https://hooks.example.com/services/T0/B0/s3cr3t",
                    "events": ["flag.killed", "flag.changed"],
                    "description": "ops channel"}),
        )
        .await
        .expect_status(201);
    let created = reply.body;
    let Some(id) = created["id"].as_str() else {
        panic!("no id: {created}");
    };
    assert!(id.starts_with("wh_"), "{id}");
    let secret = created["secret"].as_str().unwrap_or_default();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    // Defaults filled in.
    assert_eq!(created["events"], json!(["flag.killed", "flag.changed"]));
    assert_eq!(created["environments"], json!([]));
    assert_eq!(created["format"], "json");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["version"], 1);

    // Never again.
    let got = app
        .get(&format!("/api/v1/webhooks/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(
        got["url"],
        "https://hooks.example.com/services/T0/B0/s3cr3t"
    );
    let listed = app
        .get("/api/v1/webhooks", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(listed.items().len(), 1);
    assert!(listed.items()[0].get("secret").is_none());

    // Changes are versioned; nothing that changes nothing is written.
    let patched = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            ADMIN_TOKEN,
            &json!({"enabled": false, "format": "slack"}),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["format"], "slack");
    assert_eq!(patched["version"], 2);
    let same = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            ADMIN_TOKEN,
            &json!({"enabled": false}),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(same["version"], 2);

    // Audited like other admin writes, without the secret or the URL's path
    // (a Slack URL is a credential; viewers read the audit log).
    let created_entries = app.audit("action=webhook.create").await;
    assert_eq!(created_entries.len(), 1, "{created_entries:?}");
    let entry = &created_entries[0];
    assert_eq!(entry["resource_kind"], "webhook");
    assert_eq!(entry["resource_key"], id);
    assert_eq!(entry["after"]["url"], "https://hooks.example.com/…");
    let text = entry.to_string();
    assert!(!text.contains(secret) && !text.contains("s3cr3t"), "{text}");
    assert_eq!(app.audit("action=webhook.update").await.len(), 1);

    // Viewers and editors may not see endpoints at all.
    let editor = app.key_with_role("editor").await;
    app.get("/api/v1/webhooks", &editor)
        .await
        .expect_error(403, "forbidden");

    app.delete(&format!("/api/v1/webhooks/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200);
    app.get(&format!("/api/v1/webhooks/{id}"), ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    app.delete(&format!("/api/v1/webhooks/{id}"), ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    assert_eq!(app.audit("action=webhook.delete").await.len(), 1);
    let verify = app.get("/api/v1/audit/verify", ADMIN_TOKEN).await;
    assert_eq!(verify.body["valid"], true);
}

async fn bad_input_is_refused_with_what_and_where(app: TestApp) {
    let refused = |reply: Reply| problems(&reply);
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (
            json!({"url": "not-a-url", "events": ["flag.changed"]}),
            vec![("url", "not a valid URL")],
        ),
        (
            json!({"url": "http://127.0.0.1/a b", "events": ["flag.killed", "flag.killed"]}),
            vec![("url", "a space"), ("events[1]", "listed twice")],
        ),
        (
            json!({"url": "ftp://example.com/x", "events": ["flag.changed"]}),
            vec![("url", "scheme \"ftp\" is not allowed")],
        ),
        (
            json!({"url": "http://127.0.0.1/x", "events": ["flag.changed", "flag.exploded"]}),
            vec![("events[1]", "unknown event \"flag.exploded\"")],
        ),
        (
            json!({"url": "http://127.0.0.1/x", "events": []}),
            vec![("events", "at least one event")],
        ),
        (
            json!({"url": "gopher://x", "events": ["nope"], "environments": ["mars"], "format": "xml"}),
            vec![
                ("url", "scheme \"gopher\""),
                ("events[0]", "unknown event"),
                ("environments[0]", "no environment \"mars\""),
                ("format", "unknown format \"xml\""),
            ],
        ),
    ];
    for (body, expected) in cases {
        let reply = app.post("/api/v1/webhooks", ADMIN_TOKEN, &body).await;
        let found = refused(reply);
        assert_eq!(found.len(), expected.len(), "{body}: {found:?}");
        for ((path, message), (want_path, want_message)) in found.iter().zip(&expected) {
            assert_eq!(path, want_path, "{body}");
            assert!(message.contains(want_message), "{body}: {message}");
        }
    }
    // Malformed bodies: unknown fields, wrong types.
    for body in [
        json!({"url": "http://127.0.0.1/x", "events": ["flag.changed"], "secret": "mine"}),
        json!({"url": 7, "events": ["flag.changed"]}),
        json!(["http://127.0.0.1/x", ["flag.changed"]]),
    ] {
        let reply = app.post("/api/v1/webhooks", ADMIN_TOKEN, &body).await;
        assert!(
            reply.status == 400 || reply.status == 422,
            "{body}: {reply}"
        );
        crate::support::assert_envelope(&reply.body, &reply.to_string());
    }
    // A change is checked the same way.
    let (id, _) = register(
        &app,
        json!({"url": "http://127.0.0.1:9/x", "events": ["flag.changed"]}),
    )
    .await;
    let reply = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            ADMIN_TOKEN,
            &json!({"url": "javascript:alert(1)"}),
        )
        .await;
    assert_eq!(refused(reply)[0].0, "url");
    app.patch(
        &format!("/api/v1/webhooks/{id}"),
        ADMIN_TOKEN,
        &json!([null, null]),
    )
    .await
    .expect_error(400, "invalid_body");
    app.patch(
        "/api/v1/webhooks/wh_missing",
        ADMIN_TOKEN,
        &json!({"enabled": false}),
    )
    .await
    .expect_error(404, "not_found");
    // Nothing was written by the refusals.
    assert_eq!(app.audit("action=webhook.create").await.len(), 1);
}

async fn a_flag_change_and_the_kill_switch_arrive_signed(app: TestApp) {
    let receiver = Receiver::start().await;
    let (id, secret) = register(
        &app,
        json!({"url": receiver.url, "events": ["flag.changed", "flag.killed"]}),
    )
    .await;
    app.create_flag(&checkout()).await;
    set_entry(&app, "checkout_v2", "production", json!(false)).await;
    kill(&app, "checkout_v2", "staging").await;

    let all = receiver
        .wait_for("a creation, a change and a kill", |all| all.len() >= 3)
        .await;
    for request in &all {
        request.assert_signed(&secret);
        assert_eq!(request.header("content-type"), "application/json");
        assert!(request.header("x-ff-delivery").starts_with("whd_"));
        assert_eq!(request.header("x-ff-event"), request.json()["event"]);
    }
    // In the order they happened.
    let events: Vec<Value> = all.iter().map(Received::json).collect();
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(names, ["flag.changed", "flag.changed", "flag.killed"]);
    assert_eq!(events[0]["action"], "flag.create");
    let change = &events[1];
    assert_eq!(change["action"], "flag.environment.update");
    assert_eq!(change["environment"], "production");
    assert_eq!(
        change["resource"],
        json!({"kind": "flag", "key": "checkout_v2"})
    );
    assert_eq!(change["data"]["after"]["environments"]["production"], false);
    let killed = &events[2];
    assert_eq!(killed["environment"], "staging");
    assert_eq!(killed["reason"], "incident 7");
    assert_eq!(
        killed["data"]["after"]["environments"]["staging"]["enabled"],
        false
    );
    assert!(
        killed["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("evt_"))
    );

    // The deliveries say so.
    let listed = settled(&app, &id, 3).await;
    assert_eq!(listed.len(), 3);
    for delivery in &listed {
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["last_status_code"], 200);
        assert!(delivery.get("next_attempt_at").is_none(), "{delivery}");
    }
    // Newest first.
    assert_eq!(listed[0]["event"], "flag.killed");
    assert_eq!(listed[0]["payload"], events[2]);
}

async fn a_failing_receiver_gets_the_delivery_retried(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.fail_next(2);
    let (id, secret) = register(
        &app,
        json!({"url": receiver.url, "events": ["flag.killed"]}),
    )
    .await;
    app.create_flag(&checkout()).await;
    kill(&app, "checkout_v2", "production").await;

    let all = receiver
        .wait_for("two failures and a success", |all| all.len() >= 3)
        .await;
    // The same delivery each time, signed each time.
    let ids: Vec<&str> = all.iter().map(|r| r.header("x-ff-delivery")).collect();
    assert!(ids.iter().all(|d| *d == ids[0]), "{ids:?}");
    let bodies: Vec<&str> = all.iter().map(|r| r.body.as_str()).collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    for request in &all {
        request.assert_signed(&secret);
    }
    let listed = settled(&app, &id, 1).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "delivered");
    assert_eq!(listed[0]["attempts"], 3);
    assert_eq!(listed[0]["last_status_code"], 200);
    assert_eq!(listed[0]["id"], ids[0]);
    // Nothing more is sent once delivered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.all().await.len(), 3);

    // A receiver that never recovers: the delivery is given up after the
    // configured attempts (6 in tests), with the last error kept.
    receiver.fail_next(usize::MAX);
    kill(&app, "checkout_v2", "staging").await;
    let listed = settled(&app, &id, 2).await;
    let failed = &listed[0];
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["attempts"], app.config.webhook_max_attempts);
    assert_eq!(failed["last_status_code"], 500);
    assert_eq!(failed["last_error"], "HTTP 500 Internal Server Error");
}

async fn a_restart_loses_no_delivery(app: TestApp) {
    let receiver = Receiver::start().await;
    let (id, secret) = register(
        &app,
        json!({"url": receiver.url, "events": ["flag.killed"]}),
    )
    .await;
    app.create_flag(&checkout()).await;
    // The receiver is down: the first attempt fails and the delivery waits.
    receiver.fail_next(usize::MAX);
    kill(&app, "checkout_v2", "production").await;
    receiver
        .wait_for("a first (failed) attempt", |all| !all.is_empty())
        .await;
    let app = app.restart().await;
    // While this node was away nothing was lost: the row is in the database.
    let pending = deliveries(&app, &id).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    receiver.fail_next(0);
    let listed = settled(&app, &id, 1).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "delivered", "{listed:?}");
    let ok = receiver.all().await;
    let last = match ok.last() {
        Some(last) => last.clone(),
        None => panic!("nothing received"),
    };
    last.assert_signed(&secret);
    assert_eq!(last.json()["event"], "flag.killed");

    // An event committed just before a node stops is sent after the
    // start: the cursor and the outbox are in the database, not in memory.
    kill(&app, "checkout_v2", "staging").await;
    let app = app.restart().await;
    receiver
        .wait_for("the kill switch in staging", |all| {
            all.iter().any(|r| {
                r.header("x-ff-event") == "flag.killed" && r.json()["environment"] == "staging"
            })
        })
        .await;
    let listed = settled(&app, &id, 2).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed.iter().all(|d| d["status"] == "delivered"),
        "{listed:?}"
    );
}

async fn two_nodes_deliver_each_event_once(app: TestApp) {
    let receiver = Receiver::start().await;
    let (id, _) = register(
        &app,
        json!({"url": receiver.url, "events": ["flag.changed"]}),
    )
    .await;
    let other = app.another_node().await;
    let nodes = [&app, &other];
    for i in 0..8 {
        let node = nodes[i % 2];
        node.create_flag(&json!({"flag_id": format!("twice_{i}"), "default_value": false}))
            .await;
    }
    let listed = settled(&app, &id, 8).await;
    assert_eq!(listed.len(), 8, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1)
    );
    // Both dispatchers keep running: give them a few more ticks to send
    // anything twice, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = receiver.all().await;
    let mut events: Vec<String> = all
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut deliveries: Vec<&str> = all.iter().map(|r| r.header("x-ff-delivery")).collect();
    events.sort();
    events.dedup();
    deliveries.sort_unstable();
    deliveries.dedup();
    assert_eq!(all.len(), 8, "{all:#?}");
    assert_eq!(events.len(), 8);
    assert_eq!(deliveries.len(), 8);
}

async fn events_and_environments_are_filtered(app: TestApp) {
    let production_changes = Receiver::start().await;
    let kills = Receiver::start().await;
    let (changes_id, _) = register(
        &app,
        json!({"url": production_changes.url, "events": ["flag.changed"], "environments": ["production"]}),
    )
    .await;
    let (kills_id, _) = register(&app, json!({"url": kills.url, "events": ["flag.killed"]})).await;
    app.create_flag(&checkout()).await; // no environment: every filter passes
    set_entry(&app, "checkout_v2", "staging", json!(false)).await;
    set_entry(&app, "checkout_v2", "production", json!(false)).await;
    kill(&app, "checkout_v2", "production").await;
    kill(&app, "checkout_v2", "staging").await;

    // The last event has been delivered: everything before it was read.
    let got_kills = kills.wait_for("two kills", |all| all.len() >= 2).await;
    let changes = settled(&app, &changes_id, 2).await;
    let kill_rows = settled(&app, &kills_id, 2).await;
    let environments = |items: &[Value]| -> Vec<Value> {
        items
            .iter()
            .map(|d| d["payload"]["environment"].clone())
            .collect()
    };
    // Newest first: the production change, then the creation.
    assert_eq!(environments(&changes), [json!("production"), Value::Null]);
    assert!(changes.iter().all(|d| d["event"] == "flag.changed"));
    assert_eq!(
        environments(&kill_rows),
        [json!("staging"), json!("production")]
    );
    assert!(kill_rows.iter().all(|d| d["event"] == "flag.killed"));
    assert_eq!(got_kills.len(), 2);
    assert_eq!(production_changes.all().await.len(), 2);
    production_changes.fail_next(0);

    // Disabled: nothing more is sent; enabled again: new events flow.
    app.patch(
        &format!("/api/v1/webhooks/{kills_id}"),
        ADMIN_TOKEN,
        &json!({"enabled": false}),
    )
    .await
    .expect_status(200);
    kill(&app, "checkout_v2", "development").await;
    // Once the other endpoint has its next event, the dispatcher has read
    // past the kill made while this one was disabled.
    set_entry(&app, "checkout_v2", "production", json!(true)).await;
    production_changes
        .wait_for("the next production change", |all| all.len() >= 3)
        .await;
    app.patch(
        &format!("/api/v1/webhooks/{kills_id}"),
        ADMIN_TOKEN,
        &json!({"enabled": true, "environments": ["development"]}),
    )
    .await
    .expect_status(200);
    set_entry(&app, "checkout_v2", "development", json!(true)).await;
    kill(&app, "checkout_v2", "development").await;
    let got = kills.wait_for("a third kill", |all| all.len() >= 3).await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].json()["environment"], "development");
    let listed = settled(&app, &kills_id, 3).await;
    assert_eq!(
        listed.len(),
        3,
        "the kill while disabled is never sent: {listed:?}"
    );
}

async fn the_slack_format_is_a_text_body(app: TestApp) {
    let receiver = Receiver::start().await;
    let (_, secret) = register(
        &app,
        json!({"url": receiver.url, "events": ["flag.killed", "flag.changed"], "format": "slack",
               "environments": ["production"]}),
    )
    .await;
    app.create_flag(&checkout()).await;
    kill(&app, "checkout_v2", "production").await;
    let all = receiver
        .wait_for("two messages", |all| all.len() >= 2)
        .await;
    all[1].assert_signed(&secret);
    assert_eq!(all[1].header("x-ff-event"), "flag.killed");
    let text = all[1].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.starts_with(
            ":rotating_light: Kill switch: flag `checkout_v2` turned off in *production* by "
        ),
        "{text}"
    );
    assert!(text.ends_with(". Reason: incident 7"), "{text}");
    assert_eq!(all[1].json().as_object().map(|o| o.len()), Some(1));
    let created = all[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        created.starts_with(":triangular_flag_on_post: Flag `checkout_v2` changed (flag.create) in every environment by "),
        "{created}"
    );
}

async fn a_test_ping_is_sent_and_listed(app: TestApp) {
    let receiver = Receiver::start().await;
    let (id, secret) = register(
        &app,
        json!({"url": receiver.url, "events": ["flag.killed"]}),
    )
    .await;
    let sent = app
        .post(
            &format!("/api/v1/webhooks/{id}/test"),
            ADMIN_TOKEN,
            &json!({}),
        )
        .await
        .expect_status(200)
        .body;
    let all = receiver.wait_for("the ping", |all| !all.is_empty()).await;
    all[0].assert_signed(&secret);
    assert_eq!(all[0].header("x-ff-event"), "ping");
    assert_eq!(all[0].json()["webhook_id"], id);
    assert_eq!(all[0].header("x-ff-delivery"), sent["id"]);
    let listed = settled(&app, &id, 1).await;
    assert_eq!(listed[0]["event"], "ping");
    assert_eq!(listed[0]["status"], "delivered");

    // An endpoint that cannot be reached: the answer says why.
    let (down, _) = register(
        &app,
        json!({"url": "http://127.0.0.1:9/nothing-listens", "events": ["flag.killed"]}),
    )
    .await;
    let sent = app
        .post(
            &format!("/api/v1/webhooks/{down}/test"),
            ADMIN_TOKEN,
            &json!({}),
        )
        .await
        .expect_status(200)
        .body;
    if sent["attempts"] == 1 {
        assert_eq!(sent["status"], "pending", "{sent}");
        assert!(
            sent["last_error"].as_str().is_some_and(|e| !e.is_empty()),
            "{sent}"
        );
        assert!(sent.get("last_status_code").is_none(), "{sent}");
        assert!(sent["next_attempt_at"].is_string(), "{sent}");
    }
    app.post("/api/v1/webhooks/wh_missing/test", ADMIN_TOKEN, &json!({}))
        .await
        .expect_error(404, "not_found");
}

async fn change_requests_and_schedules_are_events(app: TestApp) {
    let receiver = Receiver::start().await;
    let (_, secret) = register(
        &app,
        json!({"url": receiver.url,
               "events": ["change_request.opened", "change_request.decided", "schedule.applied", "schedule.failed"]}),
    )
    .await;
    app.create_flag(&checkout()).await;
    // Production needs approval: the write becomes a change request.
    let held = app
        .send(
            app.request(
                Method::PUT,
                "/api/v1/flags/checkout_v2/environments/production",
                Some(ADMIN_TOKEN),
            )
            .header("X-Change-Reason", "launch")
            .json(&json!(false)),
        )
        .await
        .expect_status(202);
    let Some(request_id) = held.body["change_request"]["id"].as_str() else {
        panic!("no change request: {held}");
    };
    let approver = app.key_with_role("approver").await;
    app.post(
        &format!("/api/v1/change-requests/{request_id}/approve"),
        &approver,
        &json!({"comment": "ok"}),
    )
    .await
    .expect_status(200);
    // A schedule in staging (no approval there), applied when due.
    let due = {
        use ff_server::Clock as _;
        match &app.clock {
            Some(clock) => clock.now() + time::Duration::hours(1),
            None => panic!("a governed app has a clock"),
        }
    };
    let at = match due.format(&time::format_description::well_known::Rfc3339) {
        Ok(at) => at,
        Err(error) => panic!("{error}"),
    };
    app.post(
        "/api/v1/schedules",
        ADMIN_TOKEN,
        &json!({"flag_id": "checkout_v2", "environment": "staging", "at": at,
                "action": {"type": "disable"}}),
    )
    .await
    .expect_status(201);
    if let Some(clock) = &app.clock {
        clock.set(due);
    }
    app.post("/api/v1/schedules/run", ADMIN_TOKEN, &json!({}))
        .await
        .expect_status(200);

    let all = receiver
        .wait_for("three events", |all| all.len() >= 3)
        .await;
    let names: Vec<String> = all
        .iter()
        .map(|r| r.header("x-ff-event").to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "change_request.opened",
            "change_request.decided",
            "schedule.applied"
        ]
    );
    for request in &all {
        request.assert_signed(&secret);
    }
    assert_eq!(all[0].json()["resource"]["key"], request_id);
    assert_eq!(all[1].json()["decision"], "approved");
    assert_eq!(all[2].json()["data"]["after"]["flag_id"], "checkout_v2");
}
