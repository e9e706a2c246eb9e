//! Liveness and readiness.

use reqwest::Method;

use crate::support::{ADMIN_TOKEN, TestApp, simple_flag};

api_tests!(live_and_ready_answer_without_a_key);

async fn live_and_ready_answer_without_a_key(app: TestApp) {
    let live = app
        .send(app.request(Method::GET, "/health/live", None))
        .await
        .expect_status(200);
    assert_eq!(live.body["status"], "ok");
    let ready = app
        .send(app.request(Method::GET, "/health/ready", None))
        .await
        .expect_status(200);
    assert_eq!(ready.body["status"], "ok");
    assert_eq!(ready.body["environments"], 3);
    assert_eq!(ready.body["flags"], 0);
    let revision = ready.body["revision"].as_i64().unwrap();
    assert!(revision >= 1, "the seed was committed: {ready}");
    app.create_flag(&simple_flag("health_flag")).await;
    let ready = app
        .get("/health/ready", ADMIN_TOKEN)
        .await
        .expect_status(200);
    assert_eq!(ready.body["flags"], 1);
    assert_eq!(ready.body["revision"], revision + 1);
}
