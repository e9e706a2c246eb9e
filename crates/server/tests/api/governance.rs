//! Governance (issue 5, points 2–4 and the dependency policy of 8): which
//! writes are held as change requests, four eyes, stale requests and
//! rebase, compliance tags, change windows and their override, emergency
//! procedures, rollback protection and the dependency policy.
//!
//! Every test starts with the environments as first start seeds them
//! (`production` requires one approval and is protected) and a clock the
//! test controls.

use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::{ADMIN_TOKEN, Reply, TestApp, problems, without_meta};

governed_api_tests!(
    production_writes_are_held_and_others_are_not,
    four_eyes_applies_with_the_approvers_name,
    two_approvals_from_two_people,
    stale_requests_are_rebased_not_applied,
    rejection_and_list_filters,
    compliance_tagged_flags_need_approval_in_protected_environments,
    writes_outside_change_windows_are_refused_unless_overridden,
    change_requests_wait_for_the_window,
    emergency_procedures_ignore_windows_and_approvals,
    invalid_change_windows_are_refused,
    rollback_protection_wants_reason_and_confirmation,
    dependency_policy_warns_or_refuses,
    restoring_a_deleted_flag_is_held_too,
);

// ---------------------------------------------------------------- helpers

/// Saturday 2026-11-28, noon in Rome.
const SATURDAY: OffsetDateTime = datetime!(2026-11-28 11:00 UTC);
/// Monday 2026-11-30, 11:00 in Rome (CET, UTC+1).
const MONDAY_MORNING: OffsetDateTime = datetime!(2026-11-30 10:00 UTC);

fn set_clock(app: &TestApp, at: OffsetDateTime) {
    app.clock.as_ref().expect("a governed app").set(at);
}

/// A request with extra headers and an optional JSON body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut builder = app.request(method, path, Some(key));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    app.send(builder).await
}

/// `PUT /api/v1/flags/{flag}/environments/{env}` with headers.
async fn put_entry(
    app: &TestApp,
    key: &str,
    flag: &str,
    env: &str,
    headers: &[(&str, &str)],
    entry: Value,
) -> Reply {
    send(
        app,
        Method::PUT,
        &format!("/api/v1/flags/{flag}/environments/{env}"),
        key,
        headers,
        Some(entry),
    )
    .await
}

/// Changes some of an environment's settings (admin), keeping the others.
async fn configure(app: &TestApp, env: &str, changes: Value) -> Value {
    let mut settings = app
        .get(&format!("/api/v1/environments/{env}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    for (field, value) in changes.as_object().unwrap() {
        settings[field] = value.clone();
    }
    send(
        app,
        Method::PUT,
        &format!("/api/v1/environments/{env}"),
        ADMIN_TOKEN,
        &[("X-Change-Reason", "test settings")],
        Some(settings),
    )
    .await
    .expect_status(200)
    .body
}

async fn flag(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/flags/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body
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

async fn change_request(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/change-requests/{id}"), ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body
}

async fn approve(app: &TestApp, id: &str, key: &str, comment: &str) -> Reply {
    app.post(
        &format!("/api/v1/change-requests/{id}/approve"),
        key,
        &json!({"comment": comment}),
    )
    .await
}

/// The change request of a 202 answer, and its id.
#[track_caller]
fn held(reply: Reply) -> (Value, String) {
    let reply = reply.expect_status(202);
    let request = reply.body["change_request"].clone();
    assert_eq!(request["status"], "pending", "{reply}");
    let id = request["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("cr_"), "{id}");
    (request, id)
}

/// An admin key with `role`: (id, secret).
async fn key(app: &TestApp, name: &str, role: &str) -> (String, String) {
    app.create_key(json!({"name": name, "kind": "admin", "role": role}))
        .await
}

/// The id of the admin key the app started with.
async fn admin_key_id(app: &TestApp) -> String {
    let keys = app
        .get("/api/v1/api-keys", ADMIN_TOKEN)
        .await
        .expect_status(200);
    keys.items()
        .iter()
        .find(|k| k["name"] == "initial admin key")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}

// ------------------------------------------------------------------ tests

/// Point 2: what is held and what is not.
async fn production_writes_are_held_and_others_are_not(app: TestApp) {
    let admin = admin_key_id(&app).await;
    // Creating a flag, even with a production entry, is not held: nothing
    // uses it yet.
    let created = app
        .create_flag(&json!({
            "flag_id": "checkout_v2",
            "description": "new checkout",
            "default_value": false,
            "environments": {"development": true, "production": false}
        }))
        .await;
    assert_eq!(created["version"], 1);
    assert_eq!(created["environments"]["production"], false);

    // Changing its production configuration is.
    let (request, id) = held(
        put_entry(
            &app,
            ADMIN_TOKEN,
            "checkout_v2",
            "production",
            &[("X-Change-Reason", "launch checkout")],
            json!(true),
        )
        .await,
    );
    assert_eq!(request["environments"], json!(["production"]));
    assert_eq!(request["author"], admin.as_str());
    assert_eq!(request["reason"], "launch checkout");
    assert_eq!(request["required_approvals"], 1);
    assert_eq!(request["approvals"], json!([]));
    let changes = request["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["flag_id"], "checkout_v2");
    assert_eq!(changes[0]["base_version"], 1);
    assert_eq!(changes[0]["before"]["environments"]["production"], false);
    assert_eq!(changes[0]["after"]["environments"]["production"], true);
    assert_eq!(
        changes[0]["diff"],
        json!([{"path": "environments.production", "before": false, "after": true}])
    );
    // The flag is unchanged.
    let now = flag(&app, "checkout_v2").await;
    assert_eq!(now["version"], 1);
    assert_eq!(now["environments"]["production"], false);
    assert_eq!(evaluate(&app, "checkout_v2", "production").await, false);
    // The stored request is the same, with its own version and times.
    let stored = change_request(&app, &id).await;
    assert_eq!(stored["status"], "pending");
    assert_eq!(stored["changes"], request["changes"]);
    // Its creation is audited with author and reason; the flag has no
    // change yet.
    let created = app.audit("action=change_request.create").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["actor"], admin.as_str());
    assert_eq!(created[0]["reason"], "launch checkout");
    assert_eq!(created[0]["resource_key"], id.as_str());
    assert_eq!(
        app.audit("flag_id=checkout_v2").await.len(),
        1,
        "create only"
    );

    // A whole-document replace and a flag-level change are held too.
    let mut doc = without_meta(flag(&app, "checkout_v2").await);
    doc["default_value"] = json!(true);
    held(
        send(
            &app,
            Method::PUT,
            "/api/v1/flags/checkout_v2",
            ADMIN_TOKEN,
            &[("X-Change-Reason", "default on")],
            Some(doc),
        )
        .await,
    );

    // Editing only description, tags or owner changes nothing any
    // environment serves: not held (and production's protection wants no
    // reason for it).
    let reply = app
        .patch(
            "/api/v1/flags/checkout_v2",
            ADMIN_TOKEN,
            &json!({"description": "the new checkout", "tags": ["payments"], "owner": "team-pay"}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(reply.body["description"], "the new checkout");
    assert_eq!(reply.body["environments"]["production"], false);

    // development, which staging (auto_sync) inherits: not held, and staging
    // serves it at once.
    assert_eq!(evaluate(&app, "checkout_v2", "staging").await, true);
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "checkout_v2",
        "development",
        &[],
        json!({"enabled": false}),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.body["version"], 3);
    assert_eq!(evaluate(&app, "checkout_v2", "development").await, false);
    assert_eq!(evaluate(&app, "checkout_v2", "staging").await, false);
    let inherited = app
        .get(
            "/api/v1/flags/checkout_v2/environments/staging",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert_eq!(inherited.body["inherited_from"], "development");
    assert_eq!(inherited.body["effective"]["enabled"], false);
    assert_eq!(evaluate(&app, "checkout_v2", "production").await, false);

    // A write made against an older version is a conflict, never a
    // request that would overwrite what changed since (If-Match or the
    // body's version).
    let mut stale = app
        .get("/api/v1/flags/checkout_v2/versions/1", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body["document"]
        .clone();
    assert_eq!(stale["description"], "new checkout");
    stale["environments"]["production"] = json!(true);
    stale["version"] = json!(1);
    let reply = send(
        &app,
        Method::PUT,
        "/api/v1/flags/checkout_v2",
        ADMIN_TOKEN,
        &[("X-Change-Reason", "stale")],
        Some(stale),
    )
    .await;
    let error = reply.expect_error(409, "version_conflict");
    assert_eq!(error["details"]["current_version"], 3);
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "checkout_v2",
        "production",
        &[("X-Change-Reason", "stale"), ("If-Match", "\"2\"")],
        json!(true),
    )
    .await;
    reply.expect_error(409, "version_conflict");
    // With the current version it is held as usual.
    let (request, _) = held(
        put_entry(
            &app,
            ADMIN_TOKEN,
            "checkout_v2",
            "production",
            &[("X-Change-Reason", "current"), ("If-Match", "\"3\"")],
            json!(true),
        )
        .await,
    );
    assert_eq!(request["changes"][0]["base_version"], 3);

    // Three requests wait; none was applied.
    let pending = app
        .get("/api/v1/change-requests?status=pending", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(pending.items().len(), 3);
    assert_eq!(flag(&app, "checkout_v2").await["default_value"], false);
    assert_eq!(flag(&app, "checkout_v2").await["version"], 3);
}

/// Point 2: four eyes. The author (even an admin), viewers and editors may
/// not approve; another approver's approval applies the request.
async fn four_eyes_applies_with_the_approvers_name(app: TestApp) {
    let (editor_id, editor) = key(&app, "release manager", "editor").await;
    let (_, viewer) = key(&app, "auditor", "viewer").await;
    let (approver_id, approver) = key(&app, "approver", "approver").await;
    app.create_flag(&json!({
        "flag_id": "new_search",
        "type": "number",
        "default_value": 1,
        "environments": {"production": 1}
    }))
    .await;
    // The editor proposes; the admin authors another request.
    let (request, id) = held(
        send(
            &app,
            Method::PATCH,
            "/api/v1/flags/new_search",
            &editor,
            &[
                ("X-Change-Reason", "search v2 for everyone"),
                ("X-Deployment-Id", "deploy-42"),
            ],
            Some(json!({"environments": {"production": 2}})),
        )
        .await,
    );
    assert_eq!(request["author"], editor_id.as_str());
    let (_, own) = held(
        put_entry(
            &app,
            ADMIN_TOKEN,
            "new_search",
            "production",
            &[("X-Change-Reason", "three")],
            json!(3),
        )
        .await,
    );

    // The author may not approve their own, even as admin.
    approve(&app, &own, ADMIN_TOKEN, "mine")
        .await
        .expect_error(403, "forbidden");
    // Viewers and editors may not approve at all (the editor is the author
    // here, but the role alone refuses it).
    approve(&app, &id, &viewer, "lgtm")
        .await
        .expect_error(403, "forbidden");
    approve(&app, &id, &editor, "lgtm")
        .await
        .expect_error(403, "forbidden");
    let (_, other_editor) = key(&app, "another editor", "editor").await;
    approve(&app, &id, &other_editor, "lgtm")
        .await
        .expect_error(403, "forbidden");
    // Nothing changed.
    let unchanged = change_request(&app, &id).await;
    assert_eq!(unchanged["status"], "pending");
    assert_eq!(unchanged["approvals"], json!([]));
    assert_eq!(flag(&app, "new_search").await["version"], 1);
    assert!(app.audit("action=change_request.approve").await.is_empty());

    // Another approver approves: applied.
    let reply = approve(&app, &id, &approver, "checked with QA")
        .await
        .expect_status(200);
    assert_eq!(reply.body["status"], "applied", "{reply}");
    assert_eq!(reply.body["applied"], true);
    let approvals = reply.body["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["actor"], approver_id.as_str());
    assert_eq!(approvals[0]["comment"], "checked with QA");
    assert!(reply.body["applied_revision"].is_i64(), "{reply}");
    // The flag has the proposed document, as version 2.
    let now = flag(&app, "new_search").await;
    assert_eq!(now["version"], 2);
    assert_eq!(without_meta(now.clone()), request["changes"][0]["after"]);
    assert_eq!(evaluate(&app, "new_search", "production").await, 2);

    // The audit log: the request by its author with the reason, the
    // approval and the flag change by the approver.
    let created = app.audit("action=change_request.create").await;
    let by_editor: Vec<&Value> = created
        .iter()
        .filter(|e| e["resource_key"] == id.as_str())
        .collect();
    assert_eq!(by_editor.len(), 1);
    assert_eq!(by_editor[0]["actor"], editor_id.as_str());
    assert_eq!(by_editor[0]["reason"], "search v2 for everyone");
    assert_eq!(by_editor[0]["deployment_id"], "deploy-42");
    let approved = app.audit("action=change_request.approve").await;
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert_eq!(approved[0]["actor"], approver_id.as_str());
    assert_eq!(approved[0]["resource_key"], id.as_str());
    assert_eq!(approved[0]["after"]["status"], "applied");
    let changes = app.audit("flag_id=new_search&action=flag.update").await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["actor"], approver_id.as_str());
    assert_eq!(changes[0]["environment"], "production");
    assert_eq!(changes[0]["after"]["environments"]["production"], 2);
    // The change is recorded with the reason and deployment it was asked
    // for: production is protected, and a deployment rollback must find it.
    assert_eq!(
        changes[0]["reason"], "search v2 for everyone",
        "{changes:?}"
    );
    assert_eq!(changes[0]["deployment_id"], "deploy-42", "{changes:?}");

    // An applied request cannot be approved again.
    approve(&app, &id, &approver, "again")
        .await
        .expect_error(409, "not_pending");
    // The admin's own request, made against version 1, is now stale.
    approve(&app, &own, &approver, "ok")
        .await
        .expect_error(409, "change_request_stale");
}

/// Point 2: `required_approvals: 2`.
async fn two_approvals_from_two_people(app: TestApp) {
    configure(&app, "production", json!({"required_approvals": 2})).await;
    let (first_id, first) = key(&app, "first approver", "approver").await;
    let (second_id, second) = key(&app, "second approver", "approver").await;
    app.create_flag(&json!({
        "flag_id": "dual_control",
        "default_value": false,
        "environments": {"production": {"enabled": false}}
    }))
    .await;
    let (request, id) = held(
        put_entry(
            &app,
            ADMIN_TOKEN,
            "dual_control",
            "production",
            &[("X-Change-Reason", "go live")],
            json!({"enabled": true, "value": true}),
        )
        .await,
    );
    assert_eq!(request["required_approvals"], 2);

    let reply = approve(&app, &id, &first, "one").await.expect_status(200);
    assert_eq!(reply.body["status"], "pending");
    assert_eq!(reply.body["applied"], false);
    assert_eq!(reply.body["approvals"].as_array().unwrap().len(), 1);
    assert_eq!(flag(&app, "dual_control").await["version"], 1);
    assert_eq!(evaluate(&app, "dual_control", "production").await, false);

    // The same approver twice counts once.
    let reply = approve(&app, &id, &first, "one again").await;
    let error = reply.expect_error(409, "already_approved");
    assert_eq!(error["details"]["approvals"], 1);
    assert_eq!(error["details"]["required"], 2);
    assert_eq!(
        change_request(&app, &id).await["approvals"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let reply = approve(&app, &id, &second, "two").await.expect_status(200);
    assert_eq!(reply.body["status"], "applied");
    assert_eq!(reply.body["applied"], true);
    let actors: Vec<&Value> = reply.body["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["actor"])
        .collect();
    assert_eq!(actors, [&json!(first_id), &json!(second_id)]);
    let now = flag(&app, "dual_control").await;
    assert_eq!(now["version"], 2);
    assert_eq!(
        now["environments"]["production"],
        json!({"enabled": true, "value": true})
    );
    assert_eq!(evaluate(&app, "dual_control", "production").await, true);
    let approvals = app.audit("action=change_request.approve").await;
    let actors: Vec<&Value> = approvals.iter().map(|e| &e["actor"]).collect();
    assert_eq!(
        actors,
        [&json!(second_id), &json!(first_id)],
        "newest first"
    );
    let applied = app
        .audit("flag_id=dual_control&action=flag.environment.update")
        .await;
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["actor"], second_id.as_str(), "the last approval");
}

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

/// Point 2: flags tagged for compliance need approval in protected
/// environments, even where approvals are not otherwise required.
async fn compliance_tagged_flags_need_approval_in_protected_environments(app: TestApp) {
    assert_eq!(app.config.compliance_tags, ["sox"]);
    configure(&app, "production", json!({"approval_required": false})).await;
    let (_, approver) = key(&app, "approver", "approver").await;
    for (id, tags) in [
        ("ledger_export", json!(["finance", "sox"])),
        ("ui_banner", json!(["ui"])),
    ] {
        app.create_flag(&json!({
            "flag_id": id, "tags": tags, "default_value": false,
            "environments": {"production": false}
        }))
        .await;
    }
    let reason = [("X-Change-Reason", "quarter close")];
    // The untagged flag is applied at once (with the reason protection
    // wants).
    let reply = put_entry(
        &app,
        ADMIN_TOKEN,
        "ui_banner",
        "production",
        &reason,
        json!(true),
    )
    .await
    .expect_status(200);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(evaluate(&app, "ui_banner", "production").await, true);
    // The sox one is held.
    let (request, id) = held(
        put_entry(
            &app,
            ADMIN_TOKEN,
            "ledger_export",
            "production",
            &reason,
            json!(true),
        )
        .await,
    );
    assert_eq!(request["environments"], json!(["production"]));
    assert_eq!(flag(&app, "ledger_export").await["version"], 1);
    assert_eq!(evaluate(&app, "ledger_export", "production").await, false);
    // Dropping the tag in the same write does not escape approval.
    let (_, untagging) = held(
        send(
            &app,
            Method::PATCH,
            "/api/v1/flags/ledger_export",
            ADMIN_TOKEN,
            &reason,
            Some(json!({"tags": ["finance"], "environments": {"production": true}})),
        )
        .await,
    );
    // In development (not protected) the tag does not matter.
    put_entry(
        &app,
        ADMIN_TOKEN,
        "ledger_export",
        "development",
        &[],
        json!(true),
    )
    .await
    .expect_status(200);
    app.post(
        &format!("/api/v1/change-requests/{untagging}/reject"),
        &approver,
        &json!({"comment": "keep the tag"}),
    )
    .await
    .expect_status(200);
    // Rebased (development changed) and approved: applied.
    app.post(
        &format!("/api/v1/change-requests/{id}/rebase"),
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_status(200);
    approve(&app, &id, &approver, "ok").await.expect_status(200);
    assert_eq!(evaluate(&app, "ledger_export", "production").await, true);
    assert_eq!(
        flag(&app, "ledger_export").await["tags"],
        json!(["finance", "sox"])
    );
}

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

/// Deleting a flag production serves, and restoring it later, both change
/// what production serves: both wait for approval.
async fn restoring_a_deleted_flag_is_held_too(app: TestApp) {
    let (_, approver) = key(&app, "approver", "approver").await;
    app.create_flag(&json!({"flag_id": "old_banner", "default_value": true}))
        .await;
    let reason = [("X-Change-Reason", "retired"), ("X-Confirm", "true")];
    let delete = send(
        &app,
        Method::DELETE,
        "/api/v1/flags/old_banner",
        ADMIN_TOKEN,
        &reason,
        None,
    )
    .await;
    let (_, id) = held(delete);
    approve(&app, &id, &approver, "ok").await.expect_status(200);
    assert_eq!(flag(&app, "old_banner").await["deleted"], true);

    // Restoring: a reason is needed in protected production, then approval.
    send(
        &app,
        Method::POST,
        "/api/v1/flags/old_banner/restore",
        ADMIN_TOKEN,
        &[],
        None,
    )
    .await
    .expect_error(422, "reason_required");
    let restore = send(
        &app,
        Method::POST,
        "/api/v1/flags/old_banner/restore",
        ADMIN_TOKEN,
        &[("X-Change-Reason", "needed after all")],
        None,
    )
    .await;
    let (request, id) = held(restore);
    assert_eq!(request["changes"][0]["restores"], true);
    assert_eq!(
        flag(&app, "old_banner").await["deleted"],
        true,
        "held, not restored"
    );
    approve(&app, &id, &approver, "ok").await.expect_status(200);
    let restored = flag(&app, "old_banner").await;
    assert!(restored.get("deleted").is_none(), "{restored}");
    assert_eq!(evaluate(&app, "old_banner", "production").await, true);
}
