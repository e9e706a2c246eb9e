//! [`Sender`]: what a node sends webhook deliveries with. Kept apart from
//! the dispatcher so that the service's state can hold one without
//! importing the dispatcher, which reads that state.

use std::time::Duration;

use crate::config::ServeConfig;
use crate::ids::generate_id;

/// What sends: the HTTP client (no redirects, a short timeout) and this
/// node's name on the leases it takes.
pub struct Sender {
    pub(super) client: Option<reqwest::Client>,
    pub(super) node: String,
    pub(super) timeout: Duration,
}

impl Sender {
    /// A sender with the settings' timeout.
    pub fn new(config: &ServeConfig) -> Sender {
        let timeout = Duration::from_millis(config.webhook_timeout_ms.max(1));
        // rustls needs a process-wide crypto provider; ring is ours (the
        // binary installs it too: whoever is first wins, both are ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            // Never follow a redirect: the registered URL is the one that
            // gets the signed body (and a redirect could point anywhere).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!(
                "feature-flags-webhooks/",
                env!("CARGO_PKG_VERSION")
            ))
            .build();
        let client = match client {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::error!(%error, "cannot build the webhook HTTP client; webhooks will fail");
                None
            }
        };
        Sender {
            client,
            node: generate_id("node"),
            timeout,
        }
    }
}
