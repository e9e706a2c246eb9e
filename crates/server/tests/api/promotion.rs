//! The environment hierarchy: auto_sync inheritance, promotion from the
//! parent, environments created as copies; lifecycle transitions and
//! dependency warnings on flag writes.

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(
    auto_sync_follows_and_promote_copies,
    copy_an_environment,
    lifecycle_and_dependency_warnings,
);

mod governed {
    use super::*;
    governed_api_tests!(
        promotion_into_production_is_a_change_request,
        segments_used_in_production_need_a_reason,
    );
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

async fn auto_sync_follows_and_promote_copies(app: TestApp) {
    app.create_flag(
        &json!({"flag_id": "max_items_per_page", "type": "number", "default_value": 20,
        "environments": {"development": 50}}),
    )
    .await;
    app.create_flag(
        &json!({"flag_id": "other_flag", "type": "number", "default_value": 1,
        "environments": {"development": 2}}),
    )
    .await;
    // staging (auto_sync) follows development live; production does not.
    assert_eq!(evaluate(&app, "max_items_per_page", "staging").await, 50);
    app.put(
        "/api/v1/flags/max_items_per_page/environments/development",
        ADMIN_TOKEN,
        &json!(60),
    )
    .await
    .expect_status(200);
    assert_eq!(evaluate(&app, "max_items_per_page", "staging").await, 60);
    assert_eq!(evaluate(&app, "max_items_per_page", "production").await, 20);

    // Promote one flag from staging (what it inherits) into production.
    let reply = app
        .post(
            "/api/v1/environments/production/promote",
            ADMIN_TOKEN,
            &json!({"flags": ["max_items_per_page"]}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["from"], "staging");
    assert_eq!(reply.body["promoted"], json!(["max_items_per_page"]));
    assert_eq!(evaluate(&app, "max_items_per_page", "production").await, 60);
    assert_eq!(
        evaluate(&app, "other_flag", "production").await,
        1,
        "not selected"
    );
    let flag = app
        .get("/api/v1/flags/max_items_per_page", ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(flag["environments"]["production"], 60);
    // Production keeps its own copy: development moves on alone.
    app.put(
        "/api/v1/flags/max_items_per_page/environments/development",
        ADMIN_TOKEN,
        &json!(70),
    )
    .await
    .expect_status(200);
    assert_eq!(evaluate(&app, "max_items_per_page", "production").await, 60);

    // All flags: what is already equal is reported unchanged.
    let reply = app
        .post(
            "/api/v1/environments/production/promote",
            ADMIN_TOKEN,
            &json!({"all": true}),
        )
        .await
        .expect_status(200);
    assert_eq!(
        reply.body["promoted"],
        json!(["max_items_per_page", "other_flag"])
    );
    assert_eq!(evaluate(&app, "other_flag", "production").await, 2);
    let audit = app.audit("action=flag.promote").await;
    assert_eq!(audit.len(), 3);

    // Bad requests.
    app.post(
        "/api/v1/environments/development/promote",
        ADMIN_TOKEN,
        &json!({"all": true}),
    )
    .await
    .expect_error(400, "no_parent");
    app.post(
        "/api/v1/environments/production/promote",
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_error(400, "invalid_body");
    app.post(
        "/api/v1/environments/production/promote",
        ADMIN_TOKEN,
        &json!({"flags": ["nope"]}),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/api/v1/environments/nowhere/promote",
        ADMIN_TOKEN,
        &json!({"all": true}),
    )
    .await
    .expect_error(404, "not_found");
}

async fn promotion_into_production_is_a_change_request(app: TestApp) {
    app.create_flag(
        &json!({"flag_id": "new_dashboard_ui", "default_value": false,
        "environments": {"development": true, "production": false}}),
    )
    .await;
    let reply = app
        .send(
            app.request(
                reqwest::Method::POST,
                "/api/v1/environments/production/promote",
                Some(ADMIN_TOKEN),
            )
            .header("X-Change-Reason", "ship the dashboard")
            .json(&json!({"flags": ["new_dashboard_ui"]})),
        )
        .await
        .expect_status(202);
    let request = &reply.body["change_request"];
    assert_eq!(request["environments"], json!(["production"]));
    assert_eq!(
        request["changes"][0]["after"]["environments"]["production"],
        true
    );
    assert_eq!(
        evaluate(&app, "new_dashboard_ui", "production").await,
        false,
        "held, not applied"
    );
}

async fn copy_an_environment(app: TestApp) {
    app.create_flag(
        &json!({"flag_id": "ui_theme_config", "type": "json", "default_value": {"theme": "light"},
        "environments": {"development": {"theme": "dark", "debug": true}}}),
    )
    .await;
    app.create_flag(&json!({"flag_id": "plain", "default_value": true}))
        .await;
    let reply = app
        .post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": "qa", "parent": "production", "copy_from": "staging"}),
        )
        .await
        .expect_status(201);
    assert_eq!(reply.body["key"], "qa");
    // staging inherits development's dark theme: qa gets it as its own entry.
    assert_eq!(
        evaluate(&app, "ui_theme_config", "qa").await,
        json!({"theme": "dark", "debug": true})
    );
    let flag = app
        .get("/api/v1/flags/ui_theme_config", ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(
        flag["environments"]["qa"],
        json!({"theme": "dark", "debug": true})
    );
    let plain = app.get("/api/v1/flags/plain", ADMIN_TOKEN).await.body;
    assert!(
        plain["environments"].get("qa").is_none(),
        "nothing to copy: it uses the flag level"
    );
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "qa2", "copy_from": "nowhere"}),
    )
    .await
    .expect_error(404, "not_found");
    app.get("/api/v1/environments/qa2", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
}

async fn lifecycle_and_dependency_warnings(app: TestApp) {
    app.create_flag(
        &json!({"flag_id": "dashboard_api_v2", "default_value": true,
        "environments": {"production": {"enabled": false}}}),
    )
    .await;
    app.create_flag(&json!({"flag_id": "new_dashboard_ui", "default_value": false, "lifecycle": "development",
        "depends_on": [{"flag": "dashboard_api_v2", "required_value": true, "repository": "PratikoAi-BE"}]}))
    .await;
    // A stage change alone is recorded as a lifecycle transition.
    app.patch(
        "/api/v1/flags/new_dashboard_ui",
        ADMIN_TOKEN,
        &json!({"lifecycle": "testing"}),
    )
    .await
    .expect_status(200);
    app.patch(
        "/api/v1/flags/new_dashboard_ui",
        ADMIN_TOKEN,
        &json!({"lifecycle": "rollout"}),
    )
    .await
    .expect_status(200);
    let transitions = app.audit("action=flag.lifecycle").await;
    let stages: Vec<(&Value, &Value)> = transitions
        .iter()
        .map(|e| (&e["before"]["lifecycle"], &e["after"]["lifecycle"]))
        .collect();
    assert_eq!(
        stages,
        [
            (&json!("testing"), &json!("rollout")),
            (&json!("development"), &json!("testing"))
        ]
    );

    // Enabling it in production, where its prerequisite is off: a warning.
    let reply = app
        .put(
            "/api/v1/flags/new_dashboard_ui/environments/production",
            ADMIN_TOKEN,
            &json!(true),
        )
        .await
        .expect_status(200);
    let warnings = reply.body["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("prerequisite \"dashboard_api_v2\"")),
        "{warnings:?}"
    );
    assert_eq!(
        evaluate(&app, "new_dashboard_ui", "production").await,
        false,
        "PREREQUISITE_FAILED serves the off value"
    );
    // Dependents are listed when the prerequisite is changed.
    let reply = app
        .patch(
            "/api/v1/flags/dashboard_api_v2",
            ADMIN_TOKEN,
            &json!({"description": "v2"}),
        )
        .await
        .expect_status(200);
    assert!(
        reply.body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("requires it"),
        "{}",
        reply.body
    );
}

async fn segments_used_in_production_need_a_reason(app: TestApp) {
    let segment = |countries: Value| {
        json!({"segment_id": "eu_users",
        "conditions": [{"attribute": "country", "operator": "in", "value": countries}]})
    };
    app.post("/api/v1/segments", ADMIN_TOKEN, &segment(json!(["IT"])))
        .await
        .expect_status(201);
    // Unused: an ordinary edit.
    app.put(
        "/api/v1/segments/eu_users",
        ADMIN_TOKEN,
        &segment(json!(["IT", "FR"])),
    )
    .await
    .expect_status(200);
    app.create_flag(&json!({"flag_id": "eu_banner", "default_value": false,
        "targeting_rules": [{"conditions": [{"operator": "in_segment", "value": "eu_users"}], "value": true}]}))
    .await;
    // Now production serves through it: protected, so a reason is needed.
    app.put(
        "/api/v1/segments/eu_users",
        ADMIN_TOKEN,
        &segment(json!(["IT", "FR", "DE"])),
    )
    .await
    .expect_error(422, "reason_required");
    app.send(
        app.request(
            reqwest::Method::PUT,
            "/api/v1/segments/eu_users",
            Some(ADMIN_TOKEN),
        )
        .header("X-Change-Reason", "Germany joins")
        .json(&segment(json!(["IT", "FR", "DE"]))),
    )
    .await
    .expect_status(200);
    let entries = app.audit("action=segment.update").await;
    assert_eq!(entries[0]["reason"], "Germany joins");
}
