//! `POST /api/v1/flags/bulk`: one transaction, all or nothing.

use reqwest::Method;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, TestApp, problems, simple_flag, without_meta};

api_tests!(operations_apply_together, one_bad_operation_writes_nothing);

async fn operations_apply_together(app: TestApp) {
    for id in [
        "bulk_patch_me",
        "bulk_disable_me",
        "bulk_value_me",
        "bulk_delete_me",
        "bulk_replace_me",
    ] {
        app.create_flag(&simple_flag(id)).await;
    }
    let revision_before = app.get("/health/ready", ADMIN_TOKEN).await.body["revision"]
        .as_i64()
        .unwrap();
    let mut replacement = simple_flag("bulk_replace_me");
    replacement["description"] = json!("replaced");
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/flags/bulk", Some(ADMIN_TOKEN))
                .header("x-deployment-id", "header-deploy")
                .json(&json!({
                    "reason": "release 1.2",
                    "deployment_id": "deploy-20240115",
                    "operations": [
                        {"op": "create", "flag": simple_flag("bulk_created")},
                        {"op": "replace", "flag": replacement, "version": 1},
                        {"op": "patch", "flag_id": "bulk_patch_me", "patch": {"owner": "team-b"}},
                        {"op": "disable", "flag_id": "bulk_disable_me", "environment": "development"},
                        {"op": "set_value", "flag_id": "bulk_value_me", "environment": "production", "value": true},
                        {"op": "delete", "flag_id": "bulk_delete_me"}
                    ]
                })),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["revision"], revision_before + 1, "one commit");
    let results = reply.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0]["flag_id"], "bulk_created");
    assert_eq!(results[0]["version"], 1);
    assert_eq!(results[1]["description"], "replaced");
    assert_eq!(results[2]["owner"], "team-b");
    assert_eq!(
        results[3]["environments"]["development"],
        json!({"enabled": false, "value": true})
    );
    assert_eq!(
        results[4]["environments"]["production"],
        json!({"value": true})
    );
    assert_eq!(
        results[5],
        json!({"flag_id": "bulk_delete_me", "deleted": true})
    );

    let created = app.get("/api/v1/flags/bulk_created", ADMIN_TOKEN).await;
    assert_eq!(without_meta(created.body), simple_flag("bulk_created"));
    let deleted = app.get("/api/v1/flags/bulk_delete_me", ADMIN_TOKEN).await;
    assert_eq!(deleted.body["deleted"], true);
    let evaluation = app
        .post(
            "/api/v1/evaluate",
            ADMIN_TOKEN,
            &json!({"flag_id": "bulk_disable_me", "environment": "development"}),
        )
        .await;
    assert_eq!(evaluation.body["reason"], "DISABLED");

    // The body's reason and deployment id are on every entry.
    let entries = app.audit("deployment_id=deploy-20240115").await;
    assert_eq!(entries.len(), 6);
    assert!(entries.iter().all(|e| e["reason"] == "release 1.2"));
    let mut actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            "flag.create",
            "flag.delete",
            "flag.disable",
            "flag.environment.update",
            "flag.update",
            "flag.update"
        ]
    );
    let enable = app
        .post(
            "/api/v1/flags/bulk",
            ADMIN_TOKEN,
            &json!({"operations": [{"op": "enable", "flag_id": "bulk_disable_me", "environment": "development"}]}),
        )
        .await
        .expect_status(200);
    assert_eq!(
        enable.body["results"][0]["environments"]["development"],
        true
    );
}

async fn one_bad_operation_writes_nothing(app: TestApp) {
    app.create_flag(&simple_flag("bulk_existing")).await;
    let audit_before = app.audit("").await.len();
    let reply = app
        .post(
            "/api/v1/flags/bulk",
            ADMIN_TOKEN,
            &json!({"operations": [
                {"op": "create", "flag": simple_flag("bulk_would_be_created")},
                {"op": "create", "flag": {"flag_id": "bulk_bad_rule", "default_value": false,
                    "targeting_rules": [{"conditions": [{"attribute": "a", "operator": "equal", "value": 1}], "value": true}]}},
                {"op": "patch", "flag_id": "bulk_missing", "patch": {"owner": "x"}},
                {"op": "set_value", "flag_id": "bulk_existing", "environment": "production", "value": "not a boolean"},
                {"op": "disable", "flag_id": "bulk_existing_2", "environment": "prod"}
            ]}),
        )
        .await;
    let found = problems(&reply);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        paths.contains(&"operations[1].flag.targeting_rules[0].conditions[0].operator"),
        "{reply}"
    );
    assert!(paths.contains(&"operations[2]"), "{reply}");
    assert!(
        paths.iter().any(|p| p.starts_with("operations[3]")),
        "{reply}"
    );
    assert!(paths.contains(&"operations[4]"), "{reply}");
    assert!(
        !paths.iter().any(|p| p.starts_with("operations[0]")),
        "{reply}"
    );
    assert!(
        found
            .iter()
            .any(|(p, m)| p.starts_with("operations[1]") && m.contains("did you mean \"equals\"")),
        "{reply}"
    );

    app.get("/api/v1/flags/bulk_would_be_created", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        app.get("/api/v1/flags/bulk_existing", ADMIN_TOKEN)
            .await
            .body["version"],
        1
    );
    assert_eq!(app.audit("").await.len(), audit_before);

    // A stale version in one operation: a conflict, nothing written.
    let reply = app
        .post(
            "/api/v1/flags/bulk",
            ADMIN_TOKEN,
            &json!({"operations": [
                {"op": "create", "flag": simple_flag("bulk_would_be_created")},
                {"op": "patch", "flag_id": "bulk_existing", "patch": {"owner": "x"}, "version": 7}
            ]}),
        )
        .await;
    reply.expect_error(409, "version_conflict");
    app.get("/api/v1/flags/bulk_would_be_created", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    // One flag twice, no operations, unknown operations.
    app.post(
        "/api/v1/flags/bulk",
        ADMIN_TOKEN,
        &json!({"operations": [
            {"op": "patch", "flag_id": "bulk_existing", "patch": {"owner": "x"}},
            {"op": "delete", "flag_id": "bulk_existing"}
        ]}),
    )
    .await
    .expect_error(400, "duplicate_flag");
    app.post(
        "/api/v1/flags/bulk",
        ADMIN_TOKEN,
        &json!({"operations": []}),
    )
    .await
    .expect_error(400, "no_changes");
    app.post(
        "/api/v1/flags/bulk",
        ADMIN_TOKEN,
        &json!({"operations": [{"op": "rename", "flag_id": "bulk_existing"}]}),
    )
    .await
    .expect_error(400, "invalid_body");
    assert_eq!(app.audit("").await.len(), audit_before);
}
