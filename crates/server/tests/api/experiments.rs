//! A/B experiments: exposures recorded once per user when a running
//! experiment's variant is served, events tracked (hashed user ids), and
//! results with statistics and a verdict.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(
    an_experiment_measures_its_variants,
    experiments_and_events_are_checked,
    sdks_report_exposures_with_their_metrics,
);

async fn button_flag(app: &TestApp) {
    app.create_flag(&json!({
        "flag_id": "checkout_button",
        "type": "string",
        "default_value": "blue",
        "variants": {"blue": "blue", "green": "green"},
        "environments": {"production": {"enabled": true, "value": "blue", "targeting_rules": [
            {"name": "split", "conditions": [],
             "variants": [{"variant": "blue", "weight": 50}, {"variant": "green", "weight": 50}]}
        ]}}
    }))
    .await;
}

fn experiment() -> Value {
    json!({
        "id": "button_colour",
        "description": "Does a green button sell more?",
        "flag_id": "checkout_button",
        "environment": "production",
        "control": "blue",
        "primary_metric": {"event": "checkout_completed", "kind": "conversion"},
        "secondary_metrics": [{"event": "revenue", "kind": "numeric"}]
    })
}

/// The variant `user` is served (an exposure while the experiment runs).
async fn serve(app: &TestApp, user: &str) -> String {
    let reply = app
        .post(
            "/api/v1/evaluate",
            ADMIN_TOKEN,
            &json!({"flag_id": "checkout_button", "environment": "production", "context": {"user_id": user}}),
        )
        .await
        .expect_status(200);
    reply.body["variant"].as_str().unwrap().to_owned()
}

async fn track(app: &TestApp, events: Vec<Value>) {
    for batch in events.chunks(1000) {
        app.post("/api/v1/track", ADMIN_TOKEN, &json!({"events": batch}))
            .await
            .expect_status(200);
    }
}

async fn an_experiment_measures_its_variants(app: TestApp) {
    button_flag(&app).await;
    // An event before the experiment (and so before any exposure) never counts.
    app.post(
        "/api/v1/track",
        ADMIN_TOKEN,
        &json!({"event": "checkout_completed", "user_id": "user-0"}),
    )
    .await
    .expect_status(200);
    let created = app
        .post("/api/v1/experiments", ADMIN_TOKEN, &experiment())
        .await
        .expect_status(201);
    assert_eq!(created.body["status"], "running");
    assert_eq!(
        created.body["variants"],
        json!([{"variant": "blue", "weight": 50.0}, {"variant": "green", "weight": 50.0}])
    );
    assert_eq!(app.audit("action=experiment.create").await.len(), 1);

    // 600 users see a variant; green users convert at 40 %, blue at 20 %.
    let mut variant_of = HashMap::new();
    let mut events = Vec::new();
    let mut expected: HashMap<&str, (u64, u64)> = HashMap::new();
    for i in 0..600 {
        let user = format!("user-{i}");
        let variant = serve(&app, &user).await;
        let converts = if variant == "green" {
            i % 5 < 2
        } else {
            i % 5 == 0
        };
        let tally = expected
            .entry(if variant == "green" { "green" } else { "blue" })
            .or_default();
        tally.0 += 1;
        if converts {
            tally.1 += 1;
            events.push(json!({"event": "checkout_completed", "user_id": user}));
            events.push(json!({"event": "revenue", "user_id": user, "value": 30.0}));
        }
        variant_of.insert(user, variant);
    }
    // Exposed after converting: exposed, not converted.
    let early = serve(&app, "early-bird").await;
    expected
        .entry(if early == "green" { "green" } else { "blue" })
        .or_default()
        .0 += 1;
    // Seen again: still one exposure each.
    for i in 0..50 {
        serve(&app, &format!("user-{i}")).await;
    }
    track(&app, events).await;

    let results = app
        .get("/api/v1/experiments/button_colour/results", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let primary = &results.body["metrics"][0];
    assert_eq!(primary["metric"], "checkout_completed");
    assert_eq!(primary["kind"], "conversion");
    for variant in primary["variants"].as_array().unwrap() {
        let name = variant["name"].as_str().unwrap();
        let (exposed, converted) = expected[name];
        assert_eq!(variant["exposed_users"], exposed, "{name}: {variant}");
        assert_eq!(variant["conversions"], converted, "{name}: {variant}");
        let rate = variant["rate"].as_f64().unwrap();
        assert!((rate - converted as f64 / exposed as f64).abs() < 1e-12);
    }
    let green = &primary["variants"][1];
    assert!(green["p_value"].as_f64().unwrap() < 0.001, "{green}");
    assert_eq!(primary["verdict"]["kind"], "significant", "{primary}");
    let verdict = results.body["verdict"].as_str().unwrap();
    assert!(
        verdict.contains("green") && verdict.contains("checkout_completed"),
        "{verdict}"
    );
    // Revenue: 30 per converted user, every exposed user counted.
    let revenue = &results.body["metrics"][1];
    assert_eq!(revenue["kind"], "numeric");
    let green_revenue = revenue["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "green")
        .unwrap();
    let (exposed, converted) = expected["green"];
    let mean = green_revenue["mean"].as_f64().unwrap();
    assert!(
        (mean - 30.0 * converted as f64 / exposed as f64).abs() < 1e-9,
        "{green_revenue}"
    );

    // Stopped: no more exposures, the results stay.
    app.post(
        "/api/v1/experiments/button_colour/stop",
        ADMIN_TOKEN,
        &json!({}),
    )
    .await
    .expect_status(200);
    serve(&app, "late-user").await;
    let after = app
        .get("/api/v1/experiments/button_colour/results", ADMIN_TOKEN)
        .await;
    let exposed: u64 = after.body["metrics"][0]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["exposed_users"].as_u64().unwrap())
        .sum();
    assert_eq!(exposed, 601);
    let listed = app
        .get("/api/v1/experiments", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(listed.items()[0]["status"], "stopped");
    assert_eq!(listed.items()[0]["version"], 2);
}

async fn experiments_and_events_are_checked(app: TestApp) {
    button_flag(&app).await;
    app.create_flag(&json!({"flag_id": "plain", "default_value": false}))
        .await;
    let with = |change: fn(&mut Value)| {
        let mut body = experiment();
        change(&mut body);
        body
    };
    let refused = [
        (
            with(|b| b["flag_id"] = json!("plain")),
            422,
            "invalid_experiment",
        ),
        (
            with(|b| b["control"] = json!("red")),
            422,
            "invalid_experiment",
        ),
        (
            with(|b| b["primary_metric"]["kind"] = json!("ratio")),
            400,
            "invalid_metric",
        ),
        (with(|b| b["flag_id"] = json!("missing")), 404, "not_found"),
        (with(|b| b["environment"] = json!("moon")), 404, "not_found"),
        (with(|b| b["id"] = json!("Bad Id")), 400, "invalid_id"),
    ];
    for (body, status, code) in refused {
        app.post("/api/v1/experiments", ADMIN_TOKEN, &body)
            .await
            .expect_error(status, code);
    }
    app.post("/api/v1/experiments", ADMIN_TOKEN, &experiment())
        .await
        .expect_status(201);
    app.post("/api/v1/experiments", ADMIN_TOKEN, &experiment())
        .await
        .expect_error(409, "already_exists");
    let viewer = app.key_with_role("viewer").await;
    app.post(
        "/api/v1/experiments/button_colour/stop",
        &viewer,
        &json!({}),
    )
    .await
    .expect_error(403, "forbidden");
    app.get("/api/v1/experiments/nope/results", ADMIN_TOKEN)
        .await
        .expect_error(404, "not_found");

    let bad_events = [
        (json!({"event": "x"}), "invalid_body"),
        (
            json!({"events": [{"event": "", "user_id": "u"}]}),
            "invalid_event",
        ),
        (
            json!({"events": [{"event": "x", "user_id": "u", "timestamp": "2001-01-01T00:00:00Z"}]}),
            "invalid_event",
        ),
        (
            json!({"events": [{"event": "x", "user_id": "u", "timestamp": "soon"}]}),
            "invalid_event",
        ),
    ];
    for (body, code) in bad_events {
        app.post("/api/v1/track", ADMIN_TOKEN, &body)
            .await
            .expect_error(400, code);
    }
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"event": "x", "user_id": format!("u{i}")}))
        .collect();
    app.post("/api/v1/track", ADMIN_TOKEN, &json!({"events": many}))
        .await
        .expect_error(400, "batch_too_large");
    // SDK keys may track.
    let client_key = app
        .create_key(json!({"name": "app", "kind": "client", "environment": "production"}))
        .await
        .1;
    let reply = app
        .post(
            "/api/v1/track",
            &client_key,
            &json!({"event": "signup", "user_id": "u1", "value": 1.5}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["accepted"], 1);
    let _ = Method::GET;
}

async fn sdks_report_exposures_with_their_metrics(app: TestApp) {
    button_flag(&app).await;
    app.post("/api/v1/experiments", ADMIN_TOKEN, &experiment())
        .await
        .expect_status(201);
    let client_key = app
        .create_key(json!({"name": "app", "kind": "client", "environment": "production"}))
        .await
        .1;
    let batch = json!({
        "evaluations": [{"flag_id": "checkout_button", "variant": "green", "reason": "SPLIT", "count": 3}],
        "exposures": [
            {"flag_id": "checkout_button", "variant": "green", "user_id": "phone-user-1"},
            {"flag_id": "checkout_button", "variant": "blue", "user_id": "phone-user-2"},
            {"flag_id": "checkout_button", "variant": "green", "user_id": "phone-user-1"},
            {"flag_id": "other_flag", "variant": "x", "user_id": "phone-user-3"}
        ]
    });
    let reply = app
        .post("/api/v1/metrics", &client_key, &batch)
        .await
        .expect_status(200);
    assert_eq!(reply.body["exposures"], 3, "{reply}");
    app.post(
        "/api/v1/track",
        &client_key,
        &json!({"event": "checkout_completed", "user_id": "phone-user-1"}),
    )
    .await
    .expect_status(200);
    let results = app
        .get("/api/v1/experiments/button_colour/results", ADMIN_TOKEN)
        .await;
    let variants = results.body["metrics"][0]["variants"]
        .as_array()
        .unwrap()
        .clone();
    let green = variants.iter().find(|v| v["name"] == "green").unwrap();
    let blue = variants.iter().find(|v| v["name"] == "blue").unwrap();
    assert_eq!(
        (
            green["exposed_users"].as_u64(),
            green["conversions"].as_u64()
        ),
        (Some(1), Some(1)),
        "{results}"
    );
    assert_eq!(
        (blue["exposed_users"].as_u64(), blue["conversions"].as_u64()),
        (Some(1), Some(0))
    );
    app.post(
        "/api/v1/metrics",
        &client_key,
        &json!({"exposures": [{"flag_id": "checkout_button", "variant": "green", "user_id": ""}]}),
    )
    .await
    .expect_error(400, "invalid_exposure");
}
