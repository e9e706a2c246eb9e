//! SIGTERM stops the service even while streams are open: they end (clients
//! resume elsewhere with `Last-Event-ID`) instead of holding shutdown open.

use std::time::{Duration, Instant};

use crate::support::{ADMIN_TOKEN, client, free_port, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_streams_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("flags.db").display());
    let mut server = start(&database, free_port(), dir.path()).await;
    let http = client();
    let stream = http
        .get(format!(
            "{}/api/v1/stream?environment=production",
            server.url
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    // A generous bound: this checks that shutdown happens at all.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the service is still running with a stream open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    // The open stream ended rather than hanging.
    let rest = tokio::time::timeout(Duration::from_secs(10), stream.bytes()).await;
    assert!(rest.is_ok(), "the stream did not end");
}
