//! Arbitrary bytes as an evaluation context, against realistic flags: every
//! configuration of the shared evaluation vectors (`testdata/evaluation`),
//! each compiled once.
//!
//! Invariants: a context read straight from JSON (the OFREP hot path) equals
//! one read through a `serde_json::Value` (`Context::from_json`), and either
//! both readings fail or both succeed; every attribute is found under its
//! name with its (last) value; every flag of every configuration evaluates
//! in every environment to a value it can serve for the reason given (a
//! split's or rollout's value is one its rule serves), deterministically,
//! and `evaluate_all` agrees with `evaluate`.
#![no_main]

use std::sync::LazyLock;

use ff_engine::{
    Context, Environment, Flag, Snapshot, TARGETING_KEY, USER_ID, parse_flag, parse_segment,
};
use ff_fuzz::{Expected, check_evaluations};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The vector files with a configuration (`buckets.json` has none).
const VECTOR_FILES: &[(&str, &str)] = &[
    (
        "seed.json",
        include_str!("../../testdata/evaluation/seed.json"),
    ),
    (
        "operators.json",
        include_str!("../../testdata/evaluation/operators.json"),
    ),
    (
        "rollout.json",
        include_str!("../../testdata/evaluation/rollout.json"),
    ),
    (
        "inheritance.json",
        include_str!("../../testdata/evaluation/inheritance.json"),
    ),
    (
        "prerequisites.json",
        include_str!("../../testdata/evaluation/prerequisites.json"),
    ),
    (
        "kill_switch.json",
        include_str!("../../testdata/evaluation/kill_switch.json"),
    ),
    (
        "reasons.json",
        include_str!("../../testdata/evaluation/reasons.json"),
    ),
];

/// One configuration, compiled, with what each flag may serve in each
/// environment.
struct Configuration {
    snapshot: Snapshot,
    /// Per environment: its key and, per flag, its id and expectations.
    environments: Vec<(String, Vec<(String, Expected)>)>,
}

static CONFIGURATIONS: LazyLock<Vec<Configuration>> = LazyLock::new(|| {
    VECTOR_FILES
        .iter()
        .map(|(name, text)| configuration(name, text))
        .collect()
});

fn configuration(name: &str, text: &str) -> Configuration {
    let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let list = |key: &str| {
        doc.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let environments: Vec<Environment> = match doc.get("environments") {
        Some(envs) => {
            serde_json::from_value(envs.clone()).unwrap_or_else(|e| panic!("{name}: {e}"))
        }
        None => Environment::seed_tree(),
    };
    let flags: Vec<Flag> = list("flags")
        .iter()
        .map(|f| parse_flag(f).unwrap_or_else(|p| panic!("{name}: {p:?}")))
        .collect();
    let segments: Vec<_> = list("segments")
        .iter()
        .map(|s| parse_segment(s).unwrap_or_else(|p| panic!("{name}: {p:?}")))
        .collect();
    let snapshot = Snapshot::compile(&flags, &segments, &environments)
        .unwrap_or_else(|p| panic!("{name}: {p:?}"));
    let per_env = environments
        .iter()
        .map(|env| {
            let expected = flags
                .iter()
                .map(|f| (f.flag_id.clone(), Expected::of(f, &env.key, &environments)))
                .collect();
            (env.key.clone(), expected)
        })
        .collect();
    Configuration {
        snapshot,
        environments: per_env,
    }
}

fuzz_target!(|data: &[u8]| {
    let direct = serde_json::from_slice::<Context>(data);
    let value = serde_json::from_slice::<Value>(data);
    let via_value = value.as_ref().ok().map(|v| Context::from_json(v.clone()));
    match (&direct, &via_value) {
        (Ok(a), Some(Ok(b))) => assert_eq!(a, b, "the two readings of a context differ"),
        (Err(_), None | Some(Err(_))) => {}
        (a, b) => panic!("one reading of a context failed: direct {a:?}, via a value {b:?}"),
    }
    let Ok(context) = direct else {
        return;
    };
    if let Ok(Value::Object(map)) = &value {
        assert_eq!(context.attributes().count(), map.len());
        for (name, v) in map {
            if !v.is_null() {
                assert_eq!(context.get(name), Some(v), "{name}");
            } else if name != USER_ID && name != TARGETING_KEY {
                assert_eq!(context.get(name), None, "{name}");
            }
        }
    }
    let mut contexts = vec![context];
    if contexts[0].targeting_key().is_none() {
        // The same attributes with a targeting key: rollouts and splits bucket.
        let keyed = contexts[0].clone().with(USER_ID, "fuzz-user");
        contexts.push(keyed);
    }

    for configuration in CONFIGURATIONS.iter() {
        for (env, flags) in &configuration.environments {
            let Some(compiled) = configuration.snapshot.environment(env) else {
                panic!("environment {env} missing");
            };
            for (flag_id, expected) in flags {
                check_evaluations(compiled, flag_id, expected, &contexts);
            }
            for context in &contexts {
                for (flag_id, resolution) in compiled.evaluate_all(context) {
                    assert_eq!(resolution, compiled.evaluate(flag_id, context), "{flag_id}");
                }
            }
        }
    }
});
