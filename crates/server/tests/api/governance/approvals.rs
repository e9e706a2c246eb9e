//! Point 2: which writes are held as change requests and who may approve them
//! (four eyes, two approvals), compliance tags, and restores.

use reqwest::Method;
use serde_json::Value;
use serde_json::json;

use super::{
    admin_key_id, approve, change_request, configure, evaluate, flag, held, key, put_entry, send,
};
use crate::support::{ADMIN_TOKEN, TestApp, without_meta};

governed_api_tests!(
    production_writes_are_held_and_others_are_not,
    four_eyes_applies_with_the_approvers_name,
    two_approvals_from_two_people,
    compliance_tagged_flags_need_approval_in_protected_environments,
    restoring_a_deleted_flag_is_held_too,
);

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
