//! Evaluation counts in memory.
//!
//! An evaluation adds one to a counter keyed by minute, flag, environment,
//! outcome label, reason and error code. The key is looked up by borrowed
//! parts ([`KeyRef`]), so a count allocates only the first time its key is
//! seen in a minute; the map is split in shards so that concurrent
//! evaluations rarely wait on the same lock. Nothing on this path touches
//! the store: a background task takes the counts every few seconds
//! ([`EvaluationCounter::take`]) and adds them to the store's buckets, where
//! several nodes' counts add up.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;

use ff_engine::{ErrorCode, Reason, Resolution};
use ff_store::{EvaluationCount, Granularity};
use hashbrown::{Equivalent, HashMap};
use serde_json::Value;
use time::OffsetDateTime;

/// Shards of the counter map (a power of two).
const SHARDS: usize = 16;

/// Value labels longer than this are not kept as they are (see [`label`]).
pub const MAX_LABEL_CHARS: usize = 64;

/// Counts not yet flushed to the store.
pub struct EvaluationCounter {
    shards: [Mutex<HashMap<CountKey, u64>>; SHARDS],
    hasher: hashbrown::DefaultHashBuilder,
}

impl Default for EvaluationCounter {
    fn default() -> Self {
        EvaluationCounter {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            hasher: hashbrown::DefaultHashBuilder::default(),
        }
    }
}

/// One counter's key, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CountKey {
    minute: i64,
    flag_id: Box<str>,
    environment: Box<str>,
    label: Box<str>,
    reason: Reason,
    error_code: Option<ErrorCode>,
}

/// One counter's key, borrowed from a request and its resolution.
#[derive(Debug, Clone, Copy)]
pub struct KeyRef<'a> {
    /// Unix seconds at the start of the minute.
    pub minute: i64,
    /// The flag.
    pub flag_id: &'a str,
    /// The environment.
    pub environment: &'a str,
    /// The outcome's label (see [`label`]).
    pub label: &'a str,
    /// Why.
    pub reason: Reason,
    /// The error, if any.
    pub error_code: Option<ErrorCode>,
}

// Both key forms hash the same fields in the same order, as `Equivalent`
// lookups require.
impl Hash for CountKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state);
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.minute.hash(state);
        self.flag_id.hash(state);
        self.environment.hash(state);
        self.label.hash(state);
        self.reason.hash(state);
        self.error_code.hash(state);
    }
}

impl Equivalent<CountKey> for KeyRef<'_> {
    fn equivalent(&self, key: &CountKey) -> bool {
        self.minute == key.minute
            && self.flag_id == &*key.flag_id
            && self.environment == &*key.environment
            && self.label == &*key.label
            && self.reason == key.reason
            && self.error_code == key.error_code
    }
}

impl CountKey {
    fn as_ref(&self) -> KeyRef<'_> {
        KeyRef {
            minute: self.minute,
            flag_id: &self.flag_id,
            environment: &self.environment,
            label: &self.label,
            reason: self.reason,
            error_code: self.error_code,
        }
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
        let label = label(resolution);
        self.add(
            KeyRef {
                minute: Granularity::Minute.bucket_of(now).unix_timestamp(),
                flag_id,
                environment,
                label: &label,
                reason: resolution.reason,
                error_code: resolution.error_code,
            },
            1,
        );
    }

    /// Adds `count` evaluations under `key` (SDK batches add many at once).
    pub fn add(&self, key: KeyRef<'_>, count: u64) {
        let shard = self.shard(&key);
        let Ok(mut map) = shard.lock() else {
            return;
        };
        match map.get_mut(&key) {
            Some(total) => *total = total.saturating_add(count),
            None => {
                map.insert(
                    CountKey {
                        minute: key.minute,
                        flag_id: key.flag_id.into(),
                        environment: key.environment.into(),
                        label: key.label.into(),
                        reason: key.reason,
                        error_code: key.error_code,
                    },
                    count,
                );
            }
        }
    }

    fn shard(&self, key: &KeyRef<'_>) -> &Mutex<HashMap<CountKey, u64>> {
        // The flag id alone picks the shard: one flag's counts stay together.
        let hash = self.hasher.hash_one(key.flag_id);
        let index = usize::try_from(hash).unwrap_or_default() & (SHARDS - 1);
        &self.shards[index]
    }

    /// Takes every count so far, as minute buckets to add to the store.
    pub fn take(&self) -> Vec<EvaluationCount> {
        let mut taken = Vec::new();
        for shard in &self.shards {
            let map = match shard.lock() {
                Ok(mut map) => std::mem::take(&mut *map),
                Err(_) => continue,
            };
            taken.extend(map.into_iter().filter_map(|(key, count)| {
                Some(EvaluationCount {
                    granularity: Granularity::Minute,
                    bucket_start: OffsetDateTime::from_unix_timestamp(key.minute).ok()?,
                    flag_id: key.flag_id.into(),
                    environment: key.environment.into(),
                    label: key.label.into(),
                    reason: key.reason.as_str().to_owned(),
                    error_code: key
                        .error_code
                        .map(ErrorCode::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    count: i64::try_from(count).unwrap_or(i64::MAX),
                })
            }));
        }
        taken
    }

    /// Puts counts back that could not be stored, so that a database blip
    /// loses nothing (they are added again at the next flush).
    pub fn restore(&self, counts: &[EvaluationCount]) {
        for count in counts {
            let (Some(reason), error_code) =
                (reason_of(&count.reason), error_of(&count.error_code))
            else {
                continue;
            };
            self.add(
                KeyRef {
                    minute: count.bucket_start.unix_timestamp(),
                    flag_id: &count.flag_id,
                    environment: &count.environment,
                    label: &count.label,
                    reason,
                    error_code,
                },
                u64::try_from(count.count).unwrap_or_default(),
            );
        }
    }
}

/// What an evaluation served, as a bounded label: the variant when the
/// value came from one; otherwise `true`/`false`, a short string as it is,
/// a number's text, and `json`, `string` (too long to keep) or `null`.
/// Values come from flag documents, never from the request, so the labels
/// of a flag are bounded by its configuration.
pub fn label<'a>(resolution: &Resolution<'a>) -> std::borrow::Cow<'a, str> {
    label_of(resolution.variant, resolution.value)
}

/// [`label`] of a variant and a value (as SDK batches report them).
pub fn label_of<'a>(
    variant: Option<&'a str>,
    value: Option<&'a Value>,
) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    if let Some(variant) = variant {
        return Cow::Borrowed(variant);
    }
    match value {
        None => Cow::Borrowed(""),
        Some(Value::Bool(true)) => Cow::Borrowed("true"),
        Some(Value::Bool(false)) => Cow::Borrowed("false"),
        Some(Value::String(text)) if text.chars().count() <= MAX_LABEL_CHARS => Cow::Borrowed(text),
        Some(Value::String(_)) => Cow::Borrowed("string"),
        Some(Value::Number(number)) => Cow::Owned(number.to_string()),
        Some(Value::Null) => Cow::Borrowed("null"),
        Some(_) => Cow::Borrowed("json"),
    }
}

/// A reason by its OpenFeature name.
pub fn reason_of(name: &str) -> Option<Reason> {
    [
        Reason::Static,
        Reason::Default,
        Reason::TargetingMatch,
        Reason::Split,
        Reason::Disabled,
        Reason::PrerequisiteFailed,
        Reason::Error,
    ]
    .into_iter()
    .find(|r| r.as_str() == name)
}

/// An error code by its OpenFeature name (empty: none).
pub fn error_of(name: &str) -> Option<ErrorCode> {
    [
        ErrorCode::FlagNotFound,
        ErrorCode::TypeMismatch,
        ErrorCode::TargetingKeyMissing,
        ErrorCode::InvalidContext,
        ErrorCode::ParseError,
        ErrorCode::General,
    ]
    .into_iter()
    .find(|e| e.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolution<'a>(value: &'a Value, variant: Option<&'a str>) -> Resolution<'a> {
        Resolution {
            value: Some(value),
            variant,
            reason: Reason::Static,
            rule: None,
            failed_prerequisite: None,
            error_code: None,
        }
    }

    #[test]
    fn counts_add_up_by_key_and_are_taken_once() {
        let counter = EvaluationCounter::default();
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_030)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let on = Value::Bool(true);
        for _ in 0..3 {
            counter.record("checkout", "production", &resolution(&on, None), at);
        }
        counter.record("checkout", "staging", &resolution(&on, None), at);
        counter.record("checkout", "production", &resolution(&on, Some("blue")), at);
        let mut taken = counter.take();
        taken.sort_by(|a, b| (&a.environment, &a.label).cmp(&(&b.environment, &b.label)));
        let summary: Vec<(&str, &str, i64)> = taken
            .iter()
            .map(|c| (c.environment.as_str(), c.label.as_str(), c.count))
            .collect();
        assert_eq!(
            summary,
            [
                ("production", "blue", 1),
                ("production", "true", 3),
                ("staging", "true", 1)
            ]
        );
        assert_eq!(taken[0].bucket_start.unix_timestamp(), 1_800_000_000);
        assert!(counter.take().is_empty());
        counter.restore(&taken);
        assert_eq!(counter.take().iter().map(|c| c.count).sum::<i64>(), 5);
    }

    #[test]
    fn labels_are_bounded() {
        let cases = [
            (serde_json::json!(false), "false"),
            (serde_json::json!("blue"), "blue"),
            (serde_json::json!("x".repeat(65)), "string"),
            (serde_json::json!(2.5), "2.5"),
            (serde_json::json!({"a": 1}), "json"),
            (Value::Null, "null"),
        ];
        for (value, want) in cases {
            assert_eq!(label(&resolution(&value, None)), want, "{value}");
        }
    }
}
