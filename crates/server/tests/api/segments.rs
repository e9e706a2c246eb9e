//! `/api/v1/segments`: reusable conditions, checked where flags refer to them.

use reqwest::Method;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, TestApp, problems};

api_tests!(segments_lifecycle, references_are_checked);

fn beta_testers() -> serde_json::Value {
    json!({
        "segment_id": "beta_testers",
        "description": "People in the beta programme",
        "conditions": [{"attribute": "email", "operator": "ends_with", "value": "@pratiko.ai"}]
    })
}

async fn segments_lifecycle(app: TestApp) {
    let reply = app
        .post("/api/v1/segments", ADMIN_TOKEN, &beta_testers())
        .await
        .expect_status(201);
    assert_eq!(reply.body["version"], 1);
    assert_eq!(reply.body["used_by"], json!([]));
    app.post("/api/v1/segments", ADMIN_TOKEN, &beta_testers())
        .await
        .expect_error(409, "already_exists");

    app.create_flag(&json!({
        "flag_id": "beta_dashboard_enabled",
        "default_value": false,
        "environments": {"production": {"targeting_rules": [
            {"name": "beta", "conditions": [{"operator": "in_segment", "value": "beta_testers"}], "value": true}
        ]}}
    }))
    .await;
    let one = app
        .get("/api/v1/segments/beta_testers", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(one.body["used_by"], json!(["beta_dashboard_enabled"]));
    assert_eq!(one.body["conditions"], beta_testers()["conditions"]);
    let list = app
        .get("/api/v1/segments", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(list.items().len(), 1);
    assert_eq!(list.items()[0]["segment_id"], "beta_testers");

    let evaluate = |email: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/evaluate",
                ADMIN_TOKEN,
                &json!({"flag_id": "beta_dashboard_enabled", "environment": "production",
                        "context": {"user_id": "u", "email": email}}),
            )
            .await
            .expect_status(200)
            .body["value"]
                .clone()
        }
    };
    assert_eq!(evaluate("ann@pratiko.ai").await, true);
    assert_eq!(evaluate("bob@example.com").await, false);

    // Replacing the segment changes evaluation at once.
    let mut changed = beta_testers();
    changed["conditions"][0]["value"] = json!("@example.com");
    let reply = app
        .send(
            app.request(
                Method::PUT,
                "/api/v1/segments/beta_testers",
                Some(ADMIN_TOKEN),
            )
            .header("if-match", "\"1\"")
            .json(&changed),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(evaluate("bob@example.com").await, true);
    let reply = app
        .send(
            app.request(
                Method::PUT,
                "/api/v1/segments/beta_testers",
                Some(ADMIN_TOKEN),
            )
            .header("if-match", "\"1\"")
            .json(&beta_testers()),
        )
        .await;
    reply.expect_error(409, "version_conflict");
    let mut renamed = beta_testers();
    renamed["segment_id"] = json!("alpha");
    app.put("/api/v1/segments/beta_testers", ADMIN_TOKEN, &renamed)
        .await
        .expect_error(400, "segment_id_mismatch");
    app.put(
        "/api/v1/segments/nope",
        ADMIN_TOKEN,
        &json!({"conditions": []}),
    )
    .await
    .expect_error(404, "not_found");

    // In use: refused; unused: deleted.
    let reply = app
        .delete("/api/v1/segments/beta_testers", ADMIN_TOKEN)
        .await;
    let error = reply.expect_error(409, "in_use");
    assert_eq!(
        error["details"]["used_by"],
        json!(["beta_dashboard_enabled"])
    );
    app.delete("/api/v1/flags/beta_dashboard_enabled", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let reply = app
        .delete("/api/v1/segments/beta_testers", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(reply.body["deleted"], true);
    app.get("/api/v1/segments/beta_testers", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    app.delete("/api/v1/segments/beta_testers", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    let actions: Vec<String> = app
        .audit("action=segment.delete")
        .await
        .iter()
        .map(|e| e["resource_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["beta_testers"]);
}

async fn references_are_checked(app: TestApp) {
    app.post("/api/v1/segments", ADMIN_TOKEN, &beta_testers())
        .await
        .expect_status(201);
    let reply = app
        .post(
            "/api/v1/flags",
            ADMIN_TOKEN,
            &json!({
                "flag_id": "uses_unknown_segment",
                "default_value": false,
                "targeting_rules": [
                    {"conditions": [{"operator": "in_segment", "value": "beta_tester"}], "value": true}
                ]
            }),
        )
        .await;
    let found = problems(&reply);
    assert_eq!(found.len(), 1, "{reply}");
    assert_eq!(found[0].0, "targeting_rules[0].conditions[0].value");
    assert!(
        found[0].1.contains("did you mean \"beta_testers\""),
        "{reply}"
    );
    app.get("/api/v1/flags/uses_unknown_segment", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");

    // Invalid segment documents: every problem, with its path.
    let reply = app
        .post(
            "/api/v1/segments",
            ADMIN_TOKEN,
            &json!({"segment_id": "Bad Id", "conditions": [{"attribute": "age", "operator": "greater", "value": 3}]}),
        )
        .await;
    let found = problems(&reply);
    assert!(found.iter().any(|(p, _)| p == "segment_id"), "{reply}");
    assert!(
        found.iter().any(|(p, _)| p == "conditions[0].operator"),
        "{reply}"
    );
    // A segment referring to an unknown segment.
    let reply = app
        .post(
            "/api/v1/segments",
            ADMIN_TOKEN,
            &json!({"segment_id": "nested", "conditions": [{"operator": "in_segment", "value": "nobody"}]}),
        )
        .await;
    assert_eq!(reply.status, 422, "{reply}");
    // Viewers may not write segments.
    let viewer = app.key_with_role("viewer").await;
    app.post(
        "/api/v1/segments",
        &viewer,
        &json!({"segment_id": "x", "conditions": []}),
    )
    .await
    .expect_error(403, "forbidden");
}
