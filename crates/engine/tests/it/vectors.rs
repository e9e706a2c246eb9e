//! Runs every shared evaluation vector in `testdata/evaluation/`: the same
//! files the Python and Kotlin SDKs run, so that every language decides every
//! flag the same way.
//!
//! A vector file holds a configuration (`environments`, `segments`, `flags`)
//! and `cases`, each a flag, an environment, a context and the expected
//! `value`, `variant`, `reason` and, when given, `rule` (the matching rule's
//! name or index) and `error_code`. `buckets.json` holds fixed bucket values.

use std::path::{Path, PathBuf};

use ff_engine::bucket::bucket;
use ff_engine::{Context, Environment, Snapshot, parse_flag, parse_segment};
use serde_json::Value;

fn vector_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/evaluation")
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn list<'a>(doc: &'a Value, key: &str) -> &'a [Value] {
    doc.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Runs one vector file; returns the number of cases and the failures.
fn run_file(path: &Path) -> (usize, Vec<String>) {
    let doc = read(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let environments: Vec<Environment> = match doc.get("environments") {
        Some(envs) => serde_json::from_value(envs.clone())
            .unwrap_or_else(|e| panic!("{name}: environments: {e}")),
        None => Environment::seed_tree(),
    };
    let flags: Vec<_> = list(&doc, "flags")
        .iter()
        .map(|f| parse_flag(f).unwrap_or_else(|p| panic!("{name}: flag {}: {p:#?}", f["flag_id"])))
        .collect();
    let segments: Vec<_> = list(&doc, "segments")
        .iter()
        .map(|s| parse_segment(s).unwrap_or_else(|p| panic!("{name}: segment: {p:#?}")))
        .collect();
    let snapshot = Snapshot::compile(&flags, &segments, &environments)
        .unwrap_or_else(|p| panic!("{name}: configuration: {p:#?}"));

    let mut failures = Vec::new();
    let cases = list(&doc, "cases");
    for (i, case) in cases.iter().enumerate() {
        let label = format!(
            "{name} case {i} ({})",
            case["name"].as_str().unwrap_or("unnamed")
        );
        let flag_id = case["flag"]
            .as_str()
            .unwrap_or_else(|| panic!("{label}: no flag"));
        let env = case["environment"].as_str().unwrap_or("production");
        let context = match Context::from_json(case.get("context").cloned().unwrap_or(Value::Null))
        {
            Ok(context) => context,
            Err(e) => panic!("{label}: {e:?}"),
        };
        let snapshot = snapshot
            .environment(env)
            .unwrap_or_else(|| panic!("{label}: no environment {env}"));
        let resolution = snapshot.evaluate(flag_id, &context);
        let expected = &case["expected"];
        let mut got = serde_json::json!({
            "value": resolution.value,
            "variant": resolution.variant,
            "reason": resolution.reason.as_str(),
        });
        let mut want = serde_json::json!({
            "value": expected.get("value").cloned().unwrap_or(Value::Null),
            "variant": expected.get("variant").cloned().unwrap_or(Value::Null),
            "reason": expected["reason"],
        });
        if let Some(rule) = expected.get("rule") {
            want["rule"] = rule.clone();
            got["rule"] = match (rule, resolution.rule) {
                (Value::Number(_), Some(r)) => r.index.into(),
                (_, Some(r)) => r.name.into(),
                (_, None) => Value::Null,
            };
        }
        if let Some(code) = expected.get("error_code") {
            want["error_code"] = code.clone();
            got["error_code"] = resolution.error_code.map(|c| c.as_str()).into();
        }
        if got != want {
            failures.push(format!(
                "{label}: {flag_id} in {env}\n   want {want}\n   got  {got}"
            ));
        }
    }
    (cases.len(), failures)
}

#[test]
fn every_shared_vector_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vector_dir())
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("buckets.json"));
    files.sort();
    assert!(
        !files.is_empty(),
        "no vector files in {}",
        vector_dir().display()
    );
    let mut total = 0;
    let mut failures = Vec::new();
    for file in &files {
        let (count, mut failed) = run_file(file);
        total += count;
        failures.append(&mut failed);
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        total >= 200,
        "only {total} evaluation cases; the suite promises at least 200"
    );
}

#[test]
fn fixed_buckets_match() {
    let doc = read(&vector_dir().join("buckets.json"));
    let cases = list(&doc, "cases");
    assert!(cases.len() >= 50, "only {} bucket cases", cases.len());
    for case in cases {
        let flag_id = case["flag_id"].as_str().unwrap_or_default();
        let value = case["value"].as_str().unwrap_or_default();
        assert_eq!(
            Some(u64::from(bucket(flag_id, value))),
            case["bucket"].as_u64(),
            "{case}"
        );
        // And an independent implementation of MurmurHash3 agrees.
        let joined = format!("{flag_id}:{value}");
        let reference = murmur3::murmur3_32(&mut joined.as_bytes(), 0).unwrap_or_default();
        assert_eq!(
            u64::from(reference % 100_000),
            case["bucket"].as_u64().unwrap_or_default(),
            "{case}"
        );
    }
}
