//! Durability: a write the service acknowledged survives `kill -9`.

use serde_json::json;

use crate::support::{ADMIN_TOKEN, client, free_port, get_json, start};

/// Streams flag creations at the service from several tasks, kills it with
/// SIGKILL in the middle, restarts it on the same SQLite file and checks
/// that every creation answered 201 is there, at the version answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("flags.db").display());
    let port = free_port();
    let mut server = start(&database, port, dir.path()).await;
    let client = client();

    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let client = client.clone();
            let url = server.url.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0.. {
                    let flag_id = format!("crash_test_w{writer}_{i}");
                    let response = client
                        .post(format!("{url}/api/v1/flags"))
                        .bearer_auth(ADMIN_TOKEN)
                        .json(
                            &json!({"flag_id": flag_id, "default_value": false, "tags": ["crash"]}),
                        )
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status() == 201 => acknowledged.push(flag_id),
                        // The server died: whatever was not answered may or may not be there.
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();

    // Let writes flow, then pull the plug.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let count = get_json(
            &client,
            &format!("{}/api/v1/flags?tag=crash&limit=1", server.url),
        )
        .await["total"]
            .as_u64()
            .unwrap_or_default();
        if count >= 150 || std::time::Instant::now() > deadline {
            break;
        }
    }
    server.child.kill().unwrap(); // SIGKILL on Unix
    server.child.wait().unwrap();

    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(
        acknowledged.len() >= 20,
        "only {} writes before the kill",
        acknowledged.len()
    );

    let server = start(&database, free_port(), dir.path()).await;
    for flag_id in &acknowledged {
        let response = client
            .get(format!("{}/api/v1/flags/{flag_id}", server.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "{flag_id} was acknowledged and is lost"
        );
    }
    let verify = get_json(&client, &format!("{}/api/v1/audit/verify", server.url)).await;
    assert_eq!(verify["valid"], true, "{verify}");
}
