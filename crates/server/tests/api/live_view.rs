//! The live configuration a node advances from its own commits (without
//! reading them back) is exactly what a fresh load of the store gives:
//! every kind of write, then the same reads before and after a restart.

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(own_commits_advance_the_view_as_a_load_would);

/// What the node serves from its live configuration.
async fn served(app: &TestApp) -> Vec<Value> {
    let mut views = Vec::new();
    for path in [
        "/api/v1/flags",
        "/api/v1/segments",
        "/api/v1/environments",
        "/api/v1/flags/beta/environments/staging",
    ] {
        views.push(app.get(path, ADMIN_TOKEN).await.expect_status(200).body);
    }
    let evaluated = app
        .post(
            "/api/v1/evaluate",
            ADMIN_TOKEN,
            &json!({"environment": "qa", "context": {"user_id": "u", "country": "IT"}}),
        )
        .await
        .expect_status(200)
        .body;
    views.push(evaluated);
    views
}

async fn own_commits_advance_the_view_as_a_load_would(app: TestApp) {
    app.post(
        "/api/v1/segments",
        ADMIN_TOKEN,
        &json!({"segment_id": "eu", "conditions": [{"attribute": "country", "operator": "in", "value": ["DE"]}]}),
    )
    .await
    .expect_status(201);
    app.create_flag(&json!({"flag_id": "beta", "default_value": false,
        "targeting_rules": [{"name": "eu", "conditions": [{"operator": "in_segment", "value": "eu"}], "value": true}]}))
        .await;
    app.create_flag(&json!({"flag_id": "gone", "type": "number", "default_value": 1.5}))
        .await;
    app.put(
        "/api/v1/segments/eu",
        ADMIN_TOKEN,
        &json!({"segment_id": "eu", "conditions": [{"attribute": "country", "operator": "in", "value": ["DE", "IT"]}]}),
    )
    .await
    .expect_status(200);
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "qa", "parent": "staging", "auto_sync": true}),
    )
    .await
    .expect_status(201);
    app.patch(
        "/api/v1/flags/beta",
        ADMIN_TOKEN,
        &json!({"description": "patched"}),
    )
    .await
    .expect_status(200);
    app.post(
        "/api/v1/flags/beta/environments/staging/actions",
        ADMIN_TOKEN,
        &json!({"action": "set_value", "value": true}),
    )
    .await
    .expect_status(200);
    app.post(
        "/api/v1/emergency/disable",
        ADMIN_TOKEN,
        &json!({"flag_id": "beta", "environment": "development"}),
    )
    .await
    .expect_status(200);
    app.patch(
        "/api/v1/flags/gone",
        ADMIN_TOKEN,
        &json!({"default_value": 2.5}),
    )
    .await
    .expect_status(200);
    app.delete("/api/v1/flags/gone", ADMIN_TOKEN)
        .await
        .expect_status(200);
    // A restore is read back (its creation time is not in the view).
    app.post("/api/v1/flags/gone/restore", ADMIN_TOKEN, &json!({}))
        .await
        .expect_status(200);

    // A segment placed before the others: flags that test membership are
    // recompiled, last, so that no later write of the flag or of
    // the environments recompiles it anyway.
    app.post(
        "/api/v1/segments",
        ADMIN_TOKEN,
        &json!({"segment_id": "apac", "conditions": [{"attribute": "country", "operator": "equals", "value": "JP"}]}),
    )
    .await
    .expect_status(201);
    let before = served(&app).await;
    let beta = before[4]["results"]
        .as_array()
        .and_then(|results| results.iter().find(|r| r["flag_id"] == "beta"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(beta["value"], true, "in segment eu (IT): {beta}");
    let app = app.restart().await;
    let after = served(&app).await;
    assert_eq!(before, after);
}
