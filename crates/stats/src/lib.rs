#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! - `conversion.rs`: rates with Wilson intervals, the lift of a variant's
//!   rate (Katz log interval) and the pooled two-proportion z-test.
//! - `numeric.rs`: means from sufficient statistics, their t intervals,
//!   Welch's t-test and the lift of a mean (delta method).
//! - `sample_ratio.rs`: the chi-square goodness-of-fit test of exposures
//!   against the configured weights.
//! - `experiment.rs`: whole reports per metric and the plain verdict.
//! - [`distributions`]: normal, Student's t and chi-square distributions,
//!   over the special functions of `special.rs` (private).
//! - `error.rs`: [`StatsError`], for input that describes no experiment.

// Requests, documents and contexts reach this crate's arithmetic: it must
// neither panic nor wrap unnoticed. Where an invariant keeps an operation in
// range, the function says which (`#[expect(..., reason = ...)]`).
#![cfg_attr(not(test), deny(clippy::panic, clippy::arithmetic_side_effects))]

mod conversion;
pub mod distributions;
mod error;
mod experiment;
mod numeric;
mod sample_ratio;
mod special;

pub use conversion::{
    Counts, Rate, ZTest, conversion_lift, conversion_rate, two_proportion_z_test,
};
pub use error::StatsError;
pub use experiment::{
    ConversionReport, ConversionResult, ConversionVariant, Direction, Finding, NumericReport,
    NumericResult, NumericVariant, Settings, Verdict, analyse_conversions, analyse_numeric,
};
pub use numeric::{
    MeanEstimate, NumericSummary, WelchTest, mean_estimate, mean_lift, welch_t_test,
};
pub use sample_ratio::{Allocation, SampleRatio, sample_ratio_check};

use serde::Serialize;

/// A confidence interval `[low, high]`; both ends are finite and
/// `low ≤ high`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The lower end.
    pub low: f64,
    /// The upper end.
    pub high: f64,
}

impl Interval {
    /// `estimate ± half_width`, or `None` if either end is not finite.
    fn around(estimate: f64, half_width: f64) -> Option<Self> {
        Self::finite(estimate - half_width, estimate + half_width)
    }

    /// `[low, high]` when both are finite (and put in order).
    fn finite(low: f64, high: f64) -> Option<Self> {
        (low.is_finite() && high.is_finite()).then(|| Self {
            low: low.min(high),
            high: low.max(high),
        })
    }

    /// Whether `value` lies in the interval (ends included).
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// A relative lift, `variant / control − 1`, with its confidence interval
/// when one can be computed. `0.12` means 12 % better than control.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Lift {
    /// The point estimate.
    pub estimate: f64,
    /// The interval at the chosen confidence level; `None` when the method
    /// has no answer (e.g. a variant with no conversions at all).
    pub interval: Option<Interval>,
}

/// The two-sided normal critical value `z` with `P(|Z| ≤ z) = level`
/// (1.959964… for 0.95), or `None` for a level outside (0, 1).
fn normal_critical_value(level: f64) -> Option<f64> {
    if !is_open_probability(level) {
        return None;
    }
    distributions::normal_quantile((1.0 - level) / 2.0).map(|z| -z)
}

/// The two-sided Student t critical value for `df` degrees of freedom.
fn t_critical_value(level: f64, df: f64) -> Option<f64> {
    if !is_open_probability(level) {
        return None;
    }
    distributions::student_t_quantile((1.0 - level) / 2.0, df).map(|t| -t)
}

/// Whether `value` is a finite number above zero (false for NaN).
fn is_positive(value: f64) -> bool {
    value > 0.0 && value.is_finite()
}

/// Whether `value` lies strictly between 0 and 1 (false for NaN).
fn is_open_probability(value: f64) -> bool {
    value > 0.0 && value < 1.0
}

/// Keeps a computed p-value only if it is a probability.
fn probability(p: f64) -> Option<f64> {
    (0.0..=1.0).contains(&p).then_some(p)
}
