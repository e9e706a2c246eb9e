//! Per-key rate limits: 429 with an integer `Retry-After`.

use serde_json::json;

use crate::support::{ADMIN_TOKEN, TestApp};

api_tests!(over_the_limit_is_a_429_with_retry_after);

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
