//! Point 3: change windows: writes outside them are refused unless an admin
//! overrides with a reason, held requests wait for them, invalid settings are
//! refused.

use reqwest::Method;
use serde_json::json;
use time::macros::datetime;

use super::{
    MONDAY_MORNING, SATURDAY, admin_key_id, approve, change_request, configure, evaluate, flag,
    held, key, put_entry, send, set_clock,
};
use crate::support::{ADMIN_TOKEN, TestApp, problems};

governed_api_tests!(
    writes_outside_change_windows_are_refused_unless_overridden,
    change_requests_wait_for_the_window,
    invalid_change_windows_are_refused,
);

/// Point 3: outside the windows writes are refused, naming the next
/// opening; admins may override with a reason (audited); editors may not.
async fn writes_outside_change_windows_are_refused_unless_overridden(app: TestApp) {
    // Production with windows and protection but without approvals, so
    // that writes inside the window apply at once.
    configure(
        &app,
        "production",
        json!({"approval_required": false, "change_windows": [{
            "days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "start": "09:00", "end": "17:00", "time_zone": "Europe/Rome"}]}),
    )
    .await;
    let (_, editor) = key(&app, "editor", "editor").await;
    app.create_flag(&json!({
        "flag_id": "weekend_sale", "default_value": false,
        "environments": {"development": true, "production": false}
    }))
    .await;
    set_clock(&app, SATURDAY);
    let reason = ("X-Change-Reason", "sale starts");

    let reply = put_entry(
        &app,
        &editor,
        "weekend_sale",
        "production",
        &[reason],
        json!(true),
    )
    .await;
    let error = reply.expect_error(403, "outside_change_window");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("Monday 2026-11-30 09:00"),
        "names the next opening: {message}"
    );
    assert!(message.contains("X-Override-Change-Window"), "{message}");
    assert_eq!(
        error["details"]["next_window_opens_at"],
        "2026-11-30T08:00:00Z"
    );
    assert_eq!(error["details"]["environment"], "production");
    assert_eq!(error["details"]["window"]["time_zone"], "Europe/Rome");
    assert_eq!(flag(&app, "weekend_sale").await["version"], 1);

    // An editor's override is refused.
    let reply = put_entry(
        &app,
        &editor,
        "weekend_sale",
        "production",
        &[reason, ("X-Override-Change-Window", "true")],
        json!(true),
    )
    .await;
    let error = reply.expect_error(403, "outside_change_window");
    assert!(
        error["message"].as_str().unwrap().contains("admin role"),
        "{reply}"
    );
    // An admin's override without a reason: protection wants one first.
    put_entry(
        &app,
        ADMIN_TOKEN,
        "weekend_sale",
        "production",
        &[("X-Override-Change-Window", "true")],
        json!(true),
    )
    .await
    .expect_error(422, "reason_required");
    // Without the header even an admin is refused.
    put_entry(
        &app,
        ADMIN_TOKEN,
        "weekend_sale",
        "production",
        &[reason],
        json!(true),
    )
    .await
    .expect_error(403, "outside_change_window");
    assert_eq!(flag(&app, "weekend_sale").await["version"], 1);

    // An admin with the header and a reason: applied, and audited as an
    // override.
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "weekend_sale",
        "production",
        &[reason, ("X-Override-Change-Window", "true")],
        json!(true),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(evaluate(&app, "weekend_sale", "production").await, true);
    let audit = app
        .audit("flag_id=weekend_sale&action=flag.environment.update")
        .await;
    assert_eq!(audit.len(), 1);
    let recorded = audit[0]["reason"].as_str().unwrap();
    assert!(recorded.contains("sale starts"), "{recorded}");
    assert!(
        recorded.contains("change window overridden in production"),
        "{recorded}"
    );

    // Environments without windows are not affected.
    put_entry(
        &app,
        &editor,
        "weekend_sale",
        "development",
        &[],
        json!(false),
    )
    .await
    .expect_status(200);

    // Inside the window: an editor's write applies.
    set_clock(&app, MONDAY_MORNING);
    let reply = put_entry(
        &app,
        &editor,
        "weekend_sale",
        "production",
        &[reason],
        json!(false),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.body["version"], 4);
    assert_eq!(evaluate(&app, "weekend_sale", "production").await, false);

    // The end is exclusive: Friday 17:00 in Rome is closed, 16:59 open.
    set_clock(&app, datetime!(2026-12-04 16:00 UTC));
    put_entry(
        &app,
        &editor,
        "weekend_sale",
        "production",
        &[reason],
        json!(true),
    )
    .await
    .expect_error(403, "outside_change_window");
    set_clock(&app, datetime!(2026-12-04 15:59 UTC));
    put_entry(
        &app,
        &editor,
        "weekend_sale",
        "production",
        &[reason],
        json!(true),
    )
    .await
    .expect_status(200);

    // Across the change to summer time the opening is in Rome's time:
    // Monday 2027-03-29 09:00 CEST is 07:00 UTC.
    set_clock(&app, datetime!(2027-03-27 12:00 UTC));
    let reply = put_entry(
        &app,
        &editor,
        "weekend_sale",
        "production",
        &[reason],
        json!(false),
    )
    .await;
    let error = reply.expect_error(403, "outside_change_window");
    assert_eq!(
        error["details"]["next_window_opens_at"],
        "2027-03-29T07:00:00Z"
    );
}

/// Point 3 with approvals: a held request is applied only inside a window,
/// unless an admin approving it overrides the window with a reason.
async fn change_requests_wait_for_the_window(app: TestApp) {
    configure(
        &app,
        "production",
        json!({"change_windows": [{
            "days": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "start": "09:00", "end": "17:00", "time_zone": "Europe/Rome"}]}),
    )
    .await;
    let (approver_id, approver) = key(&app, "approver", "approver").await;
    let (_, editor) = key(&app, "editor", "editor").await;
    let admin = admin_key_id(&app).await;
    for id in ["invoice_pdf", "invoice_email"] {
        app.create_flag(&json!({
            "flag_id": id, "default_value": false,
            "environments": {"production": false}
        }))
        .await;
    }
    // Inside the window the write is held for approval.
    set_clock(&app, MONDAY_MORNING);
    let (_, id) = held(
        put_entry(
            &app,
            &editor,
            "invoice_pdf",
            "production",
            &[("X-Change-Reason", "pdf invoices")],
            json!(true),
        )
        .await,
    );
    // Outside it too: a request changes nothing yet; the window is checked
    // when it is applied.
    set_clock(&app, SATURDAY + time::Duration::days(7));
    let (_, weekend) = held(
        put_entry(
            &app,
            &editor,
            "invoice_email",
            "production",
            &[("X-Change-Reason", "email invoices")],
            json!(true),
        )
        .await,
    );
    // Approved on Saturday: refused, and the request stays pending.
    let reply = approve(&app, &id, &approver, "ok").await;
    let error = reply.expect_error(403, "outside_change_window");
    assert_eq!(
        error["details"]["next_window_opens_at"],
        "2026-12-07T08:00:00Z"
    );
    let request = change_request(&app, &id).await;
    assert_eq!(request["status"], "pending");
    assert_eq!(request["approvals"], json!([]));
    assert_eq!(flag(&app, "invoice_pdf").await["version"], 1);
    assert!(app.audit("action=change_request.approve").await.is_empty());
    // An approver (not an admin) cannot override the window.
    send(
        &app,
        Method::POST,
        &format!("/api/v1/change-requests/{weekend}/approve"),
        &approver,
        &[
            ("X-Override-Change-Window", "true"),
            ("X-Change-Reason", "month end"),
        ],
        Some(json!({"comment": "urgent"})),
    )
    .await
    .expect_error(403, "outside_change_window");
    // An admin can, with a reason: applied, and audited as an override.
    let reply = send(
        &app,
        Method::POST,
        &format!("/api/v1/change-requests/{weekend}/approve"),
        ADMIN_TOKEN,
        &[
            ("X-Override-Change-Window", "true"),
            ("X-Change-Reason", "month end billing run"),
        ],
        Some(json!({"comment": "urgent"})),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.body["status"], "applied");
    assert_eq!(reply.body["approvals"][0]["actor"], admin.as_str());
    assert_eq!(evaluate(&app, "invoice_email", "production").await, true);
    let applied = app
        .audit("flag_id=invoice_email&action=flag.environment.update")
        .await;
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["actor"], admin.as_str());
    let recorded = applied[0]["reason"].as_str().unwrap();
    assert!(recorded.contains("month end billing run"), "{recorded}");
    assert!(
        recorded.contains("change window overridden in production"),
        "{recorded}"
    );
    // On Monday the first applies, recorded with its request's reason.
    set_clock(&app, MONDAY_MORNING + time::Duration::days(7));
    let reply = approve(&app, &id, &approver, "ok").await.expect_status(200);
    assert_eq!(reply.body["status"], "applied");
    assert_eq!(flag(&app, "invoice_pdf").await["version"], 2);
    assert_eq!(evaluate(&app, "invoice_pdf", "production").await, true);
    let applied = app
        .audit("flag_id=invoice_pdf&action=flag.environment.update")
        .await;
    assert_eq!(applied[0]["actor"], approver_id.as_str());
    assert_eq!(applied[0]["reason"], "pdf invoices");
}

/// Point 3: invalid window settings are 422 with JSON paths; nothing is
/// stored.
async fn invalid_change_windows_are_refused(app: TestApp) {
    let before = app
        .get("/api/v1/environments/production", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    let mut settings = before.clone();
    settings["change_windows"] = json!([
        {"days": ["monday"], "start": "09:00", "end": "17:00", "time_zone": "Europe/Rome"},
        {"days": ["tuesday", "caturday"], "start": "09:00", "end": "17:00", "time_zone": "Mars/Olympus_Mons"},
        {"days": ["friday"], "start": "17:00", "end": "09:00", "time_zone": "UTC"},
        {"days": [], "start": "24:00", "end": "9am", "time_zone": "UTC"}
    ]);
    let reply = app
        .put("/api/v1/environments/production", ADMIN_TOKEN, &settings)
        .await;
    let found = problems(&reply);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    for path in [
        "change_windows[1].days[1]",
        "change_windows[1].time_zone",
        "change_windows[2].end",
        "change_windows[3].days",
        "change_windows[3].start",
        "change_windows[3].end",
    ] {
        assert!(paths.contains(&path), "{path} in {reply}");
    }
    assert!(
        !paths.iter().any(|p| p.starts_with("change_windows[0]")),
        "the first window is fine: {reply}"
    );
    let message = |path: &str| {
        found
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    assert!(message("change_windows[1].time_zone").contains("Mars/Olympus_Mons"));
    assert!(message("change_windows[1].days[1]").contains("caturday"));
    assert!(message("change_windows[2].end").contains("end after it starts"));
    // Nothing stored.
    let after = app
        .get("/api/v1/environments/production", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    assert_eq!(after, before);
    // Also on creation.
    let reply = app
        .post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": "qa", "parent": "staging", "change_windows": [
                {"days": ["monday"], "start": "12:00", "end": "12:00", "time_zone": "Europe/Nowhere"}]}),
        )
        .await;
    let paths: Vec<String> = problems(&reply).into_iter().map(|(p, _)| p).collect();
    assert!(
        paths.contains(&"change_windows[0].end".to_owned()),
        "{reply}"
    );
    assert!(
        paths.contains(&"change_windows[0].time_zone".to_owned()),
        "{reply}"
    );
    // A window without time_zone is UTC.
    let stored = configure(
        &app,
        "production",
        json!({"change_windows": [{"days": ["monday"], "start": "09:00", "end": "17:00"}]}),
    )
    .await;
    assert_eq!(stored["change_windows"][0]["time_zone"], "UTC");
}
