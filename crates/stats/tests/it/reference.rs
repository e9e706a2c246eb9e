//! Every number against scipy and statsmodels.
//!
//! Tolerances: 1e-9 relative for everything (the brief's bar), with an
//! absolute floor of 1e-15 for quantities on the scale of a rate or a lift
//! (an interval end of 0 is 0 here but 1e-18 in statsmodels' arithmetic).
//! Nothing needs the looser 1e-6 that continued fractions might have called
//! for: see `largest_deviations` for what the comparison actually found.

use std::cell::RefCell;
use std::collections::BTreeMap;

use ff_stats::distributions::{
    chi_square_sf, normal_cdf, normal_quantile, normal_sf, regularized_incomplete_beta,
    regularized_lower_gamma, regularized_upper_gamma, student_t_cdf, student_t_quantile,
    student_t_sf,
};
use ff_stats::{
    Allocation, Counts, Interval, NumericSummary, conversion_lift, conversion_rate, mean_estimate,
    mean_lift, sample_ratio_check, two_proportion_z_test, welch_t_test,
};
use serde_json::Value;

const RELATIVE: f64 = 1e-9;
/// Absolute floor for rates, interval ends and lifts.
const RATE_FLOOR: f64 = 1e-15;

fn reference() -> Value {
    serde_json::from_str(include_str!("../../../../testdata/stats/reference.json"))
        .unwrap_or_else(|e| panic!("reference.json: {e}"))
}

thread_local! {
    /// The largest relative deviation seen per kind of number.
    static LARGEST: RefCell<BTreeMap<String, (f64, String)>> = const { RefCell::new(BTreeMap::new()) };
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// Compares `actual` with `expected` (JSON null ⇔ `None`).
fn check(kind: &str, what: &str, actual: Option<f64>, expected: &Value, floor: f64) {
    match (actual, expected.as_f64()) {
        (None, None) => {}
        (Some(actual), Some(expected)) => {
            assert!(actual.is_finite(), "{what}: {actual}");
            let difference = (actual - expected).abs();
            let allowed = (RELATIVE * expected.abs()).max(floor);
            assert!(
                difference <= allowed,
                "{what}: {actual} against {expected} (relative {:e})",
                difference / expected.abs()
            );
            // Ends compared against the absolute floor are not counted.
            let relative = if RELATIVE * expected.abs() < floor {
                0.0
            } else {
                difference / expected.abs()
            };
            LARGEST.with(|largest| {
                let mut largest = largest.borrow_mut();
                let entry = largest
                    .entry(kind.to_owned())
                    .or_insert((0.0, String::new()));
                if relative > entry.0 {
                    *entry = (relative, what.to_owned());
                }
            });
        }
        (actual, _) => panic!("{what}: {actual:?} against {expected}"),
    }
}

fn check_interval(kind: &str, what: &str, actual: Option<Interval>, expected: &Value) {
    if expected.is_null() {
        assert_eq!(actual, None, "{what}");
        return;
    }
    check(
        kind,
        &format!("{what}.low"),
        actual.map(|i| i.low),
        &expected["low"],
        RATE_FLOOR,
    );
    check(
        kind,
        &format!("{what}.high"),
        actual.map(|i| i.high),
        &expected["high"],
        RATE_FLOOR,
    );
}

fn report() {
    LARGEST.with(|largest| {
        for (kind, (deviation, what)) in largest.borrow().iter() {
            println!("{kind:>32}: largest relative deviation {deviation:.2e} ({what})");
        }
    });
}

fn rows(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
}

#[test]
fn distributions_match_scipy() {
    let reference = reference();
    let d = &reference["distributions"];
    let one = |name: &str, f: &dyn Fn(f64) -> Option<f64>| {
        for row in rows(&d[name]) {
            let x = number(&row[0]);
            check(
                name,
                &format!("{name}({x})"),
                f(x),
                &row[1],
                f64::MIN_POSITIVE,
            );
        }
    };
    one("normal_cdf", &normal_cdf);
    one("normal_sf", &normal_sf);
    one("normal_quantile", &normal_quantile);
    let two = |name: &str, f: &dyn Fn(f64, f64) -> Option<f64>| {
        for row in rows(&d[name]) {
            let (x, y) = (number(&row[0]), number(&row[1]));
            check(
                name,
                &format!("{name}({x}, {y})"),
                f(x, y),
                &row[2],
                f64::MIN_POSITIVE,
            );
        }
    };
    two("student_t_cdf", &student_t_cdf);
    two("student_t_sf", &student_t_sf);
    two("student_t_quantile", &student_t_quantile);
    two("chi_square_sf", &chi_square_sf);
    two("regularized_lower_gamma", &regularized_lower_gamma);
    two("regularized_upper_gamma", &regularized_upper_gamma);
    for row in rows(&d["regularized_incomplete_beta"]) {
        let (a, b, x) = (number(&row[0]), number(&row[1]), number(&row[2]));
        check(
            "regularized_incomplete_beta",
            &format!("betainc({a}, {b}, {x})"),
            regularized_incomplete_beta(a, b, x),
            &row[3],
            f64::MIN_POSITIVE,
        );
    }
    report();
}

fn counts(value: &Value) -> Counts {
    let field = |name: &str| {
        value[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} in {value}"))
    };
    Counts {
        exposed_users: field("exposed_users"),
        conversions: field("conversions"),
    }
}

#[test]
fn conversion_metrics_match_statsmodels() {
    let reference = reference();
    for case in rows(&reference["conversion"]) {
        let name = case["name"].as_str().unwrap_or_default();
        let level = number(&case["confidence_level"]);
        let control = counts(&case["control"]);
        let variant = counts(&case["variant"]);
        for (side, counts) in [("control", control), ("variant", variant)] {
            let rate = conversion_rate(counts, level);
            let expected = &case[format!("{side}_rate")];
            check(
                "rate",
                &format!("{name}.{side}.rate"),
                rate.map(|r| r.rate),
                &expected["rate"],
                RATE_FLOOR,
            );
            check_interval(
                "wilson interval",
                &format!("{name}.{side}.interval"),
                rate.map(|r| r.interval),
                expected,
            );
        }
        let test = two_proportion_z_test(control, variant);
        check(
            "z",
            &format!("{name}.z"),
            test.map(|t| t.z),
            &case["z"],
            0.0,
        );
        check(
            "z-test p-value",
            &format!("{name}.p_value"),
            test.map(|t| t.p_value),
            &case["p_value"],
            f64::MIN_POSITIVE,
        );
        let lift = conversion_lift(control, variant, level);
        check(
            "conversion lift",
            &format!("{name}.lift"),
            lift.map(|l| l.estimate),
            &case["lift"],
            RATE_FLOOR,
        );
        check_interval(
            "conversion lift interval (Katz)",
            &format!("{name}.lift_interval"),
            lift.and_then(|l| l.interval),
            &case["lift_interval"],
        );
    }
    report();
}

fn summary(value: &Value) -> NumericSummary {
    let result = if let Some(values) = value["values"].as_array() {
        NumericSummary::from_values(&values.iter().map(number).collect::<Vec<_>>())
    } else {
        let n = value["n"]
            .as_u64()
            .unwrap_or_else(|| panic!("n in {value}"));
        NumericSummary::from_sums(n, number(&value["sum"]), number(&value["sum_of_squares"]))
    };
    result.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn numeric_metrics_match_scipy() {
    let reference = reference();
    for case in rows(&reference["numeric"]) {
        let name = case["name"].as_str().unwrap_or_default();
        let level = number(&case["confidence_level"]);
        let control = summary(&case["control"]);
        let variant = summary(&case["variant"]);
        for (side, summary) in [("control", &control), ("variant", &variant)] {
            let estimate = mean_estimate(summary, level);
            let expected = &case[format!("{side}_expected")];
            assert_eq!(Some(estimate.n), expected["n"].as_u64(), "{name}.{side}.n");
            check(
                "mean",
                &format!("{name}.{side}.mean"),
                estimate.mean,
                &expected["mean"],
                0.0,
            );
            check(
                "standard deviation",
                &format!("{name}.{side}.standard_deviation"),
                estimate.standard_deviation,
                &expected["standard_deviation"],
                0.0,
            );
            check_interval(
                "t interval of the mean",
                &format!("{name}.{side}.interval"),
                estimate.interval,
                &expected["interval"],
            );
        }
        let test = welch_t_test(&control, &variant);
        check(
            "welch t",
            &format!("{name}.t"),
            test.map(|t| t.t),
            &case["t"],
            0.0,
        );
        check(
            "welch df",
            &format!("{name}.df"),
            test.map(|t| t.degrees_of_freedom),
            &case["degrees_of_freedom"],
            0.0,
        );
        check(
            "welch p-value",
            &format!("{name}.p_value"),
            test.map(|t| t.p_value),
            &case["p_value"],
            f64::MIN_POSITIVE,
        );
        let lift = mean_lift(&control, &variant, level);
        check(
            "mean lift",
            &format!("{name}.lift"),
            lift.map(|l| l.estimate),
            &case["lift"],
            RATE_FLOOR,
        );
        check_interval(
            "mean lift interval (delta)",
            &format!("{name}.lift_interval"),
            lift.and_then(|l| l.interval),
            &case["lift_interval"],
        );
    }
    report();
}

#[test]
fn sample_ratio_matches_scipy() {
    let reference = reference();
    for case in rows(&reference["sample_ratio"]) {
        let name = case["name"].as_str().unwrap_or_default();
        let allocations: Vec<Allocation> = rows(&case["weights"])
            .iter()
            .zip(rows(&case["exposures"]))
            .map(|(weight, users)| Allocation {
                weight: number(weight),
                exposed_users: users.as_u64().unwrap_or_else(|| panic!("{users}")),
            })
            .collect();
        let check_result = sample_ratio_check(&allocations, 0.001);
        assert_eq!(
            Some(check_result.degrees_of_freedom),
            case["degrees_of_freedom"].as_u64(),
            "{name}"
        );
        check(
            "chi-square",
            &format!("{name}.chi_square"),
            check_result.chi_square,
            &case["chi_square"],
            0.0,
        );
        check(
            "chi-square p-value",
            &format!("{name}.p_value"),
            check_result.p_value,
            &case["p_value"],
            f64::MIN_POSITIVE,
        );
        let p = number(&case["p_value"]);
        assert_eq!(check_result.mismatch, p < 0.001, "{name}");
    }
    report();
}
