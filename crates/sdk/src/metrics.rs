//! Reporting local evaluations: the client counts what it evaluates (in an
//! [`ff_engine::tally::Tally`], never waiting) and a background task sends
//! the counts to the service (`POST /api/v1/metrics`) every interval and
//! when asked ([`crate::FlagClient::flush_metrics`]). When the service
//! cannot be reached the counts are kept for the next attempt, up to a
//! bound beyond which new outcomes are dropped and counted.

use std::sync::Arc;
use std::time::Duration;

use ff_api_types::{EvaluationTally, MetricsAccepted, MetricsBatch};
use ff_engine::tally::{Counted, Tally};

/// Distinct (flag, outcome, reason) keys kept between two sends.
pub const MAX_KEYS: usize = 10_000;

/// What sends counts to the service.
#[derive(Debug, Clone)]
pub struct Reporter {
    http: reqwest::Client,
    url: String,
    api_key: String,
    /// The counts not sent yet.
    pub tally: Arc<Tally>,
    /// Serialises sends, so that a flush and the timer never send the same
    /// counts twice or race a restore.
    sending: Arc<tokio::sync::Mutex<()>>,
}

impl Reporter {
    /// A reporter to the service at `base` (no trailing slash).
    pub fn new(http: reqwest::Client, base: &str, api_key: &str) -> Reporter {
        Reporter {
            http,
            url: format!("{base}/api/v1/metrics"),
            api_key: api_key.to_owned(),
            tally: Arc::new(Tally::new(MAX_KEYS)),
            sending: Arc::default(),
        }
    }

    /// Sends what was counted; on failure keeps it for the next send.
    pub async fn send(&self) -> Result<MetricsAccepted, String> {
        let _one_at_a_time = self.sending.lock().await;
        let counted = self.tally.take();
        if counted.is_empty() {
            return Ok(MetricsAccepted {
                accepted: 0,
                dropped: 0,
                unknown_flags: Vec::new(),
            });
        }
        let batch = batch_of(&counted);
        let sent = self
            .http
            .post(&self.url)
            .bearer_auth(&self.api_key)
            .timeout(Duration::from_secs(10))
            .json(&batch)
            .send()
            .await;
        let answer = match sent {
            Ok(response) if response.status().is_success() => response
                .json::<MetricsAccepted>()
                .await
                .map_err(|e| format!("unreadable answer: {e}")),
            // A batch the service refuses (4xx) would be refused again:
            // it is dropped, not retried.
            Ok(response) if response.status().is_client_error() => {
                return Err(format!(
                    "the service refused the batch: {}",
                    response.status()
                ));
            }
            Ok(response) => Err(format!("the service answered {}", response.status())),
            Err(error) => Err(error.to_string()),
        };
        if answer.is_err() {
            self.tally.restore(&counted);
        }
        answer
    }

    /// Sends every `interval` until the task is aborted.
    pub async fn run(self, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(error) = self.send().await {
                tracing::debug!(%error, "could not report evaluation metrics; keeping them");
            }
        }
    }
}

/// The wire form of counted evaluations.
fn batch_of(counted: &[Counted]) -> MetricsBatch {
    MetricsBatch {
        sdk: Some(concat!("ff-sdk-rust/", env!("CARGO_PKG_VERSION")).to_owned()),
        environment: None,
        window_end: None,
        evaluations: counted
            .iter()
            .map(|c| EvaluationTally {
                flag_id: c.flag_id.clone(),
                label: Some(c.label.clone()),
                variant: None,
                value: None,
                reason: c.reason.as_str().to_owned(),
                error_code: c.error_code.map(|e| e.as_str().to_owned()),
                count: c.count,
            })
            .collect(),
    }
}
