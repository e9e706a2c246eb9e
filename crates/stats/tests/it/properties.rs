//! Whatever the input: no panic, no NaN or infinity in the output, every
//! p-value a probability, every interval ordered and holding its estimate.

use ff_stats::distributions::{
    chi_square_sf, normal_cdf, normal_quantile, normal_sf, student_t_cdf, student_t_quantile,
    student_t_sf,
};
use ff_stats::{
    Allocation, ConversionVariant, Interval, Lift, NumericSummary, NumericVariant, Settings,
    Verdict, analyse_conversions, analyse_numeric, sample_ratio_check,
};
use proptest::prelude::*;

fn finite(value: Option<f64>, what: &str) -> Result<(), TestCaseError> {
    if let Some(value) = value {
        prop_assert!(value.is_finite(), "{what} = {value}");
    }
    Ok(())
}

fn p_value(value: Option<f64>, what: &str) -> Result<(), TestCaseError> {
    if let Some(value) = value {
        prop_assert!((0.0..=1.0).contains(&value), "{what} = {value}");
    }
    Ok(())
}

fn holds(
    interval: Option<Interval>,
    estimate: Option<f64>,
    what: &str,
) -> Result<(), TestCaseError> {
    if let Some(interval) = interval {
        prop_assert!(
            interval.low.is_finite() && interval.high.is_finite(),
            "{what}: {interval:?}"
        );
        prop_assert!(interval.low <= interval.high, "{what}: {interval:?}");
        if let Some(estimate) = estimate {
            prop_assert!(
                interval.contains(estimate),
                "{what}: {estimate} outside {interval:?}"
            );
        }
    }
    Ok(())
}

fn lift(lift: Option<Lift>, what: &str) -> Result<(), TestCaseError> {
    if let Some(lift) = lift {
        finite(Some(lift.estimate), what)?;
        holds(lift.interval, Some(lift.estimate), what)?;
    }
    Ok(())
}

fn verdict(verdict: &Verdict, confidence_level: f64) -> Result<(), TestCaseError> {
    match verdict {
        Verdict::SampleRatioMismatch { p_value: p } => p_value(Some(*p), "verdict p")?,
        Verdict::Significant { findings } => {
            for finding in findings {
                p_value(Some(finding.adjusted_p_value), "adjusted p")?;
                prop_assert!(finding.adjusted_p_value < 1.0 - confidence_level);
                prop_assert!(finding.confidence_percent <= 99);
                prop_assert!(
                    f64::from(finding.confidence_percent) >= (confidence_level * 100.0).floor(),
                    "{finding:?} at {confidence_level}"
                );
            }
        }
        Verdict::NotEnoughData { .. } | Verdict::NoSignificantDifference => {}
    }
    Ok(())
}

/// Counts from nothing to a billion, conversions from none to all.
fn counts() -> impl Strategy<Value = (u64, u64)> {
    prop_oneof![
        (0_u64..=3).prop_flat_map(|n| (Just(n), 0..=n)),
        (0_u64..=5_000).prop_flat_map(|n| (Just(n), 0..=n)),
        (0_u64..=2_000_000_000).prop_flat_map(|n| (Just(n), prop_oneof![Just(0), Just(n), 0..=n])),
    ]
}

fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(50.0), 0.0..100.0, 1e-300..1e-200]
}

fn level() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.95), 1e-6..0.999_999_9]
}

/// Values per user: ordinary, identical, huge, tiny, and some of each.
fn values() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(-1e3..1e3_f64, 0..40),
        (
            any::<f64>().prop_filter("finite", |v| v.is_finite()),
            0_usize..30
        )
            .prop_map(|(v, n)| vec![v; n]),
        prop::collection::vec(
            prop_oneof![Just(0.0), 1e-300..1e-290, 1e150..1e153, -1e153..-1e150],
            0..30
        ),
    ]
}

fn summary() -> impl Strategy<Value = NumericSummary> {
    prop_oneof![
        values().prop_filter_map("finite sums", |v| NumericSummary::from_values(&v).ok()),
        (0_u64..=2_000_000_000, -1e12..1e12_f64, 0.0..1e18_f64)
            .prop_filter_map("finite", |(n, sum, squares)| {
                NumericSummary::from_sums(n, sum, squares).ok()
            }),
    ]
}

proptest! {
    // 256 cases each by default; `PROPTEST_CASES=20000` for a long hunt.

    #[test]
    fn conversion_reports_are_always_finite(
        arms in prop::collection::vec((weight(), counts()), 2..5),
        confidence_level in level(),
    ) {
        let variants: Vec<ConversionVariant> = arms
            .iter()
            .enumerate()
            .map(|(index, (weight, (exposed_users, conversions)))| ConversionVariant {
                name: format!("v{index}"),
                weight: *weight,
                exposed_users: *exposed_users,
                conversions: *conversions,
            })
            .collect();
        let settings = Settings { confidence_level, ..Settings::default() };
        let Ok(report) = analyse_conversions("m", "v0", &variants, &settings) else {
            // Only all-zero weights are refused here.
            prop_assert!(arms.iter().all(|(w, _)| *w == 0.0));
            return Ok(());
        };
        for result in &report.variants {
            finite(result.rate, "rate")?;
            holds(result.interval, result.rate, "Wilson interval")?;
            if let Some(interval) = result.interval {
                prop_assert!(interval.low >= 0.0 && interval.high <= 1.0, "{interval:?}");
            }
            lift(result.lift, "conversion lift")?;
            finite(result.z, "z")?;
            p_value(result.p_value, "z-test p")?;
        }
        finite(report.sample_ratio.chi_square, "chi-square")?;
        p_value(report.sample_ratio.p_value, "SRM p")?;
        verdict(&report.verdict, confidence_level)?;
        prop_assert!(serde_json::to_string(&report).is_ok());
    }

    #[test]
    fn numeric_reports_are_always_finite(
        control in summary(),
        treatment in summary(),
        weights in (weight(), weight()),
        confidence_level in level(),
    ) {
        let variants = [
            NumericVariant { name: "A".to_owned(), weight: weights.0, summary: control },
            NumericVariant { name: "B".to_owned(), weight: weights.1, summary: treatment },
        ];
        let settings = Settings { confidence_level, ..Settings::default() };
        let Ok(report) = analyse_numeric("m", "A", &variants, &settings) else {
            prop_assert!(weights.0 == 0.0 && weights.1 == 0.0);
            return Ok(());
        };
        for result in &report.variants {
            finite(result.mean, "mean")?;
            finite(result.standard_deviation, "sd")?;
            holds(result.interval, result.mean, "t interval")?;
            lift(result.lift, "mean lift")?;
            finite(result.t, "t")?;
            finite(result.degrees_of_freedom, "df")?;
            p_value(result.p_value, "Welch p")?;
        }
        verdict(&report.verdict, confidence_level)?;
    }

    #[test]
    fn sample_ratio_checks_are_always_finite(
        arms in prop::collection::vec((prop_oneof![weight(), -1.0..0.0, Just(f64::NAN), Just(f64::INFINITY)], 0_u64..=u64::MAX), 0..6),
        threshold in 1e-9..0.5,
    ) {
        let allocations: Vec<Allocation> = arms
            .iter()
            .map(|&(weight, exposed_users)| Allocation { weight, exposed_users })
            .collect();
        let check = sample_ratio_check(&allocations, threshold);
        finite(check.chi_square, "chi-square")?;
        p_value(check.p_value, "SRM p")?;
        prop_assert_eq!(check.mismatch, check.p_value.is_some_and(|p| p < threshold));
    }

    #[test]
    fn distributions_are_probabilities(
        x in prop_oneof![any::<f64>(), -50.0..50.0],
        df in prop_oneof![any::<f64>(), 1e-3..1e10],
        p in prop_oneof![any::<f64>(), 0.0..=1.0],
    ) {
        for value in [normal_cdf(x), normal_sf(x), student_t_cdf(x, df), student_t_sf(x, df), chi_square_sf(x, df)] {
            p_value(value, "probability")?;
        }
        if let Some(z) = normal_quantile(p) {
            prop_assert!(z.is_finite());
            prop_assert!(p > 0.0 && p < 1.0);
        }
        if let Some(t) = student_t_quantile(p, df) {
            prop_assert!(t.is_finite());
            prop_assert!(p > 0.0 && p < 1.0 && df > 0.0);
        }
    }
}

#[test]
fn edge_cases_by_name() {
    let settings = Settings::default();
    let conversion = |a: (u64, u64), b: (u64, u64)| {
        let variants = [
            ConversionVariant {
                name: "A".to_owned(),
                weight: 1.0,
                exposed_users: a.0,
                conversions: a.1,
            },
            ConversionVariant {
                name: "B".to_owned(),
                weight: 1.0,
                exposed_users: b.0,
                conversions: b.1,
            },
        ];
        analyse_conversions("m", "A", &variants, &settings).unwrap_or_else(|e| panic!("{e}"))
    };
    // Zero exposures: nothing computable, and it says so.
    let report = conversion((0, 0), (0, 0));
    assert_eq!(report.variants[1].rate, None);
    assert_eq!(report.variants[1].p_value, None);
    assert_eq!(report.sample_ratio.p_value, None);
    // Zero conversions everywhere: rates of 0 with intervals, no test.
    let report = conversion((1_000, 0), (1_000, 0));
    assert_eq!(report.variants[1].rate, Some(0.0));
    assert!(
        report.variants[1]
            .interval
            .is_some_and(|i| i.low == 0.0 && i.high > 0.0)
    );
    assert_eq!(report.variants[1].lift, None);
    assert_eq!(report.variants[1].p_value, None);
    // Everybody converted in both: rates of 1, lift 0 with a point interval.
    let report = conversion((1_000, 1_000), (1_000, 1_000));
    assert_eq!(report.variants[1].rate, Some(1.0));
    let lift = report.variants[1].lift.unwrap_or_else(|| panic!("a lift"));
    assert_eq!(lift.estimate, 0.0);
    assert_eq!(
        lift.interval,
        Some(Interval {
            low: 0.0,
            high: 0.0
        })
    );
    assert_eq!(report.variants[1].p_value, None);
    // A billion users each: a p-value of exactly 0 is fine and finite.
    let report = conversion((1_000_000_000, 300_000_000), (1_000_000_000, 310_000_000));
    assert_eq!(report.variants[1].p_value, Some(0.0));
    assert_eq!(report.message, "B beats control on m with 99 % confidence");
    // Identical counts: p = 1 exactly.
    let report = conversion((1_000, 100), (1_000, 100));
    assert_eq!(report.variants[1].p_value, Some(1.0));

    // A single user: a mean but no spread, no interval, no test.
    let one = NumericSummary::from_values(&[42.0]).unwrap_or_else(|e| panic!("{e}"));
    let many = NumericSummary::from_values(&[1.0, 2.0, 3.0]).unwrap_or_else(|e| panic!("{e}"));
    let variants = [
        NumericVariant {
            name: "A".to_owned(),
            weight: 1.0,
            summary: one,
        },
        NumericVariant {
            name: "B".to_owned(),
            weight: 1.0,
            summary: many,
        },
    ];
    let report = analyse_numeric("m", "A", &variants, &settings).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.variants[0].mean, Some(42.0));
    assert_eq!(report.variants[0].standard_deviation, None);
    assert_eq!(report.variants[0].interval, None);
    assert_eq!(report.variants[1].t, None);
    // Zero variance in both groups, different means: t is undefined.
    let five = NumericSummary::from_sums(200, 1_000.0, 5_000.0).unwrap_or_else(|e| panic!("{e}"));
    let six = NumericSummary::from_sums(200, 1_200.0, 7_200.0).unwrap_or_else(|e| panic!("{e}"));
    let variants = [
        NumericVariant {
            name: "A".to_owned(),
            weight: 1.0,
            summary: five,
        },
        NumericVariant {
            name: "B".to_owned(),
            weight: 1.0,
            summary: six,
        },
    ];
    let report = analyse_numeric("m", "A", &variants, &settings).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.variants[1].standard_deviation, Some(0.0));
    assert_eq!(report.variants[1].t, None);
    assert_eq!(report.variants[1].lift.map(|l| l.estimate), Some(0.2));
    assert_eq!(report.message, "no significant difference yet");
}
