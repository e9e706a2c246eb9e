//! Sample ratio mismatch: were users split the way the flag says?

use serde::Serialize;

use crate::{distributions, is_positive, probability};

/// A variant's configured weight and the users actually exposed to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allocation {
    /// The configured weight (any scale: percentages or fractions).
    pub weight: f64,
    /// Users exposed to the variant.
    pub exposed_users: u64,
}

/// The outcome of the sample ratio check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SampleRatio {
    /// Pearson's chi-square statistic; `None` when not computable (no
    /// exposures, a single variant, or exposures of a variant weighted zero,
    /// which is a certain mismatch).
    pub chi_square: Option<f64>,
    /// The number of variants with a positive weight, minus one.
    pub degrees_of_freedom: u64,
    /// The p-value of the test; `0` when a variant weighted zero was served.
    pub p_value: Option<f64>,
    /// Whether `p_value` is below the threshold: the split is broken and the
    /// experiment's numbers cannot be trusted.
    pub mismatch: bool,
}

/// Pearson's chi-square goodness-of-fit test of the exposures against the
/// weights: `χ² = Σ (oᵢ − eᵢ)² / eᵢ` with `eᵢ = N wᵢ / Σw`, `k − 1` degrees of
/// freedom, `p = P(χ²ₖ₋₁ > χ²)` (K. Pearson 1900; scipy's `chisquare`). The
/// use for experiments: R. Kohavi et al. (2020), "Trustworthy Online
/// Controlled Experiments", ch. 21; Fabijan et al. (2019), "Diagnosing
/// Sample Ratio Mismatch in Online Controlled Experiments", KDD '19.
///
/// A mismatch is flagged when `p < threshold` (0.001 is usual: the test runs
/// on every look at the results, so a strict threshold keeps false alarms
/// rare). Weights that are negative, not finite or all zero give a result
/// with nothing computed (the experiment functions reject them first).
pub fn sample_ratio_check(allocations: &[Allocation], threshold: f64) -> SampleRatio {
    let weighted = allocations.iter().filter(|a| a.weight > 0.0);
    let degrees_of_freedom = (weighted.clone().count() as u64).saturating_sub(1);
    let nothing = SampleRatio {
        chi_square: None,
        degrees_of_freedom,
        p_value: None,
        mismatch: false,
    };
    let valid_weights = allocations
        .iter()
        .all(|a| a.weight.is_finite() && a.weight >= 0.0);
    let total_weight: f64 = weighted.clone().map(|a| a.weight).sum();
    let total_users: f64 = allocations.iter().map(|a| a.exposed_users as f64).sum();
    if !valid_weights || !is_positive(total_weight) || total_users == 0.0 {
        return nothing;
    }
    if allocations
        .iter()
        .any(|a| a.weight == 0.0 && a.exposed_users > 0)
    {
        return SampleRatio {
            p_value: Some(0.0),
            mismatch: true,
            ..nothing
        };
    }
    if degrees_of_freedom == 0 {
        return nothing;
    }
    let chi_square: f64 = weighted
        .map(|a| {
            let expected = total_users * (a.weight / total_weight);
            let difference = a.exposed_users as f64 - expected;
            difference * difference / expected
        })
        .sum();
    if !chi_square.is_finite() {
        return nothing;
    }
    let p_value =
        distributions::chi_square_sf(chi_square, degrees_of_freedom as f64).and_then(probability);
    SampleRatio {
        chi_square: Some(chi_square),
        degrees_of_freedom,
        p_value,
        mismatch: p_value.is_some_and(|p| p < threshold),
    }
}
