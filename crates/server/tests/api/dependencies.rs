//! Cross-repository dependencies (the seed's flag-dependencies.yaml),
//! dependents, cleanup candidates and the diff of two environments.

use serde_json::json;

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(
    seed_dependencies_yaml_is_checked,
    dependents_direct_and_transitive,
    environment_diff_resolves_inheritance,
    prerequisites_are_enforced_when_written_and_evaluated,
);

mod clocked {
    use super::*;
    governed_api_tests!(stale_flags_by_use_and_by_constant_value);
}

/// The seed README's `flag-dependencies.yaml`, verbatim.
const SEED_DEPENDENCIES: &str = r#"# flag-dependencies.yaml
dependencies:
  - flag: "new_dashboard_ui"
    depends_on:
      - repository: "PratikoAi-BE"
        flag: "dashboard_api_v2"
        required_value: true
      - repository: "PratikoAi-BE"
        flag: "user_preferences_api"
        required_value: true
"#;

async fn check(app: &TestApp, environment: &str, body: &str) -> crate::support::Reply {
    app.send(
        app.request(
            reqwest::Method::POST,
            &format!("/api/v1/dependencies/check?environment={environment}"),
            Some(ADMIN_TOKEN),
        )
        .header("Content-Type", "application/yaml")
        .body(body.to_owned()),
    )
    .await
}

async fn seed_dependencies_yaml_is_checked(app: TestApp) {
    app.create_flag(&json!({"flag_id": "new_dashboard_ui", "default_value": false}))
        .await;
    app.create_flag(
        &json!({"flag_id": "dashboard_api_v2", "default_value": false,
        "environments": {"staging": true, "production": true}}),
    )
    .await;
    app.create_flag(
        &json!({"flag_id": "user_preferences_api", "default_value": true,
        "environments": {"production": {"enabled": false}}}),
    )
    .await;

    let staging = check(&app, "staging", SEED_DEPENDENCIES)
        .await
        .expect_status(200);
    assert_eq!(staging.body["holds"], true, "{}", staging.body);
    let production = check(&app, "production", SEED_DEPENDENCIES)
        .await
        .expect_status(200);
    assert_eq!(production.body["holds"], false);
    assert_eq!(
        production.body["dependencies"],
        json!([
            {"flag": "new_dashboard_ui", "repository": "PratikoAi-BE", "depends_on": "dashboard_api_v2",
             "required_value": true, "actual_value": true, "holds": true},
            {"flag": "new_dashboard_ui", "repository": "PratikoAi-BE", "depends_on": "user_preferences_api",
             "required_value": true, "actual_value": false, "holds": false},
        ])
    );
    // development: dashboard_api_v2 is off by default.
    let development = check(&app, "development", SEED_DEPENDENCIES)
        .await
        .expect_status(200);
    assert_eq!(development.body["dependencies"][0]["holds"], false);

    // The same as JSON.
    let as_json = app
        .post(
            "/api/v1/dependencies/check?environment=production",
            ADMIN_TOKEN,
            &json!({"dependencies": [{"flag": "new_dashboard_ui", "depends_on": [{"flag": "missing_api"}]}]}),
        )
        .await
        .expect_status(200);
    let only = &as_json.body["dependencies"][0];
    assert_eq!(only["holds"], false);
    assert_eq!(only["required_value"], true, "true unless said");
    assert!(only["detail"].as_str().unwrap().contains("does not exist"));

    // Bad input.
    let bad = check(
        &app,
        "production",
        "dependencies:\n  - depends_on:\n      - repository: x\n",
    )
    .await;
    let error = bad.expect_error(422, "validation_failed");
    let paths: Vec<&str> = error["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["dependencies[0].flag", "dependencies[0].depends_on[0].flag"]
    );
    check(&app, "production", "flags: []")
        .await
        .expect_error(422, "validation_failed");
    check(&app, "nowhere", SEED_DEPENDENCIES)
        .await
        .expect_error(404, "not_found");
    app.post(
        "/api/v1/dependencies/check",
        ADMIN_TOKEN,
        &json!({"dependencies": []}),
    )
    .await
    .expect_error(400, "invalid_query");
    check(&app, "production", "dependencies: [")
        .await
        .expect_error(400, "malformed_yaml");
}

async fn dependents_direct_and_transitive(app: TestApp) {
    app.create_flag(&json!({"flag_id": "payments_core", "default_value": true,
        "environments": {"production": {"enabled": false}}}))
        .await;
    app.create_flag(&json!({"flag_id": "checkout_v2", "default_value": true,
        "depends_on": [{"flag": "payments_core", "required_value": true}]}))
        .await;
    app.create_flag(&json!({"flag_id": "one_click_buy", "default_value": true,
        "depends_on": [{"flag": "checkout_v2"}]}))
        .await;
    app.create_flag(&json!({"flag_id": "unrelated", "default_value": true}))
        .await;
    let reply = app
        .get("/api/v1/flags/payments_core/dependents", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let dependents = reply.body["dependents"].as_array().unwrap();
    let summary: Vec<(&str, &str, bool)> = dependents
        .iter()
        .map(|d| {
            (
                d["flag_id"].as_str().unwrap(),
                d["requires"].as_str().unwrap(),
                d["direct"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("checkout_v2", "payments_core", true),
            ("one_click_buy", "checkout_v2", false)
        ]
    );
    assert_eq!(
        dependents[0]["holds"],
        json!({"development": true, "staging": true, "production": false})
    );
    let none = app
        .get("/api/v1/flags/unrelated/dependents", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(none.body["dependents"], json!([]));
    app.get("/api/v1/flags/nope/dependents", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
}

async fn environment_diff_resolves_inheritance(app: TestApp) {
    app.create_flag(
        &json!({"flag_id": "new_payment_flow", "type": "boolean", "default_value": false,
        "environments": {"development": true, "staging": true, "production": false}}),
    )
    .await;
    app.create_flag(
        &json!({"flag_id": "api_timeout_seconds", "type": "number", "default_value": 30,
        "environments": {"development": 60}}),
    )
    .await;
    app.create_flag(&json!({"flag_id": "same_everywhere", "default_value": true}))
        .await;

    // staging inherits development's 60 (auto_sync).
    let reply = app
        .get(
            "/api/v1/environments/diff?from=development&to=staging",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["differences"], json!([]));
    assert_eq!(reply.body["equal"], 3);

    let reply = app
        .get(
            "/api/v1/environments/diff?from=staging&to=production",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    let differences = reply.body["differences"].as_array().unwrap();
    let ids: Vec<&str> = differences
        .iter()
        .map(|d| d["flag_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["api_timeout_seconds", "new_payment_flow"]);
    assert_eq!(differences[0]["from"]["value"], 60);
    assert_eq!(differences[0]["to"]["value"], 30);
    assert_eq!(
        differences[0]["changes"],
        json!([{"path": "value", "before": 60, "after": 30}])
    );
    assert_eq!(reply.body["equal"], 1);

    app.get("/api/v1/environments/diff?from=staging", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
    app.get(
        "/api/v1/environments/diff?from=staging&to=nowhere",
        ADMIN_TOKEN,
    )
    .await
    .expect_error(404, "not_found");
    // The static route does not shadow environments named otherwise.
    app.get("/api/v1/environments/staging", ADMIN_TOKEN)
        .await
        .expect_status(200);
}

fn set_clock(app: &TestApp, at: time::OffsetDateTime) {
    app.clock.as_ref().unwrap().set(at);
}

async fn stale(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let reply = app
        .get(
            "/api/v1/flags/stale?unused_days=30&rollout_days=14",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    reply
        .items()
        .iter()
        .map(|item| {
            (
                item["flag_id"].as_str().unwrap().to_owned(),
                item["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

async fn evaluate(app: &TestApp, flag: &str) {
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": flag, "environment": "staging", "context": {"user_id": "u"}}),
    )
    .await
    .expect_status(200);
}

async fn stale_flags_by_use_and_by_constant_value(app: TestApp) {
    use ff_server::Clock as _;
    let start = app.clock.as_ref().unwrap().now();
    let day = time::Duration::days(1);
    app.create_flag(&json!({"flag_id": "used_daily", "default_value": false,
        "targeting_rules": [{"conditions": [{"attribute": "plan", "operator": "equals", "value": "pro"}], "value": true}]}))
    .await;
    app.create_flag(&json!({"flag_id": "forgotten", "default_value": false,
        "targeting_rules": [{"conditions": [{"attribute": "plan", "operator": "equals", "value": "pro"}], "value": true}]}))
    .await;
    app.create_flag(&json!({"flag_id": "fully_shipped", "default_value": true}))
        .await;
    // What a finished gradual rollout leaves: one rule for everyone at 100 %.
    app.create_flag(&json!({"flag_id": "rolled_out", "default_value": false,
        "targeting_rules": [{"name": "gradual", "value": true, "percentage": 100}]}))
        .await;
    // Still rolling out: not constant.
    app.create_flag(&json!({"flag_id": "rolling_out", "default_value": false,
        "targeting_rules": [{"name": "gradual", "value": true, "percentage": 50}]}))
        .await;
    for flag in ["forgotten", "fully_shipped", "rolled_out", "rolling_out"] {
        evaluate(&app, flag).await;
    }
    assert_eq!(
        stale(&app).await,
        Vec::<(String, Vec<String>)>::new(),
        "everything is new"
    );

    // 20 days on: fully_shipped has served `true` everywhere for 20 days.
    set_clock(&app, start + day * 20);
    for flag in ["used_daily", "fully_shipped", "rolled_out", "rolling_out"] {
        evaluate(&app, flag).await;
    }
    let found = stale(&app).await;
    assert_eq!(found.len(), 2, "{found:?}");
    for (flag, (id, reasons)) in ["fully_shipped", "rolled_out"].iter().zip(&found) {
        assert_eq!(id, flag, "{found:?}");
        assert!(
            reasons[0].starts_with("serves true to everyone in every environment"),
            "{found:?}"
        );
    }

    // 40 days on: forgotten was last evaluated 40 days ago.
    set_clock(&app, start + day * 40);
    evaluate(&app, "used_daily").await;
    let found = stale(&app).await;
    let forgotten = found
        .iter()
        .find(|(id, _)| id == "forgotten")
        .expect("forgotten is stale");
    assert!(
        forgotten.1[0].starts_with("not evaluated for 30 days"),
        "{found:?}"
    );
    assert!(found.iter().all(|(id, _)| id != "used_daily"));
    // fully_shipped: both reasons now (last evaluated 20 days ago).
    let shipped = found.iter().find(|(id, _)| id == "fully_shipped").unwrap();
    assert_eq!(shipped.1.len(), 1, "evaluated 20 days ago: only constant");

    // A restart keeps what was recorded (flushed to the store).
    let app = app.restart().await;
    let again = stale(&app).await;
    assert!(again.iter().any(|(id, _)| id == "forgotten"));
    assert!(again.iter().all(|(id, _)| id != "used_daily"));

    // A bulk evaluation (client SDKs) counts for every flag.
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"environment": "staging", "context": {"user_id": "u"}}),
    )
    .await
    .expect_status(200);
    let after_bulk = stale(&app).await;
    assert!(
        after_bulk.iter().all(|(id, _)| id != "forgotten"),
        "{after_bulk:?}"
    );

    app.get("/api/v1/flags/stale?unused_days=0", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
    // Far enough back to overflow a date: refused, naming the field.
    let reply = app
        .get("/api/v1/flags/stale?unused_days=4400000", ADMIN_TOKEN)
        .await;
    let error = reply.expect_error(400, "invalid_query");
    assert!(
        error["message"].as_str().unwrap().contains("unused_days"),
        "{reply}"
    );
    app.get("/api/v1/flags/stale?days=3", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
}

/// Point 8 through the API: a prerequisite cycle is refused when written
/// (422, naming the cycle, nothing stored), and a prerequisite that does not
/// hold serves the off value with reason `PREREQUISITE_FAILED`.
async fn prerequisites_are_enforced_when_written_and_evaluated(app: TestApp) {
    app.create_flag(
        &json!({"flag_id": "dashboard_api_v2", "default_value": false,
        "environments": {"staging": true}}),
    )
    .await;
    app.create_flag(&json!({"flag_id": "new_dashboard_ui", "default_value": true,
        "depends_on": [{"flag": "dashboard_api_v2", "required_value": true, "repository": "PratikoAi-BE"}]}))
    .await;
    let evaluate = |env: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/evaluate",
                ADMIN_TOKEN,
                &json!({"flag_id": "new_dashboard_ui", "environment": env, "context": {"user_id": "u"}}),
            )
            .await
            .expect_status(200)
            .body
        }
    };
    let held = evaluate("staging").await;
    assert_eq!(held["value"], true, "{held}");
    assert_ne!(held["reason"], "PREREQUISITE_FAILED", "{held}");
    let broken = evaluate("development").await;
    assert_eq!(broken["value"], false, "the off value: {broken}");
    assert_eq!(broken["reason"], "PREREQUISITE_FAILED", "{broken}");

    // dashboard_api_v2 -> new_dashboard_ui -> dashboard_api_v2: refused.
    let before = app
        .get("/api/v1/flags/dashboard_api_v2", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    let reply = app
        .patch(
            "/api/v1/flags/dashboard_api_v2",
            ADMIN_TOKEN,
            &json!({"depends_on": [{"flag": "new_dashboard_ui", "required_value": true}]}),
        )
        .await;
    assert_eq!(reply.status, 422, "{reply}");
    let text = reply.body.to_string();
    assert!(
        text.contains("prerequisite cycle")
            && text.contains("dashboard_api_v2")
            && text.contains("new_dashboard_ui"),
        "{reply}"
    );
    let after = app
        .get("/api/v1/flags/dashboard_api_v2", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    assert_eq!(after, before, "nothing stored");
    // A flag cannot require itself either.
    let reply = app
        .patch(
            "/api/v1/flags/new_dashboard_ui",
            ADMIN_TOKEN,
            &json!({"depends_on": [{"flag": "new_dashboard_ui", "required_value": true}]}),
        )
        .await;
    assert_eq!(reply.status, 422, "{reply}");
}
