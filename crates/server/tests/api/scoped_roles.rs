//! Roles scoped to environments (issue 17): keys and people whose role
//! holds in some environments only. Writes touching another environment are
//! refused whole (403 `out_of_scope`, naming it) and write nothing; scoped
//! approvers approve their environments' requests only; scoped keys
//! evaluate and stream in their environments only. Every route × scoped
//! callers is in `auth_matrix.rs`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Reply, TestApp};

api_tests!(
    scoped_keys_are_created_listed_and_validated,
    a_scoped_editor_writes_its_environments_only,
    multi_environment_writes_are_all_or_nothing,
    a_scoped_approver_approves_its_environments_only,
    scoped_keys_evaluate_and_stream_in_scope_only,
    people_are_scoped_alike,
);

/// The example: editor in development and staging.
async fn dev_staging_editor(app: &TestApp) -> String {
    app.create_key(
        json!({"name": "dev editor", "kind": "admin", "role": "editor",
                          "environments": ["development", "staging"]}),
    )
    .await
    .1
}

/// The environments a 403 `out_of_scope` names.
fn refused_environments(reply: &Reply) -> Value {
    reply.expect_error(403, "out_of_scope");
    reply.body["error"]["details"]["environments"].clone()
}

/// Everything written so far: the audit log's length and the export.
async fn everything(app: &TestApp) -> (usize, Value) {
    let audit = app.audit("limit=1000").await.len();
    let mut export = app
        .get("/api/v1/export", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    if let Some(object) = export.as_object_mut() {
        object.remove("exported_at");
    }
    (audit, export)
}

async fn scoped_keys_are_created_listed_and_validated(app: TestApp) {
    let created = app
        .post(
            "/api/v1/api-keys",
            ADMIN_TOKEN,
            &json!({"name": "dev", "kind": "admin", "role": "editor",
                    "environments": ["development", "staging"]}),
        )
        .await
        .expect_status(201);
    assert_eq!(
        created.body["environment_roles"],
        json!({"development": "editor", "staging": "editor"})
    );
    assert_eq!(created.body["role"], "editor");
    // A role per environment; `role` is then the highest.
    let created = app
        .post(
            "/api/v1/api-keys",
            ADMIN_TOKEN,
            &json!({"name": "mixed", "kind": "admin",
                    "environment_roles": {"development": "editor", "production": "viewer"}}),
        )
        .await
        .expect_status(201);
    assert_eq!(created.body["role"], "editor");
    let listed = app
        .get("/api/v1/api-keys", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let mixed = listed
        .items()
        .iter()
        .find(|k| k["name"] == "mixed")
        .unwrap();
    assert_eq!(
        mixed["environment_roles"],
        json!({"development": "editor", "production": "viewer"})
    );
    // An unscoped key shows no scope.
    let unscoped = listed
        .items()
        .iter()
        .find(|k| k["name"] != "mixed" && k["name"] != "dev");
    assert!(unscoped.is_some_and(|k| k.get("environment_roles").is_none()));

    let refusals = [
        (
            json!({"name": "x", "kind": "admin", "role": "editor", "environments": ["nowhere"]}),
            404,
            "not_found",
        ),
        (
            json!({"name": "x", "kind": "admin", "environments": ["development"]}),
            422,
            "missing_role",
        ),
        (
            json!({"name": "x", "kind": "admin", "environments": [], "environment_roles": {}}),
            422,
            "missing_role",
        ),
        (
            json!({"name": "x", "kind": "admin", "environment_roles": {"development": "owner"}}),
            422,
            "invalid_role",
        ),
        (
            json!({"name": "x", "kind": "server", "environment": "development", "environments": ["development"]}),
            400,
            "unexpected_environments",
        ),
    ];
    for (body, status, code) in refusals {
        app.post("/api/v1/api-keys", ADMIN_TOKEN, &body)
            .await
            .expect_error(status, code);
    }
    // A scoped admin cannot mint keys (it would widen its own scope).
    let (_, scoped_admin) = app
        .create_key(json!({"name": "prod admin", "kind": "admin", "environment_roles": {"production": "admin"}}))
        .await;
    app.post(
        "/api/v1/api-keys",
        &scoped_admin,
        &json!({"name": "wider", "kind": "admin", "role": "admin"}),
    )
    .await
    .expect_error(403, "forbidden");
}

async fn a_scoped_editor_writes_its_environments_only(app: TestApp) {
    let editor = dev_staging_editor(&app).await;
    // A new flag configuring its environments only.
    app.post(
        "/api/v1/flags",
        &editor,
        &json!({"flag_id": "checkout", "default_value": false,
                "environments": {"development": true}}),
    )
    .await
    .expect_status(201);
    // One naming production is not.
    let reply = app
        .post(
            "/api/v1/flags",
            &editor,
            &json!({"flag_id": "other", "default_value": false,
                    "environments": {"development": true, "production": true}}),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    app.get("/api/v1/flags/other", ADMIN_TOKEN)
        .await
        .expect_status(404);
    app.create_flag(&json!({"flag_id": "shared", "default_value": false,
        "environments": {"development": false, "staging": false, "production": false}}))
        .await;
    // A PATCH changing development and staging only.
    app.patch(
        "/api/v1/flags/shared",
        &editor,
        &json!({"environments": {"development": true, "staging": true}}),
    )
    .await
    .expect_status(200);
    // One changing production too: refused whole.
    let reply = app
        .patch(
            "/api/v1/flags/shared",
            &editor,
            &json!({"environments": {"development": false, "production": true}}),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"production\""), "{message}");
    let shared = app.get("/api/v1/flags/shared", ADMIN_TOKEN).await;
    assert_eq!(shared.body["environments"]["development"], json!(true));
    assert_eq!(shared.body["environments"]["production"], json!(false));
    // A PUT of the whole document is judged the same way.
    let mut document = shared.body.clone();
    document["environments"]["production"] = json!(true);
    let reply = app.put("/api/v1/flags/shared", &editor, &document).await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    // Metadata touches no environment.
    app.patch(
        "/api/v1/flags/shared",
        &editor,
        &json!({"description": "ok"}),
    )
    .await
    .expect_status(200);
    // The flag-level default serves wherever no entry is: production here.
    app.create_flag(&json!({"flag_id": "bare", "default_value": false,
        "environments": {"development": true}}))
        .await;
    let reply = app
        .patch(
            "/api/v1/flags/bare",
            &editor,
            &json!({"default_value": true}),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    // One environment's routes.
    app.put(
        "/api/v1/flags/shared/environments/production",
        &editor,
        &json!(true),
    )
    .await
    .expect_error(403, "out_of_scope");
    app.post(
        "/api/v1/flags/shared/environments/staging/actions",
        &editor,
        &json!({"action": "disable"}),
    )
    .await
    .expect_status(200);
    // Deleting a flag touches every environment that serves it.
    let reply = app.delete("/api/v1/flags/shared", &editor).await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    // Environment settings need an admin there.
    app.put(
        "/api/v1/environments/development",
        &editor,
        &json!({"description": "mine"}),
    )
    .await
    .expect_error(403, "forbidden");
}

async fn multi_environment_writes_are_all_or_nothing(app: TestApp) {
    for flag in ["alpha", "beta"] {
        app.create_flag(&json!({"flag_id": flag, "default_value": false,
            "environments": {"development": {"enabled": true}, "staging": {"enabled": true},
                             "production": {"enabled": true}}}))
            .await;
    }
    let editor = dev_staging_editor(&app).await;
    let before = everything(&app).await;

    // Bulk: one operation in scope, one out of it.
    let reply = app
        .post(
            "/api/v1/flags/bulk",
            &editor,
            &json!({"operations": [
                {"op": "disable", "flag_id": "alpha", "environment": "development"},
                {"op": "disable", "flag_id": "beta", "environment": "production"}
            ]}),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    // Import: a document changing production (flags only: importing
    // environments needs an unscoped admin).
    let mut document = before.1.clone();
    if let Some(object) = document.as_object_mut() {
        object.remove("environments");
    }
    document["flags"][0]["environments"]["production"] = json!({"enabled": false});
    document["flags"][0]["environments"]["development"] = json!({"enabled": false});
    let reply = app.post("/api/v1/import", &editor, &document).await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    // Promote staging into production.
    app.patch(
        "/api/v1/flags/alpha",
        ADMIN_TOKEN,
        &json!({"environments": {"staging": {"enabled": false}}}),
    )
    .await
    .expect_status(200);
    app.patch(
        "/api/v1/flags/beta",
        ADMIN_TOKEN,
        &json!({"environments": {"production": {"enabled": false}}}),
    )
    .await
    .expect_status(200);
    let before = everything(&app).await;
    let reply = app
        .post(
            "/api/v1/environments/production/promote",
            &editor,
            &json!({"all": true}),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    // Deployment hooks in production.
    let reply = app
        .post(
            "/api/v1/deployments/d1/hooks",
            &editor,
            &json!({"environment": "production", "phase": "pre_deploy",
                    "deployment": {"pre_deploy": [{"disable_flag": "alpha"}, {"disable_flag": "beta"}]}}),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    // The kill switch, in production and everywhere.
    for environment in [json!("production"), Value::Null] {
        let mut body = json!({"flag_id": "alpha", "reason": "incident"});
        if !environment.is_null() {
            body["environment"] = environment;
        }
        let reply = app.post("/api/v1/emergency/disable", &editor, &body).await;
        assert_eq!(
            refused_environments(&reply),
            json!(["production"]),
            "{body}"
        );
    }
    // Rollback to the first version (it changes production).
    let reply = app
        .post(
            "/api/v1/flags/beta/rollback",
            &editor,
            &json!({"to_version": 1, "reason": "back"}),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    assert_eq!(everything(&app).await, before, "nothing was written");

    // The same writes in scope go through.
    app.post(
        "/api/v1/flags/bulk",
        &editor,
        &json!({"operations": [
            {"op": "disable", "flag_id": "alpha", "environment": "development"},
            {"op": "disable", "flag_id": "beta", "environment": "staging"}
        ]}),
    )
    .await
    .expect_status(200);
    app.post(
        "/api/v1/deployments/d2/hooks",
        &editor,
        &json!({"environment": "development", "phase": "pre_deploy",
                "deployment": {"pre_deploy": [{"enable_flag": "alpha"}]}}),
    )
    .await
    .expect_status(200);
}

async fn a_scoped_approver_approves_its_environments_only(app: TestApp) {
    for key in ["release", "audit"] {
        app.post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": key, "parent": "development", "approval_required": true}),
        )
        .await
        .expect_status(201);
    }
    app.create_flag(&json!({"flag_id": "gate", "default_value": false}))
        .await;
    let mut requests = Vec::new();
    for env in ["release", "audit"] {
        let held = app
            .put(
                &format!("/api/v1/flags/gate/environments/{env}"),
                ADMIN_TOKEN,
                &json!(true),
            )
            .await
            .expect_status(202);
        requests.push(
            held.body["change_request"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (_, approver) = app
        .create_key(
            json!({"name": "release approver", "kind": "admin", "role": "approver",
                           "environments": ["release"]}),
        )
        .await;
    let reply = app
        .post(
            &format!("/api/v1/change-requests/{}/approve", requests[1]),
            &approver,
            &json!({}),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["audit"]));
    let reply = app
        .post(
            &format!("/api/v1/change-requests/{}/reject", requests[1]),
            &approver,
            &json!({"comment": "no"}),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["audit"]));
    let still = app
        .get(
            &format!("/api/v1/change-requests/{}", requests[1]),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(still.body["status"], "pending", "{still}");
    let approved = app
        .post(
            &format!("/api/v1/change-requests/{}/approve", requests[0]),
            &approver,
            &json!({}),
        )
        .await
        .expect_status(200);
    assert_eq!(approved.body["status"], "applied", "{approved}");
    // A scoped editor cannot even ask for a change out of its scope.
    let editor = dev_staging_editor(&app).await;
    let reply = app
        .put(
            "/api/v1/flags/gate/environments/audit",
            &editor,
            &json!(false),
        )
        .await;
    assert_eq!(refused_environments(&reply), json!(["audit"]));
}

async fn scoped_keys_evaluate_and_stream_in_scope_only(app: TestApp) {
    app.create_flag(&json!({"flag_id": "lamp", "default_value": true}))
        .await;
    let (_, key) = app
        .create_key(
            json!({"name": "dev reader", "kind": "admin", "role": "viewer",
                           "environments": ["development"]}),
        )
        .await;
    let evaluate =
        |env: &str| json!({"flag_id": "lamp", "environment": env, "context": {"user_id": "u"}});
    app.post("/api/v1/evaluate", &key, &evaluate("development"))
        .await
        .expect_status(200);
    let reply = app
        .post("/api/v1/evaluate", &key, &evaluate("production"))
        .await;
    assert_eq!(refused_environments(&reply), json!(["production"]));
    // Streams: refused before they open; in scope they open.
    let refused = app
        .send(app.request(
            Method::GET,
            "/api/v1/stream?environment=production",
            Some(&key),
        ))
        .await;
    assert_eq!(refused_environments(&refused), json!(["production"]));
    let open = app
        .request(
            Method::GET,
            "/api/v1/stream?environment=development",
            Some(&key),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(open.status().as_u16(), 200);
    drop(open);
    let refused = app
        .request(
            Method::POST,
            "/ofrep/v1/evaluate/flags/lamp?environment=production",
            Some(&key),
        )
        .json(&json!({"context": {"targetingKey": "u"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    // Reads that are not about one environment stay open to it.
    app.get("/api/v1/flags/lamp", &key).await.expect_status(200);
    app.get("/api/v1/audit", &key).await.expect_status(200);
}

async fn people_are_scoped_alike(app: TestApp) {
    let created = app
        .post(
            "/api/v1/users",
            ADMIN_TOKEN,
            &json!({"email": "dev@example.com", "display_name": "Dev", "role": "editor",
                    "password": "correct horse battery", "environments": ["development"]}),
        )
        .await
        .expect_status(201);
    assert_eq!(
        created.body["environment_roles"],
        json!({"development": "editor"})
    );
    // Staging has its own entry: it does not inherit development's.
    app.create_flag(&json!({"flag_id": "banner", "default_value": false,
        "environments": {"development": false, "staging": false, "production": false}}))
        .await;
    let signed_in = app
        .send(
            app.request(Method::POST, "/api/v1/sessions", None)
                .json(&json!({"email": "dev@example.com", "password": "correct horse battery"})),
        )
        .await
        .expect_status(201);
    let cookie = signed_in
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = signed_in.body["csrf_token"].as_str().unwrap().to_owned();
    let as_person = |path: &str, body: Value| {
        app.request(Method::PUT, path, None)
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&body)
    };
    app.send(as_person(
        "/api/v1/flags/banner/environments/development",
        json!(true),
    ))
    .await
    .expect_status(200);
    let reply = app
        .send(as_person(
            "/api/v1/flags/banner/environments/production",
            json!(true),
        ))
        .await;
    assert_eq!(refused_environments(&reply), json!(["production"]));

    // A new role alone keeps the environments; an empty list unscopes.
    let id = created.body["id"].as_str().unwrap();
    let updated = app
        .patch(
            &format!("/api/v1/users/{id}"),
            ADMIN_TOKEN,
            &json!({"role": "approver"}),
        )
        .await
        .expect_status(200);
    assert_eq!(
        updated.body["environment_roles"],
        json!({"development": "approver"})
    );
    let updated = app
        .patch(
            &format!("/api/v1/users/{id}"),
            ADMIN_TOKEN,
            &json!({"environment_roles": {"staging": "editor", "production": "viewer"}}),
        )
        .await
        .expect_status(200);
    assert_eq!(
        updated.body["environment_roles"],
        json!({"production": "viewer", "staging": "editor"})
    );
    assert_eq!(updated.body["role"], "editor");
    let updated = app
        .patch(
            &format!("/api/v1/users/{id}"),
            ADMIN_TOKEN,
            &json!({"environments": []}),
        )
        .await
        .expect_status(200);
    assert!(updated.body.get("environment_roles").is_none(), "{updated}");
    app.patch(
        &format!("/api/v1/users/{id}"),
        ADMIN_TOKEN,
        &json!({"environment_roles": {"nowhere": "editor"}}),
    )
    .await
    .expect_error(404, "not_found");
}
