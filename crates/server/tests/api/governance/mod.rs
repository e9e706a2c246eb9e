//! Governance (issue 5, points 2–4 and the dependency policy of 8): which
//! writes are held as change requests, four eyes, stale requests and
//! rebase, compliance tags, change windows and their override, emergency
//! procedures, rollback protection and the dependency policy.
//!
//! Every test starts with the environments as first start seeds them
//! (`production` requires one approval and is protected) and a clock the
//! test controls.
//!
//! The tests are split by topic, one file each; the helpers they share
//! are here.

use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::{ADMIN_TOKEN, Reply, TestApp};

mod approvals;
mod change_requests;
mod change_windows;
mod dependency_policy;
mod emergency_procedures;
mod protected_environments;

/// Saturday 2026-11-28, noon in Rome.
const SATURDAY: OffsetDateTime = datetime!(2026-11-28 11:00 UTC);
/// Monday 2026-11-30, 11:00 in Rome (CET, UTC+1).
const MONDAY_MORNING: OffsetDateTime = datetime!(2026-11-30 10:00 UTC);

fn set_clock(app: &TestApp, at: OffsetDateTime) {
    app.clock.as_ref().expect("a governed app").set(at);
}

/// A request with extra headers and an optional JSON body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut builder = app.request(method, path, Some(key));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    app.send(builder).await
}

/// `PUT /api/v1/flags/{flag}/environments/{env}` with headers.
async fn put_entry(
    app: &TestApp,
    key: &str,
    flag: &str,
    env: &str,
    headers: &[(&str, &str)],
    entry: Value,
) -> Reply {
    send(
        app,
        Method::PUT,
        &format!("/api/v1/flags/{flag}/environments/{env}"),
        key,
        headers,
        Some(entry),
    )
    .await
}

/// Changes some of an environment's settings (admin), keeping the others.
async fn configure(app: &TestApp, env: &str, changes: Value) -> Value {
    let mut settings = app
        .get(&format!("/api/v1/environments/{env}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    for (field, value) in changes.as_object().unwrap() {
        settings[field] = value.clone();
    }
    send(
        app,
        Method::PUT,
        &format!("/api/v1/environments/{env}"),
        ADMIN_TOKEN,
        &[("X-Change-Reason", "test settings")],
        Some(settings),
    )
    .await
    .expect_status(200)
    .body
}

async fn flag(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/flags/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body
}

async fn evaluate(app: &TestApp, flag: &str, env: &str) -> Value {
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": flag, "environment": env, "context": {"user_id": "u"}}),
    )
    .await
    .expect_status(200)
    .body["value"]
        .clone()
}

async fn change_request(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/change-requests/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body
}

async fn approve(app: &TestApp, id: &str, key: &str, comment: &str) -> Reply {
    app.post(
        &format!("/api/v1/change-requests/{id}/approve"),
        key,
        &json!({"comment": comment}),
    )
    .await
}

/// The change request of a 202 answer, and its id.
#[track_caller]
fn held(reply: Reply) -> (Value, String) {
    let reply = reply.expect_status(202);
    let request = reply.body["change_request"].clone();
    assert_eq!(request["status"], "pending", "{reply}");
    let id = request["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("cr_"), "{id}");
    (request, id)
}

/// An admin key with `role`: (id, secret).
async fn key(app: &TestApp, name: &str, role: &str) -> (String, String) {
    app.create_key(json!({"name": name, "kind": "admin", "role": role}))
        .await
}

/// The id of the admin key the app started with.
async fn admin_key_id(app: &TestApp) -> String {
    let keys = app
        .get("/api/v1/api-keys", ADMIN_TOKEN)
        .await
        .expect_status(200);
    keys.items()
        .iter()
        .find(|k| k["name"] == "initial admin key")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}
