//! `/api/v1/environments`: the tree and its settings.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, problems};

api_tests!(create_replace_and_delete);

/// As first start seeds them (production requires approval).
mod seeded {
    use super::*;
    governed_api_tests!(seed_tree_and_invalid_environments);
}

async fn seed_tree_and_invalid_environments(app: TestApp) {
    seed_tree_is_there_on_first_start(&app).await;
    invalid_environments_are_refused(&app).await;
}

async fn seed_tree_is_there_on_first_start(app: &TestApp) {
    let reply = app
        .get("/api/v1/environments", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let keys: Vec<&str> = reply
        .items()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["development", "staging", "production"],
        "parents first"
    );
    let development = &reply.items()[0];
    assert_eq!(development.get("parent"), None);
    assert_eq!(development["auto_sync"], false);
    assert_eq!(development["children"], json!(["staging"]));
    let staging = &reply.items()[1];
    assert_eq!(staging["parent"], "development");
    assert_eq!(staging["auto_sync"], true);
    assert_eq!(staging["approval_required"], false);
    let production = &reply.items()[2];
    assert_eq!(production["parent"], "staging");
    assert_eq!(production["auto_sync"], false);
    assert_eq!(production["approval_required"], true);
    assert_eq!(production["children"], json!([]));
    assert_eq!(production["version"], 1);

    let one = app
        .get("/api/v1/environments/staging", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(&one.body, staging);
    app.get("/api/v1/environments/qa", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
}

async fn create_replace_and_delete(app: TestApp) {
    let reply = app
        .post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": "qa", "parent": "staging", "auto_sync": true, "description": "QA"}),
        )
        .await
        .expect_status(201);
    assert_eq!(reply.body["key"], "qa");
    assert_eq!(reply.body["version"], 1);
    assert_eq!(reply.body["required_approvals"], 1);
    let staging = app.get("/api/v1/environments/staging", ADMIN_TOKEN).await;
    assert_eq!(staging.body["children"], json!(["production", "qa"]));
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "qa", "parent": "development"}),
    )
    .await
    .expect_error(409, "already_exists");

    // A flag follows staging into qa; qa can have its own entries.
    app.create_flag(&json!({
        "flag_id": "qa_env_flag",
        "default_value": 1,
        "environments": {"staging": 2}
    }))
    .await;
    let result = app
        .post(
            "/api/v1/evaluate",
            ADMIN_TOKEN,
            &json!({"flag_id": "qa_env_flag", "environment": "qa"}),
        )
        .await
        .expect_status(200);
    assert_eq!(result.body["value"], 2);
    app.put(
        "/api/v1/flags/qa_env_flag/environments/qa",
        ADMIN_TOKEN,
        &json!(3),
    )
    .await
    .expect_status(200);

    // Replace: with If-Match, with the body's version, stale.
    let reply = app
        .send(
            app.request(Method::PUT, "/api/v1/environments/qa", Some(ADMIN_TOKEN))
                .header("if-match", "\"1\"")
                .json(&json!({"parent": "staging", "auto_sync": false, "protected": true,
                              "change_windows": [{"days": ["monday", "tuesday"], "start": "09:00", "end": "17:00"}]})),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(reply.body["protected"], true);
    assert_eq!(reply.body["change_windows"][0]["time_zone"], "UTC");
    // Protected now: its own settings change only with a reason.
    let mut read = app.get("/api/v1/environments/qa", ADMIN_TOKEN).await.body;
    read["description"] = json!("QA, again");
    app.put("/api/v1/environments/qa", ADMIN_TOKEN, &read)
        .await
        .expect_error(422, "reason_required");
    let with_reason = |method: Method, body: Option<&Value>| {
        let request = app
            .request(method, "/api/v1/environments/qa", Some(ADMIN_TOKEN))
            .header("x-change-reason", "qa settings");
        match body {
            Some(body) => request.json(body),
            None => request,
        }
    };
    app.send(with_reason(Method::PUT, Some(&read)))
        .await
        .expect_status(200);
    read["description"] = json!("stale");
    let reply = app.send(with_reason(Method::PUT, Some(&read))).await;
    reply.expect_error(409, "version_conflict");
    app.put(
        "/api/v1/environments/qa",
        ADMIN_TOKEN,
        &json!({"key": "qa2", "parent": "staging"}),
    )
    .await
    .expect_error(400, "key_mismatch");
    app.put(
        "/api/v1/environments/nowhere",
        ADMIN_TOKEN,
        &json!({"parent": "staging"}),
    )
    .await
    .expect_error(404, "not_found");

    // In use: children and keys hold it.
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "qa-eu", "parent": "qa"}),
    )
    .await
    .expect_status(201);
    let (key_id, _) = app
        .create_key(json!({"name": "qa sdk", "kind": "server", "environment": "qa"}))
        .await;
    let reply = app.delete("/api/v1/environments/qa", ADMIN_TOKEN).await;
    let error = reply.expect_error(409, "in_use");
    assert_eq!(error["details"]["children"], json!(["qa-eu"]));
    assert_eq!(error["details"]["api_keys"], json!([key_id]));
    app.delete("/api/v1/environments/qa-eu", ADMIN_TOKEN)
        .await
        .expect_status(200);
    app.delete(&format!("/api/v1/api-keys/{key_id}"), ADMIN_TOKEN)
        .await
        .expect_status(200);
    app.delete("/api/v1/environments/qa", ADMIN_TOKEN)
        .await
        .expect_error(422, "reason_required");
    let reply = app
        .send(with_reason(Method::DELETE, None))
        .await
        .expect_status(200);
    assert_eq!(reply.body["deleted"], true);
    app.get("/api/v1/environments/qa", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    // The flag's entry went with it, as a new version.
    let flag = app.get("/api/v1/flags/qa_env_flag", ADMIN_TOKEN).await.body;
    assert_eq!(flag["environments"], json!({"staging": 2}));
    assert_eq!(flag["version"], 3);
    let audit = app.audit("environment=qa").await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"environment.delete"), "{actions:?}");
    assert!(actions.contains(&"flag.environment.delete"), "{actions:?}");
    assert!(actions.contains(&"environment.create"), "{actions:?}");
    app.delete("/api/v1/environments/qa", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
}

async fn invalid_environments_are_refused(app: &TestApp) {
    let reply = app
        .post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": "QA env", "auto_sync": true, "required_approvals": 0,
                    "change_windows": [{"days": ["funday"], "start": "25:00", "end": "17:00"}]}),
        )
        .await;
    let found = problems(&reply);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    for path in [
        "key",
        "auto_sync",
        "required_approvals",
        "change_windows[0].days[0]",
        "change_windows[0].start",
    ] {
        assert!(paths.contains(&path), "{path} in {reply}");
    }
    let reply = app
        .post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": "qa", "parent": "stagging"}),
        )
        .await;
    assert_eq!(reply.status, 422, "unknown parent: {reply}");
    let reply = app
        .post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": "qa", "parent": "qa"}),
        )
        .await;
    assert!(
        problems(&reply).iter().any(|(p, _)| p == "parent"),
        "{reply}"
    );
    let reply = app
        .post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"parent": "staging"}),
        )
        .await;
    assert_eq!(reply.status, 422, "no key: {reply}");
    let reply = app
        .post("/api/v1/environments", ADMIN_TOKEN, &json!({"key": 7}))
        .await;
    assert_eq!(reply.status, 422, "{reply}");
    // A loop through an existing environment.
    let reply = app
        .put(
            "/api/v1/environments/development",
            ADMIN_TOKEN,
            &json!({"parent": "production"}),
        )
        .await;
    assert_eq!(reply.status, 422, "a cycle: {reply}");
    let keys: Vec<Value> = app
        .get("/api/v1/environments", ADMIN_TOKEN)
        .await
        .items()
        .iter()
        .map(|e| e["key"].clone())
        .collect();
    assert_eq!(
        keys,
        [json!("development"), json!("staging"), json!("production")]
    );
    // Editors may not manage environments.
    let editor = app.key_with_role("editor").await;
    app.post("/api/v1/environments", &editor, &json!({"key": "qa"}))
        .await
        .expect_error(403, "forbidden");
}
