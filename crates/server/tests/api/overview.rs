//! `GET /api/v1/overview`: every flag in every environment at a glance.

use serde_json::json;

use crate::support::{ADMIN_TOKEN, TestApp};

governed_api_tests!(every_flag_in_every_environment);

async fn every_flag_in_every_environment(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "checkout",
        "type": "boolean",
        "default_value": false,
        "tags": ["web"],
        "lifecycle": "rollout",
        "environments": {
            "development": {"enabled": true, "value": false, "targeting_rules": [
                {"name": "some", "value": true, "percentage": 25}
            ]},
            "production": {"enabled": false}
        }
    }))
    .await;
    // A change held for production's approval shows as pending there.
    app.send(
        app.request(
            reqwest::Method::POST,
            "/api/v1/flags/checkout/environments/production/actions",
            Some(ADMIN_TOKEN),
        )
        .header("X-Change-Reason", "launch")
        .json(&json!({"action": "enable"})),
    )
    .await
    .expect_status(202);

    let overview = app
        .get("/api/v1/overview", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    let keys: Vec<&str> = overview["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["development", "staging", "production"],
        "parents first"
    );
    assert_eq!(overview["environments"][2]["approval_required"], true);
    let flag = &overview["flags"][0];
    assert_eq!(flag["flag_id"], "checkout");
    assert_eq!(flag["type"], "boolean");
    assert_eq!(flag["lifecycle"], "rollout");
    let cells = flag["environments"].as_array().unwrap();
    assert_eq!(cells[0]["environment"], "development");
    assert_eq!(cells[0]["enabled"], true);
    assert_eq!(cells[0]["rules"], 1);
    assert_eq!(cells[0]["rollout_percentage"], 25.0);
    assert_eq!(cells[0]["inherited_from"], json!(null));
    // Staging has no entry and follows development (auto_sync).
    assert_eq!(cells[1]["inherited_from"], "development");
    assert_eq!(cells[1]["rollout_percentage"], 25.0);
    assert_eq!(cells[2]["enabled"], false);
    assert_eq!(cells[2]["value"], false);
    assert_eq!(
        cells[2]["pending_change_requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(cells[0]["pending_change_requests"], json!([]));

    // Viewers may read it; a server key may not.
    let viewer = app.key_with_role("viewer").await;
    app.get("/api/v1/overview", &viewer)
        .await
        .expect_status(200);
    let (_, server_key) = app
        .create_key(json!({"name": "svc", "kind": "server", "environment": "development"}))
        .await;
    app.get("/api/v1/overview", &server_key)
        .await
        .expect_error(403, "forbidden");
}
