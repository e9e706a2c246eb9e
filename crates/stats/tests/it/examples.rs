//! Published worked examples, each with its source. The published figures are
//! rounded, so the tolerance is half a unit of their last printed digit.

use ff_stats::distributions::{chi_square_sf, normal_quantile, student_t_quantile};
use ff_stats::{
    Allocation, Counts, NumericSummary, conversion_rate, sample_ratio_check, welch_t_test,
};

fn assert_rounded(actual: f64, published: f64, half_unit: f64, what: &str) {
    assert!(
        (actual - published).abs() <= half_unit,
        "{what}: {actual} is not {published} ± {half_unit}"
    );
}

/// R. G. Newcombe (1998), "Two-sided confidence intervals for the single
/// proportion: comparison of seven methods", Statistics in Medicine
/// 17:857–872, Table I, method 3 (Wilson score interval without continuity
/// correction), 95 %.
#[test]
fn wilson_intervals_of_newcombe_table_one() {
    let table = [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ];
    for (conversions, exposed_users, low, high) in table {
        let rate = conversion_rate(
            Counts {
                exposed_users,
                conversions,
            },
            0.95,
        )
        .unwrap_or_else(|| panic!("{conversions}/{exposed_users}"));
        let what = format!("{conversions}/{exposed_users}");
        assert_rounded(rate.interval.low, low, 0.000_05, &what);
        assert_rounded(rate.interval.high, high, 0.000_05, &what);
    }
}

/// NIST/SEMATECH e-Handbook of Statistical Methods, §1.3.5.3 "Two-Sample
/// t-Test for Equal Means": miles per gallon of US cars (n = 249, mean
/// 20.14458, s = 6.41470) against Japanese cars (n = 79, mean 30.48101,
/// s = 6.10771); with unequal variances T = −12.94627 on ν = 136.8750
/// degrees of freedom.
#[test]
fn welch_test_of_the_nist_handbook() {
    let summary = |n: u64, mean: f64, sd: f64| {
        let n_f = n as f64;
        let sum = mean * n_f;
        // Σx² = (n − 1) s² + n · mean²
        NumericSummary::from_sums(n, sum, (n_f - 1.0) * sd * sd + sum * mean)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let us = summary(249, 20.14458, 6.41470);
    let japan = summary(79, 30.48101, 6.10771);
    let test = welch_t_test(&japan, &us).unwrap_or_else(|| panic!("computable"));
    assert_rounded(test.t, -12.94627, 0.000_005, "T");
    assert_rounded(test.degrees_of_freedom, 136.8750, 0.000_05, "ν");
    assert!(test.p_value < 1e-20, "{}", test.p_value);
}

/// Mendel's peas (G. Mendel 1866; the classic goodness-of-fit example, e.g.
/// R. R. Sokal & F. J. Rohlf, "Biometry"): 315 round yellow, 108 round green,
/// 101 wrinkled yellow, 32 wrinkled green against 9 : 3 : 3 : 1 gives
/// χ² = 0.470 on 3 degrees of freedom, p = 0.925: no mismatch.
#[test]
fn chi_square_of_mendels_peas() {
    let allocations =
        [(9.0, 315), (3.0, 108), (3.0, 101), (1.0, 32)].map(|(weight, exposed_users)| Allocation {
            weight,
            exposed_users,
        });
    let check = sample_ratio_check(&allocations, 0.001);
    assert_eq!(check.degrees_of_freedom, 3);
    assert_rounded(check.chi_square.unwrap_or(f64::NAN), 0.470, 0.0005, "χ²");
    assert_rounded(check.p_value.unwrap_or(f64::NAN), 0.925, 0.0005, "p");
    assert!(!check.mismatch);
}

/// Critical values printed in the NIST/SEMATECH e-Handbook tables: normal
/// 1.960 (§1.3.6.7.1), t(0.975, 10) = 2.228 (§1.3.6.7.2) and the upper 5 %
/// point of chi-square with 3 degrees of freedom, 7.815 (§1.3.6.7.4).
#[test]
fn critical_values_of_the_nist_tables() {
    assert_rounded(
        normal_quantile(0.975).unwrap_or(f64::NAN),
        1.960,
        0.0005,
        "z",
    );
    assert_rounded(
        student_t_quantile(0.975, 10.0).unwrap_or(f64::NAN),
        2.228,
        0.0005,
        "t",
    );
    assert_rounded(
        chi_square_sf(7.815, 3.0).unwrap_or(f64::NAN),
        0.05,
        0.000_05,
        "χ²",
    );
}
