//! The OpenFeature Remote Evaluation Protocol's bodies (OFREP), as this
//! service answers them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::OfrepError;

/// The body of both OFREP evaluation routes. Other members are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepRequest {
    /// `targetingKey` (or `user_id`) and any attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

/// One flag's successful evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepEvaluation {
    /// The flag.
    pub key: String,
    /// The value (a float flag's numbers are always floats).
    pub value: Value,
    /// A standard OpenFeature reason (`STATIC`, `DEFAULT`,
    /// `TARGETING_MATCH`, `SPLIT`, `DISABLED`).
    pub reason: String,
    /// The variant served, or a name for how the value was decided.
    pub variant: String,
    /// `reasonDetail`, `prerequisite`, `ruleIndex`, `ruleName`.
    #[serde(default)]
    pub metadata: OfrepMetadata,
}

/// What OFREP's fixed reasons cannot say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepMetadata {
    /// `PREREQUISITE_FAILED` (sent as `DISABLED`).
    #[serde(
        rename = "reasonDetail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reason_detail: Option<String>,
    /// The prerequisite that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prerequisite: Option<String>,
    /// The rule that matched: its position.
    #[serde(rename = "ruleIndex", default, skip_serializing_if = "Option::is_none")]
    pub rule_index: Option<usize>,
    /// The rule that matched: its name.
    #[serde(rename = "ruleName", default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
}

/// One item of the bulk answer: an evaluation, or that flag's error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OfrepFlag {
    /// Evaluated.
    Evaluated(OfrepEvaluation),
    /// Could not be evaluated.
    Failed(OfrepError),
}

/// `POST /ofrep/v1/evaluate/flags`: every flag for one context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepBulkEvaluation {
    /// One item per flag.
    pub flags: Vec<OfrepFlag>,
    /// `{"revision": n}`.
    pub metadata: OfrepBulkMetadata,
    /// Where to follow changes (when the service offers its event stream).
    #[serde(
        rename = "eventStreams",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_streams: Option<Vec<OfrepEventStream>>,
}

/// The bulk answer's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepBulkMetadata {
    /// The configuration revision evaluated.
    pub revision: i64,
}

/// An event stream a client may follow for `refetchEvaluation` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepEventStream {
    /// `sse`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `{"requestUri": "/ofrep/v1/stream"}`.
    pub endpoint: OfrepEndpoint,
    /// Seconds without activity after which a client may disconnect.
    #[serde(rename = "inactivityDelaySec")]
    pub inactivity_delay_sec: u64,
}

/// Where an event stream is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepEndpoint {
    /// Relative to the service.
    #[serde(rename = "requestUri")]
    pub request_uri: String,
}
