//! The plain verdicts, one table: the data, the verdict's sentence.

use ff_stats::{
    ConversionVariant, NumericSummary, NumericVariant, Settings, StatsError, Verdict,
    analyse_conversions, analyse_numeric,
};

fn variant(name: &str, weight: f64, exposed_users: u64, conversions: u64) -> ConversionVariant {
    ConversionVariant {
        name: name.to_owned(),
        weight,
        exposed_users,
        conversions,
    }
}

#[test]
fn conversion_verdicts() {
    let table: Vec<(&str, Vec<ConversionVariant>, &str)> = vec![
        (
            "B clearly better (p = 0.024)",
            vec![
                variant("A", 50.0, 10_000, 500),
                variant("B", 50.0, 10_000, 572),
            ],
            "B beats control on checkout_completed with 97 % confidence",
        ),
        (
            "B clearly worse (p = 0.007)",
            vec![
                variant("A", 50.0, 10_000, 500),
                variant("B", 50.0, 10_000, 420),
            ],
            "B is worse than control on checkout_completed with 99 % confidence",
        ),
        (
            "B a little better, not significantly (p = 0.75)",
            vec![
                variant("A", 50.0, 10_000, 500),
                variant("B", 50.0, 10_000, 510),
            ],
            "no significant difference yet",
        ),
        (
            "too few users",
            vec![variant("A", 50.0, 99, 30), variant("B", 50.0, 101, 40)],
            "not enough data: every variant needs at least 100 exposed users and 10 conversions (short: A)",
        ),
        (
            "too few conversions",
            vec![variant("A", 50.0, 1_000, 9), variant("B", 50.0, 1_000, 30)],
            "not enough data: every variant needs at least 100 exposed users and 10 conversions (short: A)",
        ),
        (
            "nobody exposed yet",
            vec![variant("A", 50.0, 0, 0), variant("B", 50.0, 0, 0)],
            "not enough data: every variant needs at least 100 exposed users and 10 conversions (short: A, B)",
        ),
        (
            "split broken (10 000 against 9 500 on 50/50): overrides a clear win",
            vec![
                variant("A", 50.0, 10_000, 500),
                variant("B", 50.0, 9_500, 700),
            ],
            "sample ratio mismatch: do not trust these numbers",
        ),
        (
            "split broken and too few users: the mismatch still comes first",
            vec![variant("A", 50.0, 0, 0), variant("B", 50.0, 90, 1)],
            "sample ratio mismatch: do not trust these numbers",
        ),
        (
            "a variant weighted zero was served",
            vec![variant("A", 100.0, 10_000, 500), variant("B", 0.0, 1, 0)],
            "sample ratio mismatch: do not trust these numbers",
        ),
        (
            // Alone, B (p = 0.038) would beat control with 96 %; compared
            // along with C, its adjusted p is 0.075.
            "two variants: Bonferroni",
            vec![
                variant("A", 1.0, 10_000, 500),
                variant("B", 1.0, 10_000, 566),
                variant("C", 1.0, 10_000, 510),
            ],
            "no significant difference yet",
        ),
        (
            "two variants, one better and one worse",
            vec![
                variant("A", 1.0, 10_000, 500),
                variant("B", 1.0, 10_000, 620),
                variant("C", 1.0, 10_000, 400),
            ],
            "B beats control on checkout_completed with 99 % confidence; \
             C is worse than control on checkout_completed with 99 % confidence",
        ),
    ];
    for (case, variants, expected) in table {
        let report =
            analyse_conversions("checkout_completed", "A", &variants, &Settings::default())
                .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(report.message, expected, "{case}");
    }
}

#[test]
fn a_single_variant_alone_beats_control() {
    let variants = [
        variant("A", 50.0, 10_000, 500),
        variant("B", 50.0, 10_000, 566),
    ];
    let report = analyse_conversions("signup", "A", &variants, &Settings::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.message,
        "B beats control on signup with 96 % confidence"
    );
}

#[test]
fn minimums_and_levels_are_settings() {
    let variants = [variant("A", 50.0, 60, 3), variant("B", 50.0, 60, 14)];
    let lenient = Settings {
        min_exposed_users: 50,
        min_conversions: 3,
        ..Settings::default()
    };
    let report =
        analyse_conversions("signup", "A", &variants, &lenient).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(report.verdict, Verdict::Significant { .. }),
        "{}",
        report.message
    );
    let strict = Settings {
        confidence_level: 0.999,
        ..lenient
    };
    let report =
        analyse_conversions("signup", "A", &variants, &strict).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.verdict, Verdict::NoSignificantDifference);
}

#[test]
fn numeric_verdicts() {
    let summary = |n: u64, mean: f64, sd: f64| {
        let sum = mean * n as f64;
        NumericSummary::from_sums(n, sum, (n as f64 - 1.0) * sd * sd + sum * mean)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let table = [
        (
            summary(5_000, 20.0, 30.0),
            summary(5_000, 21.5, 32.0),
            "B beats control on revenue with 98 % confidence",
        ),
        (
            summary(5_000, 20.0, 30.0),
            summary(5_000, 20.3, 32.0),
            "no significant difference yet",
        ),
        (
            summary(5_000, 20.0, 30.0),
            summary(5_000, 18.0, 25.0),
            "B is worse than control on revenue with 99 % confidence",
        ),
        (
            summary(50, 20.0, 30.0),
            summary(50, 28.0, 25.0),
            "not enough data: every variant needs at least 100 users (short: A, B)",
        ),
        (
            summary(5_000, 20.0, 30.0),
            summary(4_500, 21.5, 32.0),
            "sample ratio mismatch: do not trust these numbers",
        ),
        (
            summary(5_000, 20.0, 0.0),
            summary(5_000, 20.0, 0.0),
            "no significant difference yet",
        ),
    ];
    for (control, treatment, expected) in table {
        let variants = [
            NumericVariant {
                name: "A".to_owned(),
                weight: 50.0,
                summary: control,
            },
            NumericVariant {
                name: "B".to_owned(),
                weight: 50.0,
                summary: treatment,
            },
        ];
        let report = analyse_numeric("revenue", "A", &variants, &Settings::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.message, expected);
    }
}

#[test]
fn input_that_describes_no_experiment_is_refused() {
    let settings = Settings::default();
    let two = [variant("A", 50.0, 100, 10), variant("B", 50.0, 100, 10)];
    let cases: Vec<(&str, Vec<ConversionVariant>, &str, Settings, StatsError)> = vec![
        (
            "unknown control",
            two.to_vec(),
            "Z",
            settings,
            StatsError::UnknownControl("Z".to_owned()),
        ),
        (
            "control alone",
            vec![variant("A", 50.0, 100, 10)],
            "A",
            settings,
            StatsError::NothingToCompare,
        ),
        (
            "duplicate",
            vec![variant("A", 50.0, 100, 10), variant("A", 50.0, 100, 10)],
            "A",
            settings,
            StatsError::DuplicateVariant("A".to_owned()),
        ),
        (
            "more conversions than users",
            vec![variant("A", 50.0, 100, 10), variant("B", 50.0, 100, 101)],
            "A",
            settings,
            StatsError::MoreConversionsThanUsers("B".to_owned()),
        ),
        (
            "negative weight",
            vec![variant("A", 50.0, 100, 10), variant("B", -1.0, 100, 10)],
            "A",
            settings,
            StatsError::InvalidWeight("B".to_owned()),
        ),
        (
            "NaN weight",
            vec![variant("A", f64::NAN, 100, 10), variant("B", 1.0, 100, 10)],
            "A",
            settings,
            StatsError::InvalidWeight("A".to_owned()),
        ),
        (
            "weights all zero",
            vec![variant("A", 0.0, 100, 10), variant("B", 0.0, 100, 10)],
            "A",
            settings,
            StatsError::ZeroTotalWeight,
        ),
        (
            "confidence level 1",
            two.to_vec(),
            "A",
            Settings {
                confidence_level: 1.0,
                ..settings
            },
            StatsError::InvalidSetting("confidence_level"),
        ),
        (
            "threshold NaN",
            two.to_vec(),
            "A",
            Settings {
                srm_threshold: f64::NAN,
                ..settings
            },
            StatsError::InvalidSetting("srm_threshold"),
        ),
    ];
    for (case, variants, control, settings, expected) in cases {
        assert_eq!(
            analyse_conversions("m", control, &variants, &settings),
            Err(expected),
            "{case}"
        );
    }
    assert_eq!(
        NumericSummary::from_values(&[1.0, f64::INFINITY]),
        Err(StatsError::NonFiniteValue)
    );
    assert_eq!(
        NumericSummary::from_sums(3, f64::NAN, 1.0),
        Err(StatsError::NonFiniteValue)
    );
}

/// The report as the API will return it: plain field names, nulls where
/// nothing could be computed, the verdict tagged by `kind`.
#[test]
fn the_report_serialises_to_plain_json() {
    let variants = [
        variant("A", 50.0, 10_000, 500),
        variant("B", 50.0, 10_000, 572),
    ];
    let report = analyse_conversions("checkout_completed", "A", &variants, &Settings::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_value(&report).unwrap_or_else(|e| panic!("{e}"));
    let control = &json["variants"][0];
    assert_eq!(control["rate"], 0.05);
    assert!(control["interval"]["low"].is_f64() && control["interval"]["high"].is_f64());
    assert!(control["lift"].is_null() && control["p_value"].is_null());
    let b = &json["variants"][1];
    assert!(b["lift"]["estimate"].is_f64());
    assert!(b["lift"]["interval"]["low"].is_f64());
    assert!(b["p_value"].is_f64() && b["z"].is_f64());
    assert_eq!(json["verdict"]["kind"], "significant");
    assert_eq!(json["verdict"]["findings"][0]["direction"], "better");
    assert_eq!(json["verdict"]["findings"][0]["confidence_percent"], 97);
    assert_eq!(json["sample_ratio"]["mismatch"], false);
    assert_eq!(
        json["message"],
        "B beats control on checkout_completed with 97 % confidence"
    );
}
