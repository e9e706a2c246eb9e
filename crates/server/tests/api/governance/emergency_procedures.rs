//! Point 3: the kill switch and rollbacks that turn flags off are never held by
//! windows or approvals.

use reqwest::Method;
use serde_json::json;
use time::macros::datetime;

use super::{SATURDAY, approve, configure, evaluate, held, key, put_entry, send, set_clock};
use crate::support::{ADMIN_TOKEN, TestApp};

governed_api_tests!(emergency_procedures_ignore_windows_and_approvals,);

/// Point 3: the kill switch, and rollbacks that turn flags off, are never
/// held by windows or approvals, and are audited with a reason; turning a
/// flag back on (by the switch or by a rollback) is an ordinary change.
async fn emergency_procedures_ignore_windows_and_approvals(app: TestApp) {
    configure(
        &app,
        "production",
        json!({"change_windows": [{
            "days": ["monday"], "start": "09:00", "end": "10:00", "time_zone": "Europe/Rome"}]}),
    )
    .await;
    let (editor_id, editor) = key(&app, "on call", "editor").await;
    app.create_flag(&json!({
        "flag_id": "payments_v3", "default_value": false,
        "environments": {"development": true, "production": true}
    }))
    .await;
    set_clock(&app, SATURDAY);
    // An ordinary write is held (approval), not applied.
    held(
        put_entry(
            &app,
            &editor,
            "payments_v3",
            "production",
            &[("X-Change-Reason", "off")],
            json!(false),
        )
        .await,
    );
    // The kill switch: applied at once, outside the window, without
    // approval, by an editor.
    let reply = app
        .post(
            "/api/v1/emergency/disable",
            &editor,
            &json!({"flag_id": "payments_v3", "environment": "production", "reason": "error rate 30%"}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["enabled"], false);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(evaluate(&app, "payments_v3", "production").await, false);
    let audit = app
        .audit("flag_id=payments_v3&action=emergency.disable")
        .await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actor"], editor_id.as_str());
    assert_eq!(audit[0]["reason"], "error rate 30%");
    // Turning it back on is no emergency: an ordinary change, held for
    // approval, and applied only inside a window.
    let (request, request_id) = held(
        app.post(
            "/api/v1/emergency/enable",
            &editor,
            &json!({"flag_id": "payments_v3", "environment": "production", "reason": "fixed in 2.4.1"}),
        )
        .await,
    );
    assert_eq!(request["reason"], "fixed in 2.4.1");
    assert_eq!(evaluate(&app, "payments_v3", "production").await, false);
    let (_, approver) = key(&app, "approver", "approver").await;
    approve(&app, &request_id, &approver, "fix verified")
        .await
        .expect_error(403, "outside_change_window");
    assert_eq!(evaluate(&app, "payments_v3", "production").await, false);

    // A rollback that turns the flag back on (version 1: on in production)
    // is no emergency either: it is held for approval like any release.
    let (request, _) = held(
        send(
            &app,
            Method::POST,
            "/api/v1/flags/payments_v3/rollback",
            &editor,
            &[],
            Some(json!({"to_version": 1, "environment": "production", "reason": "the fix is out"})),
        )
        .await,
    );
    assert_eq!(request["reason"], "the fix is out");
    assert_eq!(evaluate(&app, "payments_v3", "production").await, false);
    assert!(
        app.audit("flag_id=payments_v3&action=flag.rollback")
            .await
            .is_empty()
    );

    // Inside the window the turn-on is approved and applied (version 3)...
    set_clock(&app, datetime!(2026-11-30 08:30 UTC));
    approve(&app, &request_id, &approver, "fix verified")
        .await
        .expect_status(200);
    assert_eq!(evaluate(&app, "payments_v3", "production").await, true);
    set_clock(&app, SATURDAY);
    // ...and a rollback that turns it off again is an emergency procedure:
    // applied at once, outside the window, without approval, naming itself.
    let reply = app
        .post(
            "/api/v1/flags/payments_v3/rollback",
            &editor,
            &json!({"to_version": 2}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 4);
    assert_eq!(evaluate(&app, "payments_v3", "production").await, false);
    let audit = app.audit("flag_id=payments_v3&action=flag.rollback").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actor"], editor_id.as_str());
    assert!(
        audit[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("rollback") && r.contains("version 2")),
        "{audit:?}"
    );
    // Nothing was turned into a change request but the ordinary writes.
    let pending = app
        .get("/api/v1/change-requests?status=pending", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(pending.items().len(), 2);
}
