//! Environments, segments, API keys, the audit log and health: the other
//! resources as answered.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::documents::{EnvironmentFields, Members, SegmentFields};

/// An environment as answered: its settings plus the stored metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Environment {
    /// The settings (`key`, `parent`, `auto_sync`, `protected`, …).
    #[serde(flatten)]
    #[schemars(with = "EnvironmentFields")]
    pub settings: Members,
    /// Its version.
    pub version: i64,
    /// RFC 3339.
    pub updated_at: String,
    /// The environments whose parent it is.
    pub children: Vec<String>,
}

/// A deleted environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvironmentDeleted {
    /// The environment.
    pub key: String,
    /// Always `true`.
    pub deleted: bool,
    /// The configuration revision.
    pub revision: i64,
}

/// `POST /api/v1/environments/{env}/promote`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// These flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// Every flag.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    /// Flags changed at or after this time (RFC 3339).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub changed_since: Option<time::OffsetDateTime>,
    /// Why (protected environments need one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer of a promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PromoteResponse {
    /// The environment promoted into.
    pub environment: String,
    /// Its parent, promoted from.
    pub from: String,
    /// The flags whose entry changed.
    pub promoted: Vec<String>,
    /// The flags already equal.
    pub unchanged: Vec<String>,
    /// The configuration revision.
    pub revision: Option<i64>,
}

/// `GET /api/v1/environments/diff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvironmentDiff {
    /// One environment.
    pub from: String,
    /// The other.
    pub to: String,
    /// The flags whose effective configuration differs.
    pub differences: Vec<EnvironmentDifference>,
    /// How many flags are the same in both.
    pub equal: u64,
}

/// One flag that differs between two environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvironmentDifference {
    /// The flag.
    pub flag_id: String,
    /// What is in effect in `from`.
    pub from: Value,
    /// What is in effect in `to`.
    pub to: Value,
    /// Path by path.
    pub changes: Vec<crate::Difference>,
}

/// A segment as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Segment {
    /// The document (`segment_id`, `description`, `conditions`).
    #[serde(flatten)]
    #[schemars(with = "SegmentFields")]
    pub document: Members,
    /// Its version.
    pub version: i64,
    /// RFC 3339.
    pub updated_at: String,
    /// The flags whose rules use it.
    pub used_by: Vec<String>,
}

/// A deleted segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SegmentDeleted {
    /// The segment.
    pub segment_id: String,
    /// Always `true`.
    pub deleted: bool,
    /// The configuration revision.
    pub revision: i64,
}

/// `POST /api/v1/api-keys`: an admin key has a role and no environment; a
/// server or client key an environment and no role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"properties": {"kind": {"const": "admin"}, "environment": {"type": "null"}}, "anyOf": [{"required": ["role"]}, {"required": ["environment_roles"]}]},
    {"properties": {"kind": {"enum": ["server", "client"]}, "environment": {"type": "string"}, "role": {"type": "null"}, "environments": {"type": "null"}, "environment_roles": {"type": "null"}}, "required": ["environment"]}
]))]
pub struct CreateApiKeyRequest {
    /// A name for people (not blank).
    #[schemars(regex(pattern = r"\S"))]
    pub name: String,
    /// `admin`, `server` or `client`.
    #[schemars(extend("enum" = ["admin", "server", "client"]))]
    pub kind: String,
    /// For admin keys (and only them): `viewer`, `editor`, `approver` or `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["viewer", "editor", "approver", "admin"]))]
    pub role: Option<String>,
    /// For server and client keys (and only them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// For admin keys: scopes `role` to these environments (and no role
    /// elsewhere), e.g. `["development", "staging"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    /// For admin keys: a role per environment, e.g.
    /// `{"development": "editor", "production": "viewer"}` (no role
    /// elsewhere); with `environments`, these take precedence. `role` may
    /// then be left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("additionalProperties" = {"enum": ["viewer", "editor", "approver", "admin"]}))]
    pub environment_roles: Option<std::collections::BTreeMap<String, String>>,
}

/// An API key as answered (never its secret, but on creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKey {
    /// Public identifier (`key_…`), used as the audit actor.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// `admin`, `server` or `client`.
    pub kind: String,
    /// For admin keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// For server and client keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// For admin keys scoped to environments: the role in each (none
    /// elsewhere; `role` is then the highest of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_roles: Option<std::collections::BTreeMap<String, String>>,
    /// The first characters of a generated secret, to recognise it.
    pub prefix: String,
    /// The key id that created it, or `system`.
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, roughly (updates are batched).
    pub last_used_at: Option<String>,
    /// RFC 3339.
    pub revoked_at: Option<String>,
    /// The secret: answered once, by `POST /api/v1/api-keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A revoked key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyRevoked {
    /// The key.
    pub id: String,
    /// Always `true`.
    pub revoked: bool,
    /// The configuration revision.
    pub revision: i64,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// Who (an API key id, or `system`).
    pub actor: String,
    /// What (`flag.update`, …).
    pub action: String,
    /// `flag`, `segment`, `environment`, `api_key`, …
    pub resource_kind: String,
    /// The resource's key.
    pub resource_key: String,
    /// The environment concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The resource before (null when created).
    pub before: Value,
    /// The resource after (null when deleted).
    pub after: Value,
    /// Why, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The deployment it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// The previous entry's hash (hex).
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub hash: String,
}

/// `GET /api/v1/audit/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditVerification {
    /// Whether every entry's hash and link hold.
    pub valid: bool,
    /// How many entries were checked.
    pub entries: u64,
    /// The first entry whose hash or link does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_broken_id: Option<i64>,
    /// The last entry's hash: publish it to detect a rewritten tail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_hash: Option<String>,
}

/// `GET /health/live`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Liveness {
    /// `ok`.
    pub status: String,
}

/// `GET /health/ready`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Readiness {
    /// `ok`.
    pub status: String,
    /// The configuration revision served.
    pub revision: i64,
    /// How many live flags.
    pub flags: u64,
    /// How many environments.
    pub environments: u64,
}
