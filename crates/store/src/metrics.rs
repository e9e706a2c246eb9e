//! Evaluation counts in time buckets (see `FlagStore::add_evaluation_counts`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The width of a time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day (UTC).
    Day,
}

impl Granularity {
    /// Every granularity, finest first.
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    /// Reads a stored or requested name.
    pub fn from_name(name: &str) -> Option<Granularity> {
        Granularity::ALL.into_iter().find(|g| g.as_str() == name)
    }

    /// The bucket's width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Granularity::Minute => 60,
            Granularity::Hour => 3_600,
            Granularity::Day => 86_400,
        }
    }

    /// The start of the bucket that holds `at`.
    pub fn bucket_of(self, at: OffsetDateTime) -> OffsetDateTime {
        let seconds = at.unix_timestamp();
        // Only a timestamp within one bucket of i64::MIN could go below it.
        let start = seconds.saturating_sub(seconds.rem_euclid(self.seconds()));
        OffsetDateTime::from_unix_timestamp(start).unwrap_or(at)
    }
}

/// A number of evaluations with the same flag, environment, outcome, reason
/// and error code in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationCount {
    /// The bucket's width.
    pub granularity: Granularity,
    /// The bucket's start.
    #[serde(with = "time::serde::rfc3339")]
    pub bucket_start: OffsetDateTime,
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: String,
    /// The variant served, else a label of the value (bounded), empty on error.
    pub label: String,
    /// The OpenFeature reason (`TARGETING_MATCH` …).
    pub reason: String,
    /// The OpenFeature error code, empty when there was none.
    pub error_code: String,
    /// How many.
    pub count: i64,
}

/// Which counts to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountQuery {
    /// The flag.
    pub flag_id: String,
    /// Only this environment (all when `None`).
    pub environment: Option<String>,
    /// Buckets of this width.
    pub granularity: Granularity,
    /// Buckets starting at or after this.
    pub since: OffsetDateTime,
    /// Buckets starting before this.
    pub until: OffsetDateTime,
}

/// Every flag's evaluations in one bucket, all environments and outcomes
/// together (`FlagStore::evaluation_totals`): what a list of every flag
/// shows beside each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagBucketTotal {
    /// The flag.
    pub flag_id: String,
    /// The bucket's start.
    pub bucket_start: OffsetDateTime,
    /// How many evaluations.
    pub count: i64,
}
