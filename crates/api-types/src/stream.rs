//! The payloads of the server-sent event streams.
//!
//! `GET /api/v1/stream` sends `put` (an environment's whole rule set) and
//! then `patch` / `delete` ([`ChangeEvent`]) per change, the last event of a
//! batch with the revision as its `id`. `GET /ofrep/v1/stream` sends
//! `message` events holding a [`RefetchEvent`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `put` event: everything a local evaluator needs for one environment
/// (flags projected onto it, inheritance resolved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PutEvent {
    /// The configuration revision.
    pub revision: i64,
    /// The environment.
    pub environment: String,
    /// Every live flag's document, projected onto the environment.
    pub flags: Vec<Value>,
    /// Every segment's document.
    pub segments: Vec<Value>,
}

/// A `patch` (`document` present) or `delete` (absent) event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeEvent {
    /// The configuration revision.
    pub revision: i64,
    /// `flag` or `segment`.
    pub kind: String,
    /// The flag or segment id.
    pub key: String,
    /// The new document (a flag projected onto the environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
}

/// OFREP's `refetchEvaluation` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RefetchEvent {
    /// `refetchEvaluation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The revision that changed (absent on the first event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The name of the events of `GET /api/v1/stream`.
pub mod event {
    /// The whole rule set.
    pub const PUT: &str = "put";
    /// A flag or segment written.
    pub const PATCH: &str = "patch";
    /// A flag or segment deleted.
    pub const DELETE: &str = "delete";
}
