//! Arbitrary bytes as a flag document.
//!
//! Invariants: what `parse_flag` accepts round-trips (written back and read
//! again, the same flag); what it refuses comes with at least one problem;
//! a flag it accepts compiles alone (no segments, the seed's environment
//! tree) and evaluates in every environment, for contexts with and without
//! the attributes its rules test, to a value it can serve for the reason
//! given, deterministically; the flag projected onto an environment (what a
//! server-side SDK receives) decides there as the whole flag does.
#![no_main]

use ff_engine::{Environment, Snapshot, parse_flag, parse_segment, project_flag, validate_set};
use ff_fuzz::{Expected, check_evaluations, check_round_trip, contexts_for};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // Segments share the condition parser: refused or accepted, never a panic.
    if let Err(problems) = parse_segment(&doc) {
        assert!(!problems.is_empty());
    }
    let flag = match parse_flag(&doc) {
        Ok(flag) => flag,
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a reason");
            for problem in &problems {
                let _ = problem.to_string();
            }
            return;
        }
    };
    check_round_trip(&flag);

    let environments = Environment::seed_tree();
    // Alone, its segments and prerequisites are unknown: reported, and the
    // build degrades them (an unknown segment never matches, an unknown
    // prerequisite fails).
    let _ = validate_set(&[&flag], &[], &environments);
    let snapshot = Snapshot::build(&[&flag], &[], &environments);
    let contexts = contexts_for(&flag);
    for env in &environments {
        let Some(compiled) = snapshot.environment(&env.key) else {
            panic!("environment {} missing", env.key);
        };
        let expected = Expected::of(&flag, &env.key, &environments);
        check_evaluations(compiled, &flag.flag_id, &expected, &contexts);

        let projected = project_flag(&flag, &env.key, &environments);
        let alone = Snapshot::build(&[&projected], &[], &environments);
        let Some(alone) = alone.environment(&env.key) else {
            panic!("environment {} missing", env.key);
        };
        for context in &contexts {
            assert_eq!(
                compiled.evaluate(&flag.flag_id, context),
                alone.evaluate(&flag.flag_id, context),
                "projected onto {}: {projected:?}",
                env.key
            );
        }
    }
});
