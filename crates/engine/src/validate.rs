//! Problems found in documents, and the checks that need more than one
//! document: references to segments, prerequisites, environments, and
//! prerequisite cycles.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use crate::model::{Condition, Environment, Flag, Operator, Rule, Segment};

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The document is refused.
    Error,
    /// Advice; the document is accepted.
    Warning,
}

/// One thing wrong with a document, located by a JSON path such as
/// `environments.production.targeting_rules[1].conditions[0].operator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where, relative to the document (empty for the document itself).
    pub path: String,
    /// What is wrong, in plain words, with a fix where one is known.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl Problem {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
            severity: Severity::Warning,
        }
    }

    /// The same problem, located inside a larger document.
    pub fn prefixed(mut self, prefix: &str) -> Problem {
        self.path = join_path(prefix, &self.path);
        self
    }

    /// All problems on one line each.
    pub fn join(problems: &[Problem]) -> String {
        problems
            .iter()
            .map(Problem::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// `; did you mean "x"?` when a candidate is close to `word`.
pub(crate) fn suggestion<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    did_you_mean(word, candidates).map(|s| format!("; did you mean \"{s}\"?"))
}

/// `unknown <noun> "<word>"`, with a suggestion when one is close.
fn unknown<'a>(noun: &str, word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let hint = suggestion(word, candidates).unwrap_or_default();
    format!("unknown {noun} \"{word}\"{hint}")
}

/// `prefix.key`, or `key` at the root; indexes (`[0]`) attach without a dot.
pub(crate) fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else if key.is_empty() || key.starts_with('[') {
        format!("{prefix}{key}")
    } else {
        format!("{prefix}.{key}")
    }
}

/// The closest of `candidates` to `word`, if close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Jaro-Winkler favours shared prefixes, which is how field names are
    // usually mistyped or shortened ("defualt" for "default_value").
    // Candidates often come from a `HashSet` (flag and segment ids), whose
    // order changes from one process to the next: a tie goes to the
    // alphabetically first, so that the same document always gets the same
    // message.
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(similarity, _)| *similarity >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

/// The checks of a whole configuration: every reference resolves and no
/// prerequisite chain loops. Paths start with `flags[<flag_id>]` or
/// `segments[<segment_id>]`.
///
/// `environments` may be empty, in which case environment names in flags are
/// not checked.
pub fn validate_set(
    flags: &[impl Borrow<Flag>],
    segments: &[Segment],
    environments: &[Environment],
) -> Vec<Problem> {
    let flags: Vec<&Flag> = flags.iter().map(Borrow::borrow).collect();
    let mut problems = Vec::new();
    let flag_ids: HashSet<&str> = flags.iter().map(|f| f.flag_id.as_str()).collect();
    let segment_ids: HashSet<&str> = segments.iter().map(|s| s.segment_id.as_str()).collect();
    let env_keys: HashSet<&str> = environments.iter().map(|e| e.key.as_str()).collect();

    check_unique(
        flags.iter().map(|f| f.flag_id.as_str()),
        "flags",
        "flag",
        &mut problems,
    );
    check_unique(
        segments.iter().map(|s| s.segment_id.as_str()),
        "segments",
        "segment",
        &mut problems,
    );
    check_unique(
        environments.iter().map(|e| e.key.as_str()),
        "environments",
        "environment",
        &mut problems,
    );
    problems.extend(check_environment_tree(environments));

    for flag in &flags {
        let prefix = format!("flags[{}]", flag.flag_id);
        for problem in check_flag_references(flag, &flag_ids, &segment_ids, &env_keys) {
            problems.push(problem.prefixed(&prefix));
        }
    }
    for segment in segments {
        let prefix = format!("segments[{}]", segment.segment_id);
        for (i, condition) in segment.conditions.iter().enumerate() {
            let path = format!("{prefix}.conditions[{i}]");
            check_segment_reference(condition, &segment_ids, &path, &mut problems);
        }
    }
    problems.extend(prerequisite_cycles(&flags));
    problems
}

/// The references of one flag that the rest of the configuration must
/// satisfy: segments, prerequisites and (when `env_keys` is not empty)
/// environments. Paths are relative to the flag.
pub fn check_flag_references(
    flag: &Flag,
    flag_ids: &HashSet<&str>,
    segment_ids: &HashSet<&str>,
    env_keys: &HashSet<&str>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_rules(
        &flag.targeting_rules,
        "targeting_rules",
        segment_ids,
        &mut problems,
    );
    for (env, entry) in &flag.environments {
        let env_path = format!("environments.{env}");
        if !env_keys.is_empty() && !env_keys.contains(env.as_str()) {
            problems.push(Problem::error(
                env_path.clone(),
                unknown("environment", env, env_keys.iter().copied()),
            ));
        }
        if let crate::model::EnvironmentEntry::Config(config) = entry
            && let Some(rules) = &config.targeting_rules
        {
            check_rules(
                rules,
                &format!("{env_path}.targeting_rules"),
                segment_ids,
                &mut problems,
            );
        }
    }
    for (i, dependency) in flag.depends_on.iter().enumerate() {
        if !flag_ids.contains(dependency.flag.as_str()) {
            problems.push(Problem::error(
                format!("depends_on[{i}].flag"),
                unknown("flag", &dependency.flag, flag_ids.iter().copied()),
            ));
        }
    }
    problems
}

fn check_rules(
    rules: &[Rule],
    path: &str,
    segment_ids: &HashSet<&str>,
    problems: &mut Vec<Problem>,
) {
    for (r, rule) in rules.iter().enumerate() {
        for (c, condition) in rule.conditions.iter().enumerate() {
            let path = format!("{path}[{r}].conditions[{c}]");
            check_segment_reference(condition, segment_ids, &path, problems);
        }
    }
}

fn check_segment_reference(
    condition: &Condition,
    segment_ids: &HashSet<&str>,
    path: &str,
    problems: &mut Vec<Problem>,
) {
    if !matches!(
        condition.operator,
        Operator::InSegment | Operator::NotInSegment
    ) {
        return;
    }
    for id in segment_operand(condition) {
        if !segment_ids.contains(id) {
            problems.push(Problem::error(
                format!("{path}.value"),
                unknown("segment", id, segment_ids.iter().copied()),
            ));
        }
    }
}

/// The segment ids a segment condition names (a string or a list).
pub(crate) fn segment_operand(condition: &Condition) -> Vec<&str> {
    match &condition.value {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    }
}

fn check_unique<'a>(
    keys: impl Iterator<Item = &'a str>,
    collection: &str,
    noun: &str,
    problems: &mut Vec<Problem>,
) {
    let mut seen = HashSet::new();
    for key in keys {
        if !seen.insert(key) {
            problems.push(Problem::error(
                format!("{collection}[{key}]"),
                format!("duplicate {noun} \"{key}\""),
            ));
        }
    }
}

/// Parents exist and the tree has no loop.
fn check_environment_tree(environments: &[Environment]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let parents: HashMap<&str, Option<&str>> = environments
        .iter()
        .map(|e| (e.key.as_str(), e.parent.as_deref()))
        .collect();
    for env in environments {
        let path = format!("environments[{}].parent", env.key);
        if let Some(parent) = env.parent.as_deref()
            && !parents.contains_key(parent)
        {
            problems.push(Problem::error(
                path.clone(),
                format!("unknown parent environment \"{parent}\""),
            ));
        }
        let mut seen = HashSet::from([env.key.as_str()]);
        let mut current = env.parent.as_deref();
        while let Some(key) = current {
            if !seen.insert(key) {
                problems.push(Problem::error(
                    path,
                    format!("environment \"{}\" is its own ancestor", env.key),
                ));
                break;
            }
            current = parents.get(key).copied().flatten();
        }
    }
    problems
}

/// Every prerequisite loop, each reported once on the flag that closes it.
pub fn prerequisite_cycles(flags: &[impl Borrow<Flag>]) -> Vec<Problem> {
    let flags: Vec<&Flag> = flags.iter().map(Borrow::borrow).collect();
    let graph: HashMap<&str, Vec<&str>> = flags
        .iter()
        .map(|f| {
            (
                f.flag_id.as_str(),
                f.depends_on.iter().map(|d| d.flag.as_str()).collect(),
            )
        })
        .collect();
    // Iterative depth-first search with three colours, so that a long chain
    // cannot overflow the stack.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour: HashMap<&str, Colour> = graph.keys().map(|k| (*k, Colour::White)).collect();
    let mut problems = Vec::new();
    let mut roots: Vec<&str> = graph.keys().copied().collect();
    roots.sort_unstable();
    for root in roots {
        if colour.get(root) != Some(&Colour::White) {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        colour.insert(root, Colour::Grey);
        while let Some((node, next)) = stack.last().copied() {
            let edges = graph.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&child) = edges.get(next) {
                if let Some(top) = stack.last_mut() {
                    top.1 = top.1.saturating_add(1);
                }
                match colour.get(child).copied() {
                    Some(Colour::White) => {
                        colour.insert(child, Colour::Grey);
                        stack.push((child, 0));
                    }
                    Some(Colour::Grey) => {
                        let start = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut cycle: Vec<&str> = stack[start..].iter().map(|(n, _)| *n).collect();
                        cycle.push(child);
                        problems.push(Problem::error(
                            format!("flags[{node}].depends_on[{next}]"),
                            format!("prerequisite cycle: {}", cycle.join(" → ")),
                        ));
                    }
                    _ => {}
                }
            } else {
                colour.insert(node, Colour::Black);
                stack.pop();
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `segments_and_rules` fuzz target: `flag_2` is as close
    /// to `flag_0` as to `flag_1`, and the suggestion followed the order of
    /// a `HashSet`, so the same configuration got either message.
    #[test]
    fn a_tied_suggestion_does_not_depend_on_the_candidates_order() {
        assert_eq!(did_you_mean("flag_2", ["flag_0", "flag_1"]), Some("flag_0"));
        assert_eq!(did_you_mean("flag_2", ["flag_1", "flag_0"]), Some("flag_0"));
        let flag = crate::parse_flag(&serde_json::json!({
            "flag_id": "flag_9",
            "depends_on": [{"flag": "flag_2"}]
        }));
        let Ok(flag) = flag else {
            panic!("{flag:?}");
        };
        let others = ["flag_0", "flag_1", "flag_3"].map(|id| {
            let mut other = flag.clone();
            other.flag_id = id.to_owned();
            other.depends_on.clear();
            other
        });
        let mut messages = HashSet::new();
        for _ in 0..20 {
            let mut flags: Vec<&Flag> = vec![&flag];
            flags.extend(&others);
            for problem in validate_set(&flags, &[], &[]) {
                messages.insert(problem.to_string());
            }
        }
        assert_eq!(
            messages.into_iter().collect::<Vec<_>>(),
            ["flags[flag_9].depends_on[0].flag: unknown flag \"flag_2\"; did you mean \"flag_0\"?"]
        );
    }
}
