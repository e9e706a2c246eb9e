//! Outgoing webhooks: endpoints as registered and answered, and their
//! deliveries. What is sent to an endpoint (the event payload and its
//! signature headers) is documented in the server's README.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The events an endpoint can subscribe to.
pub const WEBHOOK_EVENTS: [&str; 6] = [
    "flag.changed",
    "flag.killed",
    "change_request.opened",
    "change_request.decided",
    "schedule.applied",
    "schedule.failed",
];

/// The body formats an endpoint can receive.
pub const WEBHOOK_FORMATS: [&str; 2] = ["json", "slack"];

/// `POST /api/v1/webhooks`: register an endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to POST: an `http` or `https` URL. Redirects are never followed.
    #[schemars(
        length(min = 1, max = 2048),
        regex(pattern = r"^https?://[^\s/?#]+[^\s]*$")
    )]
    pub url: String,
    /// What to send: at least one of `flag.changed`, `flag.killed` (the
    /// kill switch), `change_request.opened`, `change_request.decided`,
    /// `schedule.applied`, `schedule.failed`.
    #[schemars(length(min = 1), extend("uniqueItems" = true, "items" = {"type": "string", "enum": ["flag.changed", "flag.killed", "change_request.opened", "change_request.decided", "schedule.applied", "schedule.failed"]}))]
    pub events: Vec<String>,
    /// Only events in these environments (and events that are about no
    /// one environment, such as a whole flag's edit); empty or absent: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("uniqueItems" = true))]
    pub environments: Vec<String>,
    /// `json` (default): the event as JSON; `slack`: a Slack incoming
    /// webhook's `{"text": …}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["json", "slack"]))]
    pub format: Option<String>,
    /// Whether to send (default `true`); a disabled endpoint gets nothing,
    /// and its pending deliveries wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// For people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
}

/// `PATCH /api/v1/webhooks/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// A new URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 2048),
        regex(pattern = r"^https?://[^\s/?#]+[^\s]*$")
    )]
    pub url: Option<String>,
    /// New events (replacing the old).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), extend("uniqueItems" = true, "items" = {"type": "string", "enum": ["flag.changed", "flag.killed", "change_request.opened", "change_request.decided", "schedule.applied", "schedule.failed"]}))]
    pub events: Option<Vec<String>>,
    /// New environment filter (empty: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("uniqueItems" = true))]
    pub environments: Option<Vec<String>>,
    /// `json` or `slack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["json", "slack"]))]
    pub format: Option<String>,
    /// Pause (`false`) or resume (`true`) sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// For people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub description: Option<String>,
}

/// An endpoint as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Webhook {
    /// `wh_…`.
    pub id: String,
    /// Where it POSTs.
    pub url: String,
    /// The events it receives.
    pub events: Vec<String>,
    /// Its environment filter (empty: all).
    pub environments: Vec<String>,
    /// `json` or `slack`.
    pub format: String,
    /// Whether it is sent to.
    pub enabled: bool,
    /// For people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its version (1 at creation).
    pub version: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The signing secret (`whsec_…`): answered once, at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A deleted endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookDeleted {
    /// The endpoint.
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
}

/// One delivery of an event to an endpoint, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookDelivery {
    /// `whd_…`: the `X-FF-Delivery` header, the same on every attempt.
    pub id: String,
    /// The endpoint.
    pub webhook_id: String,
    /// The event's id (`evt_…`; the same for every endpoint).
    pub event_id: String,
    /// `flag.changed`, …, or `ping`.
    pub event: String,
    /// `pending` (waiting for an attempt), `delivered` (2xx) or `failed`
    /// (gave up).
    #[schemars(extend("enum" = ["pending", "delivered", "failed"]))]
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (pending only), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// The last answer's status code, if the endpoint answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The body sent (JSON).
    pub payload: Value,
}
