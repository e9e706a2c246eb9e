//! Conversion metrics: did the user do the thing (yes/no)?

use serde::{Deserialize, Serialize};

use crate::{Interval, Lift, distributions, is_positive, normal_critical_value, probability};

/// The counts behind a conversion rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Users who were shown the variant.
    pub exposed_users: u64,
    /// Those of them who converted (at most `exposed_users`).
    pub conversions: u64,
}

impl Counts {
    /// The observed rate, or `None` when it is undefined (no users, or more
    /// conversions than users).
    fn rate(self) -> Option<f64> {
        (self.exposed_users > 0 && self.conversions <= self.exposed_users)
            .then(|| self.conversions as f64 / self.exposed_users as f64)
    }
}

/// A conversion rate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    /// `conversions / exposed_users`.
    pub rate: f64,
    /// The Wilson score interval.
    pub interval: Interval,
}

/// The conversion rate with its Wilson score interval at `confidence_level`
/// (e.g. `0.95`).
///
/// Source: E. B. Wilson (1927), "Probable inference, the law of succession,
/// and statistical inference", JASA 22:209–212; method 3 of R. G. Newcombe
/// (1998), "Two-sided confidence intervals for the single proportion",
/// Statistics in Medicine 17:857–872:
/// `(x + z²/2 ± z √(x (n − x)/n + z²/4)) / (n + z²)`.
/// Unlike the textbook `p ± z √(p(1−p)/n)` it stays inside [0, 1] and is not
/// empty at 0 or n conversions.
///
/// `None` when there are no users, more conversions than users, or the level
/// is outside (0, 1).
pub fn conversion_rate(counts: Counts, confidence_level: f64) -> Option<Rate> {
    let rate = counts.rate()?;
    let z = normal_critical_value(confidence_level)?;
    let n = counts.exposed_users as f64;
    let x = counts.conversions as f64;
    let z2 = z * z;
    let centre = (x + z2 / 2.0) / (n + z2);
    let half_width = z * (x * (n - x) / n + z2 / 4.0).sqrt() / (n + z2);
    let interval = Interval::finite(
        (centre - half_width).max(0.0).min(rate),
        (centre + half_width).min(1.0).max(rate),
    )?;
    Some(Rate { rate, interval })
}

/// The relative lift of the variant's rate over the control's,
/// `rate_variant / rate_control − 1`, with its interval at `confidence_level`.
///
/// The interval is Katz's log interval for the risk ratio, minus one: D. Katz,
/// J. Baptista, S. P. Azen, M. C. Pike (1978), "Obtaining confidence intervals
/// for the risk ratio in cohort studies", Biometrics 34:469–474:
/// `ratio · exp(± z √(1/x₁ − 1/n₁ + 1/x₀ − 1/n₀))` (statsmodels'
/// `confint_proportions_2indep(compare="ratio", method="log")`). It never goes
/// below −100 % and is wider upwards, as a ratio's uncertainty is.
///
/// `None` when the control has no conversions (no rate to be relative to);
/// the interval alone is `None` when the variant has none (the log of zero).
pub fn conversion_lift(control: Counts, variant: Counts, confidence_level: f64) -> Option<Lift> {
    let control_rate = control.rate()?;
    let variant_rate = variant.rate()?;
    if control.conversions == 0 {
        return None;
    }
    let estimate = (variant_rate - control_rate) / control_rate;
    if !estimate.is_finite() {
        return None;
    }
    let interval = if variant.conversions == 0 {
        None
    } else {
        let z = normal_critical_value(confidence_level)?;
        let variance = 1.0 / variant.conversions as f64 - 1.0 / variant.exposed_users as f64
            + 1.0 / control.conversions as f64
            - 1.0 / control.exposed_users as f64;
        let half_width = z * variance.max(0.0).sqrt();
        // ln(ratio) = ln(1 + lift); exp(·) − 1 written with ln_1p/exp_m1 so
        // that a lift near zero keeps its digits.
        let log_ratio = estimate.ln_1p();
        Interval::finite(
            (log_ratio - half_width).exp_m1().min(estimate),
            (log_ratio + half_width).exp_m1().max(estimate),
        )
    };
    Some(Lift { estimate, interval })
}

/// The result of a two-proportion z-test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ZTest {
    /// The z statistic; positive when the variant converts better.
    pub z: f64,
    /// The two-sided p-value.
    pub p_value: f64,
}

/// The two-proportion z-test with pooled variance, two-sided.
///
/// Source: the standard large-sample test of H₀: p₀ = p₁, e.g. A. Agresti,
/// "Categorical Data Analysis" (3rd ed., 2013), §3.1.3 (it equals the
/// Pearson chi-square test of the 2×2 table); statsmodels'
/// `proportions_ztest`: `z = (p₁ − p₀) / √(p̂ (1 − p̂) (1/n₀ + 1/n₁))` with the
/// pooled rate `p̂ = (x₀ + x₁)/(n₀ + n₁)`, `p = 2 P(Z > |z|)`.
///
/// `None` when a group has no users or when nobody (or everybody) converted
/// in both groups, where the test has no variance to divide by.
pub fn two_proportion_z_test(control: Counts, variant: Counts) -> Option<ZTest> {
    let control_rate = control.rate()?;
    let variant_rate = variant.rate()?;
    let n0 = control.exposed_users as f64;
    let n1 = variant.exposed_users as f64;
    let pooled = (control.conversions as f64 + variant.conversions as f64) / (n0 + n1);
    let variance = pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1);
    if !is_positive(variance) {
        return None;
    }
    let z = (variant_rate - control_rate) / variance.sqrt();
    let p_value = probability((2.0 * distributions::normal_sf(z.abs())?).min(1.0))?;
    z.is_finite().then_some(ZTest { z, p_value })
}
