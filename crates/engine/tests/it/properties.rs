//! Property tests: rollouts are monotonic, splits are fair, and nothing
//! panics on arbitrary documents and contexts.

use ff_engine::{Context, Environment, Snapshot, parse_flag, parse_segment};
use proptest::prelude::*;
use serde_json::{Value, json};

fn compile_one(flag: Value) -> Snapshot {
    let flag = parse_flag(&flag).unwrap_or_else(|p| panic!("{p:#?}"));
    Snapshot::compile(&[flag], &[], &Environment::seed_tree()).unwrap_or_else(|p| panic!("{p:#?}"))
}

fn rollout(percentage: f64) -> Snapshot {
    compile_one(json!({
        "flag_id": "checkout_flow_v2",
        "targeting_rules": [{"name": "rollout", "value": true, "percentage": percentage}]
    }))
}

fn is_on(snapshot: &Snapshot, user: &str) -> bool {
    snapshot
        .environment("production")
        .map(|s| {
            s.evaluate("checkout_flow_v2", &Context::for_user(user))
                .value
                == Some(&json!(true))
        })
        .unwrap_or(false)
}

proptest! {
    /// Raising a percentage never removes anyone.
    #[test]
    fn raising_a_percentage_only_adds_users(
        low in 0u32..=100_000,
        raise in 0u32..=100_000,
        users in proptest::collection::vec("[a-zA-Z0-9@._-]{1,24}", 1..40),
    ) {
        let low = f64::from(low) / 1000.0;
        let high = (low + f64::from(raise) / 1000.0).min(100.0);
        let (before, after) = (rollout(low), rollout(high));
        for user in &users {
            prop_assert!(!is_on(&before, user) || is_on(&after, user), "{user} lost at {low} -> {high}");
        }
    }
}

#[test]
fn a_split_lands_within_one_percent_of_its_weights() {
    let snapshot = compile_one(json!({
        "flag_id": "checkout_button_color",
        "type": "string",
        "default_value": "blue",
        "variants": {"blue": "blue", "green": "green", "red": "red"},
        "targeting_rules": [{"name": "experiment", "variants": [
            {"variant": "blue", "weight": 50},
            {"variant": "green", "weight": 30},
            {"variant": "red", "weight": 20}
        ]}]
    }));
    let Some(production) = snapshot.environment("production") else {
        panic!("no production");
    };
    let mut counts = [0u32; 3];
    let n = 100_000;
    for i in 0..n {
        let ctx = Context::for_user(format!("{i:x}-user"));
        match production.evaluate("checkout_button_color", &ctx).variant {
            Some("blue") => counts[0] += 1,
            Some("green") => counts[1] += 1,
            Some("red") => counts[2] += 1,
            other => panic!("unexpected variant {other:?}"),
        }
    }
    for (count, weight) in counts.iter().zip([50.0, 30.0, 20.0]) {
        let share = f64::from(*count) * 100.0 / f64::from(n);
        assert!(
            (share - weight).abs() <= 1.0,
            "{counts:?}: {share} % for weight {weight}"
        );
    }
}

/// Arbitrary JSON, biased towards the shapes of flag documents so that the
/// generator reaches deep into the parser rather than failing at the top.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop_oneof![
            Just("equals"),
            Just("in"),
            Just("matches"),
            Just("semver_gt"),
            Just("before"),
            Just("in_segment"),
            Just("exists"),
            Just("1.2.3"),
            Just("2026-01-01T00:00:00Z"),
            Just("user_id"),
            Just("production"),
            Just("control"),
            Just("(a|b)+"),
            Just(""),
            Just("é✓"),
            Just("boolean"),
            Just("json"),
            Just("number"),
            Just("string")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("flag_id"),
                        Just("type"),
                        Just("default_value"),
                        Just("variants"),
                        Just("targeting_rules"),
                        Just("environments"),
                        Just("depends_on"),
                        Just("conditions"),
                        Just("attribute"),
                        Just("operator"),
                        Just("value"),
                        Just("variant"),
                        Just("weight"),
                        Just("percentage"),
                        Just("bucket_by"),
                        Just("enabled"),
                        Just("production"),
                        Just("staging"),
                        Just("name"),
                        Just("flag"),
                        Just("required_value"),
                        Just("segment_id"),
                        Just("x")
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Parsing, compiling and evaluating never panic; whatever parses
    /// compiles and evaluates to a value.
    #[test]
    fn nothing_panics_on_arbitrary_documents(doc in arbitrary_json(), context in arbitrary_json(), id in "[a-z][a-z0-9_]{0,8}") {
        let mut doc = doc;
        if let Value::Object(map) = &mut doc {
            map.insert("flag_id".into(), Value::from(id.clone()));
        }
        let _ = parse_segment(&doc);
        let Ok(flag) = parse_flag(&doc) else {
            return Ok(());
        };
        let context = Context::from_json(context).unwrap_or_default();
        // A set-level problem (an unknown environment or segment) is an
        // error, never a panic.
        if let Ok(snapshot) = Snapshot::compile(std::slice::from_ref(&flag), &[], &Environment::seed_tree()) {
            for env in ["development", "staging", "production"] {
                let resolution = snapshot.environment(env).map(|s| s.evaluate(&id, &context));
                prop_assert!(resolution.is_some_and(|r| r.value.is_some()), "{env}: {resolution:?}");
            }
        }
        // And what parses, serializes to a document that parses to the same flag.
        let written = serde_json::to_value(&flag).unwrap_or_default();
        prop_assert_eq!(parse_flag(&written).ok(), Some(flag));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// A context read straight from JSON text (OFREP's path) is the context
    /// read through a JSON value; what is not an object (or null) is refused
    /// by both.
    #[test]
    fn a_context_read_from_text_equals_one_read_from_a_value(value in arbitrary_json()) {
        let text = serde_json::to_string(&value).unwrap_or_default();
        let direct = serde_json::from_str::<Context>(&text).ok();
        // Through a value parsed from the same text (a float's text can read
        // back as a neighbouring float either way).
        let through_value = serde_json::from_str(&text).map_err(|e| e.to_string());
        prop_assert_eq!(direct, through_value.ok().and_then(|v| Context::from_json(v).ok()));
    }
}

/// Repeated names keep their last value in their first place, for short and
/// long contexts alike (the two take different paths).
#[test]
fn a_repeated_context_attribute_keeps_its_last_value() {
    for filler in [2, 40] {
        let middle: String = (0..filler).map(|i| format!(r#""a{i}": {i}, "#)).collect();
        let text = format!(r#"{{"plan": "free", {middle} "plan": "pro"}}"#);
        let context: Context = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(context.get("plan"), Some(&Value::from("pro")), "{filler}");
        let names: Vec<&str> = context.attributes().map(|(name, _)| name).collect();
        assert_eq!(names.len(), filler + 1, "{filler}: {names:?}");
        assert_eq!(names[0], "plan", "{filler}: the first place is kept");
    }
}
