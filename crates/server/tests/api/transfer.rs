//! `/api/v1/export` and `/api/v1/import`: the whole configuration as JSON or
//! YAML, reproduced elsewhere; dry runs and pruning.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, problems, seed_flags, simple_flag};

api_tests!(
    export_then_import_reproduces_the_configuration,
    dry_run_reports_and_writes_nothing,
    prune_deletes_what_the_document_lacks,
    invalid_imports_are_refused,
    the_seeds_environment_map_is_imported,
    a_dry_run_refuses_what_the_import_would,
);

/// The seed flags, a segment, a flag that uses it, and an extra environment.
async fn configured(app: &TestApp) {
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "qa", "parent": "staging", "auto_sync": true, "description": "QA"}),
    )
    .await
    .expect_status(201);
    app.post(
        "/api/v1/segments",
        ADMIN_TOKEN,
        &json!({"segment_id": "internal_users", "conditions": [
            {"attribute": "email", "operator": "ends_with", "value": "@pratiko.ai"}
        ]}),
    )
    .await
    .expect_status(201);
    for doc in seed_flags() {
        app.create_flag(&doc).await;
    }
    app.create_flag(&json!({
        "flag_id": "internal_preview_enabled",
        "default_value": false,
        "variants": {"on": true, "off": false},
        "environments": {"qa": {"targeting_rules": [
            {"name": "staff", "conditions": [{"operator": "in_segment", "value": "internal_users"}], "variant": "on"}
        ]}}
    }))
    .await;
}

/// An export without its revision (which differs between services).
async fn export(app: &TestApp) -> Value {
    let mut document = app
        .get("/api/v1/export", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body;
    document.as_object_mut().unwrap().remove("revision");
    document
}

async fn export_then_import_reproduces_the_configuration(app: TestApp) {
    configured(&app).await;
    let document = app
        .get("/api/v1/export", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert!(
        document
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let document = document.body;
    assert_eq!(document["format_version"], 1);
    assert_eq!(document["environments"].as_array().unwrap().len(), 4);
    assert_eq!(document["segments"].as_array().unwrap().len(), 1);
    assert_eq!(document["flags"].as_array().unwrap().len(), 5);
    // Flags are exported in the explicit form.
    let payment = document["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flag_id"] == "new_payment_flow")
        .unwrap();
    assert_eq!(
        payment["environments"]["production"],
        json!({"value": false})
    );

    // JSON into a fresh service.
    let from_json = app.fresh(|_| {}).await;
    let report = from_json
        .post("/api/v1/import", ADMIN_TOKEN, &document)
        .await
        .expect_status(200);
    assert_eq!(report.body["dry_run"], false);
    assert_eq!(
        report.body["created"].as_array().unwrap().len(),
        7,
        "{report}"
    );
    assert_eq!(report.body["updated"], json!([]), "{report}");
    assert_eq!(
        report.body["unchanged"], 3,
        "the seed environments: {report}"
    );
    assert_eq!(export(&from_json).await, export(&app).await);
    let evaluation = from_json
        .post(
            "/api/v1/evaluate",
            ADMIN_TOKEN,
            &json!({"flag_id": "internal_preview_enabled", "environment": "qa",
                    "context": {"user_id": "u", "email": "me@pratiko.ai"}}),
        )
        .await
        .expect_status(200);
    assert_eq!(evaluation.body["variant"], "on");
    let entries = from_json.audit("action=flag.import").await;
    assert_eq!(entries.len(), 5);
    // Importing the same document again changes nothing.
    let again = from_json
        .post("/api/v1/import", ADMIN_TOKEN, &document)
        .await
        .expect_status(200);
    assert_eq!(again.body["created"], json!([]));
    assert_eq!(again.body["updated"], json!([]));
    assert_eq!(again.body["unchanged"], 10);
    assert_eq!(from_json.audit("action=flag.import").await.len(), 5);
    from_json.shutdown().await;

    // YAML into another fresh service.
    let yaml = app
        .get("/api/v1/export?format=yaml", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert!(
        yaml.header("content-type")
            .unwrap()
            .starts_with("application/yaml")
    );
    let text = yaml.body.as_str().unwrap().to_owned();
    let parsed: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(parsed, document);
    let from_yaml = app.fresh(|_| {}).await;
    from_yaml
        .send(
            from_yaml
                .request(Method::POST, "/api/v1/import", Some(ADMIN_TOKEN))
                .header("content-type", "application/yaml")
                .body(text.clone()),
        )
        .await
        .expect_status(200);
    assert_eq!(export(&from_yaml).await, export(&app).await);
    // The same YAML, named by the query or found without any hint, is the
    // same configuration: nothing would change.
    for (path, content_type) in [
        ("/api/v1/import?dry_run=true&format=yaml", None),
        ("/api/v1/import?dry_run=true", None),
        ("/api/v1/import?dry_run=true", Some("text/plain")),
    ] {
        let mut request = from_yaml.request(Method::POST, path, Some(ADMIN_TOKEN));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let report = from_yaml
            .send(request.body(text.clone()))
            .await
            .expect_status(200);
        assert_eq!(report.body["created"], json!([]), "{path}: {report}");
        assert_eq!(report.body["updated"], json!([]), "{path}: {report}");
        assert_eq!(report.body["unchanged"], 10, "{path}: {report}");
    }
}

async fn dry_run_reports_and_writes_nothing(app: TestApp) {
    configured(&app).await;
    let before = export(&app).await;
    let audit_before = app.audit("").await.len();
    let mut document = before.clone();
    let flags = document["flags"].as_array_mut().unwrap();
    let timeout = flags
        .iter_mut()
        .find(|f| f["flag_id"] == "api_timeout_seconds")
        .unwrap();
    timeout["environments"]["production"] = json!({"value": 10});
    flags.retain(|f| f["flag_id"] != "ui_theme_config");
    flags.push(simple_flag("imported_new_flag"));

    let report = app
        .post(
            "/api/v1/import?dry_run=true&prune=true",
            ADMIN_TOKEN,
            &document,
        )
        .await
        .expect_status(200);
    assert_eq!(report.body["dry_run"], true);
    assert_eq!(report.body["revision"], Value::Null);
    assert_eq!(
        report.body["created"],
        json!([{"kind": "flag", "key": "imported_new_flag"}])
    );
    assert_eq!(
        report.body["updated"],
        json!([{"kind": "flag", "key": "api_timeout_seconds", "differences": [
            {"path": "environments.production.value", "before": 30, "after": 10}
        ]}])
    );
    assert_eq!(
        report.body["deleted"],
        json!([{"kind": "flag", "key": "ui_theme_config"}])
    );
    assert_eq!(export(&app).await, before, "a dry run writes nothing");
    assert_eq!(app.audit("").await.len(), audit_before);

    // Without prune nothing is deleted; applying it does what it said.
    let dry = app
        .post("/api/v1/import?dry_run=true", ADMIN_TOKEN, &document)
        .await
        .expect_status(200);
    assert_eq!(dry.body["deleted"], json!([]));
    let applied = app
        .post("/api/v1/import", ADMIN_TOKEN, &document)
        .await
        .expect_status(200);
    assert_eq!(applied.body["created"], dry.body["created"]);
    assert_eq!(applied.body["updated"], dry.body["updated"]);
    assert!(applied.body["revision"].as_i64().unwrap() > 0);
    let timeout = app
        .get("/api/v1/flags/api_timeout_seconds", ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(timeout["environments"]["production"], json!({"value": 10}));
    assert_eq!(timeout["version"], 2);
    app.get("/api/v1/flags/ui_theme_config", ADMIN_TOKEN)
        .await
        .expect_status(200);
}

async fn prune_deletes_what_the_document_lacks(app: TestApp) {
    configured(&app).await;
    let mut document = export(&app).await;
    document["flags"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["flag_id"] != "beta_features" && f["flag_id"] != "internal_preview_enabled");
    document["segments"] = json!([]);
    let report = app
        .post("/api/v1/import?prune=true", ADMIN_TOKEN, &document)
        .await
        .expect_status(200);
    let mut deleted: Vec<String> = report.body["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["kind"].as_str().unwrap(),
                d["key"].as_str().unwrap()
            )
        })
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        [
            "flag beta_features",
            "flag internal_preview_enabled",
            "segment internal_users"
        ]
    );
    let read = app.get("/api/v1/flags/beta_features", ADMIN_TOKEN).await;
    assert_eq!(read.body["deleted"], true, "pruned flags are soft-deleted");
    app.get("/api/v1/segments/internal_users", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    assert_eq!(app.get("/api/v1/flags", ADMIN_TOKEN).await.body["total"], 3);
    assert_eq!(app.audit("action=flag.import.delete").await.len(), 2);
}

async fn invalid_imports_are_refused(app: TestApp) {
    configured(&app).await;
    let before = export(&app).await;
    let reply = app
        .post(
            "/api/v1/import",
            ADMIN_TOKEN,
            &json!({
                "flags": [
                    simple_flag("fine_flag_import"),
                    {"flag_id": "bad_import_flag", "default_value": false, "environments": {"production": "on"}}
                ],
                "segments": [{"segment_id": "s", "conditions": [{"attribute": "a", "operator": "nope", "value": 1}]}],
                "environments": [{"key": "qa", "parent": "staging", "colour": "blue"}],
                "extra": true
            }),
        )
        .await;
    let found = problems(&reply);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    for path in [
        "flags[1].environments.production",
        "segments[0].conditions[0].operator",
        "environments[0].colour",
        "extra",
    ] {
        assert!(paths.contains(&path), "{path} in {reply}");
    }
    // References across the document are checked too.
    let reply = app
        .post(
            "/api/v1/import",
            ADMIN_TOKEN,
            &json!({"flags": [{"flag_id": "import_uses_nothing", "default_value": false,
                "targeting_rules": [{"conditions": [{"operator": "in_segment", "value": "ghosts"}], "value": true}]}]}),
        )
        .await;
    assert_eq!(reply.status, 422, "{reply}");
    app.post("/api/v1/import", ADMIN_TOKEN, &json!(["a list"]))
        .await
        .expect_error(400, "invalid_body");
    app.post("/api/v1/import?format=toml", ADMIN_TOKEN, &json!({}))
        .await
        .expect_error(400, "invalid_query");
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/import", Some(ADMIN_TOKEN))
                .header("content-type", "application/yaml")
                .body("flags: [unclosed"),
        )
        .await;
    reply.expect_error(400, "malformed_yaml");
    // Editors may import flags and segments, not environments.
    let editor = app.key_with_role("editor").await;
    app.post(
        "/api/v1/import",
        &editor,
        &json!({"environments": before["environments"].clone()}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        "/api/v1/import",
        &editor,
        &json!({"flags": [simple_flag("editor_imported")]}),
    )
    .await
    .expect_status(200);
    let viewer = app.key_with_role("viewer").await;
    app.post("/api/v1/import", &viewer, &json!({"flags": []}))
        .await
        .expect_error(403, "forbidden");
    let mut after = export(&app).await;
    after["flags"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["flag_id"] != "editor_imported");
    assert_eq!(after, before);
}

/// The product description's `environments:` YAML, as written there.
const SEED_ENVIRONMENTS: &str = r#"environments:
  development:
    parent: null
    description: "Local development environment"
    auto_sync: false

  staging:
    parent: development
    description: "Staging environment for testing"
    auto_sync: true

  production:
    parent: staging
    description: "Production environment"
    auto_sync: false
    approval_required: true

  qa:
    parent: staging
    description: "QA"
    auto_sync: true
"#;

async fn the_seeds_environment_map_is_imported(app: TestApp) {
    let import = |body: &'static str| {
        app.send(
            app.request(Method::POST, "/api/v1/import", Some(ADMIN_TOKEN))
                .header("content-type", "application/yaml")
                .body(body),
        )
    };
    let reply = import(SEED_ENVIRONMENTS).await.expect_status(200);
    let created: Vec<&str> = reply.body["created"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["key"].as_str())
        .collect();
    assert!(created.contains(&"qa"), "{reply}");
    let qa = app
        .get("/api/v1/environments/qa", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(qa.body["parent"], "staging", "{qa}");
    assert_eq!(qa.body["auto_sync"], true, "{qa}");
    let production = app
        .get("/api/v1/environments/production", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(production.body["approval_required"], true, "{production}");
    // Unrecognised shapes are errors, never silently nothing.
    let reply = import("environments: just a string\n").await;
    let problems = problems(&reply);
    assert_eq!(reply.status, 422, "{reply}");
    assert!(
        problems.iter().any(|(path, _)| path == "environments"),
        "{reply}"
    );
    let reply = import("environments:\n  qa:\n    key: staging\n").await;
    assert_eq!(reply.status, 422, "{reply}");
    assert!(reply.to_string().contains("environments.qa.key"), "{reply}");
}

async fn a_dry_run_refuses_what_the_import_would(app: TestApp) {
    let document = json!({"flags": [
        {"flag_id": "cycle_a", "default_value": false,
         "depends_on": [{"flag": "cycle_b", "required_value": true}]},
        {"flag_id": "cycle_b", "default_value": false,
         "depends_on": [{"flag": "cycle_a", "required_value": true}]},
    ]});
    let real = app.post("/api/v1/import", ADMIN_TOKEN, &document).await;
    assert_eq!(real.status, 422, "{real}");
    let dry = app
        .post("/api/v1/import?dry_run=true", ADMIN_TOKEN, &document)
        .await;
    assert_eq!(dry.status, 422, "the dry run must refuse it too: {dry}");
    assert_eq!(dry.body, real.body);
}
