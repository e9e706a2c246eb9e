//! Whole experiments: every variant against the control on one metric, the
//! sample ratio check, and the plain verdict.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::{
    Allocation, Counts, Interval, Lift, NumericSummary, SampleRatio, StatsError, conversion_lift,
    conversion_rate, is_open_probability, is_positive, mean_estimate, mean_lift,
    sample_ratio_check, two_proportion_z_test, welch_t_test,
};

/// The knobs of the analysis. [`Settings::default`] is what the product uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Confidence level of every interval, and `1 − significance level` of
    /// the verdict: `0.95`.
    pub confidence_level: f64,
    /// The sample ratio check flags a mismatch below this p-value: `0.001`.
    pub srm_threshold: f64,
    /// A variant with fewer exposed users (numeric metrics: users counted)
    /// gives "not enough data": `100`.
    pub min_exposed_users: u64,
    /// A variant with fewer conversions gives "not enough data" on a
    /// conversion metric (the normal approximations behind the z-test and
    /// the lift interval need a few of them): `10`.
    pub min_conversions: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            confidence_level: 0.95,
            srm_threshold: 0.001,
            min_exposed_users: 100,
            min_conversions: 10,
        }
    }
}

impl Settings {
    fn check(&self) -> Result<(), StatsError> {
        if !is_open_probability(self.confidence_level) {
            return Err(StatsError::InvalidSetting("confidence_level"));
        }
        if !is_open_probability(self.srm_threshold) {
            return Err(StatsError::InvalidSetting("srm_threshold"));
        }
        Ok(())
    }
}

/// One variant's numbers on a conversion metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversionVariant {
    /// The variant's name (a key of the flag's variants).
    pub name: String,
    /// Its configured weight in the split.
    pub weight: f64,
    /// Users exposed to it.
    pub exposed_users: u64,
    /// Those who converted after their first exposure.
    pub conversions: u64,
}

impl ConversionVariant {
    fn counts(&self) -> Counts {
        Counts {
            exposed_users: self.exposed_users,
            conversions: self.conversions,
        }
    }
}

/// One variant's numbers on a numeric metric.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericVariant {
    /// The variant's name.
    pub name: String,
    /// Its configured weight in the split.
    pub weight: f64,
    /// Its values, one per exposed user (zero for users without a value).
    pub summary: NumericSummary,
}

/// Which way a variant differs from the control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher than control (more conversions, more revenue).
    Better,
    /// Lower than control.
    Worse,
}

/// A variant that differs significantly from the control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The variant's name.
    pub variant: String,
    /// Better or worse than control.
    pub direction: Direction,
    /// `1 − adjusted p`, rounded down to a whole percent and at most 99.
    pub confidence_percent: u8,
    /// The p-value multiplied by the number of variants compared with the
    /// control (Bonferroni), at most 1.
    pub adjusted_p_value: f64,
}

/// The plain verdict on an experiment's metric. Earlier kinds take
/// precedence: a sample ratio mismatch hides everything else.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// The users were not split as configured: the numbers are not to be
    /// trusted, whatever they say.
    SampleRatioMismatch {
        /// The p-value of the sample ratio check.
        p_value: f64,
    },
    /// Some variants are below the minimums of [`Settings`].
    NotEnoughData {
        /// The variants short of data.
        variants: Vec<String>,
    },
    /// At least one variant differs significantly from control.
    Significant {
        /// The variants that do, in the order given.
        findings: Vec<Finding>,
    },
    /// No variant differs significantly from control (yet).
    NoSignificantDifference,
}

/// The results of every variant on a conversion metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversionResult {
    /// The variant's name.
    pub name: String,
    /// Its configured weight.
    pub weight: f64,
    /// Users exposed to it.
    pub exposed_users: u64,
    /// Those who converted.
    pub conversions: u64,
    /// The conversion rate; `None` without users.
    pub rate: Option<f64>,
    /// Its Wilson interval.
    pub interval: Option<Interval>,
    /// The lift over control (`None` for the control itself).
    pub lift: Option<Lift>,
    /// The z statistic against control.
    pub z: Option<f64>,
    /// The two-sided p-value against control, not adjusted.
    pub p_value: Option<f64>,
}

/// A conversion metric's report, ready to be returned as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversionReport {
    /// The metric (the tracked event's name).
    pub metric: String,
    /// The control variant's name.
    pub control: String,
    /// The confidence level of the intervals.
    pub confidence_level: f64,
    /// One entry per variant, control included, in the order given.
    pub variants: Vec<ConversionResult>,
    /// The sample ratio check on the exposures.
    pub sample_ratio: SampleRatio,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict in one plain sentence.
    pub message: String,
}

/// The results of every variant on a numeric metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumericResult {
    /// The variant's name.
    pub name: String,
    /// Its configured weight.
    pub weight: f64,
    /// Users counted.
    pub n: u64,
    /// The mean per user.
    pub mean: Option<f64>,
    /// The standard deviation of the values.
    pub standard_deviation: Option<f64>,
    /// The t interval of the mean.
    pub interval: Option<Interval>,
    /// The lift of the mean over control (`None` for the control itself).
    pub lift: Option<Lift>,
    /// Welch's t statistic against control.
    pub t: Option<f64>,
    /// Welch–Satterthwaite degrees of freedom.
    pub degrees_of_freedom: Option<f64>,
    /// The two-sided p-value against control, not adjusted.
    pub p_value: Option<f64>,
}

/// A numeric metric's report, ready to be returned as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumericReport {
    /// The metric's name.
    pub metric: String,
    /// The control variant's name.
    pub control: String,
    /// The confidence level of the intervals.
    pub confidence_level: f64,
    /// One entry per variant, control included, in the order given.
    pub variants: Vec<NumericResult>,
    /// The sample ratio check on the users counted.
    pub sample_ratio: SampleRatio,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict in one plain sentence.
    pub message: String,
}

/// Analyses a conversion metric: rates, lifts and z-tests of every variant
/// against `control`, the sample ratio check and the verdict.
pub fn analyse_conversions(
    metric: &str,
    control: &str,
    variants: &[ConversionVariant],
    settings: &Settings,
) -> Result<ConversionReport, StatsError> {
    settings.check()?;
    let control_index = check_variants(
        control,
        variants.iter().map(|v| (v.name.as_str(), v.weight)),
    )?;
    for variant in variants {
        if variant.conversions > variant.exposed_users {
            return Err(StatsError::MoreConversionsThanUsers(variant.name.clone()));
        }
    }
    let control_counts = variants[control_index].counts();
    let level = settings.confidence_level;
    let results: Vec<ConversionResult> = variants
        .iter()
        .enumerate()
        .map(|(index, variant)| {
            let rate = conversion_rate(variant.counts(), level);
            let (lift, test) = if index == control_index {
                (None, None)
            } else {
                (
                    conversion_lift(control_counts, variant.counts(), level),
                    two_proportion_z_test(control_counts, variant.counts()),
                )
            };
            ConversionResult {
                name: variant.name.clone(),
                weight: variant.weight,
                exposed_users: variant.exposed_users,
                conversions: variant.conversions,
                rate: rate.map(|r| r.rate),
                interval: rate.map(|r| r.interval),
                lift,
                z: test.map(|t| t.z),
                p_value: test.map(|t| t.p_value),
            }
        })
        .collect();
    let sample_ratio = sample_ratio_check(
        &variants
            .iter()
            .map(|v| Allocation {
                weight: v.weight,
                exposed_users: v.exposed_users,
            })
            .collect::<Vec<_>>(),
        settings.srm_threshold,
    );
    let short = variants
        .iter()
        .filter(|v| {
            v.exposed_users < settings.min_exposed_users || v.conversions < settings.min_conversions
        })
        .map(|v| v.name.clone())
        .collect();
    let comparisons = results
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != control_index)
        .map(|(_, r)| (r.name.as_str(), r.z.unwrap_or(0.0), r.p_value))
        .collect::<Vec<_>>();
    let verdict = decide(&sample_ratio, short, &comparisons, level);
    let needs = format!(
        "at least {} exposed users and {} conversions",
        settings.min_exposed_users, settings.min_conversions
    );
    Ok(ConversionReport {
        message: message(&verdict, metric, &needs),
        metric: metric.to_owned(),
        control: control.to_owned(),
        confidence_level: level,
        variants: results,
        sample_ratio,
        verdict,
    })
}

/// Analyses a numeric metric: means, intervals, lifts and Welch's t-tests of
/// every variant against `control`, the sample ratio check (on the users
/// counted, which must be every exposed user) and the verdict.
pub fn analyse_numeric(
    metric: &str,
    control: &str,
    variants: &[NumericVariant],
    settings: &Settings,
) -> Result<NumericReport, StatsError> {
    settings.check()?;
    let control_index = check_variants(
        control,
        variants.iter().map(|v| (v.name.as_str(), v.weight)),
    )?;
    let control_summary = variants[control_index].summary;
    let level = settings.confidence_level;
    let results: Vec<NumericResult> = variants
        .iter()
        .enumerate()
        .map(|(index, variant)| {
            let estimate = mean_estimate(&variant.summary, level);
            let (lift, test) = if index == control_index {
                (None, None)
            } else {
                (
                    mean_lift(&control_summary, &variant.summary, level),
                    welch_t_test(&control_summary, &variant.summary),
                )
            };
            NumericResult {
                name: variant.name.clone(),
                weight: variant.weight,
                n: estimate.n,
                mean: estimate.mean,
                standard_deviation: estimate.standard_deviation,
                interval: estimate.interval,
                lift,
                t: test.map(|t| t.t),
                degrees_of_freedom: test.map(|t| t.degrees_of_freedom),
                p_value: test.map(|t| t.p_value),
            }
        })
        .collect();
    let sample_ratio = sample_ratio_check(
        &variants
            .iter()
            .map(|v| Allocation {
                weight: v.weight,
                exposed_users: v.summary.n(),
            })
            .collect::<Vec<_>>(),
        settings.srm_threshold,
    );
    let short = variants
        .iter()
        .filter(|v| v.summary.n() < settings.min_exposed_users)
        .map(|v| v.name.clone())
        .collect();
    let comparisons = results
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != control_index)
        .map(|(_, r)| (r.name.as_str(), r.t.unwrap_or(0.0), r.p_value))
        .collect::<Vec<_>>();
    let verdict = decide(&sample_ratio, short, &comparisons, level);
    let needs = format!("at least {} users", settings.min_exposed_users);
    Ok(NumericReport {
        message: message(&verdict, metric, &needs),
        metric: metric.to_owned(),
        control: control.to_owned(),
        confidence_level: level,
        variants: results,
        sample_ratio,
        verdict,
    })
}

/// Checks names and weights; returns the control's index.
fn check_variants<'a>(
    control: &str,
    variants: impl Iterator<Item = (&'a str, f64)>,
) -> Result<usize, StatsError> {
    let mut seen = HashSet::new();
    let mut control_index = None;
    let mut total_weight = 0.0;
    for (index, (name, weight)) in variants.enumerate() {
        if !seen.insert(name) {
            return Err(StatsError::DuplicateVariant(name.to_owned()));
        }
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(StatsError::InvalidWeight(name.to_owned()));
        }
        total_weight += weight;
        if name == control {
            control_index = Some(index);
        }
    }
    let control_index =
        control_index.ok_or_else(|| StatsError::UnknownControl(control.to_owned()))?;
    if seen.len() < 2 {
        return Err(StatsError::NothingToCompare);
    }
    if !is_positive(total_weight) {
        return Err(StatsError::ZeroTotalWeight);
    }
    Ok(control_index)
}

/// The verdict from the sample ratio check, the variants short of data and
/// each non-control variant's `(name, signed statistic, p-value)`.
///
/// Several variants compared with one control are several chances of a
/// false alarm, so each p-value is multiplied by their number before it is
/// compared with `1 − confidence_level` (Bonferroni; e.g. Kohavi et al. 2020,
/// ch. 17). With one variant nothing changes.
fn decide(
    sample_ratio: &SampleRatio,
    short: Vec<String>,
    comparisons: &[(&str, f64, Option<f64>)],
    confidence_level: f64,
) -> Verdict {
    if sample_ratio.mismatch {
        return Verdict::SampleRatioMismatch {
            p_value: sample_ratio.p_value.unwrap_or(0.0),
        };
    }
    if !short.is_empty() {
        return Verdict::NotEnoughData { variants: short };
    }
    let significance = 1.0 - confidence_level;
    let tests = comparisons.len() as f64;
    let findings: Vec<Finding> = comparisons
        .iter()
        .filter_map(|&(name, statistic, p_value)| {
            let adjusted = (p_value? * tests).min(1.0);
            (adjusted < significance && statistic != 0.0).then(|| Finding {
                variant: name.to_owned(),
                direction: if statistic > 0.0 {
                    Direction::Better
                } else {
                    Direction::Worse
                },
                confidence_percent: confidence_percent(adjusted),
                adjusted_p_value: adjusted,
            })
        })
        .collect();
    if findings.is_empty() {
        Verdict::NoSignificantDifference
    } else {
        Verdict::Significant { findings }
    }
}

/// `1 − p` as a whole percent, rounded down, at most 99: no experiment gives
/// certainty, and "100 %" would read as if it did. The `1e-9` keeps a p of
/// exactly 0.03 at 97 % despite binary rounding (0.97 · 100 = 96.99…).
fn confidence_percent(p_value: f64) -> u8 {
    let percent = ((1.0 - p_value) * 100.0 + 1e-9).floor();
    if percent >= 99.0 {
        99
    } else if percent > 0.0 {
        percent as u8
    } else {
        0
    }
}

/// The verdict as one sentence for people.
fn message(verdict: &Verdict, metric: &str, needs: &str) -> String {
    match verdict {
        Verdict::SampleRatioMismatch { .. } => {
            "sample ratio mismatch: do not trust these numbers".to_owned()
        }
        Verdict::NotEnoughData { variants } => format!(
            "not enough data: every variant needs {needs} (short: {})",
            variants.join(", ")
        ),
        Verdict::NoSignificantDifference => "no significant difference yet".to_owned(),
        Verdict::Significant { findings } => {
            let mut sentence = String::new();
            for (index, finding) in findings.iter().enumerate() {
                if index > 0 {
                    sentence.push_str("; ");
                }
                let comparison = match finding.direction {
                    Direction::Better => "beats",
                    Direction::Worse => "is worse than",
                };
                // Writing to a String cannot fail.
                let _ = write!(
                    sentence,
                    "{} {comparison} control on {metric} with {} % confidence",
                    finding.variant, finding.confidence_percent
                );
            }
            sentence
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_is_rounded_down_and_capped() {
        assert_eq!(confidence_percent(0.03), 97);
        assert_eq!(confidence_percent(0.0301), 96);
        assert_eq!(confidence_percent(0.049_999), 95);
        assert_eq!(confidence_percent(0.0), 99);
        assert_eq!(confidence_percent(1e-30), 99);
        assert_eq!(confidence_percent(1.0), 0);
    }
}
