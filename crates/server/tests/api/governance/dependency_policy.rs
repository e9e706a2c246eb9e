//! Issue 8's dependency policy: `refuse` refuses writes that break a
//! prerequisite, also when an approved request is applied; `warn` lets them
//! through with warnings.

use serde_json::json;

use super::{approve, change_request, evaluate, flag, held, key, put_entry};
use crate::support::{ADMIN_TOKEN, TestApp};

governed_api_tests!(dependency_policy_warns_or_refuses,);

/// Point 8's policy: `refuse` refuses writes that break a prerequisite;
/// the default `warn` lets them through with warnings.
async fn dependency_policy_warns_or_refuses(app: TestApp) {
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "strict", "parent": "development", "dependency_policy": "refuse"}),
    )
    .await
    .expect_status(201);
    let loose = app
        .post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": "loose", "parent": "development"}),
        )
        .await
        .expect_status(201);
    assert_eq!(loose.body["dependency_policy"], "warn");
    app.create_flag(&json!({
        "flag_id": "dashboard_api_v2", "default_value": true,
        "environments": {"strict": {"enabled": false}, "loose": {"enabled": false}}
    }))
    .await;
    app.create_flag(&json!({
        "flag_id": "new_dashboard_ui", "default_value": true,
        "depends_on": [{"flag": "dashboard_api_v2", "required_value": true}],
        "environments": {"strict": {"enabled": false}, "loose": {"enabled": false}}
    }))
    .await;

    // refuse: enabling a flag whose prerequisite is off there.
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "new_dashboard_ui",
        "strict",
        &[],
        json!({"enabled": true}),
    )
    .await;
    let error = reply.expect_error(409, "prerequisite_broken");
    assert_eq!(error["details"]["environment"], "strict");
    let problems = error["details"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{reply}");
    assert!(
        problems[0].as_str().unwrap().contains("dashboard_api_v2"),
        "{reply}"
    );
    assert_eq!(flag(&app, "new_dashboard_ui").await["version"], 1);
    assert_eq!(evaluate(&app, "new_dashboard_ui", "strict").await, false);

    // warn: the same write goes through, with warnings.
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "new_dashboard_ui",
        "loose",
        &[],
        json!({"enabled": true}),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.body["version"], 2);
    let warnings = reply.body["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains("\"loose\"") && w.contains("dashboard_api_v2")
        }),
        "{warnings:?}"
    );
    assert_eq!(
        evaluate(&app, "new_dashboard_ui", "loose").await,
        false,
        "PREREQUISITE_FAILED serves the off value"
    );

    // In strict, with the prerequisite on first, both are allowed.
    put_entry(
        &app,
        ADMIN_TOKEN,
        "dashboard_api_v2",
        "strict",
        &[],
        json!({"enabled": true}),
    )
    .await
    .expect_status(200);
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "new_dashboard_ui",
        "strict",
        &[],
        json!({"enabled": true}),
    )
    .await
    .expect_status(200);
    // Nothing is broken in strict (the warnings name loose only).
    let warnings = reply.body["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .all(|w| !w.as_str().unwrap().contains("\"strict\"")),
        "{reply}"
    );
    assert_eq!(evaluate(&app, "new_dashboard_ui", "strict").await, true);
    // Now turning the prerequisite off would break the enabled dependent.
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "dashboard_api_v2",
        "strict",
        &[],
        json!({"enabled": false}),
    )
    .await;
    let error = reply.expect_error(409, "prerequisite_broken");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("new_dashboard_ui"),
        "{reply}"
    );
    assert_eq!(evaluate(&app, "dashboard_api_v2", "strict").await, true);
    // So would making it serve false (a boolean flag's other way of being
    // off).
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "dashboard_api_v2",
        "strict",
        &[],
        json!(false),
    )
    .await;
    let error = reply.expect_error(409, "prerequisite_broken");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("new_dashboard_ui"),
        "{reply}"
    );
    assert_eq!(evaluate(&app, "dashboard_api_v2", "strict").await, true);
    // A write elsewhere is not refused; the answer still warns about the
    // prerequisite broken in loose.
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "new_dashboard_ui",
        "development",
        &[],
        json!(true),
    )
    .await
    .expect_status(200);
    assert!(reply.body["warnings"].is_array(), "{reply}");
    // Refused writes are not recorded.
    let audit = app.audit("flag_id=dashboard_api_v2").await;
    assert_eq!(audit.len(), 2, "create and the enable in strict");

    approved_requests_keep_the_policy(&app).await;
}

/// The policy holds when an approved request is applied: a request made
/// while the prerequisite was on is refused once it is off.
async fn approved_requests_keep_the_policy(app: &TestApp) {
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "gated", "parent": "development", "approval_required": true,
                "dependency_policy": "refuse"}),
    )
    .await
    .expect_status(201);
    let (_, approver) = key(app, "approver", "approver").await;
    app.create_flag(&json!({
        "flag_id": "search_index_v2", "default_value": true,
        "environments": {"gated": true}
    }))
    .await;
    app.create_flag(&json!({
        "flag_id": "search_ui_v2", "default_value": true,
        "depends_on": [{"flag": "search_index_v2", "required_value": true}],
        "environments": {"gated": false}
    }))
    .await;
    // Enabling the dependent is fine now: held.
    let (_, enable_ui) =
        held(put_entry(app, ADMIN_TOKEN, "search_ui_v2", "gated", &[], json!(true)).await);
    // The prerequisite goes off (nothing on depends on it yet).
    let (_, disable_index) = held(
        put_entry(
            app,
            ADMIN_TOKEN,
            "search_index_v2",
            "gated",
            &[],
            json!({"enabled": false}),
        )
        .await,
    );
    approve(app, &disable_index, &approver, "ok")
        .await
        .expect_status(200);
    assert_eq!(evaluate(app, "search_index_v2", "gated").await, false);
    // Applying the first request now would break the prerequisite.
    let reply = approve(app, &enable_ui, &approver, "ok").await;
    reply.expect_error(409, "prerequisite_broken");
    assert_eq!(change_request(app, &enable_ui).await["status"], "pending");
    assert_eq!(flag(app, "search_ui_v2").await["version"], 1);
}
