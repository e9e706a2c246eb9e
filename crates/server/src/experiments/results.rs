//! An experiment's results: per metric, the store's per-variant tallies
//! analysed by `ff_stats` (Wilson intervals, lift, z-test or Welch's t-test,
//! the sample ratio check and a plain verdict).

use ff_stats::{ConversionVariant, NumericSummary, NumericVariant, Settings};
use ff_store::VariantTally;
use serde_json::{Value, json};

use super::definition::{Experiment, Metric, MetricKind};
use crate::error::ApiError;

/// The report of one metric, from the tallies of its event.
pub fn report(
    experiment: &Experiment,
    metric: &Metric,
    tallies: &[VariantTally],
) -> Result<Value, ApiError> {
    let settings = Settings::default();
    let tally_of = |variant: &str| tallies.iter().find(|t| t.variant == variant);
    let failed =
        |e: ff_stats::StatsError| ApiError::Internal(format!("experiment statistics: {e}"));
    let report = match metric.kind {
        MetricKind::Conversion => {
            let variants: Vec<ConversionVariant> = experiment
                .variants
                .iter()
                .map(|v| {
                    let tally = tally_of(&v.variant);
                    ConversionVariant {
                        name: v.variant.clone(),
                        weight: v.weight,
                        exposed_users: tally.map_or(0, |t| t.exposed),
                        conversions: tally.map_or(0, |t| t.converted),
                    }
                })
                .collect();
            serde_json::to_value(
                ff_stats::analyse_conversions(
                    &metric.event,
                    &experiment.control,
                    &variants,
                    &settings,
                )
                .map_err(failed)?,
            )
        }
        MetricKind::Numeric => {
            let mut variants = Vec::with_capacity(experiment.variants.len());
            for v in &experiment.variants {
                let tally = tally_of(&v.variant);
                let summary = NumericSummary::from_sums(
                    tally.map_or(0, |t| t.exposed),
                    tally.map_or(0.0, |t| t.sum),
                    tally.map_or(0.0, |t| t.sum_of_squares),
                )
                .map_err(failed)?;
                variants.push(NumericVariant {
                    name: v.variant.clone(),
                    weight: v.weight,
                    summary,
                });
            }
            serde_json::to_value(
                ff_stats::analyse_numeric(&metric.event, &experiment.control, &variants, &settings)
                    .map_err(failed)?,
            )
        }
    };
    let mut report = report.map_err(|e| ApiError::Internal(e.to_string()))?;
    report["kind"] = json!(metric.kind);
    Ok(report)
}
