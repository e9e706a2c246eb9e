//! The query strings the routes read. Each is refused whole (400
//! `invalid_query`) when it has a member not listed here or a value of the
//! wrong type, so these types are also what the OpenAPI document's query
//! parameters are generated from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `GET /api/v1/flags`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFlagsQuery {
    /// Only flags with this tag.
    pub tag: Option<String>,
    /// Only flags of this owner.
    pub owner: Option<String>,
    /// Only flags in this lifecycle stage.
    #[schemars(extend("enum" = ff_engine::Lifecycle::ALL.map(ff_engine::Lifecycle::as_str)))]
    pub lifecycle: Option<String>,
    /// Text in the id, description, owner or tags (case-insensitive).
    pub q: Option<String>,
    /// `true`: list soft-deleted flags instead of live ones.
    #[serde(default)]
    pub deleted: bool,
    /// Page size (default 100, at most 1000).
    #[schemars(range(max = u32::MAX))]
    pub limit: Option<u32>,
    /// The last `flag_id` of the previous page (its `next_cursor`).
    pub cursor: Option<String>,
}

/// `GET /api/v1/flags/stale`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaleQuery {
    /// Not evaluated for this many days (default 30).
    #[schemars(range(min = 1, max = 36_500))]
    pub unused_days: Option<u32>,
    /// Serving one value everywhere, unchanged for this many days (default 14).
    #[schemars(range(min = 1, max = 36_500))]
    pub rollout_days: Option<u32>,
}

/// `GET /api/v1/flags/{flag_id}/versions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionsQuery {
    /// Versions below this one (the cursor).
    #[schemars(range(min = i64::MIN, max = i64::MAX))]
    pub before: Option<i64>,
    /// Page size (default 50, at most 500).
    #[schemars(range(max = u32::MAX))]
    pub limit: Option<u32>,
}

/// `GET /api/v1/flags/{flag_id}/diff`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagDiffQuery {
    /// The older version.
    #[schemars(range(min = i64::MIN, max = i64::MAX))]
    pub from: i64,
    /// The newer version (default: the current one).
    #[schemars(range(min = i64::MIN, max = i64::MAX))]
    pub to: Option<i64>,
}

/// `GET /api/v1/environments/diff`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentDiffQuery {
    /// One environment.
    #[schemars(required, with = "String")]
    pub from: Option<String>,
    /// The other.
    #[schemars(required, with = "String")]
    pub to: Option<String>,
}

/// `POST /api/v1/dependencies/check`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckDependenciesQuery {
    /// The environment to check in.
    #[schemars(required, with = "String")]
    pub environment: Option<String>,
    /// `json` or `yaml` (default: from `Content-Type`).
    #[schemars(with = "Option<DocumentFormat>")]
    pub format: Option<String>,
}

/// How a whole document is written (read as a string by the routes, which
/// name the formats they know when refusing another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// `GET /api/v1/export`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (default) or `yaml`.
    #[schemars(with = "Option<DocumentFormat>")]
    pub format: Option<String>,
}

/// `POST /api/v1/import`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `true`: report what would change without changing anything.
    #[serde(default)]
    pub dry_run: bool,
    /// `true`: also delete flags and segments that the document does not contain.
    #[serde(default)]
    pub prune: bool,
    /// `json` or `yaml`; by default from `Content-Type` (undeclared: JSON
    /// when it opens like JSON, else YAML).
    #[schemars(with = "Option<DocumentFormat>")]
    pub format: Option<String>,
}

/// `GET /api/v1/audit`. Every member narrows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries about this flag.
    pub flag_id: Option<String>,
    /// Entries about this environment.
    pub environment: Option<String>,
    /// Entries by this key id.
    pub actor: Option<String>,
    /// This action, e.g. `flag.update`.
    pub action: Option<String>,
    /// Entries of this deployment.
    pub deployment_id: Option<String>,
    /// RFC 3339, inclusive.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub since: Option<OffsetDateTime>,
    /// RFC 3339, exclusive.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub until: Option<OffsetDateTime>,
    /// The `next_cursor` of the previous page.
    #[schemars(range(min = i64::MIN, max = i64::MAX))]
    pub before_id: Option<i64>,
    /// Page size (default 100, at most 1000).
    #[schemars(range(max = u32::MAX))]
    pub limit: Option<u32>,
}

/// `GET /api/v1/change-requests`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequestsQuery {
    /// `pending`, `applied` or `rejected`.
    #[schemars(extend("enum" = ["pending", "applied", "rejected"]))]
    pub status: Option<String>,
    /// Requests needing this environment's approval.
    pub environment: Option<String>,
    /// Requests changing this flag.
    pub flag_id: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[schemars(range(max = u32::MAX))]
    pub limit: Option<u32>,
}

/// `GET /api/v1/schedules` and `GET /api/v1/rollout-plans`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkItemsQuery {
    /// Only this status (schedules: scheduled, applied, held, failed,
    /// cancelled; plans: active, paused, completed, held, failed).
    pub status: Option<String>,
    /// Only about this flag.
    pub flag_id: Option<String>,
    /// Only in this environment.
    pub environment: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[schemars(range(max = u32::MAX))]
    pub limit: Option<u32>,
}

/// `?environment=` of the evaluation routes and streams, for admin keys
/// (server and client keys have their own environment).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentQuery {
    /// The environment (admin keys only).
    pub environment: Option<String>,
}

/// The OFREP event stream's query: `?environment=` for admin keys, or the
/// stream credential that bulk answers advertise for browsers, whose
/// `EventSource` cannot send a key in a header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepStreamQuery {
    /// The environment (admin keys only).
    pub environment: Option<String>,
    /// A stream credential from a bulk answer's `eventStreams` (opens this
    /// stream only; expires after 15 minutes; a new bulk answer brings a
    /// new one).
    pub token: Option<String>,
}

/// OFREP's query: `?environment=` for admin keys, and what providers send
/// when they re-fetch after a stream event (ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepQuery {
    /// The environment (admin keys only).
    pub environment: Option<String>,
    /// Sent by providers re-fetching after a stream event (informational).
    #[serde(rename = "flagConfigEtag")]
    pub flag_config_etag: Option<String>,
    /// Sent by providers re-fetching after a stream event (informational).
    #[serde(rename = "flagConfigLastModified")]
    pub flag_config_last_modified: Option<String>,
}
