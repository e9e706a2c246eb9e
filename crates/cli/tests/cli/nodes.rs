//! Several nodes on one PostgreSQL database: a change made through one node
//! reaches the streams of another, also after its notification connection
//! was killed.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, client, free_port, start};

/// Reads server-sent events from a response, one `(event, data)` at a time.
struct Events {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Events {
    fn new(response: reqwest::Response) -> Events {
        Events {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event whose data mentions `needle`, within `wait`.
    async fn wait_for(&mut self, event: &str, needle: &str, wait: Duration) -> Value {
        let found = tokio::time::timeout(wait, async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let name = block
                        .lines()
                        .find_map(|l| l.strip_prefix("event: "))
                        .unwrap_or("message");
                    let data = block
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .unwrap_or_default();
                    if name == event && data.contains(needle) {
                        return serde_json::from_str::<Value>(data).unwrap();
                    }
                }
                let chunk = self.body.next().await.expect("the stream ended").unwrap();
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no {event} event with {needle} within {wait:?}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_the_streams_of_another() {
    let Some(database) = ff_testkit::scratch_postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node_a = start(database.url(), free_port(), dir.path()).await;
    let node_b = start(database.url(), free_port(), dir.path()).await;
    let http = client();
    let admin = |request: reqwest::RequestBuilder| request.bearer_auth(ADMIN_TOKEN);

    let created = admin(http.post(format!("{}/api/v1/flags", node_a.url)))
        .json(
            &json!({"flag_id": "payment_processing_v2", "default_value": false,
                      "environments": {"production": true}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let key: Value = admin(http.post(format!("{}/api/v1/api-keys", node_a.url)))
        .json(&json!({"name": "checkout service", "kind": "server", "environment": "production"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let server_key = key["key"].as_str().unwrap().to_owned();

    // Node B learns of the key and the flag from node A's commits.
    let stream = loop {
        let response = http
            .get(format!("{}/api/v1/stream", node_b.url))
            .header("X-API-Key", &server_key)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut events = Events::new(stream);
    events
        .wait_for("put", "payment_processing_v2", Duration::from_secs(5))
        .await;

    // The kill switch through node A reaches node B's subscriber.
    let disabled = admin(http.post(format!("{}/api/v1/emergency/disable", node_a.url)))
        .json(&json!({"flag_id": "payment_processing_v2", "environment": "production"}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    let patch = events
        .wait_for("patch", "payment_processing_v2", Duration::from_secs(5))
        .await;
    assert_eq!(
        patch["document"]["environments"]["production"]["enabled"], false,
        "{patch}"
    );

    // Kill every LISTEN connection on the database: node B must notice,
    // reconnect and catch up on what it missed.
    let terminated = std::process::Command::new("psql")
        .arg(database.url())
        .args([
            "-tAc",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                       WHERE datname = current_database() AND pid <> pg_backend_pid() \
                       AND query ILIKE 'LISTEN%'",
        ])
        .output()
        .expect("psql runs");
    assert!(
        terminated.status.success(),
        "{}",
        String::from_utf8_lossy(&terminated.stderr)
    );
    let count: u32 = String::from_utf8_lossy(&terminated.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(
        count >= 2,
        "expected both nodes' LISTEN connections, killed {count}"
    );

    // A change production's approval does not hold (turning the flag back
    // on would be): a description.
    let described = admin(http.patch(format!("{}/api/v1/flags/payment_processing_v2", node_a.url)))
        .json(&json!({"description": "caught up after a lost connection"}))
        .send()
        .await
        .unwrap();
    assert_eq!(described.status(), 200);
    let patch = events
        .wait_for(
            "patch",
            "caught up after a lost connection",
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(
        patch["document"]["environments"]["production"]["enabled"], false,
        "{patch}"
    );

    drop(node_a);
    drop(node_b);
    database.remove().await;
}
