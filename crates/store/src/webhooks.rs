//! Outgoing webhooks: the endpoints (changed through commits, so audited
//! like API keys) and their deliveries, an outbox the server's dispatcher
//! fills from the audit log and drains over HTTP.
//!
//! The store guarantees the two properties delivery rests on:
//! - **nothing is lost**: deliveries are rows, inserted in the same
//!   transaction that moves the dispatch cursor past their audit entries
//!   ([`crate::FlagStore::enqueue_deliveries`]);
//! - **one sender at a time**: a node sends a delivery only after claiming
//!   it ([`crate::FlagStore::claim_delivery`]) with an `UPDATE` that matches
//!   only an unleased (or expired) row, checked by the rows it affected;
//!   the outcome is recorded only by the lease's owner.

use serde_json::Value;
use time::OffsetDateTime;

/// An endpoint to create or replace (`Debug` shows neither the secret nor
/// the URL, which may be a credential).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    /// `wh_…`.
    pub id: String,
    /// Where to send (kept out of the document: the audit log shows the
    /// document, and a URL may carry a credential).
    pub url: String,
    /// Its settings (events, environments, format, enabled, description,
    /// the URL without its path): what the audit log shows.
    pub document: Value,
    /// The signing secret: `Some` at creation (or rotation); `None` keeps
    /// the stored one. Never in the audit log.
    pub secret: Option<String>,
}

/// An endpoint as stored (`Debug` redacts the secret and the URL).
#[derive(Clone, PartialEq)]
pub struct StoredWebhook {
    /// `wh_…`.
    pub id: String,
    /// Where to send.
    pub url: String,
    /// Its settings.
    pub document: Value,
    /// The signing secret (for the dispatcher; never answered but once).
    pub secret: String,
    /// 1 at creation.
    pub version: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("url", &"[redacted]")
            .field("document", &self.document)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl std::fmt::Debug for StoredWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredWebhook")
            .field("id", &self.id)
            .field("url", &"[redacted]")
            .field("document", &self.document)
            .field("secret", &"[redacted]")
            .field("version", &self.version)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up after the last attempt.
    Failed,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Reads a stored name.
    pub fn from_name(name: &str) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A delivery to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// `whd_…`: sent as `X-FF-Delivery`, the same on every attempt.
    pub id: String,
    /// The endpoint.
    pub webhook_id: String,
    /// The event (`evt_<audit id>`, or a ping's own id); one delivery per
    /// endpoint and event, whichever node inserts it first.
    pub event_id: String,
    /// The audit entry the event comes from (`None` for a ping).
    pub audit_id: Option<i64>,
    /// The event's name (`flag.changed`, `ping`, …).
    pub event: String,
    /// The exact body to send.
    pub payload: String,
    /// When to make the first attempt.
    pub next_attempt_at: OffsetDateTime,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `whd_…`.
    pub id: String,
    /// The endpoint.
    pub webhook_id: String,
    /// The event's id.
    pub event_id: String,
    /// The audit entry the event comes from (`None` for a ping).
    pub audit_id: Option<i64>,
    /// The event's name.
    pub event: String,
    /// The body sent.
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The last answer's status code, if the endpoint answered.
    pub last_status: Option<i64>,
    /// Why the last attempt failed (no answer, or a non-2xx one).
    pub last_error: Option<String>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx.
    Delivered {
        /// The status code.
        status: u16,
    },
    /// Failed; try again at `retry_at`, or give up (`None`).
    Failed {
        /// The status code, if the endpoint answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// When to try again; `None`: the delivery is failed for good.
        retry_at: Option<OffsetDateTime>,
    },
}
