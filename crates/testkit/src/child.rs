//! The real binary as a child process.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ADMIN_TOKEN, free_port, install_crypto_provider};

/// How to start a [`ChildService`]: [`ChildService::builder`], then
/// [`ChildServiceBuilder::start`].
pub struct ChildServiceBuilder {
    binary: PathBuf,
    database_url: String,
    workdir: PathBuf,
    port: Option<u16>,
    settings: Vec<(OsString, OsString)>,
    https: Option<reqwest::Client>,
}

impl ChildServiceBuilder {
    /// Listens on `port` (by default a free one).
    pub fn port(mut self, port: u16) -> ChildServiceBuilder {
        self.port = Some(port);
        self
    }

    /// One more environment variable (a setting).
    pub fn setting(
        mut self,
        name: impl Into<OsString>,
        value: impl Into<OsString>,
    ) -> ChildServiceBuilder {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Speaks https (the settings name the certificate): readiness is
    /// asked with `client`, which trusts its CA.
    pub fn https(mut self, client: reqwest::Client) -> ChildServiceBuilder {
        self.https = Some(client);
        self
    }

    /// Starts `serve` and waits (at most 30 s) until `/health/ready`
    /// answers 200.
    pub async fn start(self) -> ChildService {
        let port = self.port.unwrap_or_else(free_port);
        let child = Command::new(&self.binary)
            .arg("serve")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .env("DATABASE_URL", &self.database_url)
            .env("FEATURE_FLAGS_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .envs(self.settings.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.workdir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.binary.display()));
        let scheme = if self.https.is_some() {
            "https"
        } else {
            "http"
        };
        let server = ChildService {
            child,
            url: format!("{scheme}://127.0.0.1:{port}"),
        };
        let client = self.https.unwrap_or_else(ChildService::client);
        let deadline = Instant::now() + Duration::from_secs(30);
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
                "the service did not become ready at {}",
                server.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running `feature-flags serve`, killed when dropped.
pub struct ChildService {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:<port>` (`https://` with [`ChildServiceBuilder::https`]).
    pub url: String,
}

impl ChildService {
    /// `binary serve` on `database_url`, run in `workdir`, with the admin
    /// token [`ADMIN_TOKEN`].
    pub fn builder(
        binary: impl AsRef<Path>,
        database_url: &str,
        workdir: &Path,
    ) -> ChildServiceBuilder {
        ChildServiceBuilder {
            binary: binary.as_ref().to_owned(),
            database_url: database_url.to_owned(),
            workdir: workdir.to_owned(),
            port: None,
            settings: Vec::new(),
            https: None,
        }
    }

    /// An HTTP client with a 10 s timeout (installing the TLS provider
    /// reqwest may need).
    pub fn client() -> reqwest::Client {
        install_crypto_provider();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|e| panic!("a client: {e}"))
    }
}

impl Drop for ChildService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
