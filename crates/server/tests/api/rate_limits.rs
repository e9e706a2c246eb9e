//! Rate limits: per key, per device (key and client address) for client
//! keys; 429 with an integer `Retry-After` and the JSON error envelope.

use serde_json::json;

use crate::support::{ADMIN_TOKEN, Reply, TestApp, TestDevice};

api_tests!(
    over_the_limit_is_a_429_with_retry_after,
    each_device_on_a_client_key_has_its_own_budget,
    a_trusted_proxy_header_names_the_device,
);

async fn over_the_limit_is_a_429_with_retry_after(app: TestApp) {
    let other = app.key_with_role("viewer").await;
    let limited = app
        .fresh(|config| {
            config.rate_limit = 1;
            config.rate_burst = 3;
        })
        .await;
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..20 {
        let reply = limited.get("/api/v1/flags", ADMIN_TOKEN).await;
        statuses.push(reply.status);
        if reply.status == 429 {
            refused = Some(reply);
            break;
        }
        assert_eq!(reply.status, 200, "{reply}");
    }
    let reply = refused.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    let error = reply.expect_error(429, "rate_limited");
    let retry_after = reply.header("retry-after").expect("a Retry-After header");
    let seconds: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After in whole seconds: {retry_after:?}"));
    assert!(seconds >= 1, "{seconds}");
    assert_eq!(error["details"]["retry_after"], seconds);
    assert!(
        statuses.len() >= 3,
        "the burst is allowed first: {statuses:?}"
    );
    // Writes are limited too (the key's bucket refills at one a second, so
    // a refusal comes soon whatever the timing).
    let mut refused = None;
    for _ in 0..20 {
        let reply = limited
            .post(
                "/api/v1/flags",
                ADMIN_TOKEN,
                &json!({"flag_id": "limited_write", "default_value": true}),
            )
            .await;
        if reply.status == 429 {
            refused = Some(reply);
            break;
        }
        assert!(matches!(reply.status, 201 | 409), "{reply}");
    }
    refused
        .expect("writes are limited")
        .expect_error(429, "rate_limited");
    // Limits are per key: another key (on the generous app) is unaffected,
    // and requests without a valid key are refused before counting.
    app.get("/api/v1/flags", &other).await.expect_status(200);
    limited
        .get("/api/v1/flags", "ff_admin_unknown")
        .await
        .expect_error(401, "unauthorized");
    limited
        .send(limited.request(reqwest::Method::GET, "/health/live", None))
        .await
        .expect_status(200);
    limited.shutdown().await;
}

/// The OFREP bulk evaluation, as every install of an app calls it.
const BULK: &str = "/ofrep/v1/evaluate/flags";

/// An app's request from `device`, with extra headers.
async fn evaluate(device: &TestDevice<'_>, key: &str, headers: &[(&str, &str)]) -> Reply {
    device
        .post(
            BULK,
            key,
            &json!({"context": {"targetingKey": "u1"}}),
            headers,
        )
        .await
}

/// Sends from `device` until refused (at most 20 requests): the 429, after
/// checking that everything before it succeeded and that it carries a
/// whole-seconds `Retry-After` that its JSON body repeats.
async fn use_up(device: &TestDevice<'_>, key: &str, headers: &[(&str, &str)]) -> Reply {
    for _ in 0..20 {
        let reply = evaluate(device, key, headers).await;
        if reply.status == 429 {
            let error = reply.expect_error(429, "rate_limited").clone();
            let Some(retry_after) = reply.header("retry-after") else {
                panic!("a 429 without Retry-After: {reply}");
            };
            let Ok(seconds) = retry_after.parse::<u64>() else {
                panic!("Retry-After in whole seconds: {retry_after:?}");
            };
            assert!(seconds >= 1, "{reply}");
            assert_eq!(error["details"]["retry_after"], seconds, "{reply}");
            assert!(
                error["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("rate limit")),
                "{reply}"
            );
            return reply;
        }
        reply.expect_status(200);
    }
    panic!("never limited");
}

/// Rate 1/s with a burst of 3: a device's budget is used up at once, and
/// nothing refills within the milliseconds a check takes but one request.
fn tight(config: &mut ff_server::ServeConfig) {
    config.rate_limit = 1;
    config.rate_burst = 3;
}

async fn each_device_on_a_client_key_has_its_own_budget(app: TestApp) {
    let limited = app.fresh(tight).await;
    let (_, client) = limited
        .create_key(json!({"name": "app", "kind": "client", "environment": "production"}))
        .await;
    let (_, server) = limited
        .create_key(json!({"name": "backend", "kind": "server", "environment": "production"}))
        .await;
    let phone = limited.device("127.0.0.2");
    let tablet = limited.device("127.0.0.3");

    // One device uses up its budget; another install of the same app, on
    // another address, is served as if nothing happened.
    use_up(&phone, &client, &[]).await;
    for _ in 0..3 {
        evaluate(&tablet, &client, &[]).await.expect_status(200);
    }

    // Without --trusted-proxy-header, what a request says about its origin
    // is ignored: a device cannot buy a new budget by claiming another
    // address in each request (at most one request refills meanwhile).
    let mut served = 0;
    for n in 1..=5 {
        let claimed = format!("198.51.100.{n}");
        let reply = evaluate(&phone, &client, &[("x-forwarded-for", &claimed)]).await;
        match reply.status {
            200 => served += 1,
            _ => {
                reply.expect_error(429, "rate_limited");
            }
        }
    }
    assert!(served <= 1, "{served} of 5 spoofed requests were served");

    // Server keys (one backend, any number of hosts) keep one budget.
    use_up(&phone, &server, &[]).await;
    evaluate(&tablet, &server, &[])
        .await
        .expect_error(429, "rate_limited");
    limited.shutdown().await;
}

async fn a_trusted_proxy_header_names_the_device(app: TestApp) {
    let proxied = app
        .fresh(|config| {
            tight(config);
            config.trusted_proxy_header =
                Some(axum::http::HeaderName::from_static("x-forwarded-for"));
        })
        .await;
    let (_, client) = proxied
        .create_key(json!({"name": "app", "kind": "client", "environment": "production"}))
        .await;
    // Every request comes from the proxy's one address.
    let proxy = proxied.device("127.0.0.4");
    use_up(&proxy, &client, &[("x-forwarded-for", "203.0.113.1")]).await;
    // The proxy appends the address it saw: what the client wrote before it
    // does not count.
    evaluate(
        &proxy,
        &client,
        &[("x-forwarded-for", "203.0.113.9, 203.0.113.1")],
    )
    .await
    .expect_error(429, "rate_limited");
    // Another device behind the same proxy has its own budget.
    for _ in 0..3 {
        evaluate(
            &proxy,
            &client,
            &[("x-forwarded-for", "1.1.1.1, 203.0.113.2")],
        )
        .await
        .expect_status(200);
    }
    proxied.shutdown().await;
}
