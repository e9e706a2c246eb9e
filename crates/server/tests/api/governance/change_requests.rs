//! Point 2: the life of a change request after it is made: stale requests and
//! rebase, rejection, decisions on requests that are not pending, the list's
//! filters.

use reqwest::Method;
use serde_json::json;

use super::{
    MONDAY_MORNING, approve, change_request, configure, evaluate, flag, held, ids, key, put_entry,
    send, set_clock,
};
use crate::support::{ADMIN_TOKEN, TestApp, without_meta};

governed_api_tests!(
    stale_requests_are_rebased_not_applied,
    rejection_and_list_filters,
);

/// Point 2: a flag that changed after the request makes it stale; rebase
/// re-applies its change onto the latest document and clears approvals.
async fn stale_requests_are_rebased_not_applied(app: TestApp) {
    configure(&app, "production", json!({"required_approvals": 2})).await;
    let (_, first) = key(&app, "first approver", "approver").await;
    let (second_id, second) = key(&app, "second approver", "approver").await;
    let (_, editor) = key(&app, "editor", "editor").await;
    app.create_flag(&json!({
        "flag_id": "pricing_page",
        "type": "string",
        "default_value": "a",
        "environments": {"development": "b", "staging": "b", "production": "a"}
    }))
    .await;
    let (_, id) = held(
        put_entry(
            &app,
            &editor,
            "pricing_page",
            "production",
            &[("X-Change-Reason", "variant b")],
            json!("b"),
        )
        .await,
    );
    approve(&app, &id, &first, "one").await.expect_status(200);

    // Meanwhile: the kill switch in staging (a new version of the flag).
    app.post(
        "/api/v1/emergency/disable",
        ADMIN_TOKEN,
        &json!({"flag_id": "pricing_page", "environment": "staging", "reason": "bad variant"}),
    )
    .await
    .expect_status(200);
    // And a write in development.
    put_entry(
        &app,
        ADMIN_TOKEN,
        "pricing_page",
        "development",
        &[],
        json!("c"),
    )
    .await
    .expect_status(200);
    let before = flag(&app, "pricing_page").await;
    assert_eq!(before["version"], 3);

    // Approving would overwrite them: refused, nothing changes.
    let reply = approve(&app, &id, &second, "two").await;
    let error = reply.expect_error(409, "change_request_stale");
    assert_eq!(error["details"]["base_version"], 1);
    assert_eq!(error["details"]["current_version"], 3);
    assert!(
        error["message"].as_str().unwrap().contains("rebase"),
        "{reply}"
    );
    assert_eq!(flag(&app, "pricing_page").await, before);
    let still = change_request(&app, &id).await;
    assert_eq!(still["status"], "pending");
    assert_eq!(still["approvals"].as_array().unwrap().len(), 1);
    assert!(
        app.audit("action=change_request.approve")
            .await
            .iter()
            .all(|e| e["actor"] != second_id.as_str()),
        "the refused approval is not recorded"
    );

    // Rebase: the change onto version 3, approvals cleared.
    let rebased = app
        .post(
            &format!("/api/v1/change-requests/{id}/rebase"),
            &editor,
            &json!({}),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(rebased["status"], "pending");
    assert_eq!(rebased["approvals"], json!([]));
    let change = &rebased["changes"][0];
    assert_eq!(change["base_version"], 3);
    assert_eq!(change["before"], without_meta(before.clone()));
    assert_eq!(change["after"]["environments"]["production"], "b");
    assert_eq!(
        change["after"]["environments"]["staging"],
        json!({"enabled": false, "value": "b"}),
        "the kill switch is kept"
    );
    assert_eq!(change["after"]["environments"]["development"], "c");
    assert_eq!(
        change["diff"],
        json!([{"path": "environments.production", "before": "a", "after": "b"}])
    );
    assert_eq!(app.audit("action=change_request.rebase").await.len(), 1);

    // Two approvals again (the first approver's earlier one was cleared).
    let reply = approve(&app, &id, &second, "two").await.expect_status(200);
    assert_eq!(reply.body["status"], "pending");
    let reply = approve(&app, &id, &first, "one, again")
        .await
        .expect_status(200);
    assert_eq!(reply.body["status"], "applied");
    let now = flag(&app, "pricing_page").await;
    assert_eq!(now["version"], 4);
    assert_eq!(without_meta(now), rebased["changes"][0]["after"]);
    assert_eq!(evaluate(&app, "pricing_page", "production").await, "b");
    assert_eq!(evaluate(&app, "pricing_page", "staging").await, "a");
    assert_eq!(evaluate(&app, "pricing_page", "development").await, "c");
}

/// Point 2: rejection with a comment, decisions on requests that are not
/// pending, and the list's filters.
async fn rejection_and_list_filters(app: TestApp) {
    let (approver_id, approver) = key(&app, "approver", "approver").await;
    let (_, viewer) = key(&app, "viewer", "viewer").await;
    for id in ["alpha", "beta"] {
        app.create_flag(&json!({
            "flag_id": id, "default_value": false, "environments": {"production": false}
        }))
        .await;
    }
    // qa: approvals without protection (no reason needed).
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "qa", "parent": "development", "approval_required": true}),
    )
    .await
    .expect_status(201);
    let reason = [("X-Change-Reason", "try it")];
    // A second apart, so that "newest first" is well defined.
    let mut at = MONDAY_MORNING;
    let mut tick = || {
        at += time::Duration::seconds(1);
        set_clock(&app, at);
    };
    tick();
    let (_, alpha_prod) = held(
        put_entry(
            &app,
            ADMIN_TOKEN,
            "alpha",
            "production",
            &reason,
            json!(true),
        )
        .await,
    );
    tick();
    let (_, beta_prod) = held(
        put_entry(
            &app,
            ADMIN_TOKEN,
            "beta",
            "production",
            &reason,
            json!(true),
        )
        .await,
    );
    tick();
    let (alpha_qa_request, alpha_qa) =
        held(put_entry(&app, ADMIN_TOKEN, "alpha", "qa", &[], json!(true)).await);
    assert_eq!(alpha_qa_request["environments"], json!(["qa"]));

    // Reject with a comment.
    let reply = app
        .post(
            &format!("/api/v1/change-requests/{beta_prod}/reject"),
            &approver,
            &json!({"comment": "not before the release"}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["status"], "rejected");
    assert_eq!(reply.body["rejection"]["actor"], approver_id.as_str());
    assert_eq!(reply.body["rejection"]["comment"], "not before the release");
    // A rejected request is closed.
    approve(&app, &beta_prod, &approver, "after all")
        .await
        .expect_error(409, "not_pending");
    app.post(
        &format!("/api/v1/change-requests/{beta_prod}/reject"),
        &approver,
        &json!({}),
    )
    .await
    .expect_error(409, "not_pending");
    app.post(
        &format!("/api/v1/change-requests/{beta_prod}/rebase"),
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_error(409, "not_pending");
    assert_eq!(flag(&app, "beta").await["version"], 1);
    let rejected = app.audit("action=change_request.reject").await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["actor"], approver_id.as_str());
    // Viewers may not reject; unknown requests are 404.
    app.post(
        &format!("/api/v1/change-requests/{alpha_prod}/reject"),
        &viewer,
        &json!({}),
    )
    .await
    .expect_error(403, "forbidden");
    approve(&app, "cr_nope", &approver, "")
        .await
        .expect_error(404, "not_found");
    app.get("/api/v1/change-requests/cr_nope", &viewer)
        .await
        .expect_error(404, "not_found");

    // Filters (newest first).
    let list = |query: &'static str| {
        let app = &app;
        let viewer = viewer.clone();
        async move {
            let reply = app
                .get(&format!("/api/v1/change-requests{query}"), &viewer)
                .await
                .expect_status(200);
            ids(reply.items())
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    let (alpha_qa, beta_prod, alpha_prod) = (&*alpha_qa, &*beta_prod, &*alpha_prod);
    assert_eq!(list("").await, [alpha_qa, beta_prod, alpha_prod]);
    assert_eq!(list("?status=pending").await, [alpha_qa, alpha_prod]);
    assert_eq!(list("?status=rejected").await, [beta_prod]);
    assert_eq!(list("?status=applied").await, Vec::<String>::new());
    assert_eq!(list("?environment=qa").await, [alpha_qa]);
    assert_eq!(
        list("?environment=production").await,
        [beta_prod, alpha_prod]
    );
    assert_eq!(list("?flag_id=alpha").await, [alpha_qa, alpha_prod]);
    assert_eq!(
        list("?status=pending&environment=production&flag_id=alpha").await,
        [alpha_prod]
    );
    assert_eq!(list("?flag_id=gamma").await, Vec::<String>::new());
    // A flag-level change of a flag without entries of its own needs both
    // production's and qa's approval: it is listed under each.
    app.create_flag(&json!({"flag_id": "gamma", "default_value": false}))
        .await;
    tick();
    let (both_request, both) = held(
        send(
            &app,
            Method::PATCH,
            "/api/v1/flags/gamma",
            ADMIN_TOKEN,
            &reason,
            Some(json!({"default_value": true})),
        )
        .await,
    );
    assert_eq!(both_request["environments"], json!(["production", "qa"]));
    let both = both.as_str();
    assert_eq!(list("?environment=production").await[0], both);
    assert_eq!(list("?environment=qa").await, [both, alpha_qa]);
    assert_eq!(list("?flag_id=gamma").await, [both]);
    // The limit counts matching requests (the newest is gamma's).
    assert_eq!(list("?flag_id=alpha&limit=1").await, [alpha_qa]);
    assert_eq!(list("?environment=qa&limit=1").await, [both]);
    assert_eq!(list("?status=rejected&limit=1").await, [beta_prod]);
    assert_eq!(list("?limit=2").await, [both, alpha_qa]);
    app.get("/api/v1/change-requests?status=open", &viewer)
        .await
        .expect_error(400, "invalid_query");
    app.get("/api/v1/change-requests?state=pending", &viewer)
        .await
        .expect_status(400);
}
