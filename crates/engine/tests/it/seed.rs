//! The seed README's flag documents are specification: they parse unchanged,
//! round-trip byte for byte, and evaluate as the README says.

use ff_engine::{Context, Environment, Reason, Snapshot, parse_flag};
use serde_json::{Value, json};

fn seed_documents() -> Vec<Value> {
    // The product description's documents, verbatim, kept once for every
    // test and SDK (`testdata/evaluation/seed.json`).
    let text = include_str!("../../../../testdata/evaluation/seed.json");
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|vectors| vectors.get("flags").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

#[test]
fn seed_documents_parse_and_round_trip_unchanged() {
    for doc in seed_documents() {
        let flag = parse_flag(&doc).unwrap_or_else(|p| panic!("{}: {p:#?}", doc["flag_id"]));
        let mut written = serde_json::to_value(&flag).unwrap_or_default();
        // `type` is written even when the document inferred it.
        if doc.get("type").is_none() {
            assert_eq!(written["type"], "boolean");
            written.as_object_mut().map(|o| o.shift_remove("type"));
        }
        assert_eq!(written, doc, "{} does not round-trip", doc["flag_id"]);
        assert!(ff_engine::lint_flag(&flag).len() <= 1);
    }
}

#[test]
fn seed_documents_evaluate_as_the_readme_says() {
    let flags: Vec<_> = seed_documents()
        .iter()
        .filter_map(|d| parse_flag(d).ok())
        .collect();
    let snapshot = Snapshot::compile(&flags, &[], &Environment::seed_tree()).unwrap_or_default();
    let anyone = Context::for_user("user-123");
    let value = |env: &str, flag: &str, ctx: &Context| {
        snapshot
            .environment(env)
            .map(|s| s.evaluate(flag, ctx).value.cloned())
    };
    assert_eq!(
        value("development", "new_payment_flow", &anyone),
        Some(Some(json!(true)))
    );
    assert_eq!(
        value("production", "new_payment_flow", &anyone),
        Some(Some(json!(false)))
    );
    assert_eq!(
        value("staging", "api_timeout_seconds", &anyone),
        Some(Some(json!(45)))
    );
    // staging has no ui_theme_config entry and auto-syncs from development.
    assert_eq!(
        value("staging", "ui_theme_config", &anyone),
        Some(Some(
            json!({"theme": "dark", "sidebar": "collapsed", "debug": true})
        ))
    );

    let production = snapshot.environment("production").map(|s| s.as_ref());
    let Some(production) = production else {
        panic!("no production snapshot");
    };
    let beta = Context::for_user("u1")
        .with("user_type", "beta")
        .with("country", "CA");
    let resolution = production.evaluate("beta_features", &beta);
    assert_eq!(resolution.value, Some(&json!(true)));
    assert_eq!(resolution.reason, Reason::TargetingMatch);
    assert_eq!(resolution.rule.and_then(|r| r.name), Some("beta_users"));

    let beta_elsewhere = Context::for_user("u1")
        .with("user_type", "beta")
        .with("country", "FR");
    assert_eq!(
        production.evaluate("beta_features", &beta_elsewhere).reason,
        Reason::Default
    );

    // About a quarter of standard users are in the gradual rollout.
    let rolled_out = (0..10_000)
        .filter(|i| {
            let ctx = Context::for_user(format!("user-{i}")).with("user_type", "standard");
            production.evaluate("beta_features", &ctx).value == Some(&json!(true))
        })
        .count();
    assert!(
        (2_300..2_700).contains(&rolled_out),
        "{rolled_out} of 10000 in a 25 % rollout"
    );
}

#[test]
fn a_projected_flag_evaluates_as_the_full_document_in_its_environment() {
    let flags: Vec<_> = seed_documents()
        .iter()
        .filter_map(|d| parse_flag(d).ok())
        .collect();
    let tree = Environment::seed_tree();
    let full = Snapshot::compile(&flags, &[], &tree).unwrap_or_default();
    let contexts = [
        Context::for_user("u1")
            .with("user_type", "beta")
            .with("country", "US"),
        Context::for_user("u2").with("user_type", "standard"),
        Context::new(),
    ];
    for env in ["development", "staging", "production"] {
        let projected: Vec<_> = flags
            .iter()
            .map(|f| ff_engine::project_flag(f, env, &tree))
            .collect();
        for flag in &projected {
            assert!(
                flag.environments.keys().all(|k| k == env),
                "{env}: {:?}",
                flag.environments.keys()
            );
        }
        let alone = Snapshot::compile(&projected, &[], &[Environment::new(env, None, false)])
            .unwrap_or_default();
        for flag in &flags {
            for context in &contexts {
                let want = full
                    .environment(env)
                    .map(|s| s.evaluate(&flag.flag_id, context).value.cloned());
                let got = alone
                    .environment(env)
                    .map(|s| s.evaluate(&flag.flag_id, context).value.cloned());
                assert_eq!(got, want, "{} in {env}", flag.flag_id);
            }
        }
    }
}
