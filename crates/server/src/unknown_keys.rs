//! Keys this node does not know yet: consulted in the store before a 401,
//! so that a key made on another node works at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ff_store::ApiKey;

use crate::live::{Live, SecretDigest};

/// How long a key the store did not know either is answered 401 without
/// asking again.
const REMEMBER_UNKNOWN: Duration = Duration::from_secs(5);

/// At most this many unknown keys are remembered (then forgotten at once).
const MAX_REMEMBERED_UNKNOWN: usize = 10_000;

/// Keys this node does not know. Another node may have created one a moment
/// ago (its notification not yet here: an SDK that connects through a load
/// balancer right after its key was made), so an unknown key brings this
/// node up to date before it is refused. Guessed keys must not turn into
/// database load: consultations are coalesced (one at a time, and a request
/// that arrived before one started is answered by it), and a key the store
/// did not know is refused without asking for a few seconds.
#[derive(Default)]
pub struct UnknownKeys {
    /// When the latest consultation started.
    consulted: tokio::sync::Mutex<Option<Instant>>,
    /// Keys found unknown, and when.
    remembered: std::sync::Mutex<HashMap<SecretDigest, Instant>>,
}

impl UnknownKeys {
    /// The key with `digest`, after bringing the configuration up to date
    /// if no consultation since this request arrived has.
    pub async fn look_up(&self, live: &Live, digest: &SecretDigest) -> Option<Arc<ApiKey>> {
        let arrived = Instant::now();
        if self.recently_unknown(digest, arrived) {
            return None;
        }
        {
            let mut consulted = self.consulted.lock().await;
            if consulted.is_none_or(|started| started < arrived) {
                *consulted = Some(Instant::now());
                if let Err(error) = live.refresh().await {
                    tracing::warn!(%error, "could not consult the store for an unknown key");
                }
            }
        }
        let found = live.current().keys_by_hash.get(digest).cloned();
        if found.is_none() {
            self.remember(*digest, arrived);
        }
        found
    }

    fn recently_unknown(&self, digest: &SecretDigest, now: Instant) -> bool {
        self.remembered.lock().is_ok_and(|remembered| {
            remembered
                .get(digest)
                .is_some_and(|at| now.duration_since(*at) < REMEMBER_UNKNOWN)
        })
    }

    fn remember(&self, digest: SecretDigest, at: Instant) {
        if let Ok(mut remembered) = self.remembered.lock() {
            if remembered.len() >= MAX_REMEMBERED_UNKNOWN {
                remembered.clear();
            }
            remembered.insert(digest, at);
        }
    }
}
