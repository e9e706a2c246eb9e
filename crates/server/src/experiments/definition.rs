//! The experiment document, and how a request to create one is checked
//! against its flag.

use ff_api_types::CreateExperimentRequest;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::live::LiveConfig;

/// An experiment as stored (the document of `ff_store::ExperimentRecord`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Its id.
    pub id: String,
    /// What it tests, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The flag whose weighted split assigns the variants.
    pub flag_id: String,
    /// Where it runs.
    pub environment: String,
    /// The variant the others are compared with.
    pub control: String,
    /// The split's variants and weights when the experiment started.
    pub variants: Vec<VariantWeight>,
    /// The primary metric first, then secondary ones.
    pub metrics: Vec<Metric>,
    /// `running` or `stopped`.
    pub status: Status,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: time::OffsetDateTime,
    /// When it stopped.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub stopped_at: Option<time::OffsetDateTime>,
}

/// A variant and its weight in the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantWeight {
    /// The variant.
    pub variant: String,
    /// Its weight.
    pub weight: f64,
}

/// What an experiment measures: a tracked event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// The event's name (`checkout_completed`).
    pub event: String,
    /// `conversion` (did it happen) or `numeric` (the sum of its values).
    pub kind: MetricKind,
}

/// How a metric is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// The share of exposed users with the event.
    Conversion,
    /// The per-user total of the event's values (revenue …).
    Numeric,
}

/// Whether exposures are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Exposures are recorded.
    Running,
    /// No more exposures; the results stay.
    Stopped,
}

/// Checks a request against the live configuration and makes the
/// experiment: the flag must exist and have a weighted split (a rule with
/// `variants`) in the environment, the control must be one of its
/// variants, and there must be a primary metric.
pub fn define(
    request: CreateExperimentRequest,
    live: &LiveConfig,
    now: time::OffsetDateTime,
) -> Result<Experiment, ApiError> {
    if !ff_engine::is_valid_key(&request.id) {
        return Err(ApiError::unprocessable(
            "invalid_id",
            "id: lower case letters, digits, `_`, `.` and `-`, starting with a letter",
        ));
    }
    if !live.environments.contains_key(&request.environment) {
        return Err(ApiError::not_found("environment", &request.environment));
    }
    let flag = live
        .flags
        .get(&request.flag_id)
        .ok_or_else(|| ApiError::not_found("flag", &request.flag_id))?;
    let tree = live.environment_tree();
    let variants = split_of(&flag.flag, &request.environment, &tree).ok_or_else(|| {
        refused(format!(
            "flag_id: \"{}\" has no weighted split (a rule with variants) in {}; add one first",
            request.flag_id, request.environment
        ))
    })?;
    if !variants.iter().any(|v| v.variant == request.control) {
        let names: Vec<&str> = variants.iter().map(|v| v.variant.as_str()).collect();
        return Err(refused(format!(
            "control: \"{}\" is not a variant of the split ({})",
            request.control,
            names.join(", ")
        )));
    }
    let mut metrics = Vec::with_capacity(request.secondary_metrics.len().saturating_add(1));
    for (i, metric) in std::iter::once(&request.primary_metric)
        .chain(&request.secondary_metrics)
        .enumerate()
    {
        let kind = match metric.kind.as_str() {
            "conversion" => MetricKind::Conversion,
            "numeric" => MetricKind::Numeric,
            other => {
                let place = if i == 0 {
                    "primary_metric".to_owned()
                } else {
                    format!("secondary_metrics[{}]", i.saturating_sub(1))
                };
                return Err(ApiError::unprocessable(
                    "invalid_metric",
                    format!("{place}.kind: \"{other}\" is neither conversion nor numeric"),
                ));
            }
        };
        if metric.event.trim().is_empty() || metric.event.len() > 128 {
            return Err(ApiError::unprocessable(
                "invalid_metric",
                "metric event: give a name of 1 to 128 characters",
            ));
        }
        metrics.push(Metric {
            event: metric.event.clone(),
            kind,
        });
    }
    Ok(Experiment {
        id: request.id,
        description: request.description,
        flag_id: request.flag_id,
        environment: request.environment,
        control: request.control,
        variants,
        metrics,
        status: Status::Running,
        started_at: now,
        stopped_at: None,
    })
}

/// The variants and weights of the first weighted split of `flag` in
/// effect in `env` (inheritance included).
fn split_of(
    flag: &ff_engine::Flag,
    env: &str,
    tree: &[ff_engine::Environment],
) -> Option<Vec<VariantWeight>> {
    let rules = ff_engine::edit::in_effect(flag, env, tree).rules;
    rules.iter().find_map(|rule| match &rule.serve {
        ff_engine::Serve::Split(shares) => Some(
            shares
                .iter()
                .map(|share| VariantWeight {
                    variant: share.variant.clone(),
                    weight: share.weight,
                })
                .collect(),
        ),
        _ => None,
    })
}

fn refused(message: String) -> ApiError {
    ApiError::Refused {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_experiment",
        message,
        details: serde_json::Value::Null,
    }
}
