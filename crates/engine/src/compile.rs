//! Compiling a configuration (flags, segments, environments) into immutable
//! per-environment snapshots that evaluate without parsing, allocating or
//! looking anything up but the flag itself.
//!
//! Everything that can be decided once is decided here: which configuration
//! each environment uses (its own entry, its parent's through `auto_sync`, or
//! the flag level), operands parsed (regexes, versions, dates), `in` lists
//! turned into hash sets, prerequisites and segments resolved to indexes.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use crate::model::{
    Condition, Environment, EnvironmentEntry, Flag, FlagType, Operator, Rule, Segment, Serve,
};
use crate::parse::compile_regex;
use crate::table::{FlagTable, Keyed};
use crate::validate::{Problem, segment_operand, validate_set};
use crate::values::{parse_date, parse_semver, thousandths};

pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;
pub(crate) type FastSet<T> = HashSet<T, foldhash::fast::FixedState>;

/// A compiled configuration: one [`EnvironmentSnapshot`] per environment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    environments: FastMap<String, Arc<EnvironmentSnapshot>>,
}

impl Snapshot {
    /// Checks the whole configuration ([`validate_set`]) and compiles it.
    /// Errors are the configuration's problems; warnings are ignored.
    pub fn compile(
        flags: &[impl Borrow<Flag>],
        segments: &[Segment],
        environments: &[Environment],
    ) -> Result<Snapshot, Vec<Problem>> {
        let problems = validate_set(flags, segments, environments);
        if problems.is_empty() {
            Ok(Snapshot::build(flags, segments, environments))
        } else {
            Err(problems)
        }
    }

    /// Compiles a configuration without checking it as a whole. Broken
    /// references degrade safely instead of failing: a condition on an
    /// unknown segment never holds (`not_in_segment` always does), an unknown
    /// prerequisite always fails, entries for unknown environments are
    /// ignored, and prerequisite loops fail at a fixed depth.
    ///
    /// For a service whose stored configuration must keep serving even if two
    /// concurrent writers each made a valid change that together break a
    /// reference; writes are checked with [`validate_set`] beforehand.
    pub fn build(
        flags: &[impl Borrow<Flag>],
        segments: &[Segment],
        environments: &[Environment],
    ) -> Snapshot {
        let flags: Vec<&Flag> = flags.iter().map(Borrow::borrow).collect();
        let (compiled_segments, segment_index) = compile_segments(segments);
        let tree: FastMap<&str, &Environment> =
            environments.iter().map(|e| (e.key.as_str(), e)).collect();

        let mut per_env: FastMap<&str, Vec<Arc<CompiledFlag>>> = environments
            .iter()
            .map(|e| (e.key.as_str(), Vec::with_capacity(flags.len())))
            .collect();
        for flag in &flags {
            for (env, compiled) in
                compile_for_environments(flag, environments, &tree, &segment_index)
            {
                if let Some(list) = per_env.get_mut(env) {
                    list.push(Arc::new(compiled));
                }
            }
        }
        let environments = per_env
            .into_iter()
            .map(|(key, flags)| {
                let snapshot = EnvironmentSnapshot {
                    key: key.to_owned(),
                    flags: FlagTable::of(flags),
                    segments: compiled_segments.clone(),
                    segment_index: segment_index.clone(),
                };
                (key.to_owned(), Arc::new(snapshot))
            })
            .collect();
        Snapshot { environments }
    }

    /// This snapshot with some flags replaced, added or removed, compiling
    /// only those: the cost of a change is proportional to the change, not
    /// to the configuration. Segments and the environment tree must be the
    /// ones this snapshot was built with (otherwise use [`Snapshot::build`]).
    /// The same checks and degradations as [`Snapshot::build`] apply.
    pub fn with_flags_changed(
        &self,
        changed: &[impl Borrow<Flag>],
        removed: &[&str],
        environments: &[Environment],
    ) -> Snapshot {
        let tree: FastMap<&str, &Environment> =
            environments.iter().map(|e| (e.key.as_str(), e)).collect();
        let mut updated: FastMap<String, EnvironmentSnapshot> = self
            .environments
            .iter()
            .map(|(key, env)| (key.clone(), env.shallow_copy()))
            .collect();
        for flag_id in removed {
            for env in updated.values_mut() {
                env.remove(flag_id);
            }
        }
        for flag in changed {
            let flag: &Flag = flag.borrow();
            let segment_index = match updated.values().next() {
                Some(env) => env.segment_index.clone(),
                None => break,
            };
            upsert_compiled(&mut updated, flag, environments, &tree, &segment_index);
        }
        Snapshot::of(updated)
    }

    /// This snapshot with new segments (all of them, as after the change),
    /// compiling the segments and only the flags that must follow them:
    /// none when segments only changed their conditions (flags refer to a
    /// segment by its place, which stays), and `using_segments` (the flags
    /// that test membership, see [`Flag::uses_segments`]) when a segment
    /// was created or deleted. The environment tree must be the one this
    /// snapshot was built with.
    pub fn with_segments_changed(
        &self,
        segments: &[Segment],
        using_segments: &[impl Borrow<Flag>],
        environments: &[Environment],
    ) -> Snapshot {
        let (compiled_segments, segment_index) = compile_segments(segments);
        let same_places = self
            .environments
            .values()
            .next()
            .is_none_or(|env| *env.segment_index == *segment_index);
        let mut updated: FastMap<String, EnvironmentSnapshot> = self
            .environments
            .iter()
            .map(|(key, env)| {
                let mut env = env.shallow_copy();
                env.segments = compiled_segments.clone();
                env.segment_index = segment_index.clone();
                (key.clone(), env)
            })
            .collect();
        if !same_places {
            let tree: FastMap<&str, &Environment> =
                environments.iter().map(|e| (e.key.as_str(), e)).collect();
            for flag in using_segments {
                upsert_compiled(
                    &mut updated,
                    flag.borrow(),
                    environments,
                    &tree,
                    &segment_index,
                );
            }
        }
        Snapshot::of(updated)
    }

    /// A snapshot of environments being updated.
    fn of(updated: FastMap<String, EnvironmentSnapshot>) -> Snapshot {
        Snapshot {
            environments: updated
                .into_iter()
                .map(|(key, env)| (key, Arc::new(env)))
                .collect(),
        }
    }

    /// The snapshot of one environment.
    pub fn environment(&self, key: &str) -> Option<&Arc<EnvironmentSnapshot>> {
        self.environments.get(key)
    }

    /// The compiled environments' keys.
    pub fn environment_keys(&self) -> impl Iterator<Item = &str> {
        self.environments.keys().map(String::as_str)
    }
}

/// Compiles `flag` for every environment into the snapshots being updated.
fn upsert_compiled(
    updated: &mut FastMap<String, EnvironmentSnapshot>,
    flag: &Flag,
    environments: &[Environment],
    tree: &FastMap<&str, &Environment>,
    segment_index: &SegmentIndex,
) {
    for (env, compiled) in compile_for_environments(flag, environments, tree, segment_index) {
        if let Some(snapshot) = updated.get_mut(env) {
            snapshot.upsert(Arc::new(compiled));
        }
    }
}

/// Where each segment is, by id.
type SegmentIndex = FastMap<Box<str>, usize>;

/// Every segment compiled, and where each is by id (how compiled flags
/// and segments refer to one).
fn compile_segments(segments: &[Segment]) -> (Arc<[CompiledSegment]>, Arc<SegmentIndex>) {
    let index: FastMap<Box<str>, usize> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| (Box::from(s.segment_id.as_str()), i))
        .collect();
    let compiled = segments
        .iter()
        .map(|s| CompiledSegment {
            conditions: s
                .conditions
                .iter()
                .filter_map(|c| compile_condition(c, &index))
                .collect(),
        })
        .collect();
    (compiled, Arc::new(index))
}

/// One flag compiled for every environment. Each distinct rule list is
/// compiled once and shared by the environments that use it.
fn compile_for_environments<'e>(
    flag: &Flag,
    environments: &'e [Environment],
    tree: &FastMap<&str, &Environment>,
    segment_index: &FastMap<Box<str>, usize>,
) -> Vec<(&'e str, CompiledFlag)> {
    let mut rule_cache: FastMap<Option<&str>, Arc<[CompiledRule]>> = FastMap::default();
    environments
        .iter()
        .map(|env| {
            let (owner, entry) = effective_entry(flag, &env.key, tree);
            let config = EffectiveConfig::of(flag, entry);
            let rules = rule_cache
                .entry(owner.filter(|_| config.own_rules))
                .or_insert_with(|| {
                    config
                        .rules
                        .iter()
                        .enumerate()
                        .map(|(i, r)| compile_rule(i, r, flag, segment_index))
                        .collect()
                })
                .clone();
            (env.key.as_str(), CompiledFlag::new(flag, &config, rules))
        })
        .collect()
}

/// Which entry of `flag` applies in `env`, and which environment owns it:
/// the environment's own entry; else, through `auto_sync`, its parent's
/// (recursively); else none (the flag level).
fn effective_entry<'f>(
    flag: &'f Flag,
    env: &'f str,
    tree: &FastMap<&str, &'f Environment>,
) -> (Option<&'f str>, Option<&'f EnvironmentEntry>) {
    let mut current = env;
    // The tree was checked for loops; the bound only guards against a bug.
    for _ in 0..=tree.len() {
        if let Some((key, entry)) = flag.environments.get_key_value(current) {
            return (Some(key.as_str()), Some(entry));
        }
        match tree.get(current) {
            Some(e) if e.auto_sync => match e.parent.as_deref() {
                Some(parent) => current = parent,
                None => break,
            },
            _ => break,
        }
    }
    (None, None)
}

/// The flag as one environment sees it: the entry in effect there (its own,
/// or inherited through `auto_sync`) under that environment's key, and no
/// other environment. What a server-side SDK of that environment receives:
/// it evaluates the same as the full document in that environment, and
/// reveals nothing about the others.
pub fn project_flag(flag: &Flag, env: &str, environments: &[Environment]) -> Flag {
    let tree: FastMap<&str, &Environment> =
        environments.iter().map(|e| (e.key.as_str(), e)).collect();
    let (_, entry) = effective_entry(flag, env, &tree);
    let mut projected = flag.clone();
    projected.environments = entry
        .map(|entry| (env.to_owned(), entry.clone()))
        .into_iter()
        .collect();
    projected
}

/// An environment's configuration with the flag-level fallbacks applied.
struct EffectiveConfig<'f> {
    enabled: bool,
    value: &'f Value,
    rules: &'f [Rule],
    /// Whether `rules` come from the entry rather than the flag level.
    own_rules: bool,
}

impl<'f> EffectiveConfig<'f> {
    fn of(flag: &'f Flag, entry: Option<&'f EnvironmentEntry>) -> EffectiveConfig<'f> {
        match entry {
            None => EffectiveConfig {
                enabled: true,
                value: &flag.default_value,
                rules: &flag.targeting_rules,
                own_rules: false,
            },
            Some(EnvironmentEntry::Value(value)) => EffectiveConfig {
                enabled: true,
                value,
                rules: &flag.targeting_rules,
                own_rules: false,
            },
            Some(EnvironmentEntry::Config(config)) => EffectiveConfig {
                enabled: config.enabled.unwrap_or(true),
                value: config.value.as_ref().unwrap_or(&flag.default_value),
                rules: config
                    .targeting_rules
                    .as_deref()
                    .unwrap_or(&flag.targeting_rules),
                own_rules: config.targeting_rules.is_some(),
            },
        }
    }
}

/// The compiled flags of one environment. Cheap to share (`Arc`) and never
/// changed: a change compiles a new one.
#[derive(Debug)]
pub struct EnvironmentSnapshot {
    pub(crate) key: String,
    /// Shared with the snapshots before and after a change, but for what
    /// the change touched.
    pub(crate) flags: FlagTable<CompiledFlag>,
    pub(crate) segments: Arc<[CompiledSegment]>,
    pub(crate) segment_index: Arc<FastMap<Box<str>, usize>>,
}

impl EnvironmentSnapshot {
    /// A copy sharing every compiled flag (pointer copies).
    fn shallow_copy(&self) -> EnvironmentSnapshot {
        EnvironmentSnapshot {
            key: self.key.clone(),
            flags: self.flags.clone(),
            segments: self.segments.clone(),
            segment_index: self.segment_index.clone(),
        }
    }

    fn remove(&mut self, flag_id: &str) {
        self.flags.remove(flag_id);
    }

    fn upsert(&mut self, flag: Arc<CompiledFlag>) {
        self.flags.upsert(flag);
    }

    /// The environment's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// How many flags it holds.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether it holds no flag.
    pub fn is_empty(&self) -> bool {
        self.flags.len() == 0
    }

    /// The flag keys, in configuration order.
    pub fn flag_ids(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().map(|f| &*f.key)
    }

    /// The type of a flag, if it exists.
    pub fn flag_type(&self, flag_id: &str) -> Option<FlagType> {
        self.flags.get(flag_id).map(|f| f.flag_type)
    }
}

#[derive(Debug)]
pub(crate) struct CompiledFlag {
    pub(crate) key: Box<str>,
    pub(crate) flag_type: FlagType,
    pub(crate) enabled: bool,
    /// Served when disabled or a prerequisite fails.
    pub(crate) off_value: Value,
    /// Served when no rule matches.
    pub(crate) fallthrough: Value,
    pub(crate) rules: Arc<[CompiledRule]>,
    pub(crate) prerequisites: Box<[Prerequisite]>,
}

impl Keyed for CompiledFlag {
    fn key(&self) -> &str {
        &self.key
    }
}

impl CompiledFlag {
    fn new(flag: &Flag, config: &EffectiveConfig<'_>, rules: Arc<[CompiledRule]>) -> CompiledFlag {
        let off_value = match flag.flag_type {
            FlagType::Boolean => Value::Bool(false),
            _ => flag.default_value.clone(),
        };
        CompiledFlag {
            key: flag.flag_id.as_str().into(),
            flag_type: flag.flag_type,
            enabled: config.enabled,
            off_value,
            fallthrough: config.value.clone(),
            rules,
            prerequisites: flag
                .depends_on
                .iter()
                .map(|d| Prerequisite {
                    key: d.flag.as_str().into(),
                    required_value: d.required_value.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Prerequisite {
    /// Looked up at evaluation (prerequisites are rare), so that a compiled
    /// flag does not depend on other flags' positions and can be replaced
    /// alone. An unknown flag fails the prerequisite.
    pub(crate) key: Box<str>,
    pub(crate) required_value: Value,
}

#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub(crate) index: usize,
    pub(crate) name: Option<Box<str>>,
    pub(crate) conditions: Box<[CompiledCondition]>,
    /// Buckets below this are in; `None` when everyone is (no percentage or 100).
    pub(crate) threshold: Option<u32>,
    pub(crate) bucket_by: crate::context::AttributeName,
    /// The hash state after `"{flag_id}:"`, so that bucketing hashes only the
    /// context's value.
    pub(crate) hash_prefix: crate::bucket::Murmur3,
    pub(crate) serve: CompiledServe,
}

#[derive(Debug)]
pub(crate) enum CompiledServe {
    Value(Value),
    Variant(Box<str>, Value),
    /// Upper bucket bounds (exclusive, cumulative), variant names and values.
    Split(Box<[(u32, Box<str>, Value)]>),
}

#[derive(Debug)]
pub(crate) struct CompiledSegment {
    pub(crate) conditions: Box<[CompiledCondition]>,
}

#[derive(Debug)]
pub(crate) struct CompiledCondition {
    pub(crate) attribute: crate::context::AttributeName,
    pub(crate) test: Test,
}

/// A scalar operand.
#[derive(Debug)]
pub(crate) enum Scalar {
    Str(Box<str>),
    Num(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Ordering {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

#[derive(Debug)]
pub(crate) struct ScalarSet {
    pub(crate) strings: StringSet,
    pub(crate) numbers: NumberSet,
    pub(crate) booleans: [bool; 2],
}

/// Numbers of an `in` list, sorted (`-0` as `0`) for a binary search.
#[derive(Debug)]
pub(crate) struct NumberSet(Box<[f64]>);

impl NumberSet {
    fn new(mut numbers: Vec<f64>) -> NumberSet {
        for n in &mut numbers {
            *n = normal_zero(*n);
        }
        numbers.sort_unstable_by(f64::total_cmp);
        numbers.dedup();
        NumberSet(numbers.into_boxed_slice())
    }

    /// Whether the list holds `n` (`0` and `-0` are equal, as in JSON).
    pub(crate) fn contains(&self, n: f64) -> bool {
        let n = normal_zero(n);
        self.0.binary_search_by(|probe| probe.total_cmp(&n)).is_ok()
    }
}

/// `-0.0` as `0.0`, so that the total order agrees with `==` on zeros.
fn normal_zero(n: f64) -> f64 {
    if n == 0.0 { 0.0 } else { n }
}

/// Strings of an `in` list: a short list is scanned (cheaper than hashing),
/// a long one hashed.
#[derive(Debug)]
pub(crate) enum StringSet {
    Few(Box<[Box<str>]>),
    Many(FastSet<Box<str>>),
}

impl StringSet {
    /// Lists up to this long are scanned.
    const SCAN_LIMIT: usize = 8;

    fn new(mut strings: Vec<Box<str>>) -> StringSet {
        if strings.len() <= StringSet::SCAN_LIMIT {
            let mut unique: Vec<Box<str>> = Vec::with_capacity(strings.len());
            for s in strings {
                if !unique.contains(&s) {
                    unique.push(s);
                }
            }
            StringSet::Few(unique.into_boxed_slice())
        } else {
            strings.sort_unstable();
            strings.dedup();
            StringSet::Many(strings.into_iter().collect())
        }
    }

    pub(crate) fn contains(&self, needle: &str) -> bool {
        match self {
            StringSet::Few(items) => items.iter().any(|s| crate::values::fast_eq(s, needle)),
            StringSet::Many(set) => set.contains(needle),
        }
    }
}

#[derive(Debug)]
pub(crate) enum Test {
    Equals(Scalar),
    In(ScalarSet),
    Contains(Value),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
    Matches(regex::Regex),
    Number(Ordering, f64),
    Semver(Ordering, semver::Version),
    /// Before (`true`) or after (`false`) a time in Unix nanoseconds.
    Date {
        before: bool,
        at: i128,
    },
    Exists,
    Segment(Box<[usize]>),
    /// The positive test, negated when the attribute is present
    /// (`not_equals`, `not_in`, `not_contains`) or always (`not_exists`,
    /// `not_in_segment`).
    Not(Box<Test>),
}

fn compile_rule(
    index: usize,
    rule: &Rule,
    flag: &Flag,
    segment_index: &FastMap<Box<str>, usize>,
) -> CompiledRule {
    // Parsing guarantees that every variant a rule names exists.
    let variant_value = |name: &str| flag.variants.get(name).cloned().unwrap_or(Value::Null);
    let serve = match &rule.serve {
        Serve::Value(value) => CompiledServe::Value(value.clone()),
        Serve::Variant(name) => CompiledServe::Variant(name.as_str().into(), variant_value(name)),
        Serve::Split(shares) => {
            let mut upper = 0u32;
            CompiledServe::Split(
                shares
                    .iter()
                    .map(|share| {
                        upper = upper.saturating_add(thousandths(share.weight));
                        (
                            upper,
                            share.variant.as_str().into(),
                            variant_value(&share.variant),
                        )
                    })
                    .collect(),
            )
        }
    };
    CompiledRule {
        index,
        name: rule.name.as_deref().map(Box::from),
        conditions: rule
            .conditions
            .iter()
            .filter_map(|c| compile_condition(c, segment_index))
            .collect(),
        threshold: rule
            .percentage
            .map(thousandths)
            .filter(|&t| t < crate::bucket::BUCKETS),
        bucket_by: crate::context::AttributeName::new(
            rule.bucket_by.as_deref().unwrap_or(crate::context::USER_ID),
        ),
        hash_prefix: crate::bucket::Murmur3::with_prefix(&flag.flag_id),
        serve,
    }
}

/// Compiles a parsed condition. Parsing has checked every operand, so `None`
/// (a condition dropped) cannot happen for a parsed document.
fn compile_condition(
    condition: &Condition,
    segment_index: &FastMap<Box<str>, usize>,
) -> Option<CompiledCondition> {
    use Operator as Op;
    let value = condition.value.as_ref();
    let positive = |op: Op| -> Option<Test> {
        Some(match op {
            Op::Equals | Op::NotEquals => Test::Equals(scalar(value?)?),
            Op::In | Op::NotIn => Test::In(scalar_set(value?.as_array()?)),
            Op::Contains | Op::NotContains => Test::Contains(value?.clone()),
            Op::StartsWith => Test::StartsWith(value?.as_str()?.into()),
            Op::EndsWith => Test::EndsWith(value?.as_str()?.into()),
            Op::Matches => Test::Matches(compile_regex(value?.as_str()?).ok()?),
            Op::Gt => Test::Number(Ordering::Gt, value?.as_f64()?),
            Op::Gte => Test::Number(Ordering::Gte, value?.as_f64()?),
            Op::Lt => Test::Number(Ordering::Lt, value?.as_f64()?),
            Op::Lte => Test::Number(Ordering::Lte, value?.as_f64()?),
            Op::SemverEq => Test::Semver(Ordering::Eq, parse_semver(value?.as_str()?)?),
            Op::SemverGt => Test::Semver(Ordering::Gt, parse_semver(value?.as_str()?)?),
            Op::SemverGte => Test::Semver(Ordering::Gte, parse_semver(value?.as_str()?)?),
            Op::SemverLt => Test::Semver(Ordering::Lt, parse_semver(value?.as_str()?)?),
            Op::SemverLte => Test::Semver(Ordering::Lte, parse_semver(value?.as_str()?)?),
            Op::Before => Test::Date {
                before: true,
                at: parse_date(value?.as_str()?)?,
            },
            Op::After => Test::Date {
                before: false,
                at: parse_date(value?.as_str()?)?,
            },
            Op::Exists | Op::NotExists => Test::Exists,
            Op::InSegment | Op::NotInSegment => Test::Segment(
                segment_operand(condition)
                    .into_iter()
                    .filter_map(|id| segment_index.get(id).copied())
                    .collect(),
            ),
        })
    };
    let test = positive(condition.operator)?;
    let test = match condition.operator {
        Op::NotEquals | Op::NotIn | Op::NotContains | Op::NotExists | Op::NotInSegment => {
            Test::Not(Box::new(test))
        }
        _ => test,
    };
    Some(CompiledCondition {
        attribute: crate::context::AttributeName::new(
            condition.attribute.as_deref().unwrap_or_default(),
        ),
        test,
    })
}

fn scalar(value: &Value) -> Option<Scalar> {
    match value {
        Value::String(s) => Some(Scalar::Str(s.as_str().into())),
        Value::Number(n) => n.as_f64().map(Scalar::Num),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        _ => None,
    }
}

fn scalar_set(items: &[Value]) -> ScalarSet {
    let mut numbers = Vec::new();
    let mut strings: Vec<Box<str>> = Vec::new();
    let mut booleans = [false; 2];
    for item in items {
        match scalar(item) {
            Some(Scalar::Str(s)) => strings.push(s),
            Some(Scalar::Num(n)) => numbers.push(n),
            Some(Scalar::Bool(b)) => booleans[usize::from(b)] = true,
            None => {}
        }
    }
    // Linear in the list's length: a list of 200 000 user ids compiles in
    // milliseconds (de-duplicating by scanning made it quadratic: minutes).
    ScalarSet {
        strings: StringSet::new(strings),
        numbers: NumberSet::new(numbers),
        booleans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn in_lists_deduplicate_and_find_every_member() {
        let long: Vec<Value> = (0..1000)
            .flat_map(|i| {
                [
                    json!(format!("user-{i}")),
                    json!(i),
                    json!(format!("user-{i}")),
                ]
            })
            .chain([json!(-0.0), json!(2.5), json!(true)])
            .collect();
        let set = scalar_set(&long);
        let StringSet::Many(strings) = &set.strings else {
            panic!("a long list is hashed");
        };
        assert_eq!(strings.len(), 1000);
        assert!(set.strings.contains("user-999") && !set.strings.contains("user-1000"));
        assert!(set.numbers.contains(0.0) && set.numbers.contains(-0.0));
        assert!(set.numbers.contains(999.0) && set.numbers.contains(2.5));
        assert!(!set.numbers.contains(1000.0) && !set.numbers.contains(-1.0));
        assert_eq!(set.booleans, [false, true]);

        let short = scalar_set(&[json!("a"), json!("b"), json!("a"), json!(0)]);
        let StringSet::Few(strings) = &short.strings else {
            panic!("a short list is scanned");
        };
        assert_eq!(strings.len(), 2);
        assert!(short.numbers.contains(-0.0));
    }
}
