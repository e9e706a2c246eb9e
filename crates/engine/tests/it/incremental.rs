//! `Snapshot::with_flags_changed` decides exactly as a snapshot built from
//! scratch with the same flags.

use std::path::Path;

use ff_engine::{Context, Environment, Flag, Snapshot, parse_flag, parse_segment};
use serde_json::Value;

fn vectors(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/evaluation")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
}

/// The flags, segments and environments of a vectors file.
fn configuration(doc: &Value) -> (Vec<Flag>, Vec<ff_engine::Segment>, Vec<Environment>) {
    let environments: Vec<Environment> = doc
        .get("environments")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_else(Environment::seed_tree);
    let flags: Vec<Flag> = doc["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| parse_flag(f).ok())
        .collect();
    let segments = doc["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| parse_segment(s).ok())
        .collect();
    (flags, segments, environments)
}

/// Both snapshots decide every flag alike for every case's context in every
/// environment, and hold as many flags.
fn assert_same_decisions(
    label: &str,
    doc: &Value,
    updated: &Snapshot,
    rebuilt: &Snapshot,
    flags: &[Flag],
    environments: &[Environment],
) {
    for case in doc["cases"].as_array().into_iter().flatten() {
        let context = Context::from_json(case["context"].clone()).unwrap_or_default();
        for env in environments {
            let (Some(a), Some(b)) = (updated.environment(&env.key), rebuilt.environment(&env.key))
            else {
                panic!("{label}: environment {} missing", env.key);
            };
            for flag in flags {
                assert_eq!(
                    a.evaluate(&flag.flag_id, &context),
                    b.evaluate(&flag.flag_id, &context),
                    "{label}: {} in {} for {context:?}",
                    flag.flag_id,
                    env.key
                );
            }
            assert_eq!(a.len(), b.len(), "{label}: {}", env.key);
        }
    }
}

#[test]
fn incremental_updates_match_a_full_build() {
    for file in [
        "operators.json",
        "prerequisites.json",
        "rollout.json",
        "inheritance.json",
    ] {
        let doc = vectors(file);
        let (flags, segments, environments) = configuration(&doc);
        assert!(flags.len() > 4, "{file}");

        // Start from every other flag, then add the rest, remove one and
        // replace one with another's rules (renamed).
        let start: Vec<&Flag> = flags.iter().step_by(2).collect();
        let added: Vec<&Flag> = flags.iter().skip(1).step_by(2).collect();
        let removed = flags[0].flag_id.clone();
        let mut replaced = flags[flags.len() - 1].clone();
        replaced.environments.clear();

        let initial = Snapshot::build(&start, &segments, &environments);
        let mut changed: Vec<&Flag> = added.clone();
        changed.push(&replaced);
        let updated = initial.with_flags_changed(&changed, &[removed.as_str()], &environments);

        let mut expected_flags: Vec<Flag> = flags
            .iter()
            .filter(|f| f.flag_id != removed && f.flag_id != replaced.flag_id)
            .cloned()
            .collect();
        expected_flags.push(replaced.clone());
        let rebuilt = Snapshot::build(&expected_flags, &segments, &environments);

        assert_same_decisions(file, &doc, &updated, &rebuilt, &flags, &environments);
    }
}

/// `Snapshot::with_segments_changed` decides exactly as a snapshot built from
/// scratch: when a segment's conditions change (no flag recompiled), and when
/// a segment is deleted or created (the flags using segments recompiled).
#[test]
fn segment_changes_match_a_full_build() {
    let doc = vectors("operators.json");
    let (flags, segments, environments) = configuration(&doc);
    assert!(segments.len() >= 2 && flags.iter().any(Flag::uses_segments));
    let using: Vec<&Flag> = flags.iter().filter(|f| f.uses_segments()).collect();

    // Each segment's conditions swapped with the next one's (same places).
    let mut swapped = segments.clone();
    for i in 0..swapped.len() {
        let next = segments[(i + 1) % segments.len()].conditions.clone();
        swapped[i].conditions = next;
    }
    // The first segment deleted (every later one moves up a place).
    let without_first: Vec<_> = segments[1..].to_vec();
    // A new segment in front (every one moves down a place).
    let mut with_new = vec![
        parse_segment(&serde_json::json!({
            "segment_id": "aaa_first",
            "conditions": [{"attribute": "country", "operator": "equals", "value": "IT"}]
        }))
        .unwrap_or_else(|e| panic!("{e:?}")),
    ];
    with_new.extend(segments.iter().cloned());

    let initial = Snapshot::build(&flags, &segments, &environments);
    for (label, after) in [
        ("swapped", &swapped),
        ("without_first", &without_first),
        ("with_new", &with_new),
    ] {
        let updated = initial.with_segments_changed(after, &using, &environments);
        let rebuilt = Snapshot::build(&flags, after, &environments);
        assert_same_decisions(label, &doc, &updated, &rebuilt, &flags, &environments);
    }
}
