//! Point 4: rollback protection in a protected environment: a reason for every
//! change, a confirmation for destructive ones.

use reqwest::Method;
use serde_json::json;

use super::{configure, evaluate, flag, put_entry, send};
use crate::support::{ADMIN_TOKEN, TestApp};

governed_api_tests!(rollback_protection_wants_reason_and_confirmation,);

/// Point 4: in a protected environment without approvals, a reason for
/// every change and a confirmation for destructive ones.
async fn rollback_protection_wants_reason_and_confirmation(app: TestApp) {
    configure(&app, "production", json!({"approval_required": false})).await;
    app.create_flag(&json!({
        "flag_id": "old_banner", "default_value": false,
        "environments": {"production": true}
    }))
    .await;
    app.create_flag(&json!({
        "flag_id": "dashboard_api_v2", "default_value": false,
        "environments": {"production": {"enabled": true, "value": true}}
    }))
    .await;
    app.create_flag(&json!({
        "flag_id": "new_dashboard_ui", "default_value": false,
        "depends_on": [{"flag": "dashboard_api_v2", "required_value": true}],
        "environments": {"production": true}
    }))
    .await;
    app.create_flag(&json!({
        "flag_id": "unused_thing", "default_value": false,
        "environments": {"production": {"enabled": false}}
    }))
    .await;
    // The seed's way of saying that a boolean flag is off somewhere.
    app.create_flag(&json!({
        "flag_id": "retired_switch", "default_value": true,
        "environments": {"production": false}
    }))
    .await;
    app.create_flag(&json!({
        "flag_id": "legacy_api", "default_value": false,
        "environments": {"production": true}
    }))
    .await;
    app.create_flag(&json!({
        "flag_id": "client_v2", "default_value": false,
        "depends_on": [{"flag": "legacy_api", "required_value": true}],
        "environments": {"production": true}
    }))
    .await;

    // No reason: 422.
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "old_banner",
        "production",
        &[],
        json!(false),
    )
    .await;
    let error = reply.expect_error(422, "reason_required");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("X-Change-Reason"),
        "{reply}"
    );
    assert_eq!(error["details"]["environment"], "production");
    // With one the write applies, and the audit records it.
    put_entry(
        &app,
        ADMIN_TOKEN,
        "old_banner",
        "production",
        &[("X-Change-Reason", "banner copy")],
        json!({"enabled": true, "value": true}),
    )
    .await
    .expect_status(200);
    assert_eq!(
        app.audit("flag_id=old_banner&action=flag.environment.update")
            .await[0]["reason"],
        "banner copy"
    );

    // Deleting a flag that is on there: confirmation required.
    let reason = ("X-Change-Reason", "cleanup");
    let reply = send(
        &app,
        Method::DELETE,
        "/api/v1/flags/old_banner",
        ADMIN_TOKEN,
        &[reason],
        None,
    )
    .await;
    let error = reply.expect_error(409, "confirmation_required");
    assert!(
        error["message"].as_str().unwrap().contains("X-Confirm"),
        "{reply}"
    );
    assert_eq!(error["details"]["flag_id"], "old_banner");
    send(
        &app,
        Method::DELETE,
        "/api/v1/flags/old_banner",
        ADMIN_TOKEN,
        &[],
        None,
    )
    .await
    .expect_error(422, "reason_required");
    assert_eq!(flag(&app, "old_banner").await.get("deleted"), None);
    // A flag that is off there is deleted with a reason alone, whether
    // disabled or a boolean serving false.
    for off in ["unused_thing", "retired_switch"] {
        send(
            &app,
            Method::DELETE,
            &format!("/api/v1/flags/{off}"),
            ADMIN_TOKEN,
            &[reason],
            None,
        )
        .await
        .expect_status(200);
        assert_eq!(flag(&app, off).await["deleted"], true);
    }
    // With the confirmation: deleted.
    send(
        &app,
        Method::DELETE,
        "/api/v1/flags/old_banner",
        ADMIN_TOKEN,
        &[reason, ("X-Confirm", "true")],
        None,
    )
    .await
    .expect_status(200);
    assert_eq!(flag(&app, "old_banner").await["deleted"], true);
    let deleted = app.audit("flag_id=old_banner&action=flag.delete").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["reason"], "cleanup");

    // Turning off a flag others depend on: confirmation required, naming
    // them.
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "dashboard_api_v2",
        "production",
        &[("X-Change-Reason", "api incident")],
        json!({"enabled": false, "value": true}),
    )
    .await;
    let error = reply.expect_error(409, "confirmation_required");
    assert_eq!(error["details"]["dependents"], json!(["new_dashboard_ui"]));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("new_dashboard_ui"),
        "{reply}"
    );
    assert_eq!(flag(&app, "dashboard_api_v2").await["version"], 1);
    // Changing it otherwise (still on) needs no confirmation.
    put_entry(
        &app,
        ADMIN_TOKEN,
        "dashboard_api_v2",
        "production",
        &[("X-Change-Reason", "explicit value")],
        json!({"enabled": true, "value": true, "targeting_rules": []}),
    )
    .await
    .expect_status(200);
    // With the confirmation it goes off (the default policy warns).
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "dashboard_api_v2",
        "production",
        &[("X-Change-Reason", "api incident"), ("X-Confirm", "true")],
        json!({"enabled": false, "value": true}),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.body["version"], 3);
    assert!(
        reply.body["warnings"].as_array().is_some_and(|w| w
            .iter()
            .any(|w| w.as_str().unwrap().contains("new_dashboard_ui"))),
        "{reply}"
    );
    assert_eq!(
        evaluate(&app, "dashboard_api_v2", "production").await,
        false
    );
    assert_eq!(
        evaluate(&app, "new_dashboard_ui", "production").await,
        false,
        "its prerequisite is off"
    );

    // A boolean flag is also turned off by serving false (the seed's
    // `"production": false`): the same confirmation.
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "legacy_api",
        "production",
        &[("X-Change-Reason", "retire the old api")],
        json!(false),
    )
    .await;
    let error = reply.expect_error(409, "confirmation_required");
    assert_eq!(error["details"]["dependents"], json!(["client_v2"]));
    assert_eq!(evaluate(&app, "client_v2", "production").await, true);
    put_entry(
        &app,
        ADMIN_TOKEN,
        "legacy_api",
        "production",
        &[
            ("X-Change-Reason", "retire the old api"),
            ("X-Confirm", "true"),
        ],
        json!(false),
    )
    .await
    .expect_status(200);
    assert_eq!(
        evaluate(&app, "client_v2", "production").await,
        false,
        "its prerequisite serves false"
    );

    // The protection covers the environment's own settings: switching it
    // off needs a reason too, and without one nothing changes.
    let mut unprotected = app
        .get("/api/v1/environments/production", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    unprotected["protected"] = json!(false);
    app.put("/api/v1/environments/production", ADMIN_TOKEN, &unprotected)
        .await
        .expect_error(422, "reason_required");
    assert_eq!(
        app.get("/api/v1/environments/production", ADMIN_TOKEN)
            .await
            .expect_status(200)
            .body["protected"],
        true
    );
    send(
        &app,
        Method::PUT,
        "/api/v1/environments/production",
        ADMIN_TOKEN,
        &[("X-Change-Reason", "decommissioning the old cluster")],
        Some(unprotected),
    )
    .await
    .expect_status(200);
    let audit = app
        .audit("action=environment.update&environment=production")
        .await;
    assert_eq!(audit[0]["reason"], "decommissioning the old cluster");

    // Unprotected environments want neither.
    put_entry(
        &app,
        ADMIN_TOKEN,
        "dashboard_api_v2",
        "production",
        &[],
        json!(true),
    )
    .await
    .expect_status(200);
}
