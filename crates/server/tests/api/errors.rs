//! Bad input of every kind answers 4xx in the error envelope, never 500:
//! malformed JSON, wrong types, unknown fields, empty and oversize bodies,
//! unknown routes and methods, unreadable paths.

use reqwest::Method;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, Reply, TestApp, problems, simple_flag};

api_tests!(
    bad_bodies_are_4xx_with_what_to_fix,
    oversize_bodies_are_a_413,
    unknown_routes_methods_and_paths,
);

async fn bad_bodies_are_4xx_with_what_to_fix(app: TestApp) {
    malformed_json_is_a_400(&app).await;
    wrong_types_and_unknown_fields_say_where(&app).await;
    empty_bodies_are_refused(&app).await;
}

async fn unknown_routes_methods_and_paths(app: TestApp) {
    unknown_routes_and_methods(&app).await;
    unreadable_path_parameters(&app).await;
}

async fn malformed_json_is_a_400(app: &TestApp) {
    for body in [
        "{\"flag_id\": ",
        "{flag_id: 'x'}",
        "not json",
        "{\"a\": 1} trailing",
    ] {
        let reply = app
            .send(
                app.request(Method::POST, "/api/v1/flags", Some(ADMIN_TOKEN))
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        let error = reply.expect_error(400, "malformed_json");
        assert!(
            error["message"].as_str().unwrap().contains("line 1"),
            "says where: {reply}"
        );
    }
    // Not UTF-8.
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/evaluate", Some(ADMIN_TOKEN))
                .body(vec![b'{', 0xff, 0xfe, b'}']),
        )
        .await;
    reply.expect_error(400, "malformed_json");
    // Nested deeper than any document needs (64 levels).
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let reply = app
        .send(
            app.request(Method::PATCH, "/api/v1/flags/x", Some(ADMIN_TOKEN))
                .body(deep),
        )
        .await;
    reply.expect_error(400, "document_too_deep");
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/import", Some(ADMIN_TOKEN))
                .header("content-type", "application/json")
                .body("{\"flags\": ["),
        )
        .await;
    reply.expect_error(400, "malformed_json");
}

async fn wrong_types_and_unknown_fields_say_where(app: &TestApp) {
    app.create_flag(&simple_flag("typed_flag_one")).await;
    // Typed request bodies: serde's message with the field's path.
    let cases = [
        (
            "/api/v1/flags/typed_flag_one/rollback",
            json!({"to_version": true}),
            "to_version",
        ),
        (
            "/api/v1/flags/typed_flag_one/rollback",
            json!({"to_version": 1, "enviroment": "production"}),
            "enviroment",
        ),
        (
            "/api/v1/evaluate",
            json!({"flag_id": "typed_flag_one", "environment": "production", "contxt": {}}),
            "contxt",
        ),
        (
            "/api/v1/evaluate",
            json!({"flag_ids": "typed_flag_one", "environment": "production"}),
            "flag_ids",
        ),
        (
            "/api/v1/emergency/disable",
            json!({"flag": "typed_flag_one"}),
            "flag",
        ),
        ("/api/v1/api-keys", json!({"name": "k", "kind": 3}), "kind"),
        (
            "/api/v1/flags/bulk",
            json!({"operations": [{"op": "explode", "flag_id": "typed_flag_one"}]}),
            "operations[0]",
        ),
        ("/api/v1/flags/bulk", json!([]), "BulkRequest"),
    ];
    for (path, body, mentions) in cases {
        let reply = app.post(path, ADMIN_TOKEN, &body).await;
        let error = reply.expect_error(400, "invalid_body");
        assert!(
            error["message"].as_str().unwrap().contains(mentions),
            "{path} {body}: {reply}"
        );
    }
    // Flag documents: every problem, located (wrong types and typos).
    let reply = app
        .post(
            "/api/v1/flags",
            ADMIN_TOKEN,
            &json!({"flag_id": "typed_flag_two", "default_value": false, "tags": "ui", "descripton": "x"}),
        )
        .await;
    let found = problems(&reply);
    assert!(found.iter().any(|(p, _)| p == "tags"), "{reply}");
    assert!(
        found
            .iter()
            .any(|(p, m)| p == "descripton" && m.contains("did you mean \"description\"")),
        "{reply}"
    );
    let reply = app.post("/api/v1/flags", ADMIN_TOKEN, &json!([1, 2])).await;
    assert_eq!(reply.status, 422, "{reply}");
    let reply = app.post("/api/v1/flags", ADMIN_TOKEN, &json!("flag")).await;
    assert_eq!(reply.status, 422, "{reply}");
    // Environments and segments refuse unknown fields too.
    let reply = app
        .post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": "qa", "parnt": "staging"}),
        )
        .await;
    assert!(
        problems(&reply).iter().any(|(p, _)| p == "parnt"),
        "{reply}"
    );
    let reply = app
        .post(
            "/api/v1/segments",
            ADMIN_TOKEN,
            &json!({"segment_id": "s", "conditions": [], "colour": "red"}),
        )
        .await;
    assert!(
        problems(&reply).iter().any(|(p, _)| p == "colour"),
        "{reply}"
    );
    // Query strings.
    app.get(
        "/api/v1/flags/typed_flag_one/versions?limit=ten",
        ADMIN_TOKEN,
    )
    .await
    .expect_error(400, "invalid_query");
    app.get("/api/v1/flags/typed_flag_one/diff", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
    app.get("/api/v1/export?format=xml", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_query");
}

async fn empty_bodies_are_refused(app: &TestApp) {
    app.create_flag(&simple_flag("empty_body_flag")).await;
    for (method, path) in [
        (Method::POST, "/api/v1/flags"),
        (Method::PUT, "/api/v1/flags/empty_body_flag"),
        (Method::PATCH, "/api/v1/flags/empty_body_flag"),
        (
            Method::PUT,
            "/api/v1/flags/empty_body_flag/environments/staging",
        ),
        (Method::POST, "/api/v1/evaluate"),
        (Method::POST, "/api/v1/emergency/disable"),
        (Method::POST, "/api/v1/flags/bulk"),
        (Method::POST, "/api/v1/api-keys"),
        (Method::POST, "/api/v1/segments"),
        (Method::POST, "/api/v1/environments"),
    ] {
        let reply = app
            .send(app.request(method.clone(), path, Some(ADMIN_TOKEN)))
            .await;
        reply.expect_error(400, "empty_body");
        let reply = app
            .send(
                app.request(method.clone(), path, Some(ADMIN_TOKEN))
                    .header("content-type", "application/json")
                    .body("  \n"),
            )
            .await;
        reply.expect_error(400, "empty_body");
    }
    let reply = app
        .send(app.request(Method::POST, "/api/v1/import", Some(ADMIN_TOKEN)))
        .await;
    assert_eq!(reply.status, 400, "{reply}");
}

async fn oversize_bodies_are_a_413(app: TestApp) {
    let small = app.fresh(|config| config.max_body_bytes = 2048).await;
    let mut doc = simple_flag("oversize_flag");
    doc["description"] = json!("x".repeat(4096));
    for (method, path) in [
        (Method::POST, "/api/v1/flags"),
        (Method::PUT, "/api/v1/flags/oversize_flag"),
        (Method::POST, "/api/v1/import"),
        (Method::POST, "/api/v1/flags/bulk"),
    ] {
        let reply = small
            .send(small.request(method, path, Some(ADMIN_TOKEN)).json(&doc))
            .await;
        let error = reply.expect_error(413, "payload_too_large");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("max-body-bytes"),
            "{reply}"
        );
    }
    // Streamed without a length, too. The server may answer before the
    // client has sent everything and close the connection under it: then
    // the client sees no answer, and tries again.
    let mut answered = None;
    for _ in 0..5 {
        let chunks: Vec<Result<String, std::io::Error>> =
            (0..4).map(|_| Ok("x".repeat(1024))).collect();
        let request = small
            .request(Method::POST, "/api/v1/flags", Some(ADMIN_TOKEN))
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        if let Ok(response) = request.send().await {
            answered = Some(Reply::read(response).await);
            break;
        }
    }
    let reply = answered.expect("an answer to a streamed oversize body");
    reply.expect_error(413, "payload_too_large");
    // Within the limit all is well. The server closed the connection that
    // carried the oversize stream; the client may still try to reuse it from
    // its pool, so a connection error (never an HTTP answer) is retried.
    let mut created = None;
    for _ in 0..5 {
        let request = small
            .request(Method::POST, "/api/v1/flags", Some(ADMIN_TOKEN))
            .json(&simple_flag("small_enough"));
        if let Ok(response) = request.send().await {
            created = Some(Reply::read(response).await);
            break;
        }
    }
    created
        .expect("an answer within the limit")
        .expect_status(201);
    small.shutdown().await;
}

async fn unknown_routes_and_methods(app: &TestApp) {
    // `/` is the admin interface (off with --ui=false: tests/api/admin_pages.rs).
    for path in [
        "/nothing-here",
        "/api",
        "/api/v2/flags",
        "/api/v1/flag",
        "/api/v1/flags/x/nothing",
        "/api/v1/flags/x/versions/1/more",
    ] {
        let reply = app.get(path, ADMIN_TOKEN).await;
        reply.expect_error(404, "not_found");
        // Without a key as well: an unknown route is not a secret.
        let reply = app.send(app.request(Method::GET, path, None)).await;
        reply.expect_error(404, "not_found");
    }
    for (method, path) in [
        (Method::DELETE, "/api/v1/flags"),
        (Method::PATCH, "/api/v1/segments"),
        (Method::GET, "/api/v1/evaluate"),
        (Method::GET, "/api/v1/emergency/disable"),
        (Method::PUT, "/api/v1/audit"),
        (Method::POST, "/api/v1/flags/x/versions"),
        (Method::POST, "/health/live"),
        (Method::GET, "/api/v1/import"),
    ] {
        let reply = app
            .send(app.request(method.clone(), path, Some(ADMIN_TOKEN)))
            .await;
        reply.expect_error(405, "method_not_allowed");
        assert!(
            reply.header("allow").is_some(),
            "{method} {path}: Allow header"
        );
    }
}

async fn unreadable_path_parameters(app: &TestApp) {
    app.create_flag(&simple_flag("path_param_flag")).await;
    app.get("/api/v1/flags/path_param_flag/versions/one", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_path");
    app.get("/api/v1/flags/%FF%FE", ADMIN_TOKEN)
        .await
        .expect_error(400, "invalid_path");
    app.get("/api/v1/flags/path_param_flag/versions/99", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
}
