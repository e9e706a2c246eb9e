//! `/api/v1/api-keys`: shown once, stored hashed, revocable, last use
//! recorded.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(
    creating_keys,
    revoked_keys_stop_working,
    last_use_is_recorded,
);

async fn creating_keys(app: TestApp) {
    invalid_key_requests(&app).await;
    keys_of_every_kind_are_shown_once(&app).await;
}

async fn keys_of_every_kind_are_shown_once(app: &TestApp) {
    let requests = [
        json!({"name": "viewer", "kind": "admin", "role": "viewer"}),
        json!({"name": "editor", "kind": "admin", "role": "editor"}),
        json!({"name": "approver", "kind": "admin", "role": "approver"}),
        json!({"name": "admin", "kind": "admin", "role": "admin"}),
        json!({"name": "backend", "kind": "server", "environment": "production"}),
        json!({"name": "mobile", "kind": "client", "environment": "staging"}),
    ];
    let (admin_id, _) = app
        .create_key(json!({"name": "creator", "kind": "admin", "role": "admin"}))
        .await;
    let creator = {
        let keys = app.get("/api/v1/api-keys", ADMIN_TOKEN).await;
        keys.items()
            .iter()
            .find(|k| k["id"] == admin_id.as_str())
            .unwrap()
            .clone()
    };
    assert!(creator["created_by"].as_str().unwrap().starts_with("key_"));
    let mut created = Vec::new();
    for request in requests {
        let reply = app
            .post("/api/v1/api-keys", ADMIN_TOKEN, &request)
            .await
            .expect_status(201);
        let kind = request["kind"].as_str().unwrap();
        let secret = reply.body["key"].as_str().unwrap().to_owned();
        assert!(secret.starts_with(&format!("ff_{kind}_")), "{secret}");
        assert!(secret.len() >= 40);
        assert!(reply.body["id"].as_str().unwrap().starts_with("key_"));
        assert_eq!(reply.body["name"], request["name"]);
        assert_eq!(reply.body["kind"], kind);
        assert_eq!(reply.body.get("role"), request.get("role"));
        assert_eq!(reply.body.get("environment"), request.get("environment"));
        assert!(secret.starts_with(reply.body["prefix"].as_str().unwrap()));
        assert_eq!(reply.body["revoked_at"], Value::Null);
        assert!(reply.body.get("secret_hash").is_none());
        created.push((reply.body["id"].as_str().unwrap().to_owned(), secret));
    }
    // Listed, never with a secret or its hash.
    let list = app
        .get("/api/v1/api-keys", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(list.items().len(), 8, "the first key, the creator and six");
    let text = list.body.to_string();
    for (id, secret) in &created {
        assert!(text.contains(id.as_str()));
        assert!(!text.contains(secret.as_str()), "a secret is shown once");
    }
    assert!(
        list.items()
            .iter()
            .all(|k| k.get("key").is_none() && k.get("secret_hash").is_none())
    );
    // Each works at once.
    for (_, secret) in &created[..4] {
        app.get("/api/v1/flags", secret).await.expect_status(200);
    }
    let audit = app.audit("action=api_key.create").await;
    assert_eq!(audit.len(), 8);
    assert!(!audit.iter().any(|e| e.to_string().contains(&created[0].1)));
}

async fn revoked_keys_stop_working(app: TestApp) {
    let (id, secret) = app
        .create_key(json!({"name": "temp", "kind": "admin", "role": "editor"}))
        .await;
    app.get("/api/v1/flags", &secret).await.expect_status(200);
    let reply = app
        .delete(&format!("/api/v1/api-keys/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(reply.body["revoked"], true);
    let reply = app.get("/api/v1/flags", &secret).await;
    let error = reply.expect_error(401, "unauthorized");
    assert!(error["message"].as_str().unwrap().contains("revoked"));
    let listed = app.get("/api/v1/api-keys", ADMIN_TOKEN).await;
    let key = listed
        .items()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap();
    assert!(key["revoked_at"].is_string());
    // Revoking again is harmless; unknown keys are not found.
    app.delete(&format!("/api/v1/api-keys/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200);
    app.delete("/api/v1/api-keys/key_0000000000000000", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    // A key cannot revoke itself.
    let (admin_id, admin) = app
        .create_key(json!({"name": "second admin", "kind": "admin", "role": "admin"}))
        .await;
    app.delete(&format!("/api/v1/api-keys/{admin_id}"), &admin)
        .await
        .expect_error(400, "revoking_self");
    let audit = app.audit("action=api_key.revoke").await;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0]["resource_key"], id.as_str());
}

async fn invalid_key_requests(app: &TestApp) {
    let cases = [
        (json!({"name": "x", "kind": "root"}), 400, "invalid_kind"),
        (json!({"name": "x", "kind": "admin"}), 422, "missing_role"),
        (
            json!({"name": "x", "kind": "admin", "role": "owner"}),
            400,
            "invalid_role",
        ),
        (
            json!({"name": "x", "kind": "admin", "role": "viewer", "environment": "production"}),
            400,
            "unexpected_environment",
        ),
        (
            json!({"name": "x", "kind": "server"}),
            400,
            "missing_environment",
        ),
        (
            json!({"name": "x", "kind": "client", "environment": "production", "role": "viewer"}),
            400,
            "unexpected_role",
        ),
        (
            json!({"name": " ", "kind": "admin", "role": "viewer"}),
            400,
            "missing_name",
        ),
        (
            json!({"kind": "admin", "role": "viewer"}),
            400,
            "invalid_body",
        ),
        (
            json!({"name": "x", "kind": "admin", "role": "viewer", "expires": "never"}),
            400,
            "invalid_body",
        ),
        (
            json!({"name": "x", "kind": "server", "environment": "prod"}),
            404,
            "not_found",
        ),
    ];
    for (body, status, code) in cases {
        let reply = app.post("/api/v1/api-keys", ADMIN_TOKEN, &body).await;
        reply.expect_error(status, code);
    }
    let keys = app.get("/api/v1/api-keys", ADMIN_TOKEN).await;
    assert_eq!(keys.items().len(), 1, "nothing was created");
}

async fn last_use_is_recorded(app: TestApp) {
    let (used_id, used) = app
        .create_key(json!({"name": "used", "kind": "client", "environment": "production"}))
        .await;
    let (unused_id, _) = app
        .create_key(json!({"name": "unused", "kind": "admin", "role": "viewer"}))
        .await;
    app.send(
        app.request(Method::POST, "/api/v1/evaluate", None)
            .header("x-api-key", &used)
            .json(&json!({})),
    )
    .await
    .expect_status(200);
    // Usage is flushed in the background and on shutdown.
    let app = app.restart().await;
    let keys = app.get("/api/v1/api-keys", ADMIN_TOKEN).await;
    let find = |id: &str| keys.items().iter().find(|k| k["id"] == id).unwrap().clone();
    assert!(find(&used_id)["last_used_at"].is_string(), "{keys}");
    assert_eq!(find(&unused_id)["last_used_at"], Value::Null, "{keys}");
    app.shutdown().await;
}
