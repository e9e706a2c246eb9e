//! The engine's benchmarks, each beside a baseline measured in the same run:
//! Unleash's Yggdrasil (`unleash-yggdrasil` 0.21), the evaluation core of the
//! Unleash SDKs, given an equivalent configuration and context.
//!
//! | benchmark | ff-engine | Yggdrasil baseline | target |
//! |---|---|---|---|
//! | `boolean_no_rules` | [`EnvironmentSnapshot::evaluate`] of a boolean flag without rules | `EngineState::is_enabled` of an enabled toggle with a `default` strategy | ≤ 30 ns |
//! | `targeted_rule` | `evaluate` of a flag with one rule: `equals` user_type, `in` country, `semver_gte` app_version, `in_segment` (a segment on the e-mail domain), 50 % | `is_enabled` of a `flexibleRollout` at 50 % on userId with `IN` user_type, `IN` country, `SEMVER_GTE` app_version and the same segment (`STR_ENDS_WITH` e-mail) | ≤ 150 ns and ≤ ⅓ of Yggdrasil |
//! | `bulk_1000` | `evaluate_all` over 1 000 mixed flags, every resolution consumed | `resolve_all` over 1 000 equivalent toggles (it also builds a `HashMap` and resolves variants: its API offers nothing lighter) | ≤ 100 µs |
//! | `compile_10000` | [`Snapshot::compile`] (validation included) of 10 000 mixed flags into the seed's 3 environments | `take_state` of the 10 000 equivalent toggles (one environment) | ≤ 200 ms |
//!
//! In `targeted_rule` the context is inside the rollout on both sides, so both
//! evaluate every condition and hash; the benchmark first checks that both
//! engines agree for that context and for one variation of each attribute.
//! The two engines bucket differently (`hash mod 100000` against
//! `hash mod 100 + 1`), so only contexts on the same side of both are used.
//!
//! The mixed flags (`bulk_1000`, `compile_10000`) cycle through six kinds: a
//! boolean with per-environment values, a number with per-environment values,
//! a boolean targeted on user_type and country, a 25 % rollout, a 50/50 string
//! split over two variants and the `targeted_rule` flag.

#![expect(
    clippy::expect_used,
    reason = "a benchmark's fixtures are constants: failing loudly is right"
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use ff_engine::{
    Context, Environment, EnvironmentSnapshot, Flag, Snapshot, parse_flag, parse_segment,
};
use serde_json::{Value, json};
use unleash_types::client_features::{
    ClientFeature, ClientFeatures, Constraint, Operator, Payload, Segment, Strategy, Variant,
};
use unleash_yggdrasil::{EngineState, UpdateMessage};

/// The environment evaluated; Yggdrasil holds this one only.
const ENV: &str = "production";
/// Yggdrasil's id of the `internal_testers` segment.
const TESTERS: i32 = 1;
const COUNTRIES: [&str; 5] = ["US", "CA", "UK", "DE", "FR"];

// ---------------------------------------------------------------- contexts

/// One person, as each engine takes a context.
#[derive(Clone)]
struct Person {
    user_id: String,
    user_type: &'static str,
    country: &'static str,
    app_version: &'static str,
    email: &'static str,
}

impl Person {
    /// A beta user who passes every condition of the targeted rule.
    fn beta(user_id: &str) -> Person {
        Person {
            user_id: user_id.to_owned(),
            user_type: "beta",
            country: "DE",
            app_version: "4.3.1",
            email: "kim@example.com",
        }
    }

    fn engine(&self) -> Context {
        Context::for_user(self.user_id.as_str())
            .with("user_type", self.user_type)
            .with("country", self.country)
            .with("app_version", self.app_version)
            .with("email", self.email)
    }

    fn yggdrasil(&self) -> unleash_yggdrasil::Context {
        let properties = [
            ("user_type", self.user_type),
            ("country", self.country),
            ("app_version", self.app_version),
            ("email", self.email),
        ];
        unleash_yggdrasil::Context {
            user_id: Some(self.user_id.clone()),
            properties: Some(
                properties
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            ),
            ..unleash_yggdrasil::Context::default()
        }
    }

    /// The person with each attribute in turn changed so that the targeted
    /// rule fails on it.
    fn variations(&self) -> Vec<Person> {
        let changed = |change: fn(&mut Person)| {
            let mut person = self.clone();
            change(&mut person);
            person
        };
        vec![
            changed(|p| p.user_type = "standard"),
            changed(|p| p.country = "BR"),
            changed(|p| p.app_version = "4.1.9"),
            changed(|p| p.email = "kim@elsewhere.org"),
        ]
    }
}

// ------------------------------------------------------------ ff-engine side

fn testers_segment() -> Value {
    json!({
        "segment_id": "internal_testers",
        "conditions": [{"attribute": "email", "operator": "ends_with", "value": "@example.com"}]
    })
}

fn targeted_flag(id: &str) -> Value {
    json!({
        "flag_id": id,
        "type": "boolean",
        "default_value": false,
        "targeting_rules": [{
            "name": "beta_rollout",
            "conditions": [
                {"attribute": "user_type", "operator": "equals", "value": "beta"},
                {"attribute": "country", "operator": "in", "value": COUNTRIES},
                {"attribute": "app_version", "operator": "semver_gte", "value": "4.2.0"},
                {"operator": "in_segment", "value": "internal_testers"}
            ],
            "value": true,
            "percentage": 50
        }]
    })
}

/// The `i`th mixed flag document (see the module documentation).
fn mixed_flag(i: usize) -> Value {
    let id = format!("flag_{i:05}");
    match i % 6 {
        0 => json!({
            "flag_id": id, "type": "boolean", "default_value": false,
            "environments": {"development": true, "staging": true, "production": i.is_multiple_of(12)}
        }),
        1 => json!({
            "flag_id": id, "type": "number", "default_value": 30,
            "environments": {"development": 60, "staging": 45, "production": 30}
        }),
        2 => json!({
            "flag_id": id, "type": "boolean", "default_value": false,
            "environments": {"development": {"enabled": true}},
            "targeting_rules": [{"conditions": [
                {"attribute": "user_type", "operator": "equals", "value": "beta"},
                {"attribute": "country", "operator": "in", "value": ["US", "CA", "UK"]}
            ]}]
        }),
        3 => json!({
            "flag_id": id, "type": "boolean", "default_value": false,
            "targeting_rules": [{"name": "rollout", "value": true, "percentage": 25}]
        }),
        4 => json!({
            "flag_id": id, "type": "string", "default_value": "blue",
            "variants": {"control": "blue", "treatment": "green"},
            "targeting_rules": [{"name": "experiment", "variants": [
                {"variant": "control", "weight": 50}, {"variant": "treatment", "weight": 50}
            ]}]
        }),
        _ => targeted_flag(&id),
    }
}

fn parse_flags(docs: &[Value]) -> Vec<Flag> {
    docs.iter()
        .map(|doc| parse_flag(doc).expect("a valid flag"))
        .collect()
}

fn parse_segments() -> Vec<ff_engine::Segment> {
    vec![parse_segment(&testers_segment()).expect("a valid segment")]
}

fn compile(docs: &[Value]) -> Snapshot {
    Snapshot::compile(
        &parse_flags(docs),
        &parse_segments(),
        &Environment::seed_tree(),
    )
    .expect("a valid configuration")
}

fn production(snapshot: &Snapshot) -> &EnvironmentSnapshot {
    snapshot
        .environment(ENV)
        .expect("the production environment")
}

fn is_on(snapshot: &EnvironmentSnapshot, flag_id: &str, context: &Context) -> bool {
    snapshot.evaluate(flag_id, context).value == Some(&json!(true))
}

// ------------------------------------------------------------ Yggdrasil side

fn constraint(context_name: &str, operator: Operator, values: &[&str]) -> Constraint {
    Constraint {
        context_name: context_name.to_owned(),
        operator,
        case_insensitive: false,
        inverted: false,
        values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
        value: None,
    }
}

fn semver_constraint(context_name: &str, operator: Operator, value: &str) -> Constraint {
    Constraint {
        values: None,
        value: Some(value.to_owned()),
        ..constraint(context_name, operator, &[])
    }
}

fn strategy(name: &str, parameters: &[(&str, &str)]) -> Strategy {
    Strategy {
        name: name.to_owned(),
        sort_order: None,
        segments: None,
        constraints: None,
        parameters: Some(
            parameters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        variants: None,
    }
}

/// A rollout sticky on the user id and salted with the toggle's name, as
/// ff-engine buckets `"{flag_id}:{user_id}"`.
fn rollout(name: &str, percentage: &str) -> Strategy {
    strategy(
        "flexibleRollout",
        &[
            ("rollout", percentage),
            ("stickiness", "userId"),
            ("groupId", name),
        ],
    )
}

fn toggle(name: &str, enabled: bool, strategies: Vec<Strategy>) -> ClientFeature {
    ClientFeature {
        name: name.to_owned(),
        feature_type: Some("release".to_owned()),
        enabled,
        strategies: Some(strategies),
        ..ClientFeature::default()
    }
}

fn variant(name: &str, payload_type: &str, value: &str, weight: i32) -> Variant {
    Variant {
        name: name.to_owned(),
        weight,
        weight_type: None,
        stickiness: Some("userId".to_owned()),
        payload: Some(Payload {
            payload_type: payload_type.to_owned(),
            value: value.to_owned(),
        }),
        overrides: None,
    }
}

fn testers_toggle_segment() -> Segment {
    Segment {
        id: TESTERS,
        constraints: vec![constraint(
            "email",
            Operator::StrEndsWith,
            &["@example.com"],
        )],
    }
}

fn targeted_toggle(name: &str) -> ClientFeature {
    let strategy = Strategy {
        segments: Some(vec![TESTERS]),
        constraints: Some(vec![
            constraint("user_type", Operator::In, &["beta"]),
            constraint("country", Operator::In, &COUNTRIES),
            semver_constraint("app_version", Operator::SemverGte, "4.2.0"),
        ]),
        ..rollout(name, "50")
    };
    toggle(name, true, vec![strategy])
}

/// The toggle equivalent to [`mixed_flag`]`(i)` in production.
fn mixed_toggle(i: usize) -> ClientFeature {
    let name = format!("flag_{i:05}");
    match i % 6 {
        0 => toggle(&name, i.is_multiple_of(12), vec![strategy("default", &[])]),
        1 => ClientFeature {
            variants: Some(vec![variant("value", "number", "30", 1000)]),
            ..toggle(&name, true, vec![strategy("default", &[])])
        },
        2 => {
            let strategy = Strategy {
                constraints: Some(vec![
                    constraint("user_type", Operator::In, &["beta"]),
                    constraint("country", Operator::In, &["US", "CA", "UK"]),
                ]),
                ..strategy("default", &[])
            };
            toggle(&name, true, vec![strategy])
        }
        3 => toggle(&name, true, vec![rollout(&name, "25")]),
        4 => ClientFeature {
            variants: Some(vec![
                variant("control", "string", "blue", 500),
                variant("treatment", "string", "green", 500),
            ]),
            ..toggle(&name, true, vec![strategy("default", &[])])
        },
        _ => targeted_toggle(&name),
    }
}

fn client_features(features: Vec<ClientFeature>) -> ClientFeatures {
    ClientFeatures {
        version: 2,
        features,
        segments: Some(vec![testers_toggle_segment()]),
        query: None,
        meta: None,
    }
}

fn yggdrasil(features: Vec<ClientFeature>) -> EngineState {
    let engine = EngineState::default();
    let warnings = engine.take_state(UpdateMessage::FullResponse(client_features(features)));
    assert!(
        warnings.is_none(),
        "Yggdrasil refused a toggle: {warnings:?}"
    );
    engine
}

// ---------------------------------------------------------------- benchmarks

fn boolean_no_rules(c: &mut Criterion) {
    let ours = compile(&[json!({
        "flag_id": "simple_toggle", "type": "boolean", "default_value": true
    })]);
    let ours = production(&ours);
    let theirs = yggdrasil(vec![toggle(
        "simple_toggle",
        true,
        vec![strategy("default", &[])],
    )]);
    let person = Person::beta("user-123");
    let (context, their_context) = (person.engine(), person.yggdrasil());
    assert!(is_on(ours, "simple_toggle", &context));
    assert!(theirs.is_enabled("simple_toggle", &their_context, &None));

    let mut group = c.benchmark_group("boolean_no_rules");
    group.bench_function("ff-engine", |b| {
        b.iter(|| ours.evaluate(black_box("simple_toggle"), black_box(&context)))
    });
    group.bench_function("yggdrasil", |b| {
        b.iter(|| theirs.is_enabled(black_box("simple_toggle"), black_box(&their_context), &None))
    });
    group.finish();
}

/// A user inside both engines' 50 % of `checkout_v2`.
fn user_inside_both(ours: &EnvironmentSnapshot, theirs: &EngineState) -> Person {
    (0..1000)
        .map(|i| Person::beta(&format!("user-{i}")))
        .find(|p| {
            is_on(ours, "checkout_v2", &p.engine())
                && theirs.is_enabled("checkout_v2", &p.yggdrasil(), &None)
        })
        .expect("a user inside both rollouts")
}

/// Both engines agree for the person and for each variation of them.
fn assert_equivalent(ours: &EnvironmentSnapshot, theirs: &EngineState, person: &Person) {
    for (i, p) in std::iter::once(person.clone())
        .chain(person.variations())
        .enumerate()
    {
        let on = is_on(ours, "checkout_v2", &p.engine());
        assert_eq!(on, i == 0, "ff-engine, variation {i}");
        let their_on = theirs.is_enabled("checkout_v2", &p.yggdrasil(), &None);
        assert_eq!(on, their_on, "the engines disagree on variation {i}");
    }
}

fn targeted_rule(c: &mut Criterion) {
    let ours = compile(&[targeted_flag("checkout_v2")]);
    let ours = production(&ours);
    let theirs = yggdrasil(vec![targeted_toggle("checkout_v2")]);
    let person = user_inside_both(ours, &theirs);
    assert_equivalent(ours, &theirs, &person);
    let (context, their_context) = (person.engine(), person.yggdrasil());

    let mut group = c.benchmark_group("targeted_rule");
    group.bench_function("ff-engine", |b| {
        b.iter(|| ours.evaluate(black_box("checkout_v2"), black_box(&context)))
    });
    group.bench_function("yggdrasil", |b| {
        b.iter(|| theirs.is_enabled(black_box("checkout_v2"), black_box(&their_context), &None))
    });
    group.finish();
}

fn bulk_1000(c: &mut Criterion) {
    let ours = compile(&(0..1000).map(mixed_flag).collect::<Vec<_>>());
    let ours = production(&ours);
    let theirs = yggdrasil((0..1000).map(mixed_toggle).collect());
    let person = Person::beta("user-42");
    let (context, their_context) = (person.engine(), person.yggdrasil());
    assert_eq!(ours.evaluate_all(&context).count(), 1000);
    let resolved: Option<HashMap<_, _>> = theirs.resolve_all(&their_context, &None);
    assert_eq!(resolved.map(|r| r.len()), Some(1000));

    let mut group = c.benchmark_group("bulk_1000");
    group.bench_function("ff-engine", |b| {
        b.iter(|| {
            for resolution in ours.evaluate_all(black_box(&context)) {
                black_box(resolution);
            }
        })
    });
    group.bench_function("yggdrasil", |b| {
        b.iter(|| theirs.resolve_all(black_box(&their_context), &None))
    });
    group.finish();
}

fn compile_10000(c: &mut Criterion) {
    let flags = parse_flags(&(0..10_000).map(mixed_flag).collect::<Vec<_>>());
    let (segments, environments) = (parse_segments(), Environment::seed_tree());
    let toggles = client_features((0..10_000).map(mixed_toggle).collect());

    let mut group = c.benchmark_group("compile_10000");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(15));
    // Both routines return what they built, so dropping it is not measured.
    group.bench_function("ff-engine", |b| {
        b.iter_with_large_drop(|| {
            Snapshot::compile(black_box(&flags), &segments, &environments)
                .expect("a valid configuration")
        })
    });
    group.bench_function("yggdrasil", |b| {
        b.iter_batched(
            || (EngineState::default(), toggles.clone()),
            |(engine, toggles)| {
                engine.take_state(UpdateMessage::FullResponse(toggles));
                engine
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// One flag whose rule lists 40 000 user ids (the size a hostile or careless
/// writer reported to take 2.7 s to compile): parsing and compiling it.
fn in_list_40000(c: &mut Criterion) {
    let ids: Vec<String> = (0..40_000).map(|i| format!("user-{i}")).collect();
    let doc = serde_json::json!({
        "flag_id": "allow_list",
        "default_value": false,
        "targeting_rules": [{"name": "listed", "value": true,
            "conditions": [{"attribute": "user_id", "operator": "in", "value": ids}]}],
    });
    let (segments, environments) = (parse_segments(), Environment::seed_tree());
    let mut group = c.benchmark_group("in_list_40000");
    group.sample_size(10);
    group.bench_function("parse_and_compile", |b| {
        b.iter_with_large_drop(|| {
            let flags = parse_flags(std::slice::from_ref(black_box(&doc)));
            Snapshot::compile(&flags, &segments, &environments).expect("a valid configuration")
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    boolean_no_rules,
    targeted_rule,
    bulk_1000,
    compile_10000,
    in_list_40000
);
criterion_main!(benches);
