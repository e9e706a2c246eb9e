//! Structured configurations: flags whose rules use every operator (with
//! operands of the right type mostly, and of a wrong one sometimes),
//! segments, prerequisites between the flags, per-environment entries, and
//! an environment tree (the seed's, a longer `auto_sync` chain, or a broken
//! one), built with `arbitrary` into documents that go through `parse_flag`
//! and `parse_segment` like any other.
//!
//! Invariants: `Snapshot::compile` succeeds exactly when `validate_set` finds
//! no problem; `Snapshot::build` never fails, and every flag evaluates in
//! every environment to a value it can serve for the reason given,
//! deterministically; `with_flags_changed` (flags added, one replaced, one
//! removed) and `with_segments_changed` (conditions swapped, a segment
//! removed, added or replaced) decide every flag as a full build of the
//! resulting configuration does.
#![no_main]

use arbitrary::Arbitrary;
use ff_engine::{
    Context, Environment, Flag, Operator, Segment, Snapshot, parse_flag, parse_segment,
    validate_set,
};
use ff_fuzz::{assert_same_decisions, check_snapshot, contexts_for};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const MAX_FLAGS: usize = 6;
const MAX_SEGMENTS: usize = 4;
const MAX_RULES: usize = 4;
const MAX_CONDITIONS: usize = 4;
const MAX_CONTEXTS: usize = 4;
const MAX_ATTRIBUTES: usize = 6;

const ATTRIBUTES: &[&str] = &[
    "user_id",
    "targetingKey",
    "country",
    "email",
    "plan",
    "age",
    "app_version",
    "signup_date",
    "beta",
    "tags",
];
const STRINGS: &[&str] = &[
    "US",
    "CA",
    "IT",
    "",
    "beta",
    "user-1",
    "user-2",
    "@pratiko.ai",
    "ada@pratiko.ai",
    "ünïcødé",
    "premium",
    "1.2.3",
    "2026-01-15T09:30:00Z",
    "42",
    "-1.5",
    "007",
];
const VERSIONS: &[&str] = &[
    "1.0.0",
    "2.3.1",
    "2.3.1-beta.1",
    "2",
    "2.3",
    "v3.0.0",
    "10.0.0-alpha+build.5",
    "0.0.0",
    "18446744073709551615.0.0",
];
const DATES: &[&str] = &[
    "2026-01-15T09:30:00Z",
    "1970-01-01T00:00:00Z",
    "2026-12-31T23:59:59.999999999+01:00",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "2026-06-01T00:00:00-12:00",
];
const REGEXES: &[&str] = &[
    "^user-\\d+$",
    "@pratiko\\.ai$",
    "(?i)BETA",
    ".*",
    "a{1,100}b",
    "[[:alpha:]]+",
    "\\p{Greek}",
    "^$",
];
const ENVIRONMENTS: &[&str] = &["development", "staging", "production", "qa", "unknown"];

#[derive(Arbitrary, Debug)]
struct Input {
    tree: Tree,
    segments: Vec<SegmentSpec>,
    flags: Vec<FlagSpec>,
    contexts: Vec<Vec<(u8, Scalar)>>,
    /// How many flags the incremental update starts from.
    start: u8,
    /// Which starting flag is replaced, and how.
    replaced: u8,
    replacement: Replacement,
    /// Which starting flag is removed, if any.
    removed: Option<u8>,
    segment_change: SegmentChange,
}

#[derive(Arbitrary, Debug)]
enum Tree {
    /// development → staging (auto_sync) → production.
    Seed,
    /// development → staging → production → qa, each following its parent.
    Chain,
    /// A parent that does not exist and a loop: refused by `validate_set`,
    /// degraded by `build`.
    Broken,
}

impl Tree {
    fn environments(&self) -> Vec<Environment> {
        match self {
            Tree::Seed => Environment::seed_tree(),
            Tree::Chain => vec![
                Environment::new("development", None, false),
                Environment::new("staging", Some("development"), true),
                Environment::new("production", Some("staging"), true),
                Environment::new("qa", Some("production"), true),
            ],
            Tree::Broken => vec![
                Environment::new("development", Some("qa"), true),
                Environment::new("staging", Some("development"), true),
                Environment::new("production", Some("nowhere"), true),
                Environment::new("qa", Some("staging"), true),
            ],
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Scalar {
    Pick(u8),
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<u8>),
}

impl Scalar {
    fn to_json(&self) -> Value {
        match self {
            Scalar::Pick(i) => pick_scalar(*i),
            Scalar::Text(s) => json!(s),
            Scalar::Int(n) => json!(n),
            Scalar::Float(x) => serde_json::Number::from_f64(*x).map_or(json!(0.5), Value::Number),
            Scalar::Bool(b) => json!(b),
            Scalar::List(items) => items.iter().take(12).map(|i| pick_scalar(*i)).collect(),
        }
    }
}

/// Strings, numbers and booleans from the pools.
fn pick_scalar(i: u8) -> Value {
    let i = usize::from(i);
    match i % 4 {
        0 | 1 => json!(pick(STRINGS, i / 4)),
        2 => [
            json!(0),
            json!(18),
            json!(-1),
            json!(2.5),
            json!(1e20),
            json!(u64::MAX),
        ][(i / 4) % 6]
            .clone(),
        _ => json!(i % 8 >= 4),
    }
}

fn pick<'a>(pool: &[&'a str], i: usize) -> &'a str {
    pool[i % pool.len()]
}

#[derive(Arbitrary, Debug)]
struct ConditionSpec {
    attribute: u8,
    operator: u8,
    operand: Operand,
}

#[derive(Arbitrary, Debug)]
enum Operand {
    /// An operand of the operator's type, from the pools.
    Fitting(u8),
    /// A long `in` list (hashed rather than scanned) or a list of segments.
    Long(u8),
    /// Whatever this is, fitting or not.
    Other(Scalar),
    /// None at all (right for `exists`, wrong for the rest).
    Absent,
}

impl ConditionSpec {
    fn to_json(&self, segments: usize) -> Value {
        use Operator as Op;
        let operator = Operator::ALL[usize::from(self.operator) % Operator::ALL.len()];
        let mut condition = Map::new();
        if !operator.is_segment() {
            condition.insert(
                "attribute".into(),
                json!(pick(ATTRIBUTES, self.attribute.into())),
            );
        }
        condition.insert("operator".into(), json!(operator.as_str()));
        let segment_id = |i: u8| json!(format!("segment_{}", usize::from(i) % (segments + 1)));
        let value = match &self.operand {
            Operand::Absent => None,
            Operand::Other(scalar) => Some(scalar.to_json()),
            Operand::Long(n) => Some(match operator {
                Op::InSegment | Op::NotInSegment => (0..=*n % 4)
                    .map(|i| segment_id(i.wrapping_add(*n)))
                    .collect(),
                _ => (0..u32::from(*n) + 9)
                    .map(|i| {
                        if i % 3 == 0 {
                            json!(i)
                        } else {
                            json!(format!("user-{i}"))
                        }
                    })
                    .collect(),
            }),
            Operand::Fitting(i) => {
                let n = usize::from(*i);
                match operator {
                    Op::Exists | Op::NotExists => None,
                    Op::Equals | Op::NotEquals | Op::Contains | Op::NotContains => {
                        Some(pick_scalar(*i))
                    }
                    Op::In | Op::NotIn => Some(
                        (0..=n % 5)
                            .map(|k| pick_scalar(i.wrapping_add(k as u8 * 7)))
                            .collect(),
                    ),
                    Op::StartsWith | Op::EndsWith => Some(json!(pick(STRINGS, n))),
                    Op::Matches => Some(json!(pick(REGEXES, n))),
                    Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                        Some([json!(18), json!(-1.5), json!(0), json!(1e300)][n % 4].clone())
                    }
                    Op::SemverEq | Op::SemverGt | Op::SemverGte | Op::SemverLt | Op::SemverLte => {
                        Some(json!(pick(VERSIONS, n)))
                    }
                    Op::Before | Op::After => Some(json!(pick(DATES, n))),
                    Op::InSegment | Op::NotInSegment => Some(segment_id(*i)),
                }
            }
        };
        if let Some(value) = value {
            condition.insert("value".into(), value);
        }
        Value::Object(condition)
    }
}

#[derive(Arbitrary, Debug)]
struct RuleSpec {
    name: Option<u8>,
    conditions: Vec<ConditionSpec>,
    serve: ServeSpec,
    /// Thousandths of a percent (taken modulo 100 001).
    percentage: Option<u32>,
    bucket_by: Option<u8>,
}

#[derive(Arbitrary, Debug)]
enum ServeSpec {
    Value(u8),
    Variant(u8),
    /// Weights, scaled so that they add up to 100 %.
    Split(Vec<u8>),
    /// Nothing said (a boolean rule serves `true`).
    Nothing,
}

/// A flag's type and its values (`default`, `variants` and rule values
/// come from these).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Type {
    Boolean,
    String,
    Number,
    Json,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Boolean => "boolean",
            Type::String => "string",
            Type::Number => "number",
            Type::Json => "json",
        }
    }

    fn value(self, i: u8) -> Value {
        let i = usize::from(i);
        match self {
            Type::Boolean => json!(i % 2 == 1),
            Type::String => json!(["blue", "green", "red", ""][i % 4]),
            Type::Number => [json!(30), json!(-5), json!(2.5), json!(0)][i % 4].clone(),
            Type::Json => [
                json!({"theme": "dark"}),
                json!([1, 2]),
                json!("plain"),
                json!({"enabled": true}),
                json!(null),
            ][i % 5]
                .clone(),
        }
    }
}

impl RuleSpec {
    fn to_json(&self, flag_type: Type, variants: usize, segments: usize) -> Value {
        let mut rule = Map::new();
        if let Some(name) = self.name {
            rule.insert("name".into(), json!(format!("rule_{}", name % 6)));
        }
        if !self.conditions.is_empty() {
            let conditions: Vec<Value> = self
                .conditions
                .iter()
                .take(MAX_CONDITIONS)
                .map(|c| c.to_json(segments))
                .collect();
            rule.insert("conditions".into(), Value::Array(conditions));
        }
        let variant = |i: u8| json!(format!("v{}", usize::from(i) % variants.max(1)));
        match &self.serve {
            ServeSpec::Value(i) => {
                rule.insert("value".into(), flag_type.value(*i));
            }
            ServeSpec::Variant(i) => {
                rule.insert("variant".into(), variant(*i));
            }
            ServeSpec::Split(weights) => {
                let weights: Vec<u32> = weights.iter().take(5).map(|w| u32::from(*w) + 1).collect();
                let total: u32 = weights.iter().sum::<u32>().max(1);
                let mut left = 100_000u32;
                let shares: Vec<Value> = weights
                    .iter()
                    .enumerate()
                    .map(|(k, w)| {
                        let share = if k + 1 == weights.len() {
                            left
                        } else {
                            w * 100_000 / total
                        };
                        left -= share;
                        json!({"variant": variant(k as u8), "weight": f64::from(share) / 1000.0})
                    })
                    .collect();
                rule.insert("variants".into(), Value::Array(shares));
            }
            ServeSpec::Nothing => {}
        }
        if let Some(p) = self.percentage {
            rule.insert("percentage".into(), json!(f64::from(p % 100_001) / 1000.0));
        }
        if let Some(b) = self.bucket_by {
            rule.insert("bucket_by".into(), json!(pick(ATTRIBUTES, b.into())));
        }
        Value::Object(rule)
    }
}

#[derive(Arbitrary, Debug)]
struct FlagSpec {
    flag_type: Type,
    default: Option<u8>,
    variants: u8,
    rules: Vec<RuleSpec>,
    environments: Vec<(u8, EntrySpec)>,
    depends_on: Vec<(u8, Option<bool>)>,
}

#[derive(Arbitrary, Debug)]
enum EntrySpec {
    Value(u8),
    Config {
        enabled: Option<bool>,
        value: Option<u8>,
        rules: Option<Vec<RuleSpec>>,
    },
}

impl FlagSpec {
    fn to_json(&self, index: usize, flags: usize, segments: usize) -> Value {
        let t = self.flag_type;
        let variants = usize::from(self.variants % 4);
        let rules = |rules: &[RuleSpec]| -> Value {
            rules
                .iter()
                .take(MAX_RULES)
                .map(|r| r.to_json(t, variants, segments))
                .collect()
        };
        let mut doc = Map::new();
        doc.insert("flag_id".into(), json!(flag_id(index)));
        doc.insert("type".into(), json!(t.name()));
        if let Some(d) = self.default {
            doc.insert("default_value".into(), t.value(d));
        }
        if variants > 0 {
            let named: Map<String, Value> = (0..variants)
                .map(|k| (format!("v{k}"), t.value(k as u8)))
                .collect();
            doc.insert("variants".into(), Value::Object(named));
        }
        if !self.rules.is_empty() {
            doc.insert("targeting_rules".into(), rules(&self.rules));
        }
        if !self.environments.is_empty() {
            let entries: Map<String, Value> = self
                .environments
                .iter()
                .take(4)
                .map(|(env, entry)| {
                    let entry = match entry {
                        EntrySpec::Value(i) => t.value(*i),
                        EntrySpec::Config {
                            enabled,
                            value,
                            rules: env_rules,
                        } => {
                            let mut config = Map::new();
                            if let Some(enabled) = enabled {
                                config.insert("enabled".into(), json!(enabled));
                            }
                            if let Some(v) = value {
                                config.insert("value".into(), t.value(*v));
                            }
                            if let Some(env_rules) = env_rules {
                                config.insert("targeting_rules".into(), rules(env_rules));
                            }
                            Value::Object(config)
                        }
                    };
                    (pick(ENVIRONMENTS, (*env).into()).to_owned(), entry)
                })
                .collect();
            doc.insert("environments".into(), Value::Object(entries));
        }
        if !self.depends_on.is_empty() {
            let depends: Vec<Value> = self
                .depends_on
                .iter()
                .take(2)
                .map(|(other, required)| {
                    // Any flag of the set but itself, or one that does not exist.
                    let other = usize::from(*other) % (flags + 1);
                    let other = if other == index { flags } else { other };
                    let mut dependency = json!({"flag": flag_id(other)});
                    if let Some(required) = required {
                        dependency["required_value"] = json!(required);
                    }
                    dependency
                })
                .collect();
            doc.insert("depends_on".into(), Value::Array(depends));
        }
        Value::Object(doc)
    }
}

fn flag_id(index: usize) -> String {
    format!("flag_{index}")
}

#[derive(Arbitrary, Debug)]
struct SegmentSpec {
    conditions: Vec<ConditionSpec>,
}

impl SegmentSpec {
    fn to_json(&self, id: &str, segments: usize) -> Value {
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .take(MAX_CONDITIONS)
            .map(|c| c.to_json(segments))
            .collect();
        json!({"segment_id": id, "conditions": conditions})
    }
}

#[derive(Arbitrary, Debug)]
enum Replacement {
    /// Its per-environment entries removed.
    WithoutEnvironments,
    /// Its flag-level rules reversed.
    RulesReversed,
    /// Another flag's rules, under its own id.
    RulesOf(u8),
}

#[derive(Arbitrary, Debug)]
enum SegmentChange {
    /// Each segment takes the next one's conditions (same places).
    Rotate,
    /// One segment deleted (the later ones move up a place).
    Remove(u8),
    /// A new segment in front (every one moves down a place), possibly with
    /// an id already taken.
    AddFront(u8, SegmentSpec),
    /// One segment's conditions replaced.
    Replace(u8, SegmentSpec),
}

fuzz_target!(|input: Input| {
    let environments = input.tree.environments();
    let segment_count = input.segments.len().min(MAX_SEGMENTS);
    let segments: Vec<Segment> = input
        .segments
        .iter()
        .take(MAX_SEGMENTS)
        .enumerate()
        .filter_map(|(i, s)| parse_segment(&s.to_json(&format!("segment_{i}"), segment_count)).ok())
        .collect();
    let flag_count = input.flags.len().min(MAX_FLAGS);
    let flags: Vec<Flag> = input
        .flags
        .iter()
        .take(MAX_FLAGS)
        .enumerate()
        .filter_map(|(i, f)| parse_flag(&f.to_json(i, flag_count, segment_count)).ok())
        .collect();
    let flag_refs: Vec<&Flag> = flags.iter().collect();

    let mut contexts: Vec<Context> = input
        .contexts
        .iter()
        .take(MAX_CONTEXTS)
        .map(|attributes| {
            let mut context = Context::new();
            for (name, value) in attributes.iter().take(MAX_ATTRIBUTES) {
                context.set(pick(ATTRIBUTES, (*name).into()), value.to_json());
            }
            context
        })
        .collect();
    for flag in &flags {
        contexts.extend(contexts_for(flag).into_iter().skip(4));
    }
    contexts.push(Context::for_user("user-1"));

    // Compiling checks exactly what validation checks.
    let problems = validate_set(&flags, &segments, &environments);
    match Snapshot::compile(&flags, &segments, &environments) {
        Ok(_) => assert!(problems.is_empty(), "compiled despite {problems:?}"),
        Err(found) => assert_eq!(found, problems),
    }

    // A full build decides every flag as its document says.
    let full = Snapshot::build(&flags, &segments, &environments);
    check_snapshot(&full, &flag_refs, &environments, &contexts);

    // Flags changed: start from some, add the rest, replace one, remove one.
    let start = usize::from(input.start) % (flags.len() + 1);
    let (initial, added) = flags.split_at(start);
    let mut changed: Vec<Flag> = added.to_vec();
    let mut expected: Vec<Flag> = flags.clone();
    if !initial.is_empty() {
        let at = usize::from(input.replaced) % initial.len();
        let mut replacement = initial[at].clone();
        match input.replacement {
            Replacement::WithoutEnvironments => replacement.environments.clear(),
            Replacement::RulesReversed => replacement.targeting_rules.reverse(),
            Replacement::RulesOf(other) => {
                let other = &flags[usize::from(other) % flags.len()];
                // Only when the rules fit: same type and variants.
                if other.flag_type == replacement.flag_type
                    && other.variants == replacement.variants
                {
                    replacement.targeting_rules = other.targeting_rules.clone();
                }
            }
        }
        expected[at] = replacement.clone();
        changed.push(replacement);
    }
    let removed: Option<String> = input
        .removed
        .filter(|_| !initial.is_empty())
        .map(|r| initial[usize::from(r) % initial.len()].flag_id.clone());
    if let Some(removed) = &removed {
        expected.retain(|f| &f.flag_id != removed);
        changed.retain(|f| &f.flag_id != removed);
    }
    let before = Snapshot::build(initial, &segments, &environments);
    let removed_ids: Vec<&str> = removed.iter().map(String::as_str).collect();
    let updated = before.with_flags_changed(&changed, &removed_ids, &environments);
    let rebuilt = Snapshot::build(&expected, &segments, &environments);
    let all_ids: Vec<&str> = flags.iter().map(|f| f.flag_id.as_str()).collect();
    assert_same_decisions(
        "with_flags_changed",
        &updated,
        &rebuilt,
        &all_ids,
        &environments,
        &contexts,
    );
    let expected_refs: Vec<&Flag> = expected.iter().collect();
    check_snapshot(&updated, &expected_refs, &environments, &contexts);

    // Segments changed.
    let mut after: Vec<Segment> = segments.clone();
    match &input.segment_change {
        SegmentChange::Rotate => {
            for i in 0..after.len() {
                after[i].conditions = segments[(i + 1) % segments.len()].conditions.clone();
            }
        }
        SegmentChange::Remove(i) => {
            if !after.is_empty() {
                after.remove(usize::from(*i) % segments.len());
            }
        }
        SegmentChange::AddFront(i, spec) => {
            let id = format!("segment_{}", usize::from(*i) % (MAX_SEGMENTS + 1));
            if let Ok(segment) = parse_segment(&spec.to_json(&id, segment_count)) {
                after.insert(0, segment);
            }
        }
        SegmentChange::Replace(i, spec) => {
            if !after.is_empty() {
                let at = usize::from(*i) % after.len();
                let id = after[at].segment_id.clone();
                if let Ok(segment) = parse_segment(&spec.to_json(&id, segment_count)) {
                    after[at] = segment;
                }
            }
        }
    }
    let using: Vec<&Flag> = flags.iter().filter(|f| f.uses_segments()).collect();
    let updated = full.with_segments_changed(&after, &using, &environments);
    let rebuilt = Snapshot::build(&flags, &after, &environments);
    assert_same_decisions(
        "with_segments_changed",
        &updated,
        &rebuilt,
        &all_ids,
        &environments,
        &contexts,
    );
});
