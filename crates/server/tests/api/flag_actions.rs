//! `POST /api/v1/flags/{flag_id}/environments/{env}/actions`: one edit of a
//! flag in an environment (enable, disable, set_value, set_percentage) made
//! by the server on the latest document, with `If-Match` and the
//! environments' rules exactly as for `PATCH`.
//!
//! Every test starts with production as first start seeds it (approval
//! required, protected) and a clock the test controls.

use reqwest::Method;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::support::{ADMIN_TOKEN, Reply, TestApp};

governed_api_tests!(
    actions_edit_one_environment,
    actions_check_if_match,
    actions_are_governed_like_patch,
    actions_refuse_what_cannot_be_done,
);

async fn act(app: &TestApp, flag: &str, env: &str, headers: &[(&str, &str)], body: Value) -> Reply {
    let mut builder = app.request(
        Method::POST,
        &format!("/api/v1/flags/{flag}/environments/{env}/actions"),
        Some(ADMIN_TOKEN),
    );
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    app.send(builder.json(&body)).await
}

async fn flag(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/flags/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body
}

async fn actions_edit_one_environment(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "search_v2", "default_value": true,
        "environments": {"development": {"enabled": false}},
        "targeting_rules": [{"name": "beta", "conditions": [], "value": true, "percentage": 0}]
    }))
    .await;
    // Staging inherits development's kill switch: enabling gives staging an
    // entry of its own, what development serves when on.
    let reply = act(
        &app,
        "search_v2",
        "staging",
        &[],
        json!({"action": "enable"}),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.body["version"], 2);
    assert_eq!(
        reply.body["environments"]["staging"],
        json!({"value": true, "targeting_rules": [{"name": "beta", "value": true, "percentage": 0}]})
    );
    // Asked again: nothing to change, no new version.
    let again = act(
        &app,
        "search_v2",
        "staging",
        &[],
        json!({"action": "enable"}),
    )
    .await
    .expect_status(200);
    assert_eq!(again.body["version"], 2);
    assert_eq!(again.header("etag"), Some("\"2\""));

    let reply = act(
        &app,
        "search_v2",
        "staging",
        &[],
        json!({"action": "set_percentage", "percentage": 25, "rule": "beta"}),
    )
    .await
    .expect_status(200);
    assert_eq!(
        reply.body["environments"]["staging"]["targeting_rules"][0]["percentage"],
        25
    );
    // By index too, and the default rule (the first with a percentage).
    act(
        &app,
        "search_v2",
        "staging",
        &[],
        json!({"action": "set_percentage", "percentage": 50, "rule": 0}),
    )
    .await
    .expect_status(200);
    let reply = act(
        &app,
        "search_v2",
        "staging",
        &[],
        json!({"action": "set_percentage", "percentage": 75}),
    )
    .await
    .expect_status(200);
    assert_eq!(
        reply.body["environments"]["staging"]["targeting_rules"][0]["percentage"],
        75
    );
    // The flag level is untouched.
    assert_eq!(reply.body["targeting_rules"][0]["percentage"], 0);

    let reply = act(
        &app,
        "search_v2",
        "development",
        &[],
        json!({"action": "set_value", "value": false}),
    )
    .await
    .expect_status(200);
    assert_eq!(
        reply.body["environments"]["development"],
        json!({"enabled": false, "value": false})
    );
    let reply = act(
        &app,
        "search_v2",
        "development",
        &[],
        json!({"action": "enable"}),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.body["environments"]["development"], false);
    let reply = act(
        &app,
        "search_v2",
        "staging",
        &[],
        json!({"action": "disable"}),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.body["environments"]["staging"]["enabled"], false);
    assert_eq!(reply.body["version"], 8);

    let actions: Vec<String> = app
        .audit("flag_id=search_v2")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "flag.disable",
            "flag.enable",
            "flag.environment.update",
            "flag.environment.update",
            "flag.environment.update",
            "flag.environment.update",
            "flag.enable",
            "flag.create"
        ]
    );
}

async fn actions_check_if_match(app: TestApp) {
    app.create_flag(&json!({"flag_id": "checkout", "default_value": false}))
        .await;
    app.patch(
        "/api/v1/flags/checkout",
        ADMIN_TOKEN,
        &json!({"description": "changed meanwhile"}),
    )
    .await
    .expect_status(200);
    // The client saw version 1: the change made since is not overwritten.
    let body = json!({"action": "set_value", "value": true});
    let reply = act(
        &app,
        "checkout",
        "staging",
        &[("If-Match", "\"1\"")],
        body.clone(),
    )
    .await;
    let error = reply.expect_error(409, "version_conflict");
    assert_eq!(error["details"]["current_version"], 2);
    assert!(
        flag(&app, "checkout").await["environments"]
            .get("staging")
            .is_none()
    );
    // At the version it saw, it applies.
    let reply = act(&app, "checkout", "staging", &[("If-Match", "\"2\"")], body)
        .await
        .expect_status(200);
    assert_eq!(reply.body["environments"]["staging"], true);
    assert_eq!(reply.body["description"], "changed meanwhile");
    act(
        &app,
        "checkout",
        "staging",
        &[("If-Match", "two")],
        json!({"action": "enable"}),
    )
    .await
    .expect_error(400, "invalid_if_match");
}

async fn actions_are_governed_like_patch(app: TestApp) {
    app.create_flag(&json!({"flag_id": "payments_v3", "default_value": true}))
        .await;
    // Production is protected: a reason first.
    act(
        &app,
        "payments_v3",
        "production",
        &[],
        json!({"action": "disable"}),
    )
    .await
    .expect_error(422, "reason_required");
    // Then it needs approval: a change request, nothing applied.
    let reply = act(
        &app,
        "payments_v3",
        "production",
        &[("X-Change-Reason", "incident"), ("X-Confirm", "true")],
        json!({"action": "disable"}),
    )
    .await
    .expect_status(202);
    let request = &reply.body["change_request"];
    assert_eq!(request["status"], "pending");
    assert_eq!(request["environments"], json!(["production"]));
    assert_eq!(request["reason"], "incident");
    assert_eq!(request["changes"][0]["action"], "flag.disable");
    assert_eq!(
        request["changes"][0]["after"]["environments"]["production"],
        json!({"enabled": false})
    );
    assert!(
        flag(&app, "payments_v3").await["environments"]
            .get("production")
            .is_none()
    );

    // Change windows: outside them, refused.
    let mut settings = app
        .get("/api/v1/environments/staging", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    settings["change_windows"] =
        json!([{"days": ["monday"], "start": "09:00", "end": "17:00", "time_zone": "UTC"}]);
    app.put("/api/v1/environments/staging", ADMIN_TOKEN, &settings)
        .await
        .expect_status(200);
    app.clock
        .as_ref()
        .expect("a governed app")
        .set(datetime!(2026-11-28 11:00 UTC));
    act(
        &app,
        "payments_v3",
        "staging",
        &[],
        json!({"action": "disable"}),
    )
    .await
    .expect_error(403, "outside_change_window");
}

async fn actions_refuse_what_cannot_be_done(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "banner", "default_value": false,
        "targeting_rules": [{"name": "a", "value": true}, {"name": "b", "value": true}]
    }))
    .await;
    act(&app, "banner", "nowhere", &[], json!({"action": "enable"}))
        .await
        .expect_error(404, "not_found");
    act(
        &app,
        "no_such_flag",
        "staging",
        &[],
        json!({"action": "enable"}),
    )
    .await
    .expect_error(404, "not_found");
    let reply = act(
        &app,
        "banner",
        "staging",
        &[],
        json!({"action": "set_percentage", "percentage": 10}),
    )
    .await;
    let error = reply.expect_error(400, "unknown_rule");
    assert!(
        error["message"].as_str().unwrap().contains("[a, b]"),
        "{error}"
    );
    act(
        &app,
        "banner",
        "staging",
        &[],
        json!({"action": "set_percentage", "percentage": 101, "rule": "a"}),
    )
    .await
    .expect_error(400, "invalid_percentage");
    act(
        &app,
        "banner",
        "staging",
        &[],
        json!({"action": "set_value", "value": "yes"}),
    )
    .await
    .expect_error(422, "validation_failed");
    act(&app, "banner", "staging", &[], json!({"action": "explode"}))
        .await
        .expect_error(400, "invalid_body");
    assert_eq!(flag(&app, "banner").await["version"], 1, "nothing written");
}
