//! The kill switch, exactly as the seed README calls it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, without_meta};

api_tests!(
    seed_curl_disables_and_enable_restores,
    every_environment_and_failures,
);

async fn every_environment_and_failures(app: TestApp) {
    disable_every_environment_and_inherited_entries(&app).await;
    kill_switch_failures(&app).await;
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

async fn evaluate(app: &TestApp, flag: &str, env: &str) -> Value {
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": flag, "environment": env, "context": {"user_id": "u"}}),
    )
    .await
    .expect_status(200)
    .body
}

async fn seed_curl_disables_and_enable_restores(app: TestApp) {
    let original = json!({
        "flag_id": "payment_processing_v2",
        "default_value": false,
        "environments": {"development": true, "staging": true, "production": true}
    });
    app.create_flag(&original).await;
    assert_eq!(
        evaluate(&app, "payment_processing_v2", "production").await["value"],
        true
    );

    // curl -X POST ".../api/v1/emergency/disable" -H "Authorization: Bearer $ADMIN_TOKEN"
    //      -d '{"flag_id": "payment_processing_v2", "environment": "production"}'
    // curl -d sends `application/x-www-form-urlencoded`; also try none at all.
    let body = r#"{"flag_id": "payment_processing_v2", "environment": "production"}"#;
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/emergency/disable", None)
                .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                .body(body),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["flag_id"], "payment_processing_v2");
    assert_eq!(reply.body["environments"], json!(["production"]));
    assert_eq!(reply.body["enabled"], false);
    assert_eq!(reply.body["version"], 2);

    let result = evaluate(&app, "payment_processing_v2", "production").await;
    assert_eq!(result["value"], false);
    assert_eq!(result["reason"], "DISABLED");
    assert_eq!(
        evaluate(&app, "payment_processing_v2", "staging").await["value"],
        true
    );

    let entries = app
        .audit("flag_id=payment_processing_v2&action=emergency.disable")
        .await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["environment"], "production");
    assert_eq!(entries[0]["actor"], admin_key_id(&app).await);
    assert_eq!(entries[0]["before"]["environments"]["production"], true);
    assert_eq!(
        entries[0]["after"]["environments"]["production"]["enabled"],
        false
    );

    // Disabling again changes nothing.
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/emergency/disable", Some(ADMIN_TOKEN))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 2);

    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/emergency/enable", Some(ADMIN_TOKEN))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-change-reason", "incident resolved")
                .body(body),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["enabled"], true);
    assert_eq!(reply.body["version"], 3);
    let restored = app
        .get("/api/v1/flags/payment_processing_v2", ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(without_meta(restored), {
        let mut expected = original.clone();
        expected["type"] = json!("boolean");
        expected
    });
    let result = evaluate(&app, "payment_processing_v2", "production").await;
    assert_eq!(result["value"], true);
    assert_eq!(result["reason"], "STATIC");
    let enabled = app
        .audit("flag_id=payment_processing_v2&action=emergency.enable")
        .await;
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0]["reason"], "incident resolved");
}

async fn disable_every_environment_and_inherited_entries(app: &TestApp) {
    let original = json!({
        "flag_id": "search_autocomplete_v3",
        "type": "string",
        "default_value": "off",
        "environments": {
            "development": "on",
            "production": {"value": "on", "targeting_rules": []}
        }
    });
    app.create_flag(&original).await;
    // No environment: every environment, including staging, which inherits.
    let reply = app
        .post(
            "/api/v1/emergency/disable",
            ADMIN_TOKEN,
            &json!({"flag_id": "search_autocomplete_v3", "reason": "outage"}),
        )
        .await
        .expect_status(200);
    assert_eq!(
        reply.body["environments"],
        json!(["development", "production", "staging"])
    );
    for env in ["development", "staging", "production"] {
        let result = evaluate(app, "search_autocomplete_v3", env).await;
        assert_eq!(result["reason"], "DISABLED", "{env}");
        assert_eq!(
            result["value"], "off",
            "{env}: the off value of a string flag"
        );
    }
    let entry = app
        .audit("flag_id=search_autocomplete_v3&action=emergency.disable")
        .await;
    assert_eq!(entry.len(), 1);
    assert_eq!(entry[0]["reason"], "outage");

    app.post(
        "/api/v1/emergency/enable",
        ADMIN_TOKEN,
        &json!({"flag_id": "search_autocomplete_v3"}),
    )
    .await
    .expect_status(200);
    let restored = app
        .get("/api/v1/flags/search_autocomplete_v3", ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(without_meta(restored), original);
    assert_eq!(
        evaluate(app, "search_autocomplete_v3", "staging").await["value"],
        "on"
    );
}

async fn kill_switch_failures(app: &TestApp) {
    app.create_flag(&json!({"flag_id": "kill_switch_target", "default_value": true}))
        .await;
    app.post(
        "/api/v1/emergency/disable",
        ADMIN_TOKEN,
        &json!({"flag_id": "nothing_by_that_name", "environment": "production"}),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/api/v1/emergency/disable",
        ADMIN_TOKEN,
        &json!({"flag_id": "kill_switch_target", "environment": "prod"}),
    )
    .await
    .expect_error(404, "not_found");
    let body = json!({"flag_id": "kill_switch_target", "environment": "production"});
    let viewer = app.key_with_role("viewer").await;
    app.post("/api/v1/emergency/disable", &viewer, &body)
        .await
        .expect_error(403, "forbidden");
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/emergency/disable", None)
                .json(&body),
        )
        .await;
    reply.expect_error(401, "unauthorized");
    app.post("/api/v1/emergency/disable", "ff_admin_wrong", &body)
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(
        app.get("/api/v1/flags/kill_switch_target", ADMIN_TOKEN)
            .await
            .body["version"],
        1
    );
}
