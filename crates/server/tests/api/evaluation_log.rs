//! Evaluation logs for debugging: switched on for a while, every node logs
//! the flag's evaluations there (context hashed unless asked in clear).

use reqwest::Method;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(evaluations_are_logged_while_switched_on);

const LOG: &str = "/api/v1/flags/checkout/environments/production/evaluation-log";

async fn evaluate(app: &TestApp, user: &str, country: &str) {
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": "checkout", "environment": "production", "context": {"user_id": user, "country": country}}),
    )
    .await
    .expect_status(200);
}

async fn evaluations_are_logged_while_switched_on(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "checkout", "default_value": false,
        "environments": {"production": {"enabled": true, "value": false, "targeting_rules": [
            {"name": "italy", "conditions": [{"attribute": "country", "operator": "equals", "value": "IT"}], "value": true}]}}
    }))
    .await;
    evaluate(&app, "before", "IT").await;
    let on = app
        .post(LOG, ADMIN_TOKEN, &json!({"minutes": 5}))
        .await
        .expect_status(200);
    assert!(on.body["until"].is_string());
    // Another node hears of the switch and logs too.
    let other = app.another_node().await;
    evaluate(&app, "u1", "IT").await;
    evaluate(&other, "u2", "FR").await;
    // Another flag or environment is not logged.
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": "checkout", "environment": "staging", "context": {"user_id": "u3"}}),
    )
    .await
    .expect_status(200);
    other.get(LOG, ADMIN_TOKEN).await.expect_status(200);
    let log = app.get(LOG, ADMIN_TOKEN).await.expect_status(200);
    let items = log.items();
    assert_eq!(items.len(), 2, "{log}");
    let italy = items.iter().find(|i| i["value"] == true).unwrap();
    assert_eq!(italy["reason"], "TARGETING_MATCH");
    assert_eq!(italy["rule"]["name"], "italy");
    let context = italy["context"].as_object().unwrap();
    assert!(
        context
            .values()
            .all(|v| v.as_str().unwrap().starts_with("h:")),
        "hashed: {italy}"
    );
    assert!(!log.body.to_string().contains("\"IT\""));
    // In clear when asked; off when switched off.
    app.post(
        LOG,
        ADMIN_TOKEN,
        &json!({"minutes": 5, "clear_context": true}),
    )
    .await
    .expect_status(200);
    evaluate(&app, "u4", "DE").await;
    let log = app.get(LOG, ADMIN_TOKEN).await;
    assert_eq!(log.items()[0]["context"]["country"], "DE", "{log}");
    app.send(app.request(Method::DELETE, LOG, Some(ADMIN_TOKEN)))
        .await
        .expect_status(200);
    evaluate(&app, "u5", "IT").await;
    let log = app.get(LOG, ADMIN_TOKEN).await;
    assert_eq!(log.items().len(), 3);
    assert_eq!(log.body["until"], serde_json::Value::Null);
    // Bad requests say why.
    app.post(LOG, ADMIN_TOKEN, &json!({"minutes": 0}))
        .await
        .expect_error(400, "invalid_minutes");
    app.post(
        "/api/v1/flags/nope/environments/production/evaluation-log",
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_error(404, "not_found");
    let viewer = app.key_with_role("viewer").await;
    app.post(LOG, &viewer, &json!({}))
        .await
        .expect_error(403, "forbidden");
}
