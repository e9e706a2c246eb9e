//! Evaluating a flag allocates nothing (README: "Evaluate … no allocation").
//!
//! `allocation-counter` replaces this test binary's global allocator with one
//! that counts, per thread, the allocations made inside `measure(…)` (in a
//! `thread_local` that itself never allocates), so tests running in parallel
//! on other threads do not disturb the count. Everything a test needs
//! (snapshot, contexts, flag ids) is built before measuring; only the
//! evaluation runs inside `measure`.

use std::hint::black_box;

use allocation_counter::{AllocationInfo, measure};
use ff_engine::{
    Context, Environment, FlagType, Reason, Resolution, Snapshot, parse_flag, parse_segment,
};
use serde_json::{Value, json};

/// Runs `evaluate` under the counter; the resolution and what was counted.
fn counted<'s>(evaluate: impl FnOnce() -> Resolution<'s>) -> (Resolution<'s>, AllocationInfo) {
    let mut resolution = None;
    let info = measure(|| resolution = Some(black_box(evaluate())));
    match resolution {
        Some(resolution) => (resolution, info),
        None => panic!("the evaluation did not run"),
    }
}

fn snapshot() -> Snapshot {
    let flags = [
        json!({"flag_id": "plain_switch", "type": "boolean", "default_value": true}),
        json!({
            "flag_id": "api_timeout_seconds", "type": "number", "default_value": 30,
            "environments": {"development": 60, "staging": 45, "production": 30}
        }),
        json!({
            "flag_id": "checkout_v2", "type": "boolean", "default_value": false,
            "environments": {"development": {"enabled": false}},
            "targeting_rules": [{
                "name": "beta_rollout",
                "conditions": [
                    {"attribute": "user_type", "operator": "equals", "value": "beta"},
                    {"attribute": "country", "operator": "in", "value": ["US", "CA", "UK", "DE"]},
                    {"attribute": "app_version", "operator": "semver_gte", "value": "4.2.0"},
                    {"attribute": "app_version", "operator": "semver_lt", "value": "5.0.0-rc.1"},
                    {"operator": "in_segment", "value": ["internal_testers", "staff"]},
                    {"operator": "not_in_segment", "value": "blocked"},
                    {"attribute": "plan", "operator": "not_in", "value": ["free"]}
                ],
                "value": true,
                "percentage": 50
            }]
        }),
        json!({
            "flag_id": "max_upload_mb", "type": "number", "default_value": 10,
            "variants": {"small": 25, "large": 100},
            "depends_on": [{"flag": "plain_switch"}],
            "targeting_rules": [
                {
                    "name": "heavy_users",
                    "conditions": [
                        {"attribute": "uploads", "operator": "gte", "value": 100},
                        {"attribute": "account_age_days", "operator": "gt", "value": 30},
                        {"operator": "in_segment", "value": "internal_testers"}
                    ],
                    "variants": [{"variant": "small", "weight": 40}, {"variant": "large", "weight": 60}],
                    "bucket_by": "account_id"
                },
                {
                    "name": "staff",
                    "conditions": [{"operator": "in_segment", "value": "staff"}],
                    "variant": "large"
                },
                {"name": "everyone", "value": 15, "percentage": 12.5}
            ]
        }),
        json!({
            "flag_id": "retry_limit", "type": "number", "default_value": 3,
            "depends_on": [{"flag": "checkout_v2"}, {"flag": "api_timeout_seconds", "required_value": 30}]
        }),
    ];
    let segments = [
        json!({"segment_id": "internal_testers", "conditions": [
            {"attribute": "email", "operator": "ends_with", "value": "@example.com"}
        ]}),
        json!({"segment_id": "staff", "conditions": [
            {"attribute": "email", "operator": "starts_with", "value": "admin@"}
        ]}),
        json!({"segment_id": "blocked", "conditions": [
            {"attribute": "country", "operator": "equals", "value": "XX"}
        ]}),
    ];
    let flags: Vec<_> = flags
        .iter()
        .map(|doc| parse_flag(doc).unwrap_or_else(|p| panic!("{p:#?}")))
        .collect();
    let segments: Vec<_> = segments
        .iter()
        .map(|doc| parse_segment(doc).unwrap_or_else(|p| panic!("{p:#?}")))
        .collect();
    Snapshot::compile(&flags, &segments, &Environment::seed_tree())
        .unwrap_or_else(|p| panic!("{p:#?}"))
}

/// Contexts that take every path: all conditions holding, each failing,
/// integer and aliased targeting keys, nothing at all.
fn contexts() -> Vec<Context> {
    let base = |user: &str| {
        Context::for_user(user)
            .with("user_type", "beta")
            .with("country", "DE")
            .with("app_version", "4.3.1")
            .with("email", "kim@example.com")
            .with("plan", "pro")
            .with("uploads", 250)
            .with("account_age_days", "365")
            .with("account_id", 981_234)
    };
    let mut contexts: Vec<Context> = (0..40).map(|i| base(&format!("user-{i}"))).collect();
    contexts.extend([
        base("u").with("user_type", "standard"),
        base("u").with("country", "XX"),
        base("u").with("app_version", "5.0.0"),
        base("u").with("app_version", "not a version"),
        // Short forms and a leading v take the fast path too.
        base("u").with("app_version", "4.3"),
        base("u").with("app_version", "v4"),
        base("u").with("email", "admin@elsewhere.org"),
        base("u").with("plan", "free"),
        base("u").with("uploads", "12"),
        base("u").with("account_id", 1.5),
        base("u")
            .with("user_id", Value::Null)
            .with("targetingKey", "of-user"),
        base("u").with("user_id", 77),
        Context::new(),
    ]);
    contexts
}

const FLAGS: [&str; 5] = [
    "plain_switch",
    "api_timeout_seconds",
    "checkout_v2",
    "max_upload_mb",
    "retry_limit",
];

#[test]
fn the_counter_sees_an_allocation() {
    let info = measure(|| drop(black_box(Box::new(7_u64))));
    assert_eq!(info.count_total, 1);
}

#[test]
fn evaluating_one_flag_allocates_nothing() {
    let snapshot = snapshot();
    let contexts = contexts();
    let mut reasons = Vec::new();
    for env in ["development", "staging", "production"] {
        let Some(environment) = snapshot.environment(env) else {
            panic!("{env} not compiled");
        };
        for flag in FLAGS {
            for (i, context) in contexts.iter().enumerate() {
                let (resolution, info) = counted(|| environment.evaluate(flag, context));
                assert_eq!(info.count_total, 0, "{env}/{flag}, context {i}: {info:?}");
                assert!(resolution.value.is_some(), "{env}/{flag}: {resolution:?}");
                reasons.push(resolution.reason);
            }
        }
    }
    // The contexts did reach every outcome, so every path was measured.
    for reason in [
        Reason::Static,
        Reason::Default,
        Reason::TargetingMatch,
        Reason::Split,
        Reason::Disabled,
        Reason::PrerequisiteFailed,
    ] {
        assert!(reasons.contains(&reason), "no context reached {reason:?}");
    }
}

#[test]
fn typed_evaluation_and_errors_allocate_nothing() {
    let snapshot = snapshot();
    let Some(production) = snapshot.environment("production") else {
        panic!("production not compiled");
    };
    let context = contexts().swap_remove(0);
    let cases = [
        ("checkout_v2", FlagType::Boolean, None),
        ("max_upload_mb", FlagType::Number, None),
        ("max_upload_mb", FlagType::Json, None),
        ("max_upload_mb", FlagType::Boolean, Some("TYPE_MISMATCH")),
        ("no_such_flag", FlagType::Boolean, Some("FLAG_NOT_FOUND")),
    ];
    for (flag, expected, error) in cases {
        let (resolution, info) = counted(|| production.evaluate_typed(flag, &context, expected));
        assert_eq!(info.count_total, 0, "{flag} as {expected:?}: {info:?}");
        assert_eq!(resolution.error_code.map(|c| c.as_str()), error, "{flag}");
    }
}

#[test]
fn evaluating_every_flag_allocates_nothing() {
    let snapshot = snapshot();
    let Some(production) = snapshot.environment("production") else {
        panic!("production not compiled");
    };
    let context = contexts().swap_remove(0);
    let mut seen = 0;
    let info = measure(|| {
        for (key, resolution) in production.evaluate_all(&context) {
            black_box((key, resolution));
            seen += 1;
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    assert_eq!(seen, FLAGS.len());
}
