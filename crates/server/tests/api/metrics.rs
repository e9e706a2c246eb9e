//! Evaluation metrics: the service's own evaluations and SDK batches are
//! counted per flag, environment, outcome and reason, in minute, hour and
//! day buckets, on every node, and old buckets go.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(
    evaluations_are_counted_by_outcome_and_reason,
    counts_from_concurrent_requests_and_two_nodes_add_up,
    sdk_batches_are_checked_and_counted,
);

/// With production as first start seeds it, and a clock the tests set.
mod governed {
    use super::old_buckets_are_deleted_per_granularity;

    governed_api_tests!(old_buckets_are_deleted_per_granularity);
}

async fn metrics(app: &TestApp, flag: &str, query: &str) -> Value {
    app.get(
        &format!("/api/v1/flags/{flag}/metrics?{query}"),
        ADMIN_TOKEN,
    )
    .await
    .expect_status(200)
    .body
}

async fn evaluate(app: &TestApp, key: &str, flag: &str, user: &str) {
    app.post(
        "/api/v1/evaluate",
        key,
        &json!({"flag_id": flag, "environment": "production", "context": {"user_id": user}}),
    )
    .await
    .expect_status(200);
}

async fn checkout_flag(app: &TestApp) {
    app.create_flag(&json!({
        "flag_id": "checkout",
        "type": "string",
        "default_value": "classic",
        "variants": {"classic": "classic", "express": "express"},
        "environments": {"production": {"enabled": true, "value": "classic", "targeting_rules": [
            {"name": "beta", "conditions": [{"attribute": "user_id", "operator": "in", "value": ["beta1", "beta2"]}],
             "variant": "express"}
        ]}}
    }))
    .await;
}

async fn evaluations_are_counted_by_outcome_and_reason(app: TestApp) {
    checkout_flag(&app).await;
    for user in ["beta1", "beta2", "u1", "u2", "u3"] {
        evaluate(&app, ADMIN_TOKEN, "checkout", user).await;
    }
    // OFREP single evaluations count; made-up flags and bulk fetches do not.
    let server_key = app
        .create_key(json!({"name": "backend", "kind": "server", "environment": "production"}))
        .await
        .1;
    for _ in 0..2 {
        app.send(
            app.request(
                Method::POST,
                "/ofrep/v1/evaluate/flags/checkout",
                Some(&server_key),
            )
            .json(&json!({"context": {"targetingKey": "beta1"}})),
        )
        .await
        .expect_status(200);
    }
    app.send(
        app.request(
            Method::POST,
            "/ofrep/v1/evaluate/flags/no_such_flag",
            Some(&server_key),
        )
        .json(&json!({"context": {"targetingKey": "x"}})),
    )
    .await
    .expect_status(404);
    app.send(
        app.request(Method::POST, "/ofrep/v1/evaluate/flags", Some(&server_key))
            .json(&json!({"context": {"targetingKey": "x"}})),
    )
    .await
    .expect_status(200);

    let counts = metrics(&app, "checkout", "granularity=minute").await;
    let totals = &counts["totals"];
    assert_eq!(totals["evaluations"], 7, "{counts}");
    assert_eq!(totals["by_outcome"], json!({"classic": 3, "express": 4}));
    assert_eq!(
        totals["by_reason"],
        json!({"DEFAULT": 3, "TARGETING_MATCH": 4})
    );
    assert_eq!(totals["by_environment"], json!({"production": 7}));
    assert_eq!(totals["errors"], 0);
    assert_eq!(totals["error_rate"], 0.0);
    assert!(counts["last_evaluated_at"].is_string());
    // Every bucket of the range is there (24 hours of minutes plus this one).
    let buckets = counts["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 1441);
    let sum: i64 = buckets
        .iter()
        .map(|b| b["evaluations"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 7);
    // The same counts by hour and by day.
    for granularity in ["hour", "day"] {
        let rolled = metrics(&app, "checkout", &format!("granularity={granularity}")).await;
        assert_eq!(rolled["totals"], counts["totals"], "{granularity}");
    }
    // Filtered by environment.
    let staging = metrics(&app, "checkout", "environment=staging").await;
    assert_eq!(staging["totals"]["evaluations"], 0);

    // Bad queries say what is wrong.
    for (query, code) in [
        ("granularity=second", "invalid_granularity"),
        (
            "granularity=minute&since=2020-01-01T00:00:00Z",
            "invalid_range",
        ),
        ("since=yesterday", "invalid_query"),
        ("colour=blue", "invalid_query"),
        // The last day there is: its bucket's end lies beyond it (this
        // panicked, dropping the connection, before checked time arithmetic).
        (
            "granularity=day&since=9999-12-30T00:00:00Z&until=9999-12-31T23:59:59Z",
            "invalid_range",
        ),
        (
            "since=-9999-01-01T00:00:00Z&until=-9999-01-01T00:00:00Z",
            "invalid_query",
        ),
    ] {
        let reply = app
            .get(
                &format!("/api/v1/flags/checkout/metrics?{query}"),
                ADMIN_TOKEN,
            )
            .await;
        // Well formed but out of range: 422; malformed: 400.
        let status = if code == "invalid_range" { 422 } else { 400 };
        assert_eq!(reply.status, status, "{query}: {reply}");
        assert_eq!(reply.body["error"]["code"], code, "{query}: {reply}");
    }
    app.get("/api/v1/flags/nope/metrics", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");
}

async fn counts_from_concurrent_requests_and_two_nodes_add_up(app: TestApp) {
    checkout_flag(&app).await;
    let other = app.another_node().await;
    let mut tasks = Vec::new();
    for task in 0..8 {
        let node = if task % 2 == 0 {
            app.base.clone()
        } else {
            other.base.clone()
        };
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..50 {
                let reply = client
                    .post(format!("{node}/api/v1/evaluate"))
                    .bearer_auth(crate::support::ADMIN_TOKEN)
                    .json(&json!({"flag_id": "checkout", "environment": "production",
                                  "context": {"user_id": format!("u{task}-{i}")}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 200);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Each node flushes its own counts when read; together they add up.
    metrics(&other, "checkout", "granularity=minute").await;
    let counts = metrics(&app, "checkout", "granularity=minute").await;
    assert_eq!(counts["totals"]["evaluations"], 400, "{}", counts["totals"]);
    // A graceful shutdown flushes what is pending.
    evaluate(&other, ADMIN_TOKEN, "checkout", "late").await;
    other.shutdown().await;
    let counts = metrics(&app, "checkout", "granularity=hour").await;
    assert_eq!(counts["totals"]["evaluations"], 401);
}

async fn sdk_batches_are_checked_and_counted(app: TestApp) {
    checkout_flag(&app).await;
    let server_key = app
        .create_key(json!({"name": "backend", "kind": "server", "environment": "production"}))
        .await
        .1;
    let batch = json!({
        "sdk": "ff-sdk-rust/0.1.0",
        "evaluations": [
            {"flag_id": "checkout", "variant": "express", "reason": "TARGETING_MATCH", "count": 40},
            {"flag_id": "checkout", "value": "classic", "reason": "DEFAULT", "count": 60},
            {"flag_id": "checkout", "reason": "ERROR", "error_code": "TYPE_MISMATCH", "count": 2},
            {"flag_id": "retired_flag", "value": true, "reason": "STATIC", "count": 5}
        ]
    });
    let reply = app
        .post("/api/v1/metrics", &server_key, &batch)
        .await
        .expect_status(200);
    assert_eq!(
        reply.body,
        json!({"accepted": 102, "dropped": 5, "unknown_flags": ["retired_flag"], "exposures": 0})
    );
    let counts = metrics(&app, "checkout", "").await;
    assert_eq!(
        counts["totals"]["by_outcome"],
        json!({"express": 40, "classic": 60, "TYPE_MISMATCH": 2})
    );
    assert_eq!(counts["totals"]["errors"], 2);
    let rate = counts["totals"]["error_rate"].as_f64().unwrap();
    assert!((rate - 2.0 / 102.0).abs() < 1e-12, "{rate}");
    // Flags an SDK evaluated locally are not stale.
    let stale = app
        .get("/api/v1/flags/stale?unused_days=1", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert!(!stale.body.to_string().contains("\"checkout\""), "{stale}");

    // A key reports for its own environment only.
    app.post(
        "/api/v1/metrics",
        &server_key,
        &json!({"environment": "staging", "evaluations": []}),
    )
    .await
    .expect_error(403, "forbidden");
    // Bad entries: refused whole, with the entry's path; nothing counted.
    let bad = [
        (
            json!({"evaluations": [{"flag_id": "checkout", "reason": "GUESSED", "count": 1}]}),
            "invalid_reason",
            "evaluations[0].reason",
        ),
        (
            json!({"evaluations": [{"flag_id": "checkout", "reason": "ERROR", "error_code": "OOPS", "count": 1}]}),
            "invalid_error_code",
            "evaluations[0].error_code",
        ),
        (
            json!({"evaluations": [{"flag_id": "checkout", "reason": "STATIC", "count": 1},
                                {"flag_id": "checkout", "reason": "STATIC", "count": 2_000_000_000u64}]}),
            "invalid_count",
            "evaluations[1].count",
        ),
        (
            json!({"evaluations": [{"flag_id": "checkout", "variant": "v".repeat(65), "reason": "STATIC", "count": 1}]}),
            "invalid_variant",
            "evaluations[0].variant",
        ),
        (
            json!({"window_end": "2001-01-01T00:00:00Z", "evaluations": []}),
            "invalid_window_end",
            "window_end",
        ),
        (
            json!({"evaluations": [{"flag_id": "checkout", "reason": "STATIC", "count": -1}]}),
            "invalid_body",
            "count",
        ),
    ];
    for (body, code, place) in bad {
        let reply = app.post("/api/v1/metrics", &server_key, &body).await;
        // A body that is not the schema's (a negative count) is malformed:
        // 400; a well-formed one that says something invalid: 422.
        let status = if code == "invalid_body" { 400 } else { 422 };
        let error = reply.expect_error(status, code);
        assert!(
            error["message"].as_str().unwrap().contains(place),
            "{place}: {reply}"
        );
    }
    let too_many: Vec<Value> = (0..10_001)
        .map(|_| json!({"flag_id": "checkout", "reason": "STATIC", "count": 1}))
        .collect();
    app.post(
        "/api/v1/metrics",
        &server_key,
        &json!({"evaluations": too_many}),
    )
    .await
    .expect_error(422, "batch_too_large");
    let after = metrics(&app, "checkout", "").await;
    assert_eq!(after["totals"]["evaluations"], 102);
}

async fn old_buckets_are_deleted_per_granularity(app: TestApp) {
    checkout_flag(&app).await;
    let clock = app.clock.clone().unwrap();
    let start = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    clock.set(start);
    evaluate(&app, ADMIN_TOKEN, "checkout", "u1").await;
    let since = (start - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let minute_query = format!("granularity=minute&since={since}");
    assert_eq!(
        metrics(&app, "checkout", &minute_query).await["totals"]["evaluations"],
        1
    );
    // Three days later (retention: 48 hours of minutes, 31 days of hours),
    // the minutes are gone and the hours are kept.
    clock.set(start + time::Duration::days(3));
    let until = (start + time::Duration::minutes(5))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let minutes = metrics(&app, "checkout", &format!("{minute_query}&until={until}")).await;
    assert_eq!(minutes["totals"]["evaluations"], 0, "{}", minutes["totals"]);
    let hours = metrics(&app, "checkout", &format!("granularity=hour&since={since}")).await;
    assert_eq!(hours["totals"]["evaluations"], 1);
}

mod prometheus {
    use super::*;

    api_tests!(prometheus_metrics_describe_the_service);
}

async fn scrape(app: &TestApp) -> String {
    let reply = app
        .send(app.request(Method::GET, "/metrics", None))
        .await
        .expect_status(200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{reply}"
    );
    reply.body.as_str().unwrap().to_owned()
}

fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

async fn prometheus_metrics_describe_the_service(app: TestApp) {
    checkout_flag(&app).await;
    for user in ["beta1", "u1", "u2"] {
        evaluate(&app, ADMIN_TOKEN, "checkout", user).await;
    }
    app.get("/api/v1/flags/nope", ADMIN_TOKEN)
        .await
        .expect_status(404);
    // Reading a flag's metrics flushes this node's counts.
    metrics(&app, "checkout", "").await;
    let text = scrape(&app).await;
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(
        sample(
            &text,
            r#"feature_flags_evaluations_total{flag="checkout",environment="production",reason="TARGETING_MATCH"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"feature_flags_evaluations_total{flag="checkout",environment="production",reason="DEFAULT"}"#
        ),
        Some(2.0)
    );
    // Requests by route template, never by path.
    assert_eq!(
        sample(
            &text,
            r#"feature_flags_http_requests_total{route="/api/v1/evaluate",method="POST",status="200"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"feature_flags_http_requests_total{route="/api/v1/flags/{flag_id}",method="GET",status="404"}"#
        ),
        Some(1.0)
    );
    assert!(!text.contains("/api/v1/flags/nope"));
    assert!(text.contains("feature_flags_http_request_duration_seconds_bucket{"));
    assert!(sample(&text, "feature_flags_commit_duration_seconds_count").unwrap() >= 1.0);
    let ready = app.get("/health/ready", ADMIN_TOKEN).await;
    assert_eq!(
        sample(&text, "feature_flags_configuration_revision"),
        ready.body["revision"].as_f64()
    );
    assert_eq!(sample(&text, "feature_flags_flags "), Some(1.0));
    assert_eq!(
        sample(&text, "feature_flags_change_requests_pending"),
        Some(0.0)
    );

    // An open stream is counted while it is open.
    let server_key = app
        .create_key(json!({"name": "backend", "kind": "server", "environment": "production"}))
        .await
        .1;
    let stream = app
        .request(Method::GET, "/api/v1/stream", Some(&server_key))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(
        sample(&scrape(&app).await, "feature_flags_open_streams"),
        Some(1.0)
    );
    drop(stream);
    let mut closed = false;
    for _ in 0..100 {
        if sample(&scrape(&app).await, "feature_flags_open_streams") == Some(0.0) {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        closed,
        "the stream is no longer counted once the client went"
    );

    // The shipped Grafana dashboard charts series that exist.
    let dashboard = include_str!("../../../../docs/grafana-dashboard.json");
    let text = scrape(&app).await;
    let mut charted = 0;
    for (start, _) in dashboard.match_indices("feature_flags_") {
        let name: String = dashboard[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            text.contains(&name),
            "the dashboard charts {name}, which /metrics lacks"
        );
        charted += 1;
    }
    assert!(charted >= 10, "{charted}");

    // With a token, only its bearer may scrape.
    let guarded = app
        .fresh(|config| config.metrics_token = Some("scrape-secret".into()))
        .await;
    guarded
        .send(guarded.request(Method::GET, "/metrics", None))
        .await
        .expect_error(401, "unauthorized");
    guarded
        .send(guarded.request(Method::GET, "/metrics", Some("scrape-secret")))
        .await
        .expect_status(200);
}
