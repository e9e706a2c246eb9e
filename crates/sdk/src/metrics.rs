//! Reporting local evaluations: the client counts what it evaluates (in an
//! [`ff_engine::tally::Tally`], never waiting) and a background task sends
//! the counts to the service (`POST /api/v1/metrics`) every interval and
//! when asked ([`crate::FlagClient::flush_metrics`]). When the service
//! cannot be reached the counts are kept for the next attempt, up to a
//! bound beyond which new outcomes are dropped and counted.

use std::sync::Arc;
use std::time::Duration;

use ff_api_types::{EvaluationTally, MetricsAccepted, MetricsBatch, TrackedEventRequest};
use ff_engine::tally::{Counted, Tally};

/// Distinct (flag, outcome, reason) keys kept between two sends.
pub const MAX_KEYS: usize = 10_000;

/// Tracked events kept between two sends (more are dropped and counted).
pub const MAX_EVENTS: usize = 10_000;

/// Events one `/api/v1/track` request carries.
const EVENTS_PER_REQUEST: usize = 1_000;

/// What sends counts to the service.
#[derive(Debug, Clone)]
pub struct Reporter {
    http: reqwest::Client,
    url: String,
    api_key: String,
    /// The counts not sent yet.
    pub tally: Arc<Tally>,
    /// Tracked events not sent yet, and how many were dropped.
    events: Arc<std::sync::Mutex<Vec<TrackedEventRequest>>>,
    /// Events dropped because too many waited.
    pub events_dropped: Arc<std::sync::atomic::AtomicU64>,
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
            events: Arc::default(),
            events_dropped: Arc::default(),
            sending: Arc::default(),
        }
    }

    /// Keeps an event for the next send (never waits).
    pub fn track(&self, event: TrackedEventRequest) {
        let Ok(mut events) = self.events.lock() else {
            return;
        };
        if events.len() >= MAX_EVENTS {
            self.events_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else {
            events.push(event);
        }
    }

    /// Sends what was counted and tracked; on failure keeps it for the next
    /// send.
    pub async fn send(&self) -> Result<MetricsAccepted, String> {
        let _one_at_a_time = self.sending.lock().await;
        self.send_events().await?;
        let counted = self.tally.take();
        if counted.is_empty() {
            return Ok(MetricsAccepted {
                exposures: 0,
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

    /// Sends the tracked events, a thousand per request; what is not sent
    /// goes back for the next time.
    async fn send_events(&self) -> Result<(), String> {
        let mut events = match self.events.lock() {
            Ok(mut events) => std::mem::take(&mut *events),
            Err(_) => return Ok(()),
        };
        while !events.is_empty() {
            let rest = events.split_off(events.len().min(EVENTS_PER_REQUEST));
            let sent = self
                .http
                .post(self.url.replace("/api/v1/metrics", "/api/v1/track"))
                .bearer_auth(&self.api_key)
                .timeout(Duration::from_secs(10))
                .json(&serde_json::json!({ "events": events }))
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => events = rest,
                // Refused (4xx): these would be refused again.
                Ok(response) if response.status().is_client_error() => events = rest,
                failed => {
                    let why = match failed {
                        Ok(response) => format!("the service answered {}", response.status()),
                        Err(error) => error.to_string(),
                    };
                    events.extend(rest);
                    if let Ok(mut kept) = self.events.lock() {
                        // Oldest first, within the bound.
                        events.append(&mut kept);
                        events.truncate(MAX_EVENTS);
                        *kept = events;
                    }
                    return Err(why);
                }
            }
        }
        Ok(())
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
        exposures: Vec::new(),
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
