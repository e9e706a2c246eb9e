//! Conflicting writes from many tasks: every write either makes exactly one
//! version or gets 409, and versions, audit entries and the final document
//! agree.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Reply, TestApp, without_meta};

api_tests!(conflicting_writes_never_overwrite);

/// Conflicting replacements (the same `If-Match`).
const WRITERS: usize = 200;
/// Concurrent merge patches without `If-Match`.
const PATCHERS: usize = 50;

fn doc(description: &str) -> Value {
    json!({
        "flag_id": "contended_flag",
        "type": "boolean",
        "description": description,
        "default_value": false,
        "environments": {"production": true}
    })
}

/// Fires `count` requests at once, from as many tasks.
async fn fire(count: usize, request: impl Fn(usize) -> reqwest::RequestBuilder) -> Vec<Reply> {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let request = request(i);
            tokio::spawn(async move {
                let response = request.send().await.expect("the server answers");
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body: Value = response.json().await.expect("a JSON answer");
                (status, headers, body)
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in futures::future::join_all(tasks).await {
        let (status, headers, body) = task.unwrap();
        replies.push(Reply {
            status,
            headers,
            body,
        });
    }
    replies
}

/// Every write won (200, one new version) or lost (409, nothing written).
fn outcome(replies: &[Reply]) -> (Vec<(i64, String)>, usize) {
    let mut won = Vec::new();
    let mut conflicts = 0;
    for reply in replies {
        match reply.status {
            200 => won.push((
                reply.body["version"].as_i64().unwrap(),
                reply.body["description"].as_str().unwrap().to_owned(),
            )),
            409 => {
                reply.expect_error(409, "version_conflict");
                conflicts += 1;
            }
            _ => panic!("neither a version nor a conflict: {reply}"),
        }
    }
    (won, conflicts)
}

async fn history(app: &TestApp) -> Vec<(i64, String)> {
    let versions = app
        .get(
            "/api/v1/flags/contended_flag/versions?limit=500",
            ADMIN_TOKEN,
        )
        .await
        .expect_status(200);
    versions
        .items()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["document"]["description"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn conflicting_writes_never_overwrite(app: TestApp) {
    app.create_flag(&doc("original")).await;

    // Round 1: everyone read version 1 and says so with If-Match.
    let replies = fire(WRITERS, |i| {
        app.request(
            Method::PUT,
            "/api/v1/flags/contended_flag",
            Some(ADMIN_TOKEN),
        )
        .header("if-match", "\"1\"")
        .json(&doc(&format!("put {i}")))
    })
    .await;
    let (won, conflicts) = outcome(&replies);
    assert_eq!(won.len(), 1, "exactly one writer of version 1 wins");
    assert_eq!(conflicts, WRITERS - 1);
    assert_eq!(won[0].0, 2);

    // Round 2: merge patches without If-Match apply to whatever version is
    // current when their turn comes: none is lost, each makes one version.
    let replies = fire(PATCHERS, |i| {
        app.request(
            Method::PATCH,
            "/api/v1/flags/contended_flag",
            Some(ADMIN_TOKEN),
        )
        .json(&json!({"description": format!("patch {i}")}))
    })
    .await;
    let (mut won_patches, conflicts) = outcome(&replies);
    assert_eq!(won_patches.len(), PATCHERS, "{conflicts} patches lost");

    // Versions: 1, the PUT winner, then one per winning patch, no gaps, no
    // duplicates, each version's document the one its writer sent.
    let mut expected: Vec<(i64, String)> = vec![(1, "original".into()), won[0].clone()];
    won_patches.sort();
    expected.extend(won_patches.iter().cloned());
    let mut recorded = history(&app).await;
    recorded.reverse();
    assert_eq!(recorded, expected);
    let numbers: Vec<i64> = recorded.iter().map(|(v, _)| *v).collect();
    assert_eq!(numbers, (1..=recorded.len() as i64).collect::<Vec<_>>());
    let descriptions: BTreeSet<&String> = recorded.iter().map(|(_, d)| d).collect();
    assert_eq!(descriptions.len(), recorded.len(), "no write applied twice");

    // The audit log has one entry per version, in the same order.
    let audit = app.audit("flag_id=contended_flag&limit=1000").await;
    assert_eq!(audit.len(), recorded.len());
    let audited: Vec<String> = audit
        .iter()
        .rev()
        .map(|e| e["after"]["description"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        audited,
        recorded.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>()
    );
    for pair in audit.windows(2) {
        assert_eq!(
            pair[0]["before"], pair[1]["after"],
            "each change starts where the last ended"
        );
    }

    // The document is the last version's.
    let current = app
        .get("/api/v1/flags/contended_flag", ADMIN_TOKEN)
        .await
        .expect_status(200);
    let last = recorded.last().unwrap();
    assert_eq!(current.body["version"], last.0);
    assert_eq!(without_meta(current.body), doc(&last.1));
    let verify = app.get("/api/v1/audit/verify", ADMIN_TOKEN).await;
    assert_eq!(verify.body["valid"], true);
}
