//! Versions, diffs and rollback: history is kept and never rewritten.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, without_meta};

api_tests!(
    versions_and_diffs,
    rollback_of_the_whole_flag,
    rollback_of_one_environment,
);

fn version_doc(n: i64) -> Value {
    json!({
        "flag_id": "pricing_page_variant",
        "type": "string",
        "description": format!("revision {n}"),
        "default_value": "classic",
        "environments": {
            "development": format!("dev-{n}"),
            "production": if n == 1 { json!("classic") } else { json!({"value": format!("prod-{n}")}) }
        }
    })
}

/// A flag with versions 1..=5, version n having `version_doc(n)`.
async fn five_versions(app: &TestApp) {
    app.create_flag(&version_doc(1)).await;
    for n in 2..=5 {
        app.put(
            "/api/v1/flags/pricing_page_variant",
            ADMIN_TOKEN,
            &version_doc(n),
        )
        .await
        .expect_status(200);
    }
}

async fn versions_and_diffs(app: TestApp) {
    five_versions(&app).await;
    one_version_and_diffs(&app).await;
    versions_list_and_page(&app).await;
}

async fn versions_list_and_page(app: &TestApp) {
    let all = app
        .get("/api/v1/flags/pricing_page_variant/versions", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let numbers: Vec<i64> = all
        .items()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [5, 4, 3, 2, 1]);
    for item in all.items() {
        let n = item["version"].as_i64().unwrap();
        assert_eq!(item["document"], version_doc(n), "version {n}");
        assert_eq!(item["deleted"], false);
        assert_eq!(item["flag_id"], "pricing_page_variant");
        assert!(item["actor"].as_str().unwrap().starts_with("key_"));
        assert!(item["at"].is_string());
        let action = if n == 1 { "flag.create" } else { "flag.update" };
        assert_eq!(item["action"], action);
    }
    assert!(all.body.get("next_cursor").is_none(), "{all}");

    let mut seen = Vec::new();
    let mut path = "/api/v1/flags/pricing_page_variant/versions?limit=2".to_owned();
    loop {
        let page = app.get(&path, ADMIN_TOKEN).await.expect_status(200);
        seen.extend(page.items().iter().map(|v| v["version"].as_i64().unwrap()));
        match page.body.get("next_cursor").and_then(Value::as_str) {
            Some(cursor) => {
                path =
                    format!("/api/v1/flags/pricing_page_variant/versions?limit=2&before={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, [5, 4, 3, 2, 1]);

    // A deleted flag keeps its history, with the deletion as a version.
    app.delete("/api/v1/flags/pricing_page_variant", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let all = app
        .get(
            "/api/v1/flags/pricing_page_variant/versions?limit=1",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert_eq!(all.items()[0]["version"], 6);
    assert_eq!(all.items()[0]["deleted"], true);
    assert_eq!(all.items()[0]["action"], "flag.delete");

    app.get("/api/v1/flags/unknown_flag/versions", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
}

async fn one_version_and_diffs(app: &TestApp) {
    let v2 = app
        .get("/api/v1/flags/pricing_page_variant/versions/2", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(v2.body["version"], 2);
    assert_eq!(v2.body["document"], version_doc(2));
    app.get("/api/v1/flags/pricing_page_variant/versions/9", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    app.get("/api/v1/flags/other/versions/1", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");

    let diff = app
        .get(
            "/api/v1/flags/pricing_page_variant/diff?from=1&to=2",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert_eq!(diff.body["from"], 1);
    assert_eq!(diff.body["to"], 2);
    let differences = diff.body["differences"].as_array().unwrap();
    assert!(!differences.is_empty());
    let text = serde_json::to_string(differences).unwrap();
    for changed in [
        "description",
        "environments.development",
        "environments.production",
    ] {
        assert!(text.contains(changed), "{changed} in {text}");
    }
    assert!(
        !text.contains("default_value"),
        "unchanged fields are not listed: {text}"
    );

    // Without `to`: the current version.
    let diff = app
        .get(
            "/api/v1/flags/pricing_page_variant/diff?from=3",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert_eq!(diff.body["to"], 5);
    let same = app
        .get(
            "/api/v1/flags/pricing_page_variant/diff?from=4&to=4",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert_eq!(same.body["differences"], json!([]));
    app.get(
        "/api/v1/flags/pricing_page_variant/diff?from=1&to=42",
        ADMIN_TOKEN,
    )
    .await
    .expect_error(404, "not_found");
    app.get(
        "/api/v1/flags/pricing_page_variant/diff?from=x",
        ADMIN_TOKEN,
    )
    .await
    .expect_error(400, "invalid_query");
}

async fn rollback_of_the_whole_flag(app: TestApp) {
    five_versions(&app).await;
    let reply = app
        .send(
            app.request(
                Method::POST,
                "/api/v1/flags/pricing_page_variant/rollback",
                Some(ADMIN_TOKEN),
            )
            .header("x-deployment-id", "deploy-20240115")
            .json(&json!({"to_version": 2, "reason": "bad release"})),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 6);
    assert_eq!(without_meta(reply.body), version_doc(2));
    let v6 = app
        .get("/api/v1/flags/pricing_page_variant/versions/6", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(v6.body["document"], version_doc(2));
    assert_eq!(v6.body["action"], "flag.rollback");
    assert_eq!(v6.body["reason"], "bad release");
    assert_eq!(v6.body["deployment_id"], "deploy-20240115");
    // History is kept: every version is still there, unchanged.
    let all = app
        .get("/api/v1/flags/pricing_page_variant/versions", ADMIN_TOKEN)
        .await;
    assert_eq!(all.items().len(), 6);
    for item in &all.items()[1..] {
        let n = item["version"].as_i64().unwrap();
        assert_eq!(item["document"], version_doc(n));
    }
    let audit = app
        .audit("flag_id=pricing_page_variant&action=flag.rollback")
        .await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["before"], version_doc(5));
    assert_eq!(audit[0]["after"], version_doc(2));
    assert_eq!(audit[0]["reason"], "bad release");
    assert_eq!(audit[0]["deployment_id"], "deploy-20240115");

    // Rolling back to what is current writes nothing.
    let reply = app
        .post(
            "/api/v1/flags/pricing_page_variant/rollback",
            ADMIN_TOKEN,
            &json!({"to_version": 2}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 6);
    app.post(
        "/api/v1/flags/pricing_page_variant/rollback",
        ADMIN_TOKEN,
        &json!({"to_version": 77}),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/api/v1/flags/no_flag_here/rollback",
        ADMIN_TOKEN,
        &json!({"to_version": 1}),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/api/v1/flags/pricing_page_variant/rollback",
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_error(400, "invalid_body");
}

async fn rollback_of_one_environment(app: TestApp) {
    five_versions(&app).await;
    let reply = app
        .post(
            "/api/v1/flags/pricing_page_variant/rollback",
            ADMIN_TOKEN,
            &json!({"to_version": 1, "environment": "production"}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 6);
    let mut expected = version_doc(5);
    expected["environments"]["production"] = json!("classic");
    assert_eq!(without_meta(reply.body), expected);
    let entry = app
        .audit("flag_id=pricing_page_variant&action=flag.rollback&environment=production")
        .await;
    assert_eq!(entry.len(), 1);

    // An environment the old version had no entry for: the entry goes.
    app.put(
        "/api/v1/flags/pricing_page_variant/environments/staging",
        ADMIN_TOKEN,
        &json!("staging-only"),
    )
    .await
    .expect_status(200);
    let reply = app
        .post(
            "/api/v1/flags/pricing_page_variant/rollback",
            ADMIN_TOKEN,
            &json!({"to_version": 3, "environment": "staging"}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 8);
    assert!(reply.body["environments"].get("staging").is_none());
    assert_eq!(without_meta(reply.body), expected);
    let versions = app
        .get("/api/v1/flags/pricing_page_variant/versions", ADMIN_TOKEN)
        .await;
    assert_eq!(versions.items().len(), 8);
}
