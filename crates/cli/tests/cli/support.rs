//! Starting and stopping the real binary.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin token the tests start the service with.
pub const ADMIN_TOKEN: &str = "ff_admin_test_token_for_end_to_end_tests";

/// A running `feature-flags serve`.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client (installing the TLS provider reqwest may need).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the service on `database_url` and waits until it is ready.
pub async fn start(database_url: &str, port: u16, workdir: &Path) -> Server {
    start_with(database_url, port, workdir, &[]).await
}

/// [`start`] with more environment variables (settings).
pub async fn start_with(
    database_url: &str,
    port: u16,
    workdir: &Path,
    settings: &[(&str, &std::ffi::OsStr)],
) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_feature-flags"))
        .arg("serve")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .env("DATABASE_URL", database_url)
        .env("FEATURE_FLAGS_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "warn")
        .envs(settings.iter().copied())
        .current_dir(workdir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = client();
    loop {
        let ready = client
            .get(format!("{}/health/ready", server.url))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
