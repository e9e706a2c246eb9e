//! Governance with production as first start seeds it (approval required,
//! protected): four eyes, stale change requests and rebase, change windows
//! and their override, rollback protection, the dependency policy.

use serde_json::{Value, json};
use time::macros::datetime;

use crate::support::{ADMIN_TOKEN, Reply, TestApp};

governed_api_tests!(
    held_writes_and_four_eyes,
    stale_requests_are_rebased_not_applied,
    change_windows_refuse_and_admins_override,
    protection_wants_reasons_and_confirmations,
);

/// A request with optional extra headers.
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut request = app.request(method, path, Some(key));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.send(request).await
}

async fn put_production(app: &TestApp, flag: &str, key: &str, value: Value) -> Reply {
    send(
        app,
        reqwest::Method::PUT,
        &format!("/api/v1/flags/{flag}/environments/production"),
        key,
        &[("X-Change-Reason", "launch")],
        Some(value),
    )
    .await
}

async fn production_value(app: &TestApp, flag: &str) -> Value {
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": flag, "environment": "production", "context": {"user_id": "u"}}),
    )
    .await
    .expect_status(200)
    .body["value"]
        .clone()
}

async fn held_writes_and_four_eyes(app: TestApp) {
    let editor = app.key_with_role("editor").await;
    let approver = app.key_with_role("approver").await;
    let second_approver = app.key_with_role("approver").await;
    // Creating a flag, even with a production entry, is not held.
    app.create_flag(
        &json!({"flag_id": "new_checkout_flow", "default_value": false,
        "environments": {"production": false}}),
    )
    .await;
    // Nor is a description: production serves the same.
    app.patch(
        "/api/v1/flags/new_checkout_flow",
        &editor,
        &json!({"description": "v2"}),
    )
    .await
    .expect_status(200);

    let held = put_production(&app, "new_checkout_flow", &editor, json!(true))
        .await
        .expect_status(202);
    let request = &held.body["change_request"];
    assert_eq!(request["status"], "pending");
    assert_eq!(request["environments"], json!(["production"]));
    assert_eq!(request["reason"], "launch");
    assert_eq!(
        request["changes"][0]["diff"],
        json!([{"path": "environments.production", "before": false, "after": true}])
    );
    let id = request["id"].as_str().unwrap().to_owned();
    assert_eq!(
        production_value(&app, "new_checkout_flow").await,
        false,
        "held, not applied"
    );

    // Four eyes: not the author, not without the approver role.
    let approve = |key: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.post(
                &format!("/api/v1/change-requests/{id}/approve"),
                &key,
                &json!({"comment": "ok"}),
            )
            .await
        }
    };
    approve(editor.clone()).await.expect_error(403, "forbidden");
    let author_is_approver = app.key_with_role("approver").await;
    let own = put_production(&app, "new_checkout_flow", &author_is_approver, json!(true))
        .await
        .expect_status(202);
    let own_id = own.body["change_request"]["id"].as_str().unwrap();
    let reply = app
        .post(
            &format!("/api/v1/change-requests/{own_id}/approve"),
            &author_is_approver,
            &json!({}),
        )
        .await;
    assert!(
        reply.expect_error(403, "forbidden")["message"]
            .as_str()
            .unwrap()
            .contains("four eyes")
    );

    let applied = approve(approver.clone()).await.expect_status(200);
    assert_eq!(applied.body["status"], "applied");
    assert_eq!(applied.body["applied"], true);
    assert_eq!(production_value(&app, "new_checkout_flow").await, true);
    approve(second_approver.clone())
        .await
        .expect_error(409, "not_pending");

    // The audit trail: who asked, who approved, the change itself.
    let trail = app.audit("flag_id=new_checkout_flow").await;
    let latest = &trail[0];
    assert_eq!(latest["action"], "flag.environment.update");
    assert_eq!(latest["reason"], "launch");
    let approvals = app.audit("action=change_request.approve").await;
    assert_eq!(approvals.len(), 1);
    assert_eq!(
        approvals[0]["actor"], latest["actor"],
        "the approver applied it"
    );
    assert_ne!(
        approvals[0]["actor"],
        app.audit("action=change_request.create")
            .await
            .last()
            .unwrap()["actor"]
    );

    // Two approvals needed.
    let mut production = app
        .get("/api/v1/environments/production", ADMIN_TOKEN)
        .await
        .body;
    production["required_approvals"] = json!(2);
    app.put("/api/v1/environments/production", ADMIN_TOKEN, &production)
        .await
        .expect_status(200);
    let held = put_production(&app, "new_checkout_flow", &editor, json!(false))
        .await
        .expect_status(202);
    let id = held.body["change_request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/change-requests/{id}/approve");
    let first = app
        .post(&path, &approver, &json!({}))
        .await
        .expect_status(200);
    assert_eq!(first.body["status"], "pending");
    app.post(&path, &approver, &json!({}))
        .await
        .expect_error(409, "already_approved");
    assert_eq!(production_value(&app, "new_checkout_flow").await, true);
    let second = app
        .post(&path, &second_approver, &json!({}))
        .await
        .expect_status(200);
    assert_eq!(second.body["status"], "applied");
    assert_eq!(second.body["approvals"].as_array().unwrap().len(), 2);
    assert_eq!(production_value(&app, "new_checkout_flow").await, false);

    // Rejected requests stay unapplied.
    let held = put_production(&app, "new_checkout_flow", &editor, json!(true))
        .await
        .expect_status(202);
    let id = held.body["change_request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rejected = app
        .post(
            &format!("/api/v1/change-requests/{id}/reject"),
            &approver,
            &json!({"comment": "not during the sale"}),
        )
        .await
        .expect_status(200);
    assert_eq!(rejected.body["rejection"]["comment"], "not during the sale");
    app.post(
        &format!("/api/v1/change-requests/{id}/approve"),
        &second_approver,
        &json!({}),
    )
    .await
    .expect_error(409, "not_pending");
    let listed = app
        .get("/api/v1/change-requests?status=rejected&environment=production&flag_id=new_checkout_flow", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(listed.items().len(), 1);
    app.get("/api/v1/change-requests?status=maybe", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");

    // A flag tagged `sox` needs approval in any protected environment.
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "audited", "parent": "development", "protected": true}),
    )
    .await
    .expect_status(201);
    for (flag, tags, status) in [
        ("ledger_export", json!(["sox"]), 202),
        ("ui_tweak", json!([]), 200),
    ] {
        app.create_flag(&json!({"flag_id": flag, "default_value": false, "tags": tags}))
            .await;
        send(
            &app,
            reqwest::Method::PUT,
            &format!("/api/v1/flags/{flag}/environments/audited"),
            &editor,
            &[("X-Change-Reason", "quarter close")],
            Some(json!(true)),
        )
        .await
        .expect_status(status);
    }
}

async fn stale_requests_are_rebased_not_applied(app: TestApp) {
    let editor = app.key_with_role("editor").await;
    let approver = app.key_with_role("approver").await;
    app.create_flag(&json!({"flag_id": "search_v3", "default_value": false,
        "environments": {"staging": false, "production": {"enabled": true, "value": false}}}))
        .await;
    let held = put_production(
        &app,
        "search_v3",
        &editor,
        json!({"enabled": true, "value": true}),
    )
    .await
    .expect_status(202);
    let id = held.body["change_request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Meanwhile someone changes the flag elsewhere.
    app.put(
        "/api/v1/flags/search_v3/environments/staging",
        &editor,
        &json!(true),
    )
    .await
    .expect_status(200);
    let before = app.get("/api/v1/flags/search_v3", ADMIN_TOKEN).await.body;

    let reply = app
        .post(
            &format!("/api/v1/change-requests/{id}/approve"),
            &approver,
            &json!({}),
        )
        .await;
    let error = reply.expect_error(409, "change_request_stale");
    assert_eq!(error["details"]["base_version"], 1);
    assert_eq!(error["details"]["current_version"], 2);
    assert_eq!(
        app.get("/api/v1/flags/search_v3", ADMIN_TOKEN).await.body,
        before,
        "nothing applied"
    );
    let still = app
        .get(&format!("/api/v1/change-requests/{id}"), ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(still["status"], "pending");

    let rebased = app
        .post(
            &format!("/api/v1/change-requests/{id}/rebase"),
            &editor,
            &json!({}),
        )
        .await
        .expect_status(200);
    assert_eq!(rebased.body["changes"][0]["base_version"], 2);
    assert_eq!(rebased.body["approvals"], json!([]));
    assert_eq!(
        rebased.body["changes"][0]["after"]["environments"]["staging"], true,
        "keeps the other change"
    );
    app.post(
        &format!("/api/v1/change-requests/{id}/approve"),
        &approver,
        &json!({}),
    )
    .await
    .expect_status(200);
    let flag = app.get("/api/v1/flags/search_v3", ADMIN_TOKEN).await.body;
    assert_eq!(
        flag["environments"],
        json!({"staging": true, "production": {"enabled": true, "value": true}})
    );
}

async fn change_windows_refuse_and_admins_override(app: TestApp) {
    let editor = app.key_with_role("editor").await;
    let approver = app.key_with_role("approver").await;
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({
        "key": "store_front", "parent": "development",
        "change_windows": [{"days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                            "start": "09:00", "end": "17:00", "time_zone": "Europe/Rome"}]}),
    )
    .await
    .expect_status(201);
    app.create_flag(&json!({"flag_id": "holiday_banner", "default_value": false,
        "environments": {"store_front": false, "production": false}}))
        .await;
    let clock = app.clock.as_ref().unwrap();
    // Saturday 2026-11-28, 12:00 in Rome.
    clock.set(datetime!(2026-11-28 11:00 UTC));
    let put = |key: String, headers: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            send(
                app,
                reqwest::Method::PUT,
                "/api/v1/flags/holiday_banner/environments/store_front",
                &key,
                &headers,
                Some(json!(true)),
            )
            .await
        }
    };
    let refused = put(editor.clone(), vec![]).await;
    let error = refused.expect_error(403, "outside_change_window");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Monday 2026-11-30 09:00"),
        "{error}"
    );
    assert_eq!(
        error["details"]["next_window_opens_at"],
        "2026-11-30T08:00:00Z"
    );
    // Editors cannot override; admins can, with a reason.
    put(
        editor.clone(),
        vec![
            ("X-Override-Change-Window", "true"),
            ("X-Change-Reason", "outage"),
        ],
    )
    .await
    .expect_error(403, "outside_change_window");
    put(
        ADMIN_TOKEN.to_owned(),
        vec![("X-Override-Change-Window", "true")],
    )
    .await
    .expect_error(403, "outside_change_window");
    put(
        ADMIN_TOKEN.to_owned(),
        vec![
            ("X-Override-Change-Window", "true"),
            ("X-Change-Reason", "outage"),
        ],
    )
    .await
    .expect_status(200);
    let entry = &app.audit("flag_id=holiday_banner").await[0];
    assert_eq!(
        entry["reason"],
        "outage [change window overridden in store_front]"
    );

    // The kill switch and rollbacks are never held by windows.
    app.post(
        "/api/v1/emergency/disable",
        &editor,
        &json!({"flag_id": "holiday_banner", "environment": "store_front"}),
    )
    .await
    .expect_status(200);
    app.post(
        "/api/v1/flags/holiday_banner/rollback",
        &editor,
        &json!({"to_version": 1, "environment": "store_front"}),
    )
    .await
    .expect_status(200);
    let entry = &app.audit("flag_id=holiday_banner").await[0];
    assert_eq!(entry["action"], "flag.rollback");
    assert!(entry["reason"].as_str().unwrap().contains("rollback"));

    // Monday 10:00 in Rome: inside.
    clock.set(datetime!(2026-11-30 09:00 UTC));
    put(editor.clone(), vec![]).await.expect_status(200);

    // An approved request applied outside the window waits.
    let mut production = app
        .get("/api/v1/environments/production", ADMIN_TOKEN)
        .await
        .body;
    production["change_windows"] =
        json!([{"days": ["monday"], "start": "09:00", "end": "12:00", "time_zone": "UTC"}]);
    app.put("/api/v1/environments/production", ADMIN_TOKEN, &production)
        .await
        .expect_status(200);
    let held = put_production(&app, "holiday_banner", &editor, json!(true))
        .await
        .expect_status(202);
    let id = held.body["change_request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.set(datetime!(2026-11-30 13:00 UTC));
    app.post(
        &format!("/api/v1/change-requests/{id}/approve"),
        &approver,
        &json!({}),
    )
    .await
    .expect_error(403, "outside_change_window");
    assert_eq!(
        app.get(&format!("/api/v1/change-requests/{id}"), ADMIN_TOKEN)
            .await
            .body["status"],
        "pending"
    );
    clock.set(datetime!(2026-12-07 10:00 UTC));
    app.post(
        &format!("/api/v1/change-requests/{id}/approve"),
        &approver,
        &json!({}),
    )
    .await
    .expect_status(200);
    assert_eq!(production_value(&app, "holiday_banner").await, true);

    // Invalid windows, every problem with its path.
    let reply = app.post("/api/v1/environments", ADMIN_TOKEN, &json!({"key": "bad_windows",
        "change_windows": [{"days": ["funday"], "start": "18:00", "end": "09:00", "time_zone": "Mars/Olympus"}]}))
        .await;
    let error = reply.expect_error(422, "validation_failed");
    let paths: Vec<&str> = error["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "change_windows[0].days[0]",
            "change_windows[0].time_zone",
            "change_windows[0].end"
        ]
    );
}

async fn protection_wants_reasons_and_confirmations(app: TestApp) {
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "guarded", "parent": "development", "protected": true}),
    )
    .await
    .expect_status(201);
    app.create_flag(&json!({"flag_id": "payments_core", "default_value": true}))
        .await;
    app.create_flag(&json!({"flag_id": "checkout_v2", "default_value": true,
        "depends_on": [{"flag": "payments_core"}]}))
        .await;
    app.create_flag(&json!({"flag_id": "old_banner", "default_value": true}))
        .await;
    let path = "/api/v1/flags/payments_core/environments/guarded";
    // Any change to what `guarded` serves needs a reason.
    send(
        &app,
        reqwest::Method::PUT,
        path,
        ADMIN_TOKEN,
        &[],
        Some(json!({"enabled": false})),
    )
    .await
    .expect_error(422, "reason_required");
    let refused = send(
        &app,
        reqwest::Method::PUT,
        path,
        ADMIN_TOKEN,
        &[("X-Change-Reason", "incident")],
        Some(json!({"enabled": false})),
    )
    .await;
    let error = refused.expect_error(409, "confirmation_required");
    assert!(
        error["message"].as_str().unwrap().contains("checkout_v2"),
        "{error}"
    );
    send(
        &app,
        reqwest::Method::PUT,
        path,
        ADMIN_TOKEN,
        &[("X-Change-Reason", "incident"), ("X-Confirm", "true")],
        Some(json!({"enabled": false})),
    )
    .await
    .expect_status(200);

    // Deleting a flag that is on there. (Production also serves it and
    // requires approval, so the confirmed deletion becomes a request.)
    send(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/flags/old_banner",
        ADMIN_TOKEN,
        &[("X-Change-Reason", "retired")],
        None,
    )
    .await
    .expect_error(409, "confirmation_required");
    send(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/flags/old_banner",
        ADMIN_TOKEN,
        &[("X-Change-Reason", "retired"), ("X-Confirm", "true")],
        None,
    )
    .await
    .expect_status(202);

    // dependency_policy: refuse.
    let mut guarded = app
        .get("/api/v1/environments/guarded", ADMIN_TOKEN)
        .await
        .body;
    guarded["dependency_policy"] = json!("refuse");
    app.put("/api/v1/environments/guarded", ADMIN_TOKEN, &guarded)
        .await
        .expect_status(200);
    app.create_flag(&json!({"flag_id": "one_click_buy", "default_value": true,
        "environments": {"guarded": {"enabled": false}},
        "depends_on": [{"flag": "payments_core"}]}))
        .await;
    let refused = send(
        &app,
        reqwest::Method::PUT,
        "/api/v1/flags/one_click_buy/environments/guarded",
        ADMIN_TOKEN,
        &[("X-Change-Reason", "launch")],
        Some(json!({"enabled": true})),
    )
    .await;
    let error = refused.expect_error(409, "prerequisite_broken");
    assert!(
        error["message"].as_str().unwrap().contains("payments_core"),
        "{error}"
    );
}
