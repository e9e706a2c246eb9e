//! Counting evaluations, shared by the service (which counts what it
//! evaluates) and the SDKs (which count what they evaluate locally and send
//! batches).
//!
//! An evaluation adds one to a counter keyed by a time bucket, flag,
//! environment, outcome label, reason and error code. The key is looked up
//! by borrowed parts ([`TallyKey`]), so a count allocates only the first
//! time its key is seen in a bucket; the map is split in shards so that
//! concurrent evaluations rarely wait on the same lock. The owner takes the
//! counts now and then ([`Tally::take`]) to store or send them.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::{Equivalent, HashMap};
use serde_json::Value;

use crate::{ErrorCode, Reason, Resolution};

/// Shards of the counter map (a power of two).
const SHARDS: usize = 16;

/// Value labels longer than this are not kept as they are (see [`label`]).
pub const MAX_LABEL_CHARS: usize = 64;

/// Counts not yet taken.
pub struct Tally {
    shards: [Mutex<HashMap<CountKey, u64>>; SHARDS],
    hasher: hashbrown::DefaultHashBuilder,
    /// Most keys held per shard; beyond it new keys are dropped (counted).
    max_keys_per_shard: usize,
    dropped: AtomicU64,
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Tally {
    /// A tally holding at most about `max_keys` distinct keys: when its
    /// owner cannot hand the counts on for long (a service that cannot be
    /// reached), new keys are dropped and counted ([`Tally::dropped`])
    /// rather than growing without bound.
    pub fn new(max_keys: usize) -> Tally {
        Tally {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            hasher: hashbrown::DefaultHashBuilder::default(),
            max_keys_per_shard: max_keys.div_ceil(SHARDS).max(1),
            dropped: AtomicU64::new(0),
        }
    }

    /// Evaluations dropped because the tally was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One counter's key, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CountKey {
    bucket: i64,
    flag_id: Box<str>,
    environment: Box<str>,
    label: Box<str>,
    reason: Reason,
    error_code: Option<ErrorCode>,
}

/// One counter's key, borrowed from a request and its resolution.
#[derive(Debug, Clone, Copy)]
pub struct TallyKey<'a> {
    /// A time bucket chosen by the owner (the service: Unix seconds at the
    /// start of the minute; an SDK: 0).
    pub bucket: i64,
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

impl Hash for TallyKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bucket.hash(state);
        self.flag_id.hash(state);
        self.environment.hash(state);
        self.label.hash(state);
        self.reason.hash(state);
        self.error_code.hash(state);
    }
}

impl Equivalent<CountKey> for TallyKey<'_> {
    fn equivalent(&self, key: &CountKey) -> bool {
        self.bucket == key.bucket
            && self.flag_id == &*key.flag_id
            && self.environment == &*key.environment
            && self.label == &*key.label
            && self.reason == key.reason
            && self.error_code == key.error_code
    }
}

impl CountKey {
    fn as_ref(&self) -> TallyKey<'_> {
        TallyKey {
            bucket: self.bucket,
            flag_id: &self.flag_id,
            environment: &self.environment,
            label: &self.label,
            reason: self.reason,
            error_code: self.error_code,
        }
    }
}

/// Counts taken from a [`Tally`], owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The time bucket.
    pub bucket: i64,
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: String,
    /// The outcome's label (see [`label`]).
    pub label: String,
    /// Why.
    pub reason: Reason,
    /// The error, if any.
    pub error_code: Option<ErrorCode>,
    /// How many.
    pub count: u64,
}

impl Tally {
    /// Counts one evaluation of `flag_id` in `environment` in `bucket`.
    pub fn record(
        &self,
        bucket: i64,
        flag_id: &str,
        environment: &str,
        resolution: &Resolution<'_>,
    ) {
        let label = label(resolution);
        self.add(
            TallyKey {
                bucket,
                flag_id,
                environment,
                label: &label,
                reason: resolution.reason,
                error_code: resolution.error_code,
            },
            1,
        );
    }

    /// Adds `count` evaluations under `key` (batches add many at once).
    pub fn add(&self, key: TallyKey<'_>, count: u64) {
        let shard = self.shard(&key);
        let Ok(mut map) = shard.lock() else {
            return;
        };
        let full = map.len() >= self.max_keys_per_shard;
        match map.get_mut(&key) {
            Some(total) => *total = total.saturating_add(count),
            None if full => {
                self.dropped.fetch_add(count, Ordering::Relaxed);
            }
            None => {
                map.insert(
                    CountKey {
                        bucket: key.bucket,
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

    fn shard(&self, key: &TallyKey<'_>) -> &Mutex<HashMap<CountKey, u64>> {
        // The flag id alone picks the shard: one flag's counts stay together.
        let hash = self.hasher.hash_one(key.flag_id);
        let index = usize::try_from(hash).unwrap_or_default() & (SHARDS - 1);
        &self.shards[index]
    }

    /// Takes every count so far.
    pub fn take(&self) -> Vec<Counted> {
        let mut taken = Vec::new();
        for shard in &self.shards {
            let map = match shard.lock() {
                Ok(mut map) => std::mem::take(&mut *map),
                Err(_) => continue,
            };
            taken.extend(map.into_iter().map(|(key, count)| Counted {
                bucket: key.bucket,
                flag_id: key.flag_id.into(),
                environment: key.environment.into(),
                label: key.label.into(),
                reason: key.reason,
                error_code: key.error_code,
                count,
            }));
        }
        taken
    }

    /// Puts counts back that could not be handed on, so that a failure
    /// loses nothing (they are taken again next time).
    pub fn restore(&self, counts: &[Counted]) {
        for counted in counts {
            self.add(
                TallyKey {
                    bucket: counted.bucket,
                    flag_id: &counted.flag_id,
                    environment: &counted.environment,
                    label: &counted.label,
                    reason: counted.reason,
                    error_code: counted.error_code,
                },
                counted.count,
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
        let tally = Tally::new(1000);
        let on = Value::Bool(true);
        for _ in 0..3 {
            tally.record(60, "checkout", "production", &resolution(&on, None));
        }
        tally.record(60, "checkout", "staging", &resolution(&on, None));
        tally.record(60, "checkout", "production", &resolution(&on, Some("blue")));
        let mut taken = tally.take();
        taken.sort_by(|a, b| (&a.environment, &a.label).cmp(&(&b.environment, &b.label)));
        let summary: Vec<(&str, &str, u64)> = taken
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
        assert!(taken.iter().all(|c| c.bucket == 60));
        assert!(tally.take().is_empty());
        tally.restore(&taken);
        assert_eq!(tally.take().iter().map(|c| c.count).sum::<u64>(), 5);
    }

    #[test]
    fn a_full_tally_drops_new_keys_and_counts_them() {
        let tally = Tally::new(16);
        let on = Value::Bool(true);
        for i in 0..200 {
            tally.record(i, "checkout", "production", &resolution(&on, None));
        }
        let kept = tally.take().len();
        assert!((1..200).contains(&kept), "{kept}");
        assert_eq!(tally.dropped(), 200 - kept as u64);
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
