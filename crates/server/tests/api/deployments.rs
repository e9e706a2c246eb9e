//! Deployments: rollback of everything a deployment changed, and the seed's
//! deployment hooks.

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, without_meta};

api_tests!(
    rollback_restores_exact_previous_documents,
    rollback_of_one_environment,
    seed_hooks_run_all_or_nothing,
);

/// A write as part of a deployment.
async fn deploy_write(
    app: &TestApp,
    deployment: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    app.send(
        app.request(method, path, Some(ADMIN_TOKEN))
            .header("X-Deployment-Id", deployment)
            .json(&body),
    )
    .await
    .body
}

async fn document(app: &TestApp, flag: &str) -> Value {
    without_meta(
        app.get(&format!("/api/v1/flags/{flag}"), ADMIN_TOKEN)
            .await
            .expect_status(200)
            .body,
    )
}

async fn rollback_restores_exact_previous_documents(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "checkout_v2", "default_value": false,
        "environments": {"development": true, "production": false}
    }))
    .await;
    app.create_flag(
        &json!({"flag_id": "api_timeout_seconds", "type": "number", "default_value": 30,
        "environments": {"production": 30}}),
    )
    .await;
    app.create_flag(&json!({"flag_id": "untouched", "default_value": true}))
        .await;
    let checkout_before = document(&app, "checkout_v2").await;
    let timeout_before = document(&app, "api_timeout_seconds").await;
    let untouched_before = document(&app, "untouched").await;

    // The deployment: two changes to one flag, one to another, one creation.
    let deployment = "deploy-20240115";
    deploy_write(
        &app,
        deployment,
        reqwest::Method::PUT,
        "/api/v1/flags/checkout_v2/environments/production",
        json!(true),
    )
    .await;
    deploy_write(
        &app,
        deployment,
        reqwest::Method::PATCH,
        "/api/v1/flags/checkout_v2",
        json!({"description": "new checkout"}),
    )
    .await;
    deploy_write(
        &app,
        deployment,
        reqwest::Method::PUT,
        "/api/v1/flags/api_timeout_seconds/environments/production",
        json!(45),
    )
    .await;
    deploy_write(
        &app,
        deployment,
        reqwest::Method::POST,
        "/api/v1/flags",
        json!({"flag_id": "created_by_deploy", "default_value": true}),
    )
    .await;
    // Someone else, later, outside the deployment.
    app.patch(
        "/api/v1/flags/untouched",
        ADMIN_TOKEN,
        &json!({"description": "later"}),
    )
    .await
    .expect_status(200);
    let untouched_later = document(&app, "untouched").await;
    assert_ne!(untouched_later, untouched_before);

    let reply = app
        .post(
            &format!("/api/v1/deployments/{deployment}/rollback"),
            ADMIN_TOKEN,
            &json!({"reason": "errors after deploy"}),
        )
        .await
        .expect_status(200);
    let results: Vec<(String, String)> = reply.body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["flag_id"].as_str().unwrap().to_owned(),
                f["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("api_timeout_seconds".to_owned(), "reverted".to_owned()),
            ("checkout_v2".to_owned(), "reverted".to_owned()),
            ("created_by_deploy".to_owned(), "deleted".to_owned()),
        ]
    );
    // Exactly the documents from before the deployment.
    assert_eq!(document(&app, "checkout_v2").await, checkout_before);
    assert_eq!(document(&app, "api_timeout_seconds").await, timeout_before);
    assert_eq!(
        document(&app, "untouched").await,
        untouched_later,
        "not part of the deployment"
    );
    app.get("/api/v1/flags/created_by_deploy", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body["deleted"]
        .as_bool()
        .filter(|d| *d)
        .expect("the flag the deployment created is deleted");

    // One commit, audited with the reason, new versions (history kept).
    let entries = app.audit("action=deployment.rollback").await;
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e["reason"] == "errors after deploy"));
    // By the caller, in one commit (one commit time for all its entries).
    assert!(
        entries[0]["actor"]
            .as_str()
            .is_some_and(|a| !a.is_empty() && a != "system")
    );
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == entries[0]["actor"] && e["at"] == entries[0]["at"])
    );
    assert!(reply.body["revision"].as_i64().is_some(), "{}", reply.body);
    let versions = app
        .get("/api/v1/flags/checkout_v2/versions", ADMIN_TOKEN)
        .await;
    assert_eq!(
        versions.items().len(),
        4,
        "create, two deploy changes, rollback"
    );

    // Again: nothing left to undo.
    let again = app
        .post(
            &format!("/api/v1/deployments/{deployment}/rollback"),
            ADMIN_TOKEN,
            &json!({}),
        )
        .await
        .expect_status(200);
    assert!(
        again.body["flags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["result"] == "unchanged")
    );
    app.post(
        "/api/v1/deployments/never-happened/rollback",
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_error(404, "not_found");
}

async fn rollback_of_one_environment(app: TestApp) {
    app.create_flag(&json!({"flag_id": "search_v3", "default_value": false,
        "environments": {"staging": false, "production": false}}))
        .await;
    let deployment = "release-2.4.0";
    deploy_write(
        &app,
        deployment,
        reqwest::Method::PUT,
        "/api/v1/flags/search_v3/environments/staging",
        json!(true),
    )
    .await;
    deploy_write(
        &app,
        deployment,
        reqwest::Method::PUT,
        "/api/v1/flags/search_v3/environments/production",
        json!(true),
    )
    .await;
    app.post(
        &format!("/api/v1/deployments/{deployment}/rollback"),
        ADMIN_TOKEN,
        &json!({"environment": "production"}),
    )
    .await
    .expect_status(200);
    let flag = document(&app, "search_v3").await;
    assert_eq!(
        flag["environments"],
        json!({"staging": true, "production": false})
    );

    // The seed's `rollback --to-version 1.2.3`: a version named by the
    // deployment that wrote it.
    let reply = app
        .post(
            "/api/v1/flags/search_v3/rollback",
            ADMIN_TOKEN,
            &json!({"to_version": deployment, "environment": "production"}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["environments"]["production"], true);
    app.post(
        "/api/v1/flags/search_v3/rollback",
        ADMIN_TOKEN,
        &json!({"to_version": "9.9.9"}),
    )
    .await
    .expect_error(404, "not_found");
}

/// The seed's deployment automation YAML, as JSON.
fn seed_deployment() -> Value {
    json!({"deployment": {
        "pre_deploy": [{"enable_flag": "maintenance_mode"}, {"disable_flag": "new_feature_beta"}],
        "post_deploy": [
            {"disable_flag": "maintenance_mode"},
            {"enable_flag": "new_feature_beta"},
            {"verify_flags": ["critical_feature", "payment_system"]}
        ]
    }})
}

async fn evaluate(app: &TestApp, flag: &str) -> Value {
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

async fn seed_hooks_run_all_or_nothing(app: TestApp) {
    for (flag, on) in [
        ("maintenance_mode", false),
        ("new_feature_beta", true),
        ("critical_feature", true),
        ("payment_system", true),
    ] {
        app.create_flag(&json!({"flag_id": flag, "default_value": true,
            "environments": {"production": {"enabled": on}}}))
            .await;
    }
    let hooks = |phase: &str| json!({"environment": "production", "phase": phase, "deployment": seed_deployment()["deployment"].clone()});
    let reply = app
        .post(
            "/api/v1/deployments/deploy-7/hooks",
            ADMIN_TOKEN,
            &hooks("pre_deploy"),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["steps"].as_array().unwrap().len(), 2);
    assert_eq!(evaluate(&app, "maintenance_mode").await, true);
    assert_eq!(evaluate(&app, "new_feature_beta").await, false);

    // post_deploy fails verification (payment_system is off): nothing applied.
    app.post(
        "/api/v1/emergency/disable",
        ADMIN_TOKEN,
        &json!({"flag_id": "payment_system", "environment": "production"}),
    )
    .await
    .expect_status(200);
    let reply = app
        .post(
            "/api/v1/deployments/deploy-7/hooks",
            ADMIN_TOKEN,
            &hooks("post_deploy"),
        )
        .await;
    let error = reply.expect_error(409, "verify_failed");
    assert_eq!(error["details"]["failures"][0]["flag_id"], "payment_system");
    assert_eq!(
        evaluate(&app, "maintenance_mode").await,
        true,
        "all or nothing"
    );
    assert_eq!(evaluate(&app, "new_feature_beta").await, false);

    app.post(
        "/api/v1/emergency/enable",
        ADMIN_TOKEN,
        &json!({"flag_id": "payment_system", "environment": "production"}),
    )
    .await
    .expect_status(200);
    // The whole seed document (with its top-level `deployment:`) works too.
    let body = json!({"environment": "production", "phase": "post_deploy", "deployment": seed_deployment()});
    let reply = app
        .post("/api/v1/deployments/deploy-7/hooks", ADMIN_TOKEN, &body)
        .await
        .expect_status(200);
    let verified: Vec<&Value> = reply.body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["verified"] == true)
        .collect();
    assert_eq!(verified.len(), 2);
    assert_eq!(evaluate(&app, "maintenance_mode").await, false);
    assert_eq!(evaluate(&app, "new_feature_beta").await, true);
    // Tagged with the deployment: its rollback undoes both phases.
    let tagged = app.audit("deployment_id=deploy-7").await;
    assert_eq!(tagged.len(), 4, "{tagged:?}");
    app.post(
        "/api/v1/deployments/deploy-7/rollback",
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_status(200);
    assert_eq!(evaluate(&app, "maintenance_mode").await, false);
    assert_eq!(evaluate(&app, "new_feature_beta").await, true);
    assert_eq!(
        document(&app, "maintenance_mode").await["environments"]["production"],
        json!({"enabled": false})
    );

    // Bad steps: every problem with its path.
    let bad = json!({"environment": "production", "phase": "pre_deploy", "deployment": {"pre_deploy": [
        {"enable_flag": 3}, {"launch_rocket": "x"}, {"verify_flags": "payment_system"}]}});
    let reply = app
        .post("/api/v1/deployments/deploy-8/hooks", ADMIN_TOKEN, &bad)
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
            "deployment.pre_deploy[0].enable_flag",
            "deployment.pre_deploy[1].launch_rocket",
            "deployment.pre_deploy[2].verify_flags"
        ]
    );
    let unknown = json!({"environment": "production", "phase": "pre_deploy", "deployment": {"pre_deploy": [{"enable_flag": "no_such_flag"}]}});
    app.post("/api/v1/deployments/deploy-8/hooks", ADMIN_TOKEN, &unknown)
        .await
        .expect_error(409, "verify_failed");
    let phase = json!({"environment": "production", "phase": "mid_deploy", "deployment": {}});
    app.post("/api/v1/deployments/deploy-8/hooks", ADMIN_TOKEN, &phase)
        .await
        .expect_error(400, "invalid_phase");
}
