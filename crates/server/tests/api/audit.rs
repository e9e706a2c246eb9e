//! `/api/v1/audit`: filters, paging, what each entry records, and the hash
//! chain's proof.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, simple_flag};

api_tests!(
    entries_record_actor_reason_request_and_deployment,
    filters_narrow_the_log,
    chain_verifies_and_pages,
);

async fn chain_verifies_and_pages(app: TestApp) {
    chain_verifies(&app).await;
    before_id_pages_through_everything(&app).await;
}

async fn entries_record_actor_reason_request_and_deployment(app: TestApp) {
    let (editor_id, editor) = app
        .create_key(json!({"name": "ci", "kind": "admin", "role": "editor"}))
        .await;
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/flags", Some(&editor))
                .header("x-change-reason", "JIRA-42 launch prep")
                .header("x-deployment-id", "deploy-20240115")
                .header("x-request-id", "req-abc-123")
                .json(&simple_flag("audited_flag_one")),
        )
        .await
        .expect_status(201);
    assert_eq!(reply.header("x-request-id"), Some("req-abc-123"));
    let entries = app.audit("flag_id=audited_flag_one").await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["actor"], editor_id.as_str());
    assert_eq!(entry["action"], "flag.create");
    assert_eq!(entry["resource_kind"], "flag");
    assert_eq!(entry["resource_key"], "audited_flag_one");
    assert_eq!(entry["reason"], "JIRA-42 launch prep");
    assert_eq!(entry["deployment_id"], "deploy-20240115");
    assert_eq!(entry["request_id"], "req-abc-123");
    assert_eq!(entry["before"], Value::Null);
    assert_eq!(entry["after"], simple_flag("audited_flag_one"));
    assert!(entry["at"].is_string());
    assert_eq!(entry["hash"].as_str().unwrap().len(), 64);

    // Without X-Request-Id the server makes one, answers it and records it.
    let reply = app
        .patch(
            "/api/v1/flags/audited_flag_one",
            &editor,
            &json!({"description": "changed"}),
        )
        .await
        .expect_status(200);
    let generated = reply.header("x-request-id").unwrap().to_owned();
    assert!(!generated.is_empty());
    let entries = app
        .audit("flag_id=audited_flag_one&action=flag.update")
        .await;
    assert_eq!(entries[0]["request_id"], generated.as_str());
    assert_eq!(
        entries[0]["before"]["description"],
        "the audited_flag_one flag"
    );
    assert_eq!(entries[0]["after"]["description"], "changed");
    assert!(entries[0].get("reason").is_none());
}

/// Entries by two keys, about two flags and two environments, in two
/// deployments.
async fn varied_log(app: &TestApp) -> (String, String) {
    let (editor_id, editor) = app
        .create_key(json!({"name": "editor", "kind": "admin", "role": "editor"}))
        .await;
    for id in ["audit_filter_a", "audit_filter_b"] {
        app.send(
            app.request(Method::POST, "/api/v1/flags", Some(&editor))
                .header("x-deployment-id", "deploy-1")
                .json(&simple_flag(id)),
        )
        .await
        .expect_status(201);
    }
    app.send(
        app.request(
            Method::PUT,
            "/api/v1/flags/audit_filter_a/environments/staging",
            Some(ADMIN_TOKEN),
        )
        .header("x-deployment-id", "deploy-2")
        .json(&json!(true)),
    )
    .await
    .expect_status(200);
    app.put(
        "/api/v1/flags/audit_filter_b/environments/production",
        &editor,
        &json!(true),
    )
    .await
    .expect_status(200);
    app.post(
        "/api/v1/emergency/disable",
        ADMIN_TOKEN,
        &json!({"flag_id": "audit_filter_b", "environment": "production"}),
    )
    .await
    .expect_status(200);
    (editor_id, editor)
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["resource_key"].as_str().unwrap()
            )
        })
        .collect()
}

async fn filters_narrow_the_log(app: TestApp) {
    let (editor_id, _) = varied_log(&app).await;
    assert_eq!(
        actions(&app.audit("flag_id=audit_filter_a").await),
        [
            "flag.environment.update audit_filter_a",
            "flag.create audit_filter_a"
        ]
    );
    assert_eq!(
        actions(&app.audit("environment=production").await),
        [
            "emergency.disable audit_filter_b",
            "flag.environment.update audit_filter_b",
            // The test harness makes production ordinary.
            "environment.update production",
            "environment.create production"
        ]
    );
    let by_editor = app.audit(&format!("actor={editor_id}")).await;
    assert_eq!(
        actions(&by_editor),
        [
            "flag.environment.update audit_filter_b",
            "flag.create audit_filter_b",
            "flag.create audit_filter_a"
        ]
    );
    assert_eq!(app.audit("action=flag.create").await.len(), 2);
    assert_eq!(
        actions(&app.audit("deployment_id=deploy-1").await),
        ["flag.create audit_filter_b", "flag.create audit_filter_a"]
    );
    assert_eq!(
        actions(&app.audit("deployment_id=deploy-2").await),
        ["flag.environment.update audit_filter_a"]
    );
    assert_eq!(
        actions(
            &app.audit(&format!("actor={editor_id}&environment=production"))
                .await
        ),
        ["flag.environment.update audit_filter_b"]
    );
    assert!(app.audit("flag_id=nothing").await.is_empty());

    // Time range: since is inclusive, until exclusive.
    let everything = app.audit("").await;
    let oldest_flag_entry = app.audit("action=flag.create").await.pop().unwrap();
    let at = oldest_flag_entry["at"].as_str().unwrap();
    let since = app
        .get(
            &format!("/api/v1/audit?since={}", at.replace('+', "%2B")),
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert!(
        since
            .items()
            .iter()
            .any(|e| e["id"] == oldest_flag_entry["id"])
    );
    let until = app
        .get(
            &format!("/api/v1/audit?until={}", at.replace('+', "%2B")),
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    let parse = |text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    assert!(
        until
            .items()
            .iter()
            .all(|e| parse(e["at"].as_str().unwrap()) < parse(at))
    );
    assert!(
        since
            .items()
            .iter()
            .all(|e| parse(e["at"].as_str().unwrap()) >= parse(at))
    );
    assert_eq!(
        since.items().len() + until.items().len(),
        everything.len(),
        "since and until split the log"
    );
    assert!(app.audit("since=2999-01-01T00:00:00Z").await.is_empty());
    assert!(app.audit("until=2000-01-01T00:00:00Z").await.is_empty());
    assert_eq!(
        app.audit("since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z")
            .await
            .len(),
        everything.len()
    );

    // Bad filters are refused, not ignored.
    app.get("/api/v1/audit?since=yesterday", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
    app.get("/api/v1/audit?flag=audit_filter_a", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
    app.get("/api/v1/audit?before_id=x", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
}

/// Pages of the log (filled by `chain_verifies`) add up to the whole.
async fn before_id_pages_through_everything(app: &TestApp) {
    let everything = app.audit("").await;
    // The seed environments, the first key, then the varied log.
    assert!(everything.len() >= 10, "{}", everything.len());
    let ids: Vec<i64> = everything
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let mut paged = Vec::new();
    let mut query = "limit=3".to_owned();
    loop {
        let reply = app
            .get(&format!("/api/v1/audit?{query}"), ADMIN_TOKEN)
            .await
            .expect_status(200);
        assert!(reply.items().len() <= 3);
        paged.extend(reply.items().iter().map(|e| e["id"].as_i64().unwrap()));
        match reply.body.get("next_cursor").and_then(Value::as_str) {
            Some(cursor) => query = format!("limit=3&before_id={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, ids);
    // Paging and a filter together.
    let first = app
        .get("/api/v1/audit?action=flag.create&limit=1", ADMIN_TOKEN)
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(
            &format!("/api/v1/audit?action=flag.create&limit=1&before_id={cursor}"),
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(second.items()[0]["resource_key"], "audit_filter_a");
}

async fn chain_verifies(app: &TestApp) {
    let fresh = app
        .get("/api/v1/audit/verify", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(fresh.body["valid"], true);
    let seeded = fresh.body["entries"].as_u64().unwrap();
    assert!(
        seeded >= 4,
        "the seed environments and the admin key: {fresh}"
    );

    varied_log(app).await;
    let reply = app
        .get("/api/v1/audit/verify", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(reply.body["valid"], true);
    let everything = app.audit("limit=1000").await;
    assert_eq!(
        reply.body["entries"].as_u64().unwrap(),
        everything.len() as u64
    );
    assert_eq!(reply.body["head_hash"], everything[0]["hash"]);
    assert!(reply.body.get("first_broken_id").is_none());
    // Each entry links to the one before it.
    for pair in everything.windows(2) {
        assert_eq!(pair[0]["prev_hash"], pair[1]["hash"]);
    }
}
