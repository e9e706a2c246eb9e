//! The service's evaluation counts: an [`ff_engine::tally::Tally`] in
//! minute buckets, taken every few seconds by a background task and added
//! to the store's buckets (where several nodes' counts add up). Nothing on
//! the evaluation path touches the store.

use ff_engine::Resolution;
use ff_engine::tally::{Counted, Tally};
use ff_store::{EvaluationCount, Granularity};
use time::OffsetDateTime;

pub use ff_engine::tally::{MAX_LABEL_CHARS, TallyKey, error_of, label_of, reason_of};

/// Distinct keys held before new ones are dropped: far above what one node
/// sees between flushes, reached only when the store is down for long.
const MAX_KEYS: usize = 1_000_000;

/// Counts not yet flushed to the store.
#[derive(Debug)]
pub struct EvaluationCounter(Tally);

impl Default for EvaluationCounter {
    fn default() -> Self {
        EvaluationCounter(Tally::new(MAX_KEYS))
    }
}

impl EvaluationCounter {
    /// Counts one evaluation of `flag_id` in `environment` at `now`.
    pub fn record(
        &self,
        flag_id: &str,
        environment: &str,
        resolution: &Resolution<'_>,
        now: OffsetDateTime,
    ) {
        self.0.record(minute(now), flag_id, environment, resolution);
    }

    /// Adds `count` evaluations under `key` (SDK batches add many at once).
    pub fn add(&self, key: TallyKey<'_>, count: u64) {
        self.0.add(key, count);
    }

    /// Takes every count so far, as minute buckets to add to the store.
    pub fn take(&self) -> Vec<EvaluationCount> {
        self.0
            .take()
            .into_iter()
            .filter_map(|counted| {
                Some(EvaluationCount {
                    granularity: Granularity::Minute,
                    bucket_start: OffsetDateTime::from_unix_timestamp(counted.bucket).ok()?,
                    flag_id: counted.flag_id,
                    environment: counted.environment,
                    label: counted.label,
                    reason: counted.reason.as_str().to_owned(),
                    error_code: counted
                        .error_code
                        .map(ff_engine::ErrorCode::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    count: i64::try_from(counted.count).unwrap_or(i64::MAX),
                })
            })
            .collect()
    }

    /// Puts counts back that could not be stored, so that a database blip
    /// loses nothing (they are added again at the next flush).
    pub fn restore(&self, counts: &[EvaluationCount]) {
        let counted: Vec<Counted> = counts
            .iter()
            .filter_map(|count| {
                Some(Counted {
                    bucket: count.bucket_start.unix_timestamp(),
                    flag_id: count.flag_id.clone(),
                    environment: count.environment.clone(),
                    label: count.label.clone(),
                    reason: reason_of(&count.reason)?,
                    error_code: error_of(&count.error_code),
                    count: u64::try_from(count.count).ok()?,
                })
            })
            .collect();
        self.0.restore(&counted);
    }
}

/// The minute bucket of a time (Unix seconds at its start).
pub fn minute(at: OffsetDateTime) -> i64 {
    Granularity::Minute.bucket_of(at).unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_go_to_their_minute_and_survive_a_failed_flush() {
        let counter = EvaluationCounter::default();
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_030)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let on = serde_json::Value::Bool(true);
        let resolution = Resolution {
            value: Some(&on),
            variant: None,
            reason: ff_engine::Reason::Static,
            rule: None,
            failed_prerequisite: None,
            error_code: None,
        };
        counter.record("checkout", "production", &resolution, at);
        counter.record("checkout", "production", &resolution, at);
        let taken = counter.take();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].bucket_start.unix_timestamp(), 1_800_000_000);
        assert_eq!(
            (
                taken[0].label.as_str(),
                taken[0].reason.as_str(),
                taken[0].count
            ),
            ("true", "STATIC", 2)
        );
        counter.restore(&taken);
        assert_eq!(counter.take(), taken);
    }
}
