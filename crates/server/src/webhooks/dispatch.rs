//! The outbox: audit entries become delivery rows, due rows are claimed
//! and sent, failures are retried with backoff.
//!
//! Every node runs [`run`]. What keeps them from stepping on each other is
//! in the store: the cursor moves by compare-and-set together with the
//! deliveries it produced (and a delivery is unique per endpoint and
//! event), and a row is sent only by the node whose claim (a lease) it
//! accepted. A node that dies mid-send leaves a lease that expires, and
//! the row is sent again: delivery is at least once, and `X-FF-Delivery`
//! lets a receiver drop a repeat.
//!
//! Times here are the wall clock, not the service's [`crate::Clock`]:
//! retries and leases are about the network, and a receiver checks the
//! signature's timestamp against its own clock.

use std::collections::HashMap;
use std::time::Duration;

use ff_store::{AttemptOutcome, Delivery, NewDelivery, StoreError, StoredWebhook};
use futures::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::events::{body, event_of, ping_body, wanted};
use super::sender::Sender;
use super::settings::Settings;
use crate::error::ApiError;
use crate::ids::generate_id;
use crate::state::AppState;

/// Audit entries read per step.
const BATCH: u32 = 200;

/// Due deliveries read per tick.
const DUE_PER_TICK: u32 = 100;

/// Endpoints sent to at once per node.
const CONCURRENT_SENDS: usize = 8;

/// A lease outlives the request's timeout by at least this much (or by
/// the timeout again, if longer), so that a slow answer never lets a second
/// node send the same delivery; what the margin covers is recording the
/// outcome. Longer only delays the resend after a node stops mid-send
/// (30 s made a restart wait half a minute).
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Turns new audit entries into deliveries and sends the due ones, every
/// `interval`, until the service stops.
pub async fn run(state: AppState, interval: Duration) {
    let mut stopping = state.stopping.subscribe();
    loop {
        if let Err(error) = enqueue_new(&state).await {
            tracing::warn!(%error, "webhooks: could not read new events; retrying");
        }
        if let Err(error) = send_due(&state).await {
            tracing::warn!(%error, "webhooks: could not send due deliveries; retrying");
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// Reads the audit entries after the cursor and inserts their deliveries,
/// moving the cursor in the same transaction; another node having moved
/// it first means reading again from where it is.
pub async fn enqueue_new(state: &AppState) -> Result<(), StoreError> {
    loop {
        let cursor = state.store.webhook_cursor().await?;
        let entries = state.store.audit_chain(cursor, BATCH).await?;
        let Some(last) = entries.last() else {
            return Ok(());
        };
        // Read after the entries: an endpoint registered before one of them
        // was committed is then in the list. Read before them, a
        // registration and the events right after it could both land
        // between the two reads, and the cursor would move past events
        // nobody was found to want.
        let endpoints: Vec<(StoredWebhook, Settings)> = state
            .store
            .webhooks()
            .await?
            .into_iter()
            .map(|stored| {
                let settings = Settings::of(&stored);
                (stored, settings)
            })
            .filter(|(_, settings)| settings.enabled)
            .collect();
        let now = now();
        let mut deliveries = Vec::new();
        for event in entries.iter().filter_map(event_of) {
            for (stored, settings) in &endpoints {
                // An endpoint gets what happened since it was registered.
                if event.entry.at >= stored.created_at
                    && wanted(&event, &settings.events, &settings.environments)
                {
                    deliveries.push(NewDelivery {
                        id: generate_id("whd"),
                        webhook_id: stored.id.clone(),
                        event_id: event.id.clone(),
                        audit_id: Some(event.entry.id),
                        event: event.name.to_owned(),
                        payload: body(&event, &settings.format),
                        next_attempt_at: now,
                        created_at: now,
                    });
                }
            }
        }
        let moved = state
            .store
            .enqueue_deliveries(Some((cursor, last.id)), &deliveries)
            .await?;
        if moved && !deliveries.is_empty() {
            tracing::debug!(deliveries = deliveries.len(), "webhooks: events queued");
        }
        if moved && entries.len() < BATCH as usize {
            return Ok(());
        }
    }
}

/// Sends the due deliveries of enabled endpoints, a few at a time.
pub async fn send_due(state: &AppState) -> Result<(), StoreError> {
    let due = state.store.due_deliveries(now(), DUE_PER_TICK).await?;
    if due.is_empty() {
        return Ok(());
    }
    let endpoints: HashMap<String, StoredWebhook> = state
        .store
        .webhooks()
        .await?
        .into_iter()
        .map(|stored| (stored.id.clone(), stored))
        .collect();
    // One endpoint's deliveries one after the other, in the order of their
    // events (when none fails, a receiver sees them in order); endpoints
    // side by side, so that a slow one holds up no other.
    let mut queues: Vec<(String, Vec<Delivery>)> = Vec::new();
    for delivery in due {
        match queues.iter_mut().find(|(id, _)| *id == delivery.webhook_id) {
            Some((_, queue)) => queue.push(delivery),
            None => queues.push((delivery.webhook_id.clone(), vec![delivery])),
        }
    }
    futures::stream::iter(queues)
        .for_each_concurrent(CONCURRENT_SENDS, |(webhook_id, queue)| {
            let endpoint = endpoints
                .get(&webhook_id)
                .filter(|stored| Settings::of(stored).enabled);
            async move {
                // A disabled (or just deleted) endpoint's deliveries wait.
                let Some(endpoint) = endpoint else { return };
                for delivery in &queue {
                    if let Err(error) = attempt(state, endpoint, delivery).await {
                        tracing::warn!(%error, delivery.id = %delivery.id, "webhooks: could not record an attempt");
                    }
                }
            }
        })
        .await;
    Ok(())
}

/// Claims a delivery and, if this node got it, sends it once and records
/// how it went. `false`: another node holds it (or it is no longer due).
pub async fn attempt(
    state: &AppState,
    endpoint: &StoredWebhook,
    delivery: &Delivery,
) -> Result<bool, StoreError> {
    let sender = &state.webhooks;
    let claimed_at = now();
    let lease = after(
        claimed_at,
        sender
            .timeout
            .saturating_add(sender.timeout.max(LEASE_MARGIN)),
    );
    if !state
        .store
        .claim_delivery(&delivery.id, &sender.node, claimed_at, lease)
        .await?
    {
        return Ok(false);
    }
    let result = send(sender, endpoint, delivery).await;
    let attempts = u32::try_from(delivery.attempts.saturating_add(1)).unwrap_or(u32::MAX);
    let outcome = match result {
        Ok(status) => {
            tracing::info!(webhook.id = %endpoint.id, delivery.id = %delivery.id, event = %delivery.event, status, "webhook delivered");
            AttemptOutcome::Delivered { status }
        }
        Err((status, error)) => {
            let config = &state.config;
            let retry_at = (attempts < config.webhook_max_attempts.max(1)).then(|| {
                now().saturating_add(backoff(
                    attempts,
                    config.webhook_retry_base_ms,
                    config.webhook_retry_max_ms,
                    rand::random::<f64>(),
                ))
            });
            tracing::warn!(webhook.id = %endpoint.id, delivery.id = %delivery.id, event = %delivery.event, attempts, %error, gives_up = retry_at.is_none(), "webhook delivery failed");
            AttemptOutcome::Failed {
                status,
                error,
                retry_at,
            }
        }
    };
    state
        .store
        .finish_delivery(&delivery.id, &sender.node, &outcome, now())
        .await
}

/// Sends a ping to an endpoint now (and keeps it with its deliveries,
/// retried like any other if it fails); answers the delivery after the
/// attempt.
pub async fn ping(state: &AppState, endpoint: &StoredWebhook) -> Result<Delivery, ApiError> {
    let at = now();
    let id = generate_id("whd");
    let event_id = generate_id("ping");
    let format = Settings::of(endpoint).format;
    let new = NewDelivery {
        id: id.clone(),
        webhook_id: endpoint.id.clone(),
        payload: ping_body(&event_id, &endpoint.id, &format, at),
        event_id,
        audit_id: None,
        event: "ping".to_owned(),
        next_attempt_at: at,
        created_at: at,
    };
    state.store.enqueue_deliveries(None, &[new]).await?;
    let missing = || ApiError::Internal(format!("delivery {id} vanished"));
    let delivery = state.store.delivery(&id).await?.ok_or_else(missing)?;
    // If the dispatcher claimed it first, it is being sent all the same.
    attempt(state, endpoint, &delivery).await?;
    state.store.delivery(&id).await?.ok_or_else(missing)
}

/// One POST: `Ok(status)` for a 2xx answer, else the status (if any) and
/// what went wrong.
async fn send(
    sender: &Sender,
    endpoint: &StoredWebhook,
    delivery: &Delivery,
) -> Result<u16, (Option<u16>, String)> {
    let Some(client) = &sender.client else {
        return Err((None, "no HTTP client (see the service log)".to_owned()));
    };
    let timestamp = now().unix_timestamp();
    let response = client
        .post(&endpoint.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            "X-FF-Signature",
            signature_header(&endpoint.secret, timestamp, &delivery.payload),
        )
        .header("X-FF-Event", &delivery.event)
        .header("X-FF-Delivery", &delivery.id)
        .body(delivery.payload.clone())
        .send()
        .await;
    match response {
        Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
        Ok(response) if response.status().is_redirection() => Err((
            Some(response.status().as_u16()),
            format!(
                "HTTP {}: redirects are not followed; register the final URL",
                response.status()
            ),
        )),
        Ok(response) => Err((
            Some(response.status().as_u16()),
            format!("HTTP {}", response.status()),
        )),
        Err(error) => Err((None, error_chain(&error))),
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature_header(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The wait before the attempt after `attempts` failed ones:
/// `base × 2^(attempts−1)`, capped at `max`, of which the second half is
/// scaled by `jitter` (0..1) so that endpoints that failed together do not
/// retry together.
pub fn backoff(attempts: u32, base_ms: u64, max_ms: u64, jitter: f64) -> time::Duration {
    let exponent = attempts.saturating_sub(1).min(32);
    let full = base_ms
        .saturating_mul(1u64 << exponent)
        .min(max_ms.max(1))
        .max(1);
    let half = full / 2;
    let jittered =
        half.saturating_add((full.saturating_sub(half) as f64 * jitter.clamp(0.0, 1.0)) as u64);
    time::Duration::milliseconds(i64::try_from(jittered).unwrap_or(i64::MAX))
}

/// `wait` after `at`, at most the latest time there is.
fn after(at: time::OffsetDateTime, wait: Duration) -> time::OffsetDateTime {
    at.saturating_add(time::Duration::try_from(wait).unwrap_or(time::Duration::MAX))
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// An error with its causes (reqwest's own text is often just "error
/// sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_stripe_style() {
        // Computed independently: printf '1700000000.{"a":1}' |
        //   openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature_header("whsec_test", 1_700_000_000, r#"{"a":1}"#),
            format!(
                "t=1700000000,v1={}",
                "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
            )
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let ms = |d: time::Duration| d.whole_milliseconds();
        let cases = [
            // attempts, jitter, expected ms (base 1000, cap 60 000)
            (1, 0.0, 500),
            (1, 1.0, 1000),
            (2, 0.0, 1000),
            (3, 0.5, 3000),
            (7, 1.0, 60_000),
            (40, 0.0, 30_000),
        ];
        for (attempts, jitter, expected) in cases {
            assert_eq!(
                ms(backoff(attempts, 1000, 60_000, jitter)),
                expected,
                "{attempts} {jitter}"
            );
        }
    }
}
