//! What the fuzz targets share: the invariants every evaluation of a flag
//! keeps, the round trip every parsed document keeps, and contexts that reach
//! a flag's rules.
//!
//! The checks panic (that is how libFuzzer learns of a failure), so they
//! assert instead of returning errors.
//!
//! # Layout
//!
//! - [`Expected`]: what one flag may serve in one environment, worked out from
//!   the flag document alone (the entry in effect there, through
//!   [`project_flag`]), independently of the compiled snapshot.
//! - [`check_evaluations`]: evaluates a flag in every environment of a snapshot
//!   for each context, twice and through every entry point, and checks each
//!   resolution against [`Expected`].
//! - [`assert_same_decisions`]: two snapshots decide every flag alike (how an
//!   incremental update is checked against a full build).
//! - [`check_round_trip`]: a parsed flag, written back and read again, is the
//!   same flag.
//! - [`contexts_for`]: contexts built from a flag's own operands, so that its
//!   rules match rather than fall through.

use ff_engine::bucket::BUCKETS;
use ff_engine::values::thousandths;
use ff_engine::{
    Context, EnvironmentConfig, EnvironmentEntry, EnvironmentSnapshot, ErrorCode, Flag, FlagType,
    Operator, Reason, Resolution, Rule, Serve, Snapshot, lint_flag, parse_flag, project_flag,
};
use ff_engine::{Environment, Segment, parse_segment};
use serde_json::{Value, json};

/// What one flag may serve in one environment.
#[derive(Debug)]
pub struct Expected {
    /// The environment.
    pub env: String,
    /// The kill switch in effect (`enabled`, default `true`).
    pub enabled: bool,
    /// Served when no rule matches (`STATIC` or `DEFAULT`).
    pub fallthrough: Value,
    /// Served when disabled or a prerequisite fails.
    pub off: Value,
    /// The rules in effect, in order.
    pub rules: Vec<Rule>,
    /// The flag's variants.
    pub variants: serde_json::Map<String, Value>,
    /// The prerequisites' flag ids.
    pub prerequisites: Vec<String>,
    /// The flag's type.
    pub flag_type: FlagType,
}

impl Expected {
    /// Works out what `flag` may serve in `env` from the document: the entry
    /// in effect there (its own, or its parent's through `auto_sync`, as
    /// [`project_flag`] resolves it), with the flag-level fallbacks.
    pub fn of(flag: &Flag, env: &str, environments: &[Environment]) -> Expected {
        let projected = project_flag(flag, env, environments);
        let config = projected
            .environments
            .get(env)
            .map(EnvironmentEntry::to_config)
            .unwrap_or_else(EnvironmentConfig::default);
        Expected {
            env: env.to_owned(),
            enabled: config.enabled.unwrap_or(true),
            fallthrough: config.value.unwrap_or_else(|| flag.default_value.clone()),
            off: match flag.flag_type {
                FlagType::Boolean => Value::Bool(false),
                _ => flag.default_value.clone(),
            },
            rules: config
                .targeting_rules
                .unwrap_or_else(|| flag.targeting_rules.clone()),
            variants: flag
                .variants
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            prerequisites: flag.depends_on.iter().map(|d| d.flag.clone()).collect(),
            flag_type: flag.flag_type,
        }
    }

    /// What `flag` may serve in every environment.
    pub fn all(flag: &Flag, environments: &[Environment]) -> Vec<Expected> {
        environments
            .iter()
            .map(|env| Expected::of(flag, &env.key, environments))
            .collect()
    }

    /// Asserts that `resolution` is one this flag can give here: a value it
    /// serves for the reason given, the variant that holds that value, and
    /// the rule that serves it.
    pub fn check(&self, resolution: &Resolution<'_>) {
        let r = resolution;
        assert_ne!(r.reason, Reason::Error, "{r:?} in {}", self.env);
        assert_eq!(r.error_code, None, "{r:?}");
        let Some(value) = r.value else {
            panic!("no value without an error: {r:?}");
        };
        assert!(
            self.flag_type.admits(value),
            "{value} is not a {:?} value",
            self.flag_type
        );
        if let Some(name) = r.variant {
            assert_eq!(
                self.variants.get(name),
                Some(value),
                "variant {name}: {r:?}"
            );
        }
        assert_eq!(
            r.failed_prerequisite.is_some(),
            r.reason == Reason::PrerequisiteFailed,
            "{r:?}"
        );
        match r.reason {
            Reason::Disabled => {
                assert!(!self.enabled, "served DISABLED while enabled: {r:?}");
                assert_eq!(value, &self.off, "{r:?}");
                assert!(r.rule.is_none() && r.variant.is_none(), "{r:?}");
            }
            Reason::PrerequisiteFailed => {
                assert!(self.enabled, "{r:?}");
                assert_eq!(value, &self.off, "{r:?}");
                let failed = r.failed_prerequisite.unwrap_or_default();
                assert!(
                    self.prerequisites.iter().any(|p| p == failed),
                    "{failed} is not a prerequisite: {r:?}"
                );
            }
            Reason::Static | Reason::Default => {
                assert!(self.enabled, "{r:?}");
                assert_eq!(value, &self.fallthrough, "{r:?} in {}", self.env);
                assert_eq!(r.reason == Reason::Static, self.rules.is_empty(), "{r:?}");
                assert!(r.rule.is_none() && r.variant.is_none(), "{r:?}");
            }
            Reason::TargetingMatch | Reason::Split => {
                assert!(self.enabled, "{r:?}");
                let Some(rule_ref) = r.rule else {
                    panic!("a rule decided, but which? {r:?}");
                };
                let Some(rule) = self.rules.get(rule_ref.index) else {
                    panic!(
                        "rule {} of {} in {}",
                        rule_ref.index,
                        self.rules.len(),
                        self.env
                    );
                };
                assert_eq!(rule_ref.name, rule.name.as_deref(), "{r:?}");
                // Percentages count in thousandths (3 decimals): what rounds
                // to 100 % admits everyone without a bucket, what rounds to
                // 0 % admits no one.
                let share = rule.percentage.map(thousandths);
                let bucketed =
                    matches!(rule.serve, Serve::Split(_)) || share.is_some_and(|t| t < BUCKETS);
                assert_eq!(r.reason == Reason::Split, bucketed, "{r:?} by {rule:?}");
                assert_ne!(share, Some(0), "a 0 % rule matched: {r:?}");
                match &rule.serve {
                    Serve::Value(served) => {
                        assert_eq!(value, served, "{r:?}");
                        assert_eq!(r.variant, None, "{r:?}");
                    }
                    Serve::Variant(name) => assert_eq!(r.variant, Some(name.as_str()), "{r:?}"),
                    Serve::Split(shares) => assert!(
                        shares.iter().any(|s| Some(s.variant.as_str()) == r.variant),
                        "{r:?} is not one of the split's variants"
                    ),
                }
            }
            Reason::Error => unreachable!(),
        }
    }
}

/// Evaluates `flag_id` in `snapshot` for each context: twice with
/// [`EnvironmentSnapshot::evaluate`] (deterministic), once through
/// `evaluate_typed` with the flag's own type and with `Json` (the same), once
/// with another type (`TYPE_MISMATCH`), and checks each resolution against
/// `expected`.
pub fn check_evaluations(
    snapshot: &EnvironmentSnapshot,
    flag_id: &str,
    expected: &Expected,
    contexts: &[Context],
) {
    for context in contexts {
        let first = snapshot.evaluate(flag_id, context);
        expected.check(&first);
        assert_eq!(
            first,
            snapshot.evaluate(flag_id, context),
            "not deterministic"
        );
        assert_eq!(
            first,
            snapshot.evaluate_typed(flag_id, context, expected.flag_type)
        );
        assert_eq!(
            first,
            snapshot.evaluate_typed(flag_id, context, FlagType::Json)
        );
        let other = FlagType::ALL
            .into_iter()
            .find(|t| *t != expected.flag_type && *t != FlagType::Json);
        if let (Some(other), false) = (other, expected.flag_type == FlagType::Json) {
            assert_eq!(
                snapshot.evaluate_typed(flag_id, context, other).error_code,
                Some(ErrorCode::TypeMismatch)
            );
        }
    }
}

/// Checks every flag in every environment of `snapshot` (built from
/// `flags` over `environments`), for each context; and that
/// `evaluate_all` agrees with `evaluate` for each flag.
pub fn check_snapshot(
    snapshot: &Snapshot,
    flags: &[&Flag],
    environments: &[Environment],
    contexts: &[Context],
) {
    for env in environments {
        let Some(compiled) = snapshot.environment(&env.key) else {
            // Duplicate keys compile once; every key still has a snapshot.
            panic!("environment {} missing", env.key);
        };
        for flag in flags {
            let expected = Expected::of(flag, &env.key, environments);
            check_evaluations(compiled, &flag.flag_id, &expected, contexts);
        }
        for context in contexts {
            for (flag_id, resolution) in compiled.evaluate_all(context) {
                assert_eq!(resolution, compiled.evaluate(flag_id, context), "{flag_id}");
            }
        }
    }
}

/// Asserts that two snapshots decide each of `flag_ids` alike in every
/// environment for each context (as the engine's incremental tests do), and
/// hold the same number of flags.
pub fn assert_same_decisions(
    label: &str,
    a: &Snapshot,
    b: &Snapshot,
    flag_ids: &[&str],
    environments: &[Environment],
    contexts: &[Context],
) {
    for env in environments {
        let (Some(a), Some(b)) = (a.environment(&env.key), b.environment(&env.key)) else {
            panic!("{label}: environment {} missing", env.key);
        };
        assert_eq!(a.len(), b.len(), "{label}: flags in {}", env.key);
        for context in contexts {
            for flag_id in flag_ids {
                assert_eq!(
                    a.evaluate(flag_id, context),
                    b.evaluate(flag_id, context),
                    "{label}: {flag_id} in {} for {context:?}",
                    env.key
                );
            }
        }
    }
}

/// A parsed flag, written back (as a value and as text) and read again, is
/// the same flag; and linting it does not panic.
pub fn check_round_trip(flag: &Flag) {
    let written = match serde_json::to_value(flag) {
        Ok(value) => value,
        Err(e) => panic!("a parsed flag does not serialize: {e}: {flag:?}"),
    };
    match parse_flag(&written) {
        Ok(again) => assert_eq!(&again, flag, "written as {written}"),
        Err(problems) => panic!("written as {written}, refused: {problems:#?}"),
    }
    let text = written.to_string();
    match serde_json::from_str::<Value>(&text).map(|v| parse_flag(&v)) {
        Ok(Ok(again)) => assert_eq!(&again, flag, "written as {text}"),
        other => panic!("written as {text}, read back as {other:?}"),
    }
    let _ = lint_flag(flag);
}

/// A parsed segment, written back and read again, is the same segment.
pub fn check_segment_round_trip(segment: &Segment) {
    let written = match serde_json::to_value(segment) {
        Ok(value) => value,
        Err(e) => panic!("a parsed segment does not serialize: {e}: {segment:?}"),
    };
    match parse_segment(&written) {
        Ok(again) => assert_eq!(&again, segment, "written as {written}"),
        Err(problems) => panic!("written as {written}, refused: {problems:#?}"),
    }
}

/// Contexts for evaluating `flag`: none at all, a targeting key under each
/// of its names, a numeric one, and one whose attributes take the values of
/// the flag's own conditions (so that its rules match, and its percentages
/// and splits bucket).
pub fn contexts_for(flag: &Flag) -> Vec<Context> {
    let mut matching = Context::for_user("user-3");
    let env_rules = flag.environments.values().filter_map(|entry| match entry {
        EnvironmentEntry::Config(config) => config.targeting_rules.as_deref(),
        EnvironmentEntry::Value(_) => None,
    });
    for rules in std::iter::once(flag.targeting_rules.as_slice()).chain(env_rules) {
        for rule in rules {
            if let Some(bucket_by) = &rule.bucket_by {
                matching.set(bucket_by.clone(), "bucket-key");
            }
            for condition in &rule.conditions {
                let (Some(attribute), Some(value)) = (
                    &condition.attribute,
                    operand_sample(condition.operator, &condition.value),
                ) else {
                    continue;
                };
                matching.set(attribute.clone(), value);
            }
        }
    }
    vec![
        Context::new(),
        Context::for_user("user-1"),
        Context::new().with("targetingKey", "user-2"),
        Context::new().with("user_id", 12345),
        matching,
    ]
}

/// A context value that satisfies the positive form of a condition, when
/// one is easy to name.
fn operand_sample(operator: Operator, operand: &Option<Value>) -> Option<Value> {
    use Operator as Op;
    match (operator, operand) {
        (Op::Exists, _) => Some(json!(true)),
        (Op::NotExists, _) => None,
        (Op::In | Op::NotIn, Some(Value::Array(items))) => items.first().cloned(),
        (Op::Matches, _) => None,
        (_, Some(value)) => Some(value.clone()),
        (_, None) => None,
    }
}
