//! `POST /api/v1/evaluate`: one flag, several, or all; errors in the result
//! or in the envelope.

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, seed_flags};

api_tests!(evaluates_one_several_and_all, errors_and_key_environments);

async fn evaluates_one_several_and_all(app: TestApp) {
    seeded(&app).await;
    evaluates_one_flag_with_the_full_resolution(&app).await;
    evaluates_several_and_all_flags(&app).await;
}

async fn errors_and_key_environments(app: TestApp) {
    seeded(&app).await;
    evaluation_errors(&app).await;
    keys_evaluate_in_their_own_environment(&app).await;
}

async fn seeded(app: &TestApp) {
    for doc in seed_flags() {
        app.create_flag(&doc).await;
    }
}

async fn evaluate(app: &TestApp, key: &str, body: Value) -> Value {
    app.post("/api/v1/evaluate", key, &body)
        .await
        .expect_status(200)
        .body
}

async fn evaluates_one_flag_with_the_full_resolution(app: &TestApp) {
    let one = |flag: &str, env: &str, context: Value| json!({"flag_id": flag, "environment": env, "context": context});
    let result = evaluate(
        app,
        ADMIN_TOKEN,
        one("new_payment_flow", "production", json!({})),
    )
    .await;
    assert_eq!(
        result,
        json!({"flag_id": "new_payment_flow", "value": false, "reason": "STATIC"})
    );
    let result = evaluate(
        app,
        ADMIN_TOKEN,
        one("new_payment_flow", "staging", json!({})),
    )
    .await;
    assert_eq!(result["value"], true);
    let result = evaluate(
        app,
        ADMIN_TOKEN,
        one("api_timeout_seconds", "staging", json!({})),
    )
    .await;
    assert_eq!(result["value"], 45);
    let result = evaluate(
        app,
        ADMIN_TOKEN,
        one("ui_theme_config", "development", json!({})),
    )
    .await;
    assert_eq!(
        result["value"],
        json!({"theme": "dark", "sidebar": "collapsed", "debug": true})
    );
    // Staging has no entry of its own and follows development (auto_sync).
    let result = evaluate(
        app,
        ADMIN_TOKEN,
        one("ui_theme_config", "staging", json!({})),
    )
    .await;
    assert_eq!(result["value"]["theme"], "dark");

    // The seed's targeting rules.
    let beta = json!({"user_id": "user-123", "user_type": "beta", "country": "CA"});
    let result = evaluate(app, ADMIN_TOKEN, one("beta_features", "production", beta)).await;
    insta::assert_json_snapshot!("targeting_match", result);
    let other = json!({"user_id": "user-123", "user_type": "beta", "country": "FR"});
    let result = evaluate(app, ADMIN_TOKEN, one("beta_features", "production", other)).await;
    assert_eq!(result["value"], false);
    assert_eq!(result["reason"], "DEFAULT");
    // 25 % of standard users: both answers occur over many users, each one
    // stable for its user.
    let mut on = 0;
    for i in 0..200 {
        let context = json!({"user_id": format!("user-{i}"), "user_type": "standard"});
        let first = evaluate(
            app,
            ADMIN_TOKEN,
            one("beta_features", "production", context.clone()),
        )
        .await;
        if first["value"] == true {
            on += 1;
            assert_eq!(first["rule"]["name"], "gradual_rollout");
        }
        if i % 20 == 0 {
            let again = evaluate(
                app,
                ADMIN_TOKEN,
                one("beta_features", "production", context),
            )
            .await;
            assert_eq!(again, first);
        }
    }
    assert!(on > 0 && on < 200, "{on} of 200 in a 25 % rollout");
    // `targetingKey` stands in for `user_id`, a null context is empty.
    let result = evaluate(
        app,
        ADMIN_TOKEN,
        json!({"flag_id": "new_payment_flow", "environment": "development", "context": null}),
    )
    .await;
    assert_eq!(result["value"], true);
    let result = evaluate(
        app,
        ADMIN_TOKEN,
        json!({"flag_id": "new_payment_flow", "environment": "development"}),
    )
    .await;
    assert_eq!(result["value"], true);
}

async fn evaluates_several_and_all_flags(app: &TestApp) {
    let body = evaluate(
        app,
        ADMIN_TOKEN,
        json!({
            "flag_ids": ["api_timeout_seconds", "no_such_flag", "new_payment_flow"],
            "environment": "development",
            "context": {"user_id": "u1"}
        }),
    )
    .await;
    assert_eq!(body["environment"], "development");
    assert!(body["revision"].as_i64().unwrap() > 0);
    assert_eq!(
        body["results"],
        json!([
            {"flag_id": "api_timeout_seconds", "value": 60, "reason": "STATIC"},
            {"flag_id": "no_such_flag", "reason": "ERROR", "error_code": "FLAG_NOT_FOUND"},
            {"flag_id": "new_payment_flow", "value": true, "reason": "STATIC"}
        ])
    );
    let all = evaluate(
        app,
        ADMIN_TOKEN,
        json!({"environment": "production", "context": {"user_id": "u1"}}),
    )
    .await;
    let mut ids: Vec<&str> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flag_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "api_timeout_seconds",
            "beta_features",
            "new_payment_flow",
            "ui_theme_config"
        ]
    );
    assert!(
        all["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("error_code").is_none())
    );
    let empty = evaluate(
        app,
        ADMIN_TOKEN,
        json!({"flag_ids": [], "environment": "production"}),
    )
    .await;
    assert_eq!(empty["results"], json!([]));
}

async fn evaluation_errors(app: &TestApp) {
    let result = evaluate(
        app,
        ADMIN_TOKEN,
        json!({"flag_id": "missing_flag", "environment": "production", "context": {}}),
    )
    .await;
    assert_eq!(
        result,
        json!({"flag_id": "missing_flag", "reason": "ERROR", "error_code": "FLAG_NOT_FOUND"})
    );
    for context in [json!("user-1"), json!([1]), json!(3)] {
        let reply = app
            .post(
                "/api/v1/evaluate",
                ADMIN_TOKEN,
                &json!({"flag_id": "new_payment_flow", "environment": "production", "context": context}),
            )
            .await;
        let error = reply.expect_error(400, "invalid_context");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("INVALID_CONTEXT")
        );
    }
    let reply = app
        .post(
            "/api/v1/evaluate",
            ADMIN_TOKEN,
            &json!({"flag_id": "new_payment_flow", "environment": "qa"}),
        )
        .await;
    let error = reply.expect_error(404, "not_found");
    assert!(error["message"].as_str().unwrap().contains("qa"));
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": "new_payment_flow"}),
    )
    .await
    .expect_error(400, "missing_environment");
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": "a", "flag_ids": ["b"], "environment": "production"}),
    )
    .await
    .expect_error(400, "invalid_body");
}

async fn keys_evaluate_in_their_own_environment(app: &TestApp) {
    let (_, server) = app
        .create_key(json!({"name": "backend", "kind": "server", "environment": "staging"}))
        .await;
    let (_, client) = app
        .create_key(json!({"name": "mobile", "kind": "client", "environment": "production"}))
        .await;
    // Without an environment, the key's own.
    let result = evaluate(app, &server, json!({"flag_id": "api_timeout_seconds"})).await;
    assert_eq!(result["value"], 45);
    let result = evaluate(
        app,
        &client,
        json!({"flag_id": "api_timeout_seconds", "environment": "production"}),
    )
    .await;
    assert_eq!(result["value"], 30);
    let all = evaluate(app, &client, json!({})).await;
    assert_eq!(all["environment"], "production");
    // Another environment is refused.
    let reply = app
        .post(
            "/api/v1/evaluate",
            &server,
            &json!({"flag_id": "api_timeout_seconds", "environment": "production"}),
        )
        .await;
    let error = reply.expect_error(403, "forbidden");
    assert!(error["message"].as_str().unwrap().contains("staging"));
    app.post(
        "/api/v1/evaluate",
        &client,
        &json!({"environment": "development"}),
    )
    .await
    .expect_error(403, "forbidden");
    // The key in a header of its own works too.
    let reply = app
        .send(
            app.request(reqwest::Method::POST, "/api/v1/evaluate", None)
                .header("x-api-key", &client)
                .json(&json!({"flag_id": "new_payment_flow"})),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["value"], false);
}
