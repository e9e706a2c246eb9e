//! `/api/v1/flags`: create, list, get, replace, patch, delete, restore, and
//! per-environment entries.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp, problems, seed_flags, simple_flag, without_meta};

api_tests!(
    create_get_and_duplicate,
    list_filters_and_paginates,
    replace_takes_if_match_or_body_version,
    stale_version_conflicts_and_changes_nothing,
    patch_is_a_json_merge_patch,
    delete_is_soft_and_restorable,
    environment_entries_and_inheritance,
    validation_reports_every_problem_with_paths,
    a_version_written_with_a_zero_fraction_is_that_version,
);

async fn create_get_and_duplicate(app: TestApp) {
    seed_documents_are_accepted_verbatim(&app).await;
    get_answers_the_flag_with_its_version(&app).await;
    duplicate_create_conflicts(&app).await;
}

async fn seed_documents_are_accepted_verbatim(app: &TestApp) {
    for doc in seed_flags() {
        let id = doc["flag_id"].as_str().unwrap().to_owned();
        let reply = app.post("/api/v1/flags", ADMIN_TOKEN, &doc).await;
        let reply = reply.expect_status(201);
        assert_eq!(
            reply.header("location"),
            Some(&*format!("/api/v1/flags/{id}"))
        );
        assert_eq!(reply.header("etag"), Some("\"1\""));
        assert_eq!(reply.body["version"], 1);

        let read = app
            .get(&format!("/api/v1/flags/{id}"), ADMIN_TOKEN)
            .await
            .expect_status(200);
        assert_eq!(read.header("etag"), Some("\"1\""));
        let mut expected = doc.clone();
        if expected.get("type").is_none() {
            // The seed's targeting example has no type: it is inferred.
            expected["type"] = json!("boolean");
        }
        assert_eq!(without_meta(read.body.clone()), expected, "{id}");
        assert!(read.body["created_at"].is_string() && read.body["updated_at"].is_string());
        assert!(read.body.get("deleted").is_none());
    }
    // beta_features breaks the naming convention: advice, not refusal.
    let all = app
        .get("/api/v1/flags", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(all.body["total"], 4);
    let ids: Vec<&str> = all
        .items()
        .iter()
        .map(|f| f["flag_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "api_timeout_seconds",
            "beta_features",
            "new_payment_flow",
            "ui_theme_config"
        ]
    );
}

async fn list_filters_and_paginates(app: TestApp) {
    let docs = [
        json!({"flag_id": "checkout_button_color", "default_value": "blue", "tags": ["ui", "checkout"],
               "owner": "web", "lifecycle": "rollout", "description": "Colour of the checkout button"}),
        json!({"flag_id": "checkout_flow_v2", "default_value": false, "tags": ["checkout"],
               "owner": "payments", "lifecycle": "testing"}),
        json!({"flag_id": "search_results_limit", "default_value": 20, "tags": ["search"],
               "owner": "web", "lifecycle": "rollout"}),
        json!({"flag_id": "search_ranking_ml", "default_value": false, "owner": "search-team",
               "description": "Ranking by the new model"}),
        json!({"flag_id": "dashboard_redesign_enabled", "default_value": false, "tags": ["ui"]}),
    ];
    for doc in &docs {
        app.create_flag(doc).await;
    }
    let ids = |path: &str| {
        let app = &app;
        let path = path.to_owned();
        async move {
            let reply = app.get(&path, ADMIN_TOKEN).await.expect_status(200);
            let ids: Vec<String> = reply
                .items()
                .iter()
                .map(|f| f["flag_id"].as_str().unwrap().to_owned())
                .collect();
            (ids, reply.body["total"].as_u64().unwrap())
        }
    };
    assert_eq!(
        ids("/api/v1/flags?tag=checkout").await,
        (
            vec!["checkout_button_color".into(), "checkout_flow_v2".into()],
            2
        )
    );
    assert_eq!(
        ids("/api/v1/flags?owner=web").await,
        (
            vec![
                "checkout_button_color".into(),
                "search_results_limit".into()
            ],
            2
        )
    );
    assert_eq!(
        ids("/api/v1/flags?lifecycle=testing").await,
        (vec!["checkout_flow_v2".into()], 1)
    );
    // Text search: id, description, owner and tags, case-insensitive.
    assert_eq!(
        ids("/api/v1/flags?q=RANKING").await,
        (vec!["search_ranking_ml".into()], 1)
    );
    assert_eq!(
        ids("/api/v1/flags?q=colour").await,
        (vec!["checkout_button_color".into()], 1)
    );
    assert_eq!(
        ids("/api/v1/flags?q=search").await.1,
        2,
        "search_results_limit by id, search_ranking_ml by id and owner"
    );
    assert_eq!(
        ids("/api/v1/flags?tag=ui&owner=web&lifecycle=rollout").await,
        (vec!["checkout_button_color".into()], 1)
    );
    assert_eq!(ids("/api/v1/flags?tag=nothing").await, (vec![], 0));

    // Pages of two, following next_cursor, in flag id order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/flags?limit=2&cursor={c}"),
            None => "/api/v1/flags?limit=2".to_owned(),
        };
        let reply = app.get(&path, ADMIN_TOKEN).await.expect_status(200);
        assert_eq!(reply.body["total"], 5, "total counts every match: {reply}");
        assert!(reply.items().len() <= 2);
        seen.extend(
            reply
                .items()
                .iter()
                .map(|f| f["flag_id"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match reply.body.get("next_cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut sorted: Vec<String> = docs
        .iter()
        .map(|d| d["flag_id"].as_str().unwrap().to_owned())
        .collect();
    sorted.sort();
    assert_eq!(seen, sorted);
    // Filters and pages combine.
    let reply = app
        .get("/api/v1/flags?tag=checkout&limit=1", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(reply.items().len(), 1);
    assert_eq!(reply.body["next_cursor"], "checkout_button_color");
    assert_eq!(reply.body["total"], 2);

    // Bad parameters say what to fix.
    let reply = app.get("/api/v1/flags?lifecycle=done", ADMIN_TOKEN).await;
    let error = reply.expect_error(400, "invalid_query");
    assert!(
        error["message"].as_str().unwrap().contains("rollout"),
        "{reply}"
    );
    app.get("/api/v1/flags?tags=ui", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
    app.get("/api/v1/flags?limit=many", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
}

async fn get_answers_the_flag_with_its_version(app: &TestApp) {
    app.create_flag(&simple_flag("profile_page_v2")).await;
    let reply = app
        .get("/api/v1/flags/profile_page_v2", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    insta::assert_json_snapshot!("flag_document", reply.body, {
        ".created_at" => "[datetime]",
        ".updated_at" => "[datetime]",
    });

    let reply = app.get("/api/v1/flags/no_such_flag", ADMIN_TOKEN).await;
    reply.expect_error(404, "not_found");
    insta::assert_json_snapshot!("flag_not_found", reply.body);
}

async fn replace_takes_if_match_or_body_version(app: TestApp) {
    app.create_flag(&simple_flag("search_box_enabled")).await;
    let mut doc = simple_flag("search_box_enabled");

    doc["description"] = json!("second");
    let reply = app
        .send(
            app.request(
                Method::PUT,
                "/api/v1/flags/search_box_enabled",
                Some(ADMIN_TOKEN),
            )
            .header("if-match", "\"1\"")
            .json(&doc),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.body["description"], "second");

    // The document as read back, with its version, is a valid replacement.
    let mut read = app
        .get("/api/v1/flags/search_box_enabled", ADMIN_TOKEN)
        .await
        .body;
    read["description"] = json!("third");
    let reply = app
        .put("/api/v1/flags/search_box_enabled", ADMIN_TOKEN, &read)
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 3);

    // A weak ETag and an unquoted number are accepted too.
    for (if_match, version) in [("W/\"3\"", 4), ("4", 5)] {
        doc["description"] = json!(format!("version {version}"));
        app.send(
            app.request(
                Method::PUT,
                "/api/v1/flags/search_box_enabled",
                Some(ADMIN_TOKEN),
            )
            .header("if-match", if_match)
            .json(&doc),
        )
        .await
        .expect_status(200);
    }
    // Without a version the write applies to the current one.
    let mut bare = doc.clone();
    bare.as_object_mut().unwrap().remove("flag_id");
    bare["description"] = json!("no flag_id: the URL's");
    let reply = app
        .put("/api/v1/flags/search_box_enabled", ADMIN_TOKEN, &bare)
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 6);
    assert_eq!(reply.body["flag_id"], "search_box_enabled");

    // Renaming, unknown flags and unreadable If-Match are refused.
    let mut renamed = doc.clone();
    renamed["flag_id"] = json!("other_name");
    app.put("/api/v1/flags/search_box_enabled", ADMIN_TOKEN, &renamed)
        .await
        .expect_error(400, "flag_id_mismatch");
    let mut unknown = doc.clone();
    unknown["flag_id"] = json!("never_created");
    app.put("/api/v1/flags/never_created", ADMIN_TOKEN, &unknown)
        .await
        .expect_error(404, "not_found");
    app.send(
        app.request(
            Method::PUT,
            "/api/v1/flags/search_box_enabled",
            Some(ADMIN_TOKEN),
        )
        .header("if-match", "*")
        .json(&doc),
    )
    .await
    .expect_error(400, "invalid_if_match");
    let mut bad_version = doc.clone();
    bad_version["version"] = json!("six");
    app.put(
        "/api/v1/flags/search_box_enabled",
        ADMIN_TOKEN,
        &bad_version,
    )
    .await
    .expect_error(400, "invalid_version");
    let reply = app
        .get("/api/v1/flags/search_box_enabled", ADMIN_TOKEN)
        .await;
    assert_eq!(reply.body["version"], 6);
}

async fn stale_version_conflicts_and_changes_nothing(app: TestApp) {
    app.create_flag(&simple_flag("cart_badge_enabled")).await;
    let mut doc = simple_flag("cart_badge_enabled");
    doc["description"] = json!("v2");
    app.put("/api/v1/flags/cart_badge_enabled", ADMIN_TOKEN, &doc)
        .await
        .expect_status(200);
    let before = app
        .get("/api/v1/flags/cart_badge_enabled", ADMIN_TOKEN)
        .await
        .body;
    let audit_before = app.audit("flag_id=cart_badge_enabled").await.len();

    doc["description"] = json!("stale write");
    let stale = app
        .send(
            app.request(
                Method::PUT,
                "/api/v1/flags/cart_badge_enabled",
                Some(ADMIN_TOKEN),
            )
            .header("if-match", "\"1\"")
            .json(&doc),
        )
        .await;
    let error = stale.expect_error(409, "version_conflict");
    assert_eq!(error["details"]["current_version"], 2, "{stale}");
    assert!(
        error["message"].as_str().unwrap().contains("version 2"),
        "{stale}"
    );

    doc["version"] = json!(1);
    app.put("/api/v1/flags/cart_badge_enabled", ADMIN_TOKEN, &doc)
        .await
        .expect_error(409, "version_conflict");
    app.send(
        app.request(
            Method::PATCH,
            "/api/v1/flags/cart_badge_enabled",
            Some(ADMIN_TOKEN),
        )
        .header("if-match", "1")
        .json(&json!({"description": "stale patch"})),
    )
    .await
    .expect_error(409, "version_conflict");
    app.send(
        app.request(
            Method::DELETE,
            "/api/v1/flags/cart_badge_enabled",
            Some(ADMIN_TOKEN),
        )
        .header("if-match", "1"),
    )
    .await
    .expect_error(409, "version_conflict");
    app.send(
        app.request(
            Method::PUT,
            "/api/v1/flags/cart_badge_enabled/environments/production",
            Some(ADMIN_TOKEN),
        )
        .header("if-match", "1")
        .json(&json!(true)),
    )
    .await
    .expect_error(409, "version_conflict");

    let after = app
        .get("/api/v1/flags/cart_badge_enabled", ADMIN_TOKEN)
        .await
        .body;
    assert_eq!(after, before, "nothing changed");
    let versions = app
        .get("/api/v1/flags/cart_badge_enabled/versions", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(versions.items().len(), 2);
    assert_eq!(
        app.audit("flag_id=cart_badge_enabled").await.len(),
        audit_before
    );
}

async fn patch_is_a_json_merge_patch(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "onboarding_tour_enabled",
        "description": "first",
        "tags": ["a", "b"],
        "default_value": false,
        "environments": {"development": true, "staging": true, "production": false}
    }))
    .await;
    let reply = app
        .patch(
            "/api/v1/flags/onboarding_tour_enabled",
            ADMIN_TOKEN,
            &json!({
                "description": "patched",
                "tags": ["c"],
                "owner": "growth",
                "environments": {"staging": null, "production": {"enabled": false}}
            }),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(
        without_meta(reply.body),
        json!({
            "flag_id": "onboarding_tour_enabled",
            "type": "boolean",
            "description": "patched",
            "tags": ["c"],
            "owner": "growth",
            "default_value": false,
            "environments": {"development": true, "production": {"enabled": false}}
        })
    );
    // With If-Match naming the current version.
    app.send(
        app.request(
            Method::PATCH,
            "/api/v1/flags/onboarding_tour_enabled",
            Some(ADMIN_TOKEN),
        )
        .header("if-match", "\"2\"")
        .json(&json!({"description": null})),
    )
    .await
    .expect_status(200);
    let read = app
        .get("/api/v1/flags/onboarding_tour_enabled", ADMIN_TOKEN)
        .await;
    assert!(read.body.get("description").is_none());
    assert_eq!(read.body["version"], 3);

    // A patch that breaks the document is refused with the problem's path.
    let reply = app
        .patch(
            "/api/v1/flags/onboarding_tour_enabled",
            ADMIN_TOKEN,
            &json!({"environments": {"production": "yes"}}),
        )
        .await;
    let found = problems(&reply);
    assert!(
        found
            .iter()
            .any(|(path, _)| path == "environments.production"),
        "{reply}"
    );
    app.patch(
        "/api/v1/flags/onboarding_tour_enabled",
        ADMIN_TOKEN,
        &json!(["not", "an", "object"]),
    )
    .await
    .expect_error(400, "invalid_body");
    app.patch(
        "/api/v1/flags/onboarding_tour_enabled",
        ADMIN_TOKEN,
        &json!({"flag_id": "renamed"}),
    )
    .await
    .expect_error(400, "flag_id_mismatch");
    app.patch(
        "/api/v1/flags/nothing_here",
        ADMIN_TOKEN,
        &json!({"description": "x"}),
    )
    .await
    .expect_error(404, "not_found");
    assert_eq!(
        app.get("/api/v1/flags/onboarding_tour_enabled", ADMIN_TOKEN)
            .await
            .body["version"],
        3
    );
}

async fn delete_is_soft_and_restorable(app: TestApp) {
    app.create_flag(&simple_flag("legacy_export_enabled")).await;
    app.create_flag(&simple_flag("other_flag_kept")).await;
    let reply = app
        .delete("/api/v1/flags/legacy_export_enabled", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(reply.body["deleted"], true);
    assert_eq!(reply.body["version"], 2);

    // Still readable, marked deleted; listed only with ?deleted=true.
    let read = app
        .get("/api/v1/flags/legacy_export_enabled", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(read.body["deleted"], true);
    assert_eq!(read.body["version"], 2);
    assert_eq!(
        without_meta(read.body),
        simple_flag("legacy_export_enabled")
    );
    let live = app.get("/api/v1/flags", ADMIN_TOKEN).await;
    assert_eq!(live.body["total"], 1);
    assert_eq!(live.items()[0]["flag_id"], "other_flag_kept");
    let deleted = app
        .get("/api/v1/flags?deleted=true", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(deleted.body["total"], 1);
    assert_eq!(deleted.items()[0]["flag_id"], "legacy_export_enabled");
    assert_eq!(deleted.items()[0]["deleted"], true);
    // Not evaluated any more.
    let evaluation = app
        .post(
            "/api/v1/evaluate",
            ADMIN_TOKEN,
            &json!({"flag_id": "legacy_export_enabled", "environment": "development"}),
        )
        .await
        .expect_status(200);
    assert_eq!(evaluation.body["error_code"], "FLAG_NOT_FOUND");

    // A deleted flag is not live: no second delete, no edits, no re-create.
    app.delete("/api/v1/flags/legacy_export_enabled", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    app.put(
        "/api/v1/flags/legacy_export_enabled",
        ADMIN_TOKEN,
        &simple_flag("legacy_export_enabled"),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/api/v1/flags",
        ADMIN_TOKEN,
        &simple_flag("legacy_export_enabled"),
    )
    .await
    .expect_error(409, "already_exists");

    let restored = app
        .post(
            "/api/v1/flags/legacy_export_enabled/restore",
            ADMIN_TOKEN,
            &json!({}),
        )
        .await
        .expect_status(200);
    assert_eq!(restored.body["version"], 3);
    assert!(restored.body.get("deleted").is_none());
    assert_eq!(
        without_meta(restored.body),
        simple_flag("legacy_export_enabled")
    );
    assert_eq!(app.get("/api/v1/flags", ADMIN_TOKEN).await.body["total"], 2);
    app.send(app.request(
        Method::POST,
        "/api/v1/flags/legacy_export_enabled/restore",
        Some(ADMIN_TOKEN),
    ))
    .await
    .expect_error(409, "not_deleted");
    app.post("/api/v1/flags/never_was/restore", ADMIN_TOKEN, &json!({}))
        .await
        .expect_error(404, "not_found");
    app.delete("/api/v1/flags/never_was", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");

    // A prerequisite of another flag cannot be deleted.
    app.create_flag(&json!({
        "flag_id": "needs_legacy_export",
        "default_value": false,
        "depends_on": [{"flag": "legacy_export_enabled", "required_value": true}]
    }))
    .await;
    let reply = app
        .delete("/api/v1/flags/legacy_export_enabled", ADMIN_TOKEN)
        .await;
    let error = reply.expect_error(409, "has_dependents");
    assert_eq!(
        error["details"]["dependents"],
        json!(["needs_legacy_export"])
    );

    let actions: Vec<String> = app
        .audit("flag_id=legacy_export_enabled")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["flag.restore", "flag.delete", "flag.create"]);
}

async fn environment_entries_and_inheritance(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "reviews_widget_enabled",
        "default_value": false,
        "environments": {"development": true}
    }))
    .await;
    let entry = |env: &'static str| {
        let app = &app;
        async move {
            app.get(
                &format!("/api/v1/flags/reviews_widget_enabled/environments/{env}"),
                ADMIN_TOKEN,
            )
            .await
            .expect_status(200)
            .body
        }
    };
    let development = entry("development").await;
    assert_eq!(development["entry"], true);
    assert_eq!(development["inherited_from"], Value::Null);
    assert_eq!(development["effective"]["value"], true);
    assert_eq!(development["effective"]["enabled"], true);
    assert_eq!(development["version"], 1);
    // Staging follows development (auto_sync); production does not.
    let staging = entry("staging").await;
    assert_eq!(staging["entry"], Value::Null);
    assert_eq!(staging["inherited_from"], "development");
    assert_eq!(staging["effective"]["value"], true);
    let production = entry("production").await;
    assert_eq!(production["entry"], Value::Null);
    assert_eq!(production["inherited_from"], Value::Null);
    assert_eq!(production["effective"]["value"], false);

    // Staging gets its own entry, then loses it again.
    let reply = app
        .put(
            "/api/v1/flags/reviews_widget_enabled/environments/staging",
            ADMIN_TOKEN,
            &json!({"enabled": false, "value": true}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(
        reply.body["environments"]["staging"],
        json!({"enabled": false, "value": true})
    );
    let staging = entry("staging").await;
    assert_eq!(staging["inherited_from"], Value::Null);
    assert_eq!(staging["effective"]["enabled"], false);
    let evaluation = app
        .post(
            "/api/v1/evaluate",
            ADMIN_TOKEN,
            &json!({"flag_id": "reviews_widget_enabled", "environment": "staging"}),
        )
        .await;
    assert_eq!(evaluation.body["reason"], "DISABLED");

    app.put(
        "/api/v1/flags/reviews_widget_enabled/environments/production",
        ADMIN_TOKEN,
        &json!(true),
    )
    .await
    .expect_status(200);
    assert_eq!(entry("production").await["entry"], true);

    let reply = app
        .delete(
            "/api/v1/flags/reviews_widget_enabled/environments/staging",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 4);
    assert!(reply.body["environments"].get("staging").is_none());
    assert_eq!(entry("staging").await["inherited_from"], "development");
    let audit = app
        .audit("flag_id=reviews_widget_enabled&environment=staging")
        .await;
    assert_eq!(audit.len(), 2);
    assert!(
        audit
            .iter()
            .all(|e| e["action"] == "flag.environment.update")
    );

    // Unknown flags and environments, and entries of the wrong type.
    app.get(
        "/api/v1/flags/reviews_widget_enabled/environments/qa",
        ADMIN_TOKEN,
    )
    .await
    .expect_error(404, "not_found");
    app.put(
        "/api/v1/flags/reviews_widget_enabled/environments/qa",
        ADMIN_TOKEN,
        &json!(true),
    )
    .await
    .expect_error(404, "not_found");
    app.get("/api/v1/flags/nope/environments/staging", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
    let reply = app
        .put(
            "/api/v1/flags/reviews_widget_enabled/environments/staging",
            ADMIN_TOKEN,
            &json!({"enabled": "no", "value": 3}),
        )
        .await;
    let found = problems(&reply);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"environments.staging.enabled"), "{reply}");
    assert!(paths.contains(&"environments.staging.value"), "{reply}");
    assert_eq!(
        app.get("/api/v1/flags/reviews_widget_enabled", ADMIN_TOKEN)
            .await
            .body["version"],
        4
    );
}

async fn validation_reports_every_problem_with_paths(app: TestApp) {
    let reply = app
        .post(
            "/api/v1/flags",
            ADMIN_TOKEN,
            &json!({
                "flag_id": "Bad Flag!",
                "type": "boolean",
                "defualt": true,
                "default_value": "no",
                "environments": {
                    "production": {
                        "targeting_rules": [
                            {"name": "a", "conditions": [{"attribute": "plan", "operator": "equals", "value": "pro"}], "value": true},
                            {"name": "b", "conditions": [{"attribute": "country", "operator": "equal", "value": "US"}], "value": true, "percentage": 150}
                        ]
                    }
                }
            }),
        )
        .await;
    // Every problem, located, with what to do about it.
    problems(&reply);
    insta::assert_json_snapshot!("invalid_flag_document", reply.body);

    // References are checked against the configuration too.
    let reply = app
        .post(
            "/api/v1/flags",
            ADMIN_TOKEN,
            &json!({
                "flag_id": "depends_on_missing",
                "default_value": false,
                "environments": {"prodution": true},
                "depends_on": [{"flag": "no_such_prerequisite", "required_value": true}]
            }),
        )
        .await;
    problems(&reply);
    insta::assert_json_snapshot!("unknown_references", reply.body);
    assert_eq!(app.get("/api/v1/flags", ADMIN_TOKEN).await.body["total"], 0);
    assert!(app.audit("action=flag.create").await.is_empty());
}

async fn duplicate_create_conflicts(app: &TestApp) {
    app.create_flag(&simple_flag("dark_mode_toggle")).await;
    let mut again = simple_flag("dark_mode_toggle");
    again["description"] = json!("a second one");
    let reply = app.post("/api/v1/flags", ADMIN_TOKEN, &again).await;
    let error = reply.expect_error(409, "already_exists");
    assert!(
        error["message"].as_str().unwrap().contains("PUT"),
        "{reply}"
    );
    let read = app.get("/api/v1/flags/dark_mode_toggle", ADMIN_TOKEN).await;
    assert_eq!(read.body["version"], 1);
    assert_eq!(read.body["description"], "the dark_mode_toggle flag");
}

/// JSON (and JSON Schema's `integer`) does not tell `2.0` from `2`: a body
/// version written either way is the same version (found by schemathesis:
/// the document allowed `2.0` and the service answered 400).
async fn a_version_written_with_a_zero_fraction_is_that_version(app: TestApp) {
    app.create_flag(&simple_flag("search_box_enabled")).await;
    let mut doc = simple_flag("search_box_enabled");
    doc["description"] = json!("second");
    doc["version"] = json!(1.0);
    let reply = app
        .put("/api/v1/flags/search_box_enabled", ADMIN_TOKEN, &doc)
        .await
        .expect_status(200);
    assert_eq!(reply.body["version"], 2);

    // A stale one is still a conflict, and a fraction still refused.
    doc["version"] = json!(1.0);
    app.put("/api/v1/flags/search_box_enabled", ADMIN_TOKEN, &doc)
        .await
        .expect_error(409, "version_conflict");
    doc["version"] = json!(2.5);
    app.put("/api/v1/flags/search_box_enabled", ADMIN_TOKEN, &doc)
        .await
        .expect_error(400, "invalid_version");
}
