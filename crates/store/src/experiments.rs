//! Experiments, exposures and tracked events as the store keeps them.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

/// An experiment: its document is the server's (`crate::Change::PutExperiment`
/// stores it whole), with the flag and environment it is about pulled out
/// for lookups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentRecord {
    /// Its id.
    pub id: String,
    /// The flag whose variants it compares.
    pub flag_id: String,
    /// The environment it runs in.
    pub environment: String,
    /// The whole definition.
    pub document: Value,
}

/// An experiment as stored, with its version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredExperiment {
    /// The experiment.
    #[serde(flatten)]
    pub experiment: ExperimentRecord,
    /// Its version (1 at creation).
    pub version: i64,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A subject saw a variant of an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Exposure {
    /// The experiment.
    pub experiment_id: String,
    /// The subject's keyed hash.
    pub subject: String,
    /// The variant served.
    pub variant: String,
    /// When.
    pub at: OffsetDateTime,
}

/// Something a subject did (`POST /api/v1/track`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedEvent {
    /// The event's name (`checkout_completed`).
    pub event: String,
    /// The subject's keyed hash.
    pub subject: String,
    /// A number (revenue …) for numeric metrics.
    pub value: Option<f64>,
    /// When it happened.
    pub at: OffsetDateTime,
}

/// One variant's figures for one event: exposed subjects, those with the
/// event after their first exposure, and the sum and sum of squares of the
/// per-subject totals of its values (subjects without the event count 0).
#[derive(Debug, Clone, PartialEq)]
pub struct VariantTally {
    /// The variant.
    pub variant: String,
    /// Subjects exposed to it.
    pub exposed: u64,
    /// Of those, subjects with the event after their first exposure.
    pub converted: u64,
    /// Sum over exposed subjects of their value totals.
    pub sum: f64,
    /// Sum over exposed subjects of their value totals squared.
    pub sum_of_squares: f64,
}

/// An evaluation log switched on for a flag in an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSwitch {
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: String,
    /// Logging stops then.
    pub until: OffsetDateTime,
    /// Whether context attributes are kept in clear (else hashed).
    pub clear_context: bool,
}

/// One logged evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: String,
    /// When.
    pub at: OffsetDateTime,
    /// What was evaluated and why (context, value, variant, reason, rule).
    pub entry: Value,
}
