//! OFREP request bodies: what a context may be, and the errors for what it
//! may not (the OpenFeature clients' own tests, in tests/openfeature, cover
//! the answers real providers read).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Reply, TestApp};

api_tests!(
    contexts_and_their_errors,
    browsers_may_call_it,
    browsers_open_the_stream_with_the_advertised_credential,
    large_answers_are_gzipped_for_clients_that_ask,
);

const ONE: &str = "/ofrep/v1/evaluate/flags/pro_feature";
const ALL: &str = "/ofrep/v1/evaluate/flags";

async fn contexts_and_their_errors(app: TestApp) {
    app.create_flag(&json!({
        "flag_id": "pro_feature", "type": "boolean", "default_value": false,
        "targeting_rules": [{"name": "pro plan",
            "conditions": [{"attribute": "plan", "operator": "equals", "value": "pro"}],
            "value": true}]
    }))
    .await;
    let (_, key) = app
        .create_key(json!({"name": "ofrep", "kind": "server", "environment": "production"}))
        .await;

    // A repeated attribute keeps its last value, as in any JSON object.
    let matched = post_raw(
        &app,
        &key,
        ONE,
        r#"{"context": {"plan": "free", "plan": "pro"}}"#,
    )
    .await;
    let matched = expect_value(matched, true);
    insta::assert_json_snapshot!("ofrep_targeting_match", matched);
    let many: String = (0..40).map(|i| format!(r#""a{i}": {i}, "#)).collect();
    let body = format!(r#"{{"context": {{"plan": "pro", {many} "plan": "free"}}}}"#);
    let last_wins = expect_value(post_raw(&app, &key, ONE, &body).await, false);
    assert_eq!(last_wins["reason"], "DEFAULT", "{last_wins}");

    // No context, an empty one, `null`, and other members are all fine.
    for body in [
        "",
        "  ",
        "{}",
        r#"{"context": null}"#,
        r#"{"context": {}, "extra": [1]}"#,
    ] {
        let reply = post_raw(&app, &key, ONE, body).await;
        let answer = expect_value(reply, false);
        assert_eq!(answer["reason"], "DEFAULT", "body {body:?}: {answer}");
    }

    // A context that is not an object: INVALID_CONTEXT, naming the flag.
    for body in [
        r#"{"context": "user-1"}"#,
        r#"{"context": [1]}"#,
        r#"{"context": 3}"#,
    ] {
        let error = expect_failure(post_raw(&app, &key, ONE, body).await, "INVALID_CONTEXT");
        assert_eq!(error["key"], "pro_feature", "{error}");
        assert!(
            error["errorDetails"].as_str().unwrap().contains("context"),
            "the details say what is wrong: {error}"
        );
        let bulk = expect_failure(post_raw(&app, &key, ALL, body).await, "INVALID_CONTEXT");
        assert!(
            bulk.get("key").is_none(),
            "a bulk failure names no flag: {bulk}"
        );
    }

    // A body that is not an object, or not JSON: PARSE_ERROR.
    let cases = [
        ("[1]", "must be a JSON object"),
        (r#""context""#, "must be a JSON object"),
        ("{\"context\": {", "not valid JSON"),
        ("nonsense", "not valid JSON"),
        (r#"{"context": {"plan": "pro"}} trailing"#, "not valid JSON"),
    ];
    for (body, says) in cases {
        let error = expect_failure(post_raw(&app, &key, ONE, body).await, "PARSE_ERROR");
        let details = error["errorDetails"].as_str().unwrap();
        assert!(details.contains(says), "body {body:?}: {error}");
    }

    // The admin key names its environment; the answer is the same.
    let admin = post_raw(
        &app,
        ADMIN_TOKEN,
        &format!("{ONE}?environment=production"),
        r#"{"context": {"plan": "pro"}}"#,
    )
    .await;
    expect_value(admin, true);
}

/// CORS: a browser's preflight is answered, and every answer (errors too)
/// lets the page read it, `ETag` and `Retry-After` included.
async fn browsers_may_call_it(app: TestApp) {
    let origin = "https://app.example.com";
    let preflight = app
        .send(
            app.request(Method::OPTIONS, ALL, None)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "x-api-key, content-type, if-none-match",
                ),
        )
        .await
        .expect_status(200);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("*"),
        "{preflight}"
    );
    let methods = preflight
        .header("access-control-allow-methods")
        .unwrap_or_default();
    assert!(methods.contains("POST"), "{preflight}");
    // Listed by name: the Fetch standard never lets `*` cover
    // `Authorization`, and browsers warn about pages that rely on it.
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for header in [
        "authorization",
        "x-api-key",
        "content-type",
        "if-none-match",
        "if-match",
        "last-event-id",
        "x-change-reason",
        "x-request-id",
    ] {
        assert!(allowed.contains(header), "{header}: {preflight}");
    }
    assert!(!allowed.contains('*'), "{preflight}");

    let (_, key) = app
        .create_key(json!({"name": "browser", "kind": "client", "environment": "production"}))
        .await;
    let answered = app
        .send(
            app.request(Method::POST, ALL, None)
                .header("origin", origin)
                .header("x-api-key", &key)
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await
        .expect_status(200);
    let refused = app
        .send(
            app.request(Method::POST, ALL, None)
                .header("origin", origin)
                .body("{}"),
        )
        .await
        .expect_status(401);
    for reply in [&answered, &refused] {
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("*"),
            "{reply}"
        );
        let exposed = reply
            .header("access-control-expose-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        for header in ["etag", "retry-after", "x-request-id"] {
            assert!(exposed.contains(header), "{header} is exposed: {reply}");
        }
    }
    assert!(answered.header("etag").is_some(), "{answered}");
}

/// The bulk answer grows with the configuration: it is gzipped for a client
/// that asks, decodes to the same answer, keeps its ETag (and its `304`);
/// a single flag's small answer is not compressed.
async fn large_answers_are_gzipped_for_clients_that_ask(app: TestApp) {
    for i in 0..60 {
        app.create_flag(&json!({
            "flag_id": format!("checkout_redesign_experiment_{i:02}"),
            "type": "boolean",
            "default_value": false,
            "environments": {"production": {"enabled": true, "value": true}}
        }))
        .await;
    }
    let (_, key) = app
        .create_key(json!({"name": "ofrep", "kind": "server", "environment": "production"}))
        .await;
    let bulk = |encoding: Option<&str>| {
        let mut request = app
            .request(Method::POST, ALL, Some(&key))
            .header("content-type", "application/json")
            .body(r#"{"context": {"targetingKey": "u1"}}"#);
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        async move { request.send().await.unwrap() }
    };

    let plain = bulk(None).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers().get("content-encoding"), None);
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain_body: Value = serde_json::from_slice(&plain.bytes().await.unwrap()).unwrap();
    assert_eq!(plain_body["flags"].as_array().unwrap().len(), 60);

    let gzipped = bulk(Some("gzip, br")).await;
    assert_eq!(gzipped.status(), 200);
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert!(
        gzipped.headers()["vary"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding"),
        "{:?}",
        gzipped.headers()
    );
    assert_eq!(gzipped.headers()["etag"].to_str().unwrap(), plain_etag);
    let compressed = gzipped.bytes().await.unwrap();
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut decoded,
    )
    .unwrap();
    assert!(
        compressed.len() * 4 < decoded.len(),
        "{} -> {}",
        decoded.len(),
        compressed.len()
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&decoded).unwrap(),
        plain_body
    );

    let unchanged = app
        .request(Method::POST, ALL, Some(&key))
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip")
        .header("if-none-match", plain_etag.as_str())
        .body(r#"{"context": {"targetingKey": "u1"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);

    let single = app
        .request(
            Method::POST,
            "/ofrep/v1/evaluate/flags/checkout_redesign_experiment_00",
            Some(&key),
        )
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip")
        .body(r#"{"context": {"targetingKey": "u1"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(single.status(), 200);
    assert_eq!(single.headers().get("content-encoding"), None);
}

async fn post_raw(app: &TestApp, key: &str, path: &str, body: &str) -> Reply {
    app.send(
        app.request(Method::POST, path, None)
            .header("x-api-key", key)
            .header("content-type", "application/json")
            .body(body.to_owned()),
    )
    .await
}

#[track_caller]
fn expect_value(reply: Reply, value: bool) -> Value {
    assert_json(&reply);
    let reply = reply.expect_status(200);
    assert_eq!(reply.body["value"], value, "{reply}");
    reply.body
}

#[track_caller]
fn expect_failure(reply: Reply, code: &str) -> Value {
    assert_json(&reply);
    let reply = reply.expect_status(400);
    assert_eq!(reply.body["errorCode"], code, "{reply}");
    reply.body
}

#[track_caller]
fn assert_json(reply: &Reply) {
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "OFREP answers JSON: {reply}"
    );
}

/// A browser's `EventSource` sends no headers: the bulk answer of a client
/// key advertises its stream with a credential in the URL, which opens that
/// stream (and only it) until the key is revoked.
async fn browsers_open_the_stream_with_the_advertised_credential(app: TestApp) {
    let (key_id, key) = app
        .create_key(json!({"name": "web", "kind": "client", "environment": "development"}))
        .await;
    let bulk = post_raw(&app, &key, ALL, "{}").await.expect_status(200);
    let uri = bulk.body["eventStreams"][0]["endpoint"]["requestUri"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = uri
        .strip_prefix("/ofrep/v1/stream?token=")
        .unwrap_or_else(|| panic!("a credential in the URL: {bulk}"))
        .to_owned();
    assert!(!token.contains(&key), "the key itself is not in the URL");
    // The advertised URL opens the stream without any header, and a change
    // reaches it.
    let mut stream = app.request(Method::GET, &uri, None).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    app.create_flag(&crate::support::simple_flag("seen_by_the_browser"))
        .await;
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        let mut seen = String::new();
        while !seen.contains("refetchEvaluation") {
            let chunk = stream.chunk().await.unwrap().expect("the stream is open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        seen
    })
    .await
    .expect("the change reaches the stream");
    assert!(seen.contains("refetchEvaluation"), "{seen}");
    // It is no key: not for evaluation, not for the other stream, not for
    // the admin API, not in a header.
    post_raw(&app, &token, ALL, "{}").await.expect_status(401);
    let evaluate = format!("{ALL}?token={token}");
    app.send(
        app.request(Method::POST, &evaluate, None)
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await
    .expect_status(401);
    for path in [
        format!("/api/v1/stream?token={token}"),
        format!("/api/v1/flags?token={token}"),
    ] {
        app.send(app.request(Method::GET, &path, None))
            .await
            .expect_status(401);
    }
    app.send(app.request(Method::GET, "/ofrep/v1/stream", Some(&token)))
        .await
        .expect_status(401);
    // Altered, it is refused.
    let altered = format!("{}0", &uri[..uri.len() - 1]);
    let altered = if altered == uri {
        format!("{}1", &uri[..uri.len() - 1])
    } else {
        altered
    };
    app.send(app.request(Method::GET, &altered, None))
        .await
        .expect_status(401);
    // An admin key's bulk answer advertises the plain stream (admin keys
    // are not for browsers).
    let admin = post_raw(
        &app,
        ADMIN_TOKEN,
        &format!("{ALL}?environment=development"),
        "{}",
    )
    .await
    .expect_status(200);
    assert_eq!(
        admin.body["eventStreams"][0]["endpoint"]["requestUri"], "/ofrep/v1/stream",
        "{admin}"
    );
    // Revoking the key ends its credentials.
    app.delete(&format!("/api/v1/api-keys/{key_id}"), ADMIN_TOKEN)
        .await
        .expect_status(200);
    app.send(app.request(Method::GET, &uri, None))
        .await
        .expect_status(401);
}
