//! Privacy requests: everything held about a person is exported, and
//! erased (their exposures and events at once, their id out of rules and
//! segments through an audited, governed write).

use reqwest::Method;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(a_person_is_exported_and_erased);

mod governed {
    use super::erasing_from_protected_rules_waits_for_approval;

    governed_api_tests!(erasing_from_protected_rules_waits_for_approval);
}

async fn seed(app: &TestApp, environment: &str) {
    app.post(
        "/api/v1/segments",
        ADMIN_TOKEN,
        &json!({"segment_id": "vips", "conditions": [{"attribute": "user_id", "operator": "in", "value": ["bob", "cy"]}]}),
    )
    .await
    .expect_status(201);
    app.create_flag(&json!({
        "flag_id": "beta_access", "default_value": false,
        "environments": {environment: {"enabled": true, "value": false, "targeting_rules": [
            {"name": "testers", "conditions": [{"attribute": "user_id", "operator": "in", "value": ["ann", "bob"]}], "value": true}
        ]}}
    }))
    .await;
}

async fn evaluate(app: &TestApp, user: &str, environment: &str) -> serde_json::Value {
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": "beta_access", "environment": environment, "context": {"user_id": user}}),
    )
    .await
    .expect_status(200)
    .body["value"]
        .clone()
}

async fn a_person_is_exported_and_erased(app: TestApp) {
    seed(&app, "production").await;
    app.create_flag(&json!({
        "flag_id": "theme", "type": "string", "default_value": "a", "variants": {"a": "a", "b": "b"},
        "environments": {"production": {"enabled": true, "value": "a", "targeting_rules": [
            {"conditions": [], "variants": [{"variant": "a", "weight": 50}, {"variant": "b", "weight": 50}]}]}}
    }))
    .await;
    app.post(
        "/api/v1/experiments",
        ADMIN_TOKEN,
        &json!({
        "id": "theme_test", "flag_id": "theme", "environment": "production", "control": "a",
        "primary_metric": {"event": "signup", "kind": "conversion"}}),
    )
    .await
    .expect_status(201);
    app.post(
        "/api/v1/evaluate",
        ADMIN_TOKEN,
        &json!({"flag_id": "theme", "environment": "production", "context": {"user_id": "bob"}}),
    )
    .await
    .expect_status(200);
    app.post("/api/v1/track", ADMIN_TOKEN, &json!({"events": [
        {"event": "signup", "user_id": "bob"}, {"event": "purchase", "user_id": "bob", "value": 12.5},
        {"event": "signup", "user_id": "ann"}]}))
        .await
        .expect_status(200);

    let export = app
        .get("/api/v1/subjects/bob", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let body = &export.body;
    assert_eq!(body["exposures"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["exposures"][0]["experiment_id"], "theme_test");
    assert_eq!(body["events"].as_array().unwrap().len(), 2);
    assert_eq!(body["named_in"]["flags"][0]["flag_id"], "beta_access");
    assert_eq!(
        body["named_in"]["flags"][0]["conditions"],
        json!(["environments.production.targeting_rules[0].conditions[0]"])
    );
    assert_eq!(body["named_in"]["segments"][0]["segment_id"], "vips");
    let subject = body["subject"].as_str().unwrap().to_owned();
    assert!(
        subject.starts_with("h:") && !subject.contains("bob"),
        "stored hashed: {subject}"
    );
    // Only admins see or erase people.
    let editor = app.key_with_role("editor").await;
    app.get("/api/v1/subjects/bob", &editor)
        .await
        .expect_error(403, "forbidden");

    let erased = app
        .send(app.request(Method::DELETE, "/api/v1/subjects/bob", Some(ADMIN_TOKEN)))
        .await
        .expect_status(200);
    assert_eq!(erased.body["exposures_erased"], 1, "{erased}");
    assert_eq!(erased.body["events_erased"], 2);
    assert_eq!(erased.body["rules"]["status"], "erased");
    assert_eq!(erased.body["segments"]["status"], "erased");
    // Nothing is left, and nobody else's values changed.
    let after = app
        .get("/api/v1/subjects/bob", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(after.body["exposures"], json!([]));
    assert_eq!(after.body["events"], json!([]));
    assert_eq!(after.body["named_in"], json!({"flags": [], "segments": []}));
    assert_eq!(evaluate(&app, "ann", "production").await, true);
    assert_eq!(evaluate(&app, "bob", "production").await, false);
    let ann = app.get("/api/v1/subjects/ann", ADMIN_TOKEN).await;
    assert_eq!(
        ann.body["events"].as_array().unwrap().len(),
        1,
        "others keep theirs"
    );
    let flag = app.get("/api/v1/flags/beta_access", ADMIN_TOKEN).await;
    assert!(!flag.body.to_string().contains("\"bob\""), "{flag}");
    // The audit names the erasure, not the person, and the chain verifies.
    let audit = app.audit("action=subject.erase").await;
    assert_eq!(audit.len(), 2, "the flag and the segment");
    assert!(!audit[0]["reason"].as_str().unwrap().contains("bob"));
    app.get("/api/v1/audit/verify", ADMIN_TOKEN)
        .await
        .expect_status(200);
    // Erasing again finds nothing.
    let again = app
        .send(app.request(Method::DELETE, "/api/v1/subjects/bob", Some(ADMIN_TOKEN)))
        .await
        .expect_status(200);
    assert_eq!(again.body["rules"]["status"], "not_named");
    assert_eq!(again.body["segments"]["status"], "not_named");
    assert_eq!(again.body["events_erased"], 0);
}

async fn erasing_from_protected_rules_waits_for_approval(app: TestApp) {
    seed(&app, "production").await;
    app.post(
        "/api/v1/track",
        ADMIN_TOKEN,
        &json!({"event": "signup", "user_id": "bob"}),
    )
    .await
    .expect_status(200);
    let erased = app
        .send(
            app.request(Method::DELETE, "/api/v1/subjects/bob", Some(ADMIN_TOKEN))
                .header("x-change-reason", "erasure request #42"),
        )
        .await
        .expect_status(200);
    // The events go at once; production's rule waits for an approver.
    assert_eq!(erased.body["events_erased"], 1);
    assert_eq!(
        erased.body["rules"]["status"], "pending_approval",
        "{erased}"
    );
    assert!(
        erased.body["rules"]["change_request"]
            .as_str()
            .unwrap()
            .starts_with("cr_")
    );
    assert_eq!(
        evaluate(&app, "bob", "production").await,
        true,
        "not yet approved"
    );
}
