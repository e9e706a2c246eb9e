//! Scheduled changes with two server processes on one PostgreSQL database:
//! both schedulers find the same due items at the same moment (their clocks
//! read one file the test controls), and every item is applied exactly once.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Server, client, free_port, start_with};

/// Starts a node whose "now" is read from `clock_file`, with a fast
/// scheduler loop (so that the loops race the explicit runs too).
async fn start_node(database_url: &str, workdir: &Path, clock_file: &Path) -> Server {
    let settings = [
        ("FEATURE_FLAGS_CLOCK_FILE", clock_file.as_os_str()),
        ("FEATURE_FLAGS_SCHEDULER_INTERVAL_MS", OsStr::new("20")),
    ];
    start_with(database_url, free_port(), workdir, &settings).await
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut request = http.request(method, url).bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status} {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_apply_each_schedule_exactly_once() {
    let Some(database) = ff_testkit::scratch_postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("now");
    std::fs::write(&clock, "2030-01-01T08:00:00Z").unwrap();
    let node_a = start_node(database.url(), dir.path(), &clock).await;
    let node_b = start_node(database.url(), dir.path(), &clock).await;
    let http = client();

    const COUNT: usize = 20;
    for i in 0..COUNT {
        call(
            &http,
            reqwest::Method::POST,
            format!("{}/api/v1/flags", node_a.url),
            Some(json!({"flag_id": format!("launch_{i}"), "type": "number", "default_value": 0})),
        )
        .await;
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        call(
            &http,
            reqwest::Method::POST,
            format!("{}/api/v1/schedules", node.url),
            Some(json!({"flag_id": format!("launch_{i}"), "environment": "development",
                        "at": "2030-01-01T09:00:00Z", "action": {"type": "set_value", "value": i + 1}})),
        )
        .await;
    }
    // Nothing is due yet, whatever the loops do.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let listed = call(
        &http,
        reqwest::Method::GET,
        format!("{}/api/v1/schedules?status=scheduled", node_b.url),
        None,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), COUNT);

    // Nine o'clock on both nodes at once; both loops and explicit runs on
    // both nodes race for the same items.
    std::fs::write(&clock, "2030-01-01T09:00:00Z").unwrap();
    let run = |url: String| {
        call(
            &http,
            reqwest::Method::POST,
            format!("{url}/api/v1/schedules/run"),
            None,
        )
    };
    let (a, b) = tokio::join!(run(node_a.url.clone()), run(node_b.url.clone()));
    let applied_by_runs = [a, b]
        .iter()
        .flat_map(|r| r["outcomes"].as_array().unwrap().clone())
        .filter(|o| o["result"] == "applied")
        .count();
    assert!(applied_by_runs <= COUNT);

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let applied = call(
            &http,
            reqwest::Method::GET,
            format!("{}/api/v1/schedules?status=applied", node_a.url),
            None,
        )
        .await;
        if applied["items"].as_array().unwrap().len() == COUNT {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every schedule was applied: {applied}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Exactly once: one flag change and one completion per schedule.
    let audit = call(
        &http,
        reqwest::Method::GET,
        format!(
            "{}/api/v1/audit?action=schedule.apply&limit=1000",
            node_b.url
        ),
        None,
    )
    .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), COUNT, "{audit}");
    let done = call(
        &http,
        reqwest::Method::GET,
        format!(
            "{}/api/v1/audit?action=schedule.applied&limit=1000",
            node_b.url
        ),
        None,
    )
    .await;
    assert_eq!(done["items"].as_array().unwrap().len(), COUNT);
    for i in 0..COUNT {
        let versions = call(
            &http,
            reqwest::Method::GET,
            format!("{}/api/v1/flags/launch_{i}/versions", node_a.url),
            None,
        )
        .await;
        assert_eq!(
            versions["items"].as_array().unwrap().len(),
            2,
            "launch_{i}: created, then scheduled once"
        );
        let value = call(
            &http,
            reqwest::Method::POST,
            format!("{}/api/v1/evaluate", node_b.url),
            Some(json!({"flag_id": format!("launch_{i}"), "environment": "development", "context": {}})),
        )
        .await;
        assert_eq!(value["value"], i + 1);
    }
    let verified = call(
        &http,
        reqwest::Method::GET,
        format!("{}/api/v1/audit/verify", node_a.url),
        None,
    )
    .await;
    assert_eq!(verified["valid"], true, "{verified}");
    drop((node_a, node_b));
    database.remove().await;
}
