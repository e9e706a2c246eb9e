//! Evaluation: the value a flag has for a context in one environment.
//!
//! The steps (DESIGN.md §3): unknown flag → `FLAG_NOT_FOUND`; disabled → off
//! value, `DISABLED`; a prerequisite with another value → off value,
//! `PREREQUISITE_FAILED`; the first matching rule whose percentage admits the
//! context → its value (`TARGETING_MATCH`, or `SPLIT` when a bucket decided);
//! otherwise the environment's value (`STATIC` without rules, `DEFAULT` with).
//!
//! Nothing here allocates: results borrow from the snapshot.

use serde::Serialize;
use serde_json::Value;

use crate::bucket::Murmur3;
use crate::compile::{
    CompiledCondition, CompiledFlag, CompiledRule, CompiledServe, EnvironmentSnapshot, Ordering,
    Scalar, Test,
};
use crate::context::{AttributeName, Context};
use crate::model::FlagType;
use crate::values::{attribute_date, attribute_number, json_equal, parse_semver};

/// Why a value was served (OpenFeature's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// The flag has no rules: its environment value.
    Static,
    /// Rules exist and none matched: the environment value.
    Default,
    /// A rule's conditions matched.
    TargetingMatch,
    /// A bucket decided (percentage rollout or weighted split).
    Split,
    /// The environment's kill switch is off.
    Disabled,
    /// A prerequisite did not have its required value.
    PrerequisiteFailed,
    /// No value: see the error code.
    Error,
}

impl Reason {
    /// The OpenFeature name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Static => "STATIC",
            Reason::Default => "DEFAULT",
            Reason::TargetingMatch => "TARGETING_MATCH",
            Reason::Split => "SPLIT",
            Reason::Disabled => "DISABLED",
            Reason::PrerequisiteFailed => "PREREQUISITE_FAILED",
            Reason::Error => "ERROR",
        }
    }

    /// The reason with this OpenFeature name, if any.
    pub fn from_name(name: &str) -> Option<Reason> {
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
        .find(|reason| reason.as_str() == name)
    }
}

/// Why no value could be served (OpenFeature's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No flag with that key in the environment.
    FlagNotFound,
    /// The flag's type is not the one asked for.
    TypeMismatch,
    /// A targeting key was required and absent.
    TargetingKeyMissing,
    /// The context is not a JSON object.
    InvalidContext,
    /// The request could not be read.
    ParseError,
    /// Anything else.
    General,
}

impl ErrorCode {
    /// The OpenFeature name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::FlagNotFound => "FLAG_NOT_FOUND",
            ErrorCode::TypeMismatch => "TYPE_MISMATCH",
            ErrorCode::TargetingKeyMissing => "TARGETING_KEY_MISSING",
            ErrorCode::InvalidContext => "INVALID_CONTEXT",
            ErrorCode::ParseError => "PARSE_ERROR",
            ErrorCode::General => "GENERAL",
        }
    }
}

/// The rule that decided a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleRef<'a> {
    /// Position in the environment's rule list.
    pub index: usize,
    /// The rule's name, if it has one.
    pub name: Option<&'a str>,
}

/// The outcome of evaluating one flag.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Resolution<'a> {
    /// The value served; `None` only with an error code.
    pub value: Option<&'a Value>,
    /// The variant served, when the value came from the flag's `variants`.
    pub variant: Option<&'a str>,
    /// Why.
    pub reason: Reason,
    /// The rule that matched, for `TARGETING_MATCH` and `SPLIT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleRef<'a>>,
    /// The prerequisite that failed, for `PREREQUISITE_FAILED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_prerequisite: Option<&'a str>,
    /// Set when `reason` is `ERROR`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
}

impl<'a> Resolution<'a> {
    /// A resolution with no value.
    pub fn error(code: ErrorCode) -> Resolution<'static> {
        Resolution {
            value: None,
            variant: None,
            reason: Reason::Error,
            rule: None,
            failed_prerequisite: None,
            error_code: Some(code),
        }
    }

    fn served(value: &'a Value, reason: Reason) -> Resolution<'a> {
        Resolution {
            value: Some(value),
            variant: None,
            reason,
            rule: None,
            failed_prerequisite: None,
            error_code: None,
        }
    }
}

/// Prerequisite chains longer than this fail (validation rejects cycles; this
/// bounds the recursion for configurations that skipped it).
const MAX_PREREQUISITE_DEPTH: usize = 64;

/// One evaluation evaluates at most this many prerequisites in all; past it,
/// the prerequisite fails. The depth alone does not bound the work: flags
/// that share prerequisites (each of two flags depending on both flags of
/// the next level, or a flag listing one twice) are evaluated once per path,
/// and paths double with every level, so a valid configuration of a few
/// dozen flags (or a cycle of two, which `build` lets through) took 2^32
/// evaluations: a hung request. Found by the `segments_and_rules` fuzz
/// target.
const MAX_PREREQUISITE_EVALUATIONS: usize = 1024;

impl EnvironmentSnapshot {
    /// Evaluates one flag for a context.
    pub fn evaluate(&self, flag_id: &str, context: &Context) -> Resolution<'_> {
        match self.flags.get(flag_id) {
            Some(flag) => self.evaluate_flag(flag, context, 0, &mut 0),
            None => Resolution::error(ErrorCode::FlagNotFound),
        }
    }

    /// Evaluates one flag, refusing (`TYPE_MISMATCH`) if it is not of the
    /// type the caller expects.
    pub fn evaluate_typed(
        &self,
        flag_id: &str,
        context: &Context,
        expected: FlagType,
    ) -> Resolution<'_> {
        match self.flags.get(flag_id) {
            Some(flag) if flag.flag_type == expected || expected == FlagType::Json => {
                self.evaluate_flag(flag, context, 0, &mut 0)
            }
            Some(_) => Resolution::error(ErrorCode::TypeMismatch),
            None => Resolution::error(ErrorCode::FlagNotFound),
        }
    }

    /// Evaluates every flag for one context, in configuration order.
    pub fn evaluate_all<'s>(
        &'s self,
        context: &'s Context,
    ) -> impl Iterator<Item = (&'s str, Resolution<'s>)> + 's {
        self.flags
            .iter()
            .map(move |flag| (&*flag.key, self.evaluate_flag(flag, context, 0, &mut 0)))
    }

    /// `evaluated` counts the prerequisites this evaluation has evaluated
    /// so far, at every level (bounded by [`MAX_PREREQUISITE_EVALUATIONS`]).
    fn evaluate_flag<'s>(
        &'s self,
        flag: &'s CompiledFlag,
        context: &Context,
        depth: usize,
        evaluated: &mut usize,
    ) -> Resolution<'s> {
        if !flag.enabled {
            return Resolution::served(&flag.off_value, Reason::Disabled);
        }
        for prerequisite in &flag.prerequisites {
            *evaluated = evaluated.saturating_add(1);
            let holds = depth < MAX_PREREQUISITE_DEPTH
                && *evaluated <= MAX_PREREQUISITE_EVALUATIONS
                && self.flags.get(&prerequisite.key).is_some_and(|required| {
                    self.evaluate_flag(required, context, depth.saturating_add(1), evaluated)
                        .value
                        .is_some_and(|v| json_equal(v, &prerequisite.required_value))
                });
            if !holds {
                let mut resolution =
                    Resolution::served(&flag.off_value, Reason::PrerequisiteFailed);
                resolution.failed_prerequisite = Some(&prerequisite.key);
                return resolution;
            }
        }
        for rule in flag.rules.iter() {
            if let Some(resolution) = self.apply_rule(rule, context) {
                return resolution;
            }
        }
        let reason = if flag.rules.is_empty() {
            Reason::Static
        } else {
            Reason::Default
        };
        Resolution::served(&flag.fallthrough, reason)
    }

    /// The rule's resolution if it matches and admits the context.
    fn apply_rule<'s>(
        &'s self,
        rule: &'s CompiledRule,
        context: &Context,
    ) -> Option<Resolution<'s>> {
        if !rule.conditions.iter().all(|c| self.holds(c, context)) {
            return None;
        }
        let needs_bucket =
            rule.threshold.is_some() || matches!(rule.serve, CompiledServe::Split(_));
        let bucket = if needs_bucket {
            Some(bucket_of(
                &rule.hash_prefix,
                context.get_named(&rule.bucket_by)?,
            )?)
        } else {
            None
        };
        if let (Some(threshold), Some(b)) = (rule.threshold, bucket)
            && b >= threshold
        {
            return None;
        }
        let reason = if bucket.is_some() {
            Reason::Split
        } else {
            Reason::TargetingMatch
        };
        let (value, variant) = match &rule.serve {
            CompiledServe::Value(value) => (value, None),
            CompiledServe::Variant(name, value) => (value, Some(&**name)),
            CompiledServe::Split(shares) => {
                let b = bucket?;
                let (_, name, value) = shares
                    .iter()
                    .find(|(upper, _, _)| b < *upper)
                    .or_else(|| shares.last())?;
                (value, Some(&**name))
            }
        };
        Some(Resolution {
            value: Some(value),
            variant,
            reason,
            rule: Some(crate::evaluate::RuleRef {
                index: rule.index,
                name: rule.name.as_deref(),
            }),
            failed_prerequisite: None,
            error_code: None,
        })
    }

    fn holds(&self, condition: &CompiledCondition, context: &Context) -> bool {
        self.test(&condition.test, &condition.attribute, context)
    }

    fn test(&self, test: &Test, attribute: &AttributeName, context: &Context) -> bool {
        match test {
            Test::Segment(ids) => ids.iter().any(|&i| {
                self.segments
                    .get(i)
                    .is_some_and(|s| s.conditions.iter().all(|c| self.holds(c, context)))
            }),
            Test::Exists => context.get_named(attribute).is_some(),
            Test::Not(inner) => match **inner {
                // Whole-context tests negate plainly.
                Test::Segment(_) | Test::Exists => !self.test(inner, attribute, context),
                // Attribute tests need the attribute: absent stays false.
                _ => context
                    .get_named(attribute)
                    .is_some_and(|value| !test_value(inner, value)),
            },
            _ => context
                .get_named(attribute)
                .is_some_and(|value| test_value(test, value)),
        }
    }
}

/// A positive attribute test against a present value.
fn test_value(test: &Test, value: &Value) -> bool {
    match test {
        Test::Equals(operand) => scalar_equals(operand, value),
        Test::In(set) => match value {
            Value::Array(items) => items.iter().any(|item| set_contains(set, item)),
            scalar => set_contains(set, scalar),
        },
        Test::Contains(operand) => match (value, operand) {
            (Value::String(haystack), Value::String(needle)) => haystack.contains(needle.as_str()),
            (Value::Array(items), operand) => items.iter().any(|item| json_equal(item, operand)),
            _ => false,
        },
        Test::StartsWith(prefix) => value.as_str().is_some_and(|s| {
            s.len() >= prefix.len()
                && crate::values::fast_eq_bytes(&s.as_bytes()[..prefix.len()], prefix.as_bytes())
        }),
        Test::EndsWith(suffix) => value.as_str().is_some_and(|s| {
            s.len().checked_sub(suffix.len()).is_some_and(|start| {
                crate::values::fast_eq_bytes(&s.as_bytes()[start..], suffix.as_bytes())
            })
        }),
        Test::Matches(regex) => value.as_str().is_some_and(|s| regex.is_match(s)),
        Test::Number(ordering, operand) => {
            attribute_number(value).is_some_and(|n| compare(ordering, n.partial_cmp(operand)))
        }
        Test::Semver(ordering, operand) => value
            .as_str()
            .and_then(|text| compare_version(text, operand))
            .is_some_and(|order| compare(ordering, Some(order))),
        Test::Date { before, at } => {
            attribute_date(value).is_some_and(|t| if *before { t < *at } else { t > *at })
        }
        // Whole-context tests are handled by the caller.
        Test::Exists | Test::Segment(_) | Test::Not(_) => false,
    }
}

/// A context version compared with an operand by SemVer precedence.
///
/// Plain versions (`2`, `2.3`, `2.3.1`, with an optional `v`) — nearly all
/// app versions — are compared by hand without parsing into a
/// `semver::Version`; anything with a pre-release or build part takes the full
/// parser. Both accept exactly what [`parse_semver`] accepts.
fn compare_version(text: &str, operand: &semver::Version) -> Option<std::cmp::Ordering> {
    match plain_version(text) {
        Some(core) => {
            let by_core = core.cmp(&(operand.major, operand.minor, operand.patch));
            Some(if by_core.is_eq() && !operand.pre.is_empty() {
                // A release is greater than its pre-releases.
                std::cmp::Ordering::Greater
            } else {
                by_core
            })
        }
        None => parse_semver(text).map(|v| v.cmp_precedence(operand)),
    }
}

/// `major[.minor[.patch]]` of a plain version, without leading zeros.
fn plain_version(text: &str) -> Option<(u64, u64, u64)> {
    let text = text.strip_prefix('v').unwrap_or(text);
    let mut parts = [0u64; 3];
    for (i, part) in text.split('.').enumerate() {
        let slot = parts.get_mut(i)?;
        let leading_zero = part.len() > 1 && part.starts_with('0');
        if part.is_empty() || leading_zero || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    Some((parts[0], parts[1], parts[2]))
}

fn compare(ordering: &Ordering, result: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering as O;
    matches!(
        (ordering, result),
        (Ordering::Gt, Some(O::Greater))
            | (Ordering::Gte, Some(O::Greater | O::Equal))
            | (Ordering::Lt, Some(O::Less))
            | (Ordering::Lte, Some(O::Less | O::Equal))
            | (Ordering::Eq, Some(O::Equal))
    )
}

fn scalar_equals(operand: &Scalar, value: &Value) -> bool {
    match (operand, value) {
        (Scalar::Str(a), Value::String(b)) => crate::values::fast_eq(a, b),
        (Scalar::Num(a), Value::Number(b)) => b.as_f64() == Some(*a),
        (Scalar::Bool(a), Value::Bool(b)) => a == b,
        _ => false,
    }
}

fn set_contains(set: &crate::compile::ScalarSet, value: &Value) -> bool {
    match value {
        Value::String(s) => set.strings.contains(s),
        Value::Number(n) => n.as_f64().is_some_and(|n| set.numbers.contains(n)),
        Value::Bool(b) => set.booleans[usize::from(*b)],
        _ => false,
    }
}

/// The bucket of a context value: strings as they are, integers in decimal;
/// other values cannot be bucketed (the rule does not match).
fn bucket_of(prefix: &Murmur3, value: &Value) -> Option<u32> {
    let mut hasher = prefix.clone();
    match value {
        Value::String(s) => hasher.write(s.as_bytes()),
        Value::Number(n) => {
            let mut buffer = itoa::Buffer::new();
            if let Some(i) = n.as_i64() {
                hasher.write(buffer.format(i).as_bytes());
            } else if let Some(u) = n.as_u64() {
                hasher.write(buffer.format(u).as_bytes());
            } else {
                return None;
            }
        }
        _ => return None,
    }
    Some(hasher.finish() % crate::bucket::BUCKETS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Environment, Flag, Snapshot, parse_flag};
    use serde_json::json;

    fn flags(docs: Vec<Value>) -> Vec<Flag> {
        docs.iter()
            .map(|doc| parse_flag(doc).unwrap_or_else(|p| panic!("{p:?}")))
            .collect()
    }

    /// Levels of two flags, each depending on both flags of the next level:
    /// a valid configuration whose top flag has 2^levels paths to the last
    /// level. Every flag is `true` when its prerequisites hold.
    fn lattice(levels: usize) -> Snapshot {
        let docs = (0..levels)
            .flat_map(|level| {
                ["a", "b"].map(|side| {
                    let depends_on: Vec<Value> = if level + 1 < levels {
                        ["a", "b"]
                            .map(|next| json!({"flag": format!("level_{}_{next}", level + 1)}))
                            .to_vec()
                    } else {
                        Vec::new()
                    };
                    json!({"flag_id": format!("level_{level}_{side}"), "default_value": true,
                           "depends_on": depends_on})
                })
            })
            .collect();
        let flags = flags(docs);
        Snapshot::compile(&flags, &[], &Environment::seed_tree())
            .unwrap_or_else(|p| panic!("a valid configuration: {p:?}"))
    }

    /// Found by the `segments_and_rules` fuzz target (as a cycle of two
    /// flags, one listing the other twice, which hung for 2^32
    /// evaluations): prerequisites shared by many paths were evaluated once
    /// per path. Now one evaluation evaluates at most
    /// `MAX_PREREQUISITE_EVALUATIONS` prerequisites; past that they fail.
    #[test]
    fn prerequisites_reached_by_many_paths_cost_a_bounded_number_of_evaluations() {
        let context = Context::for_user("user-1");
        let production = |snapshot: &Snapshot| {
            snapshot
                .environment("production")
                .cloned()
                .unwrap_or_else(|| panic!("no production"))
        };
        // 2 + 4 + ... + 2^8 = 510 prerequisite evaluations: within the bound.
        let small = production(&lattice(9));
        let top = small.evaluate("level_0_a", &context);
        assert_eq!(
            (top.value, top.reason),
            (Some(&json!(true)), Reason::Static)
        );
        // 2^13 - 2 = 8190 of them: the deepest ones fail, and so the top.
        let large = production(&lattice(13));
        let top = large.evaluate("level_0_a", &context);
        assert_eq!(
            (top.value, top.reason),
            (Some(&json!(false)), Reason::PrerequisiteFailed)
        );

        // The fuzz target's input: validate_set refuses the cycle, build
        // lets it through (two writers may race into one).
        let cycle = flags(vec![
            json!({"flag_id": "flag_0", "depends_on": [
                {"flag": "flag_1", "required_value": false},
                {"flag": "flag_1", "required_value": false}]}),
            json!({"flag_id": "flag_1", "depends_on": [{"flag": "flag_0"}]}),
        ]);
        let snapshot = Snapshot::build(&cycle, &[], &Environment::seed_tree());
        let production = production(&snapshot);
        let resolution = production.evaluate("flag_0", &context);
        assert_eq!(resolution.value, Some(&json!(false)));
    }

    #[test]
    fn the_fast_version_comparison_agrees_with_the_full_parser() {
        let texts = [
            "2",
            "2.3",
            "2.3.1",
            "v2.3.1",
            "02.3",
            "2.03",
            "2.3.01",
            "0.0.0",
            "2.3.1.4",
            "2.",
            ".2",
            "2..3",
            "",
            "v",
            "2.3.1-beta",
            "2.3.1-beta.1",
            "2.3-rc.1",
            "2.3.1+build.5",
            "2.3.1+",
            "18446744073709551615.0.0",
            "18446744073709551616.0.0",
            "x.y.z",
            "2.3.1 ",
        ];
        let operands = ["2.3.1", "2.3.1-beta.2", "0.0.0", "2.0.0", "10.0.0-alpha"];
        for operand in operands {
            let Some(operand) = parse_semver(operand) else {
                panic!("{operand}");
            };
            for text in texts {
                assert_eq!(
                    compare_version(text, &operand),
                    parse_semver(text).map(|v| v.cmp_precedence(&operand)),
                    "{text:?} against {operand}"
                );
            }
        }
    }
}
