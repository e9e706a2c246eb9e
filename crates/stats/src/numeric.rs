//! Numeric metrics: a value per user (revenue, items bought, seconds spent).

use serde::Serialize;

use crate::{
    Interval, Lift, StatsError, distributions, is_positive, normal_critical_value, probability,
    t_critical_value,
};

/// What the tests need to know about one variant's values: their count,
/// mean and sum of squared deviations from the mean.
///
/// Build it from what a database aggregate returns ([`from_sums`]) or from
/// the values themselves ([`from_values`]). Users who never produced a value
/// must be counted as zeros: the mean is per exposed user.
///
/// [`from_sums`]: NumericSummary::from_sums
/// [`from_values`]: NumericSummary::from_values
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumericSummary {
    n: u64,
    mean: f64,
    /// Σ (xᵢ − mean)², never negative.
    squared_deviations: f64,
}

impl NumericSummary {
    /// From `n`, `Σ x` and `Σ x²` (`COUNT(*)`, `SUM(v)`, `SUM(v * v)`).
    ///
    /// `Σ (x − mean)² = Σ x² − (Σ x) · mean` loses digits when the values
    /// vary little around a large mean (about `log10(mean² / variance)` of
    /// the 16); for revenue-like data that is harmless, and a slightly
    /// negative result from rounding is taken as zero. Prefer
    /// [`from_values`](Self::from_values) when the values are at hand.
    pub fn from_sums(n: u64, sum: f64, sum_of_squares: f64) -> Result<Self, StatsError> {
        if !(sum.is_finite() && sum_of_squares.is_finite()) {
            return Err(StatsError::NonFiniteValue);
        }
        if n == 0 {
            return Ok(Self {
                n,
                mean: 0.0,
                squared_deviations: 0.0,
            });
        }
        let mean = sum / n as f64;
        let squared_deviations = (sum_of_squares - sum * mean).max(0.0);
        if !squared_deviations.is_finite() {
            return Err(StatsError::NonFiniteValue);
        }
        Ok(Self {
            n,
            mean,
            squared_deviations,
        })
    }

    /// From the values themselves, in two passes (mean, then squared
    /// deviations from it), which keeps full precision.
    pub fn from_values(values: &[f64]) -> Result<Self, StatsError> {
        if values.is_empty() {
            return Ok(Self {
                n: 0,
                mean: 0.0,
                squared_deviations: 0.0,
            });
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let squared_deviations = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>();
        if !(mean.is_finite() && squared_deviations.is_finite()) {
            return Err(StatsError::NonFiniteValue);
        }
        Ok(Self {
            n: values.len() as u64,
            mean,
            squared_deviations,
        })
    }

    /// The number of users.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The mean, `None` without users.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// The sample variance (divisor `n − 1`), `None` below two users.
    pub fn variance(&self) -> Option<f64> {
        (self.n >= 2).then(|| self.squared_deviations / self.n.saturating_sub(1) as f64)
    }

    /// `variance / n`: the squared standard error of the mean.
    fn squared_standard_error(&self) -> Option<f64> {
        Some(self.variance()? / self.n as f64)
    }
}

/// A variant's mean with its spread and confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanEstimate {
    /// The number of users.
    pub n: u64,
    /// The mean per user; `None` without users.
    pub mean: Option<f64>,
    /// The sample standard deviation; `None` below two users.
    pub standard_deviation: Option<f64>,
    /// The t interval of the mean; `None` below two users.
    pub interval: Option<Interval>,
}

/// The mean, standard deviation and t interval of the mean,
/// `mean ± t(1 − α/2, n − 1) · s / √n` (Student 1908; e.g. NIST/SEMATECH
/// e-Handbook of Statistical Methods §7.2.2.1; scipy's `t.interval`).
pub fn mean_estimate(summary: &NumericSummary, confidence_level: f64) -> MeanEstimate {
    let mean = summary.mean();
    let standard_deviation = summary.variance().map(f64::sqrt);
    let interval = (|| {
        let df = (summary.n.checked_sub(1)?) as f64;
        let t = t_critical_value(confidence_level, df)?;
        Interval::around(mean?, t * summary.squared_standard_error()?.sqrt())
    })();
    MeanEstimate {
        n: summary.n,
        mean,
        standard_deviation,
        interval,
    }
}

/// The result of Welch's t-test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WelchTest {
    /// The t statistic; positive when the variant's mean is higher.
    pub t: f64,
    /// The Welch–Satterthwaite degrees of freedom (fractional).
    pub degrees_of_freedom: f64,
    /// The two-sided p-value.
    pub p_value: f64,
}

/// Welch's unequal-variances t-test of the variant's mean against the
/// control's, two-sided.
///
/// Source: B. L. Welch (1947), "The generalization of 'Student's' problem
/// when several different population variances are involved", Biometrika
/// 34:28–35, with F. E. Satterthwaite's (1946) degrees of freedom:
/// `t = (m₁ − m₀) / √(s₁²/n₁ + s₀²/n₀)`,
/// `ν = (s₁²/n₁ + s₀²/n₀)² / ((s₁²/n₁)²/(n₁ − 1) + (s₀²/n₀)²/(n₀ − 1))`,
/// `p = 2 P(T_ν > |t|)` (scipy's `ttest_ind(equal_var=False)`).
///
/// `None` below two users in a group, or when both groups have zero variance
/// (every user the same value), where t is undefined.
pub fn welch_t_test(control: &NumericSummary, variant: &NumericSummary) -> Option<WelchTest> {
    let control_part = control.squared_standard_error()?;
    let variant_part = variant.squared_standard_error()?;
    let squared_error = control_part + variant_part;
    if !is_positive(squared_error) {
        return None;
    }
    let t = (variant.mean - control.mean) / squared_error.sqrt();
    // Divided through by the squared error first, so that tiny variances do
    // not underflow when squared.
    let control_share = control_part / squared_error;
    let variant_share = variant_part / squared_error;
    let degrees_of_freedom = 1.0
        / (control_share * control_share / control.n.saturating_sub(1) as f64
            + variant_share * variant_share / variant.n.saturating_sub(1) as f64);
    if !(t.is_finite() && degrees_of_freedom.is_finite()) {
        return None;
    }
    let p_value =
        probability((2.0 * distributions::student_t_sf(t.abs(), degrees_of_freedom)?).min(1.0))?;
    Some(WelchTest {
        t,
        degrees_of_freedom,
        p_value,
    })
}

/// The relative lift of the variant's mean over the control's,
/// `m₁ / m₀ − 1`, with a normal interval from the delta method:
/// `Var(m₁/m₀) ≈ (1/m₀²) (s₁²/n₁ + (m₁/m₀)² s₀²/n₀)`.
///
/// Source: A. Deng, U. Knoblich, J. Lu (2018), "Applying the Delta Method in
/// Metric Analytics: A Practical Guide with Novel Ideas", KDD '18, §3.3
/// (percent change); R. Kohavi, D. Tang, Y. Xu, "Trustworthy Online
/// Controlled Experiments" (2020), ch. 18.
///
/// `None` when the control's mean is zero or a group has fewer than two users.
pub fn mean_lift(
    control: &NumericSummary,
    variant: &NumericSummary,
    confidence_level: f64,
) -> Option<Lift> {
    let control_error = control.squared_standard_error()?;
    let variant_error = variant.squared_standard_error()?;
    if control.mean == 0.0 {
        return None;
    }
    let estimate = (variant.mean - control.mean) / control.mean;
    let ratio = variant.mean / control.mean;
    let variance = (variant_error + ratio * ratio * control_error) / (control.mean * control.mean);
    if !(estimate.is_finite() && variance.is_finite()) {
        return None;
    }
    let interval = normal_critical_value(confidence_level)
        .and_then(|z| Interval::around(estimate, z * variance.sqrt()));
    Some(Lift { estimate, interval })
}
