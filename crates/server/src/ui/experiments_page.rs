//! `/experiments`: A/B experiments. The list (with each one's exposures), a
//! form that starts one, and `/experiments/{id}`: per metric and variant
//! the exposures, conversions (or mean), rate with its interval, lift
//! against control and p-value, the sample ratio check and the verdict,
//! as `GET /api/v1/experiments/{id}/results` computes them (`ff_stats`).
//! Starting and stopping go through the API's own handlers
//! (`POST /api/v1/experiments`, `…/{id}/stop`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::{Form, extract};
use ff_api_types::{CreateExperimentRequest, MetricRequest};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::routes::experiments;
use crate::routes::overview::environments_in_tree_order;
use crate::state::AppState;
use crate::ui::actions::{CommonFields, Retry, api_message, check_csrf, confirm, write_headers};
use crate::ui::dashboard::Choice;
use crate::ui::shell::{
    PageResult, Shell, format_time, percent_encode, redirect_with_flash, render, viewer,
};

/// The form's fields, also read from the query string to fill the form in
/// again after a refusal.
#[derive(Debug, Default, Deserialize)]
pub struct ExperimentForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    flag_id: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    control: String,
    /// The primary metric's event.
    #[serde(default)]
    event: String,
    /// `conversion` or `numeric`.
    #[serde(default)]
    kind: String,
    /// An optional secondary metric.
    #[serde(default)]
    secondary_event: String,
    #[serde(default)]
    secondary_kind: String,
}

#[derive(Template)]
#[template(path = "experiments.html")]
struct ExperimentsPage {
    shell: Shell,
    rows: Vec<ListRow>,
    form: ExperimentForm,
    flags: Vec<FlagChoice>,
    environments: Vec<Choice>,
    variant_names: Vec<String>,
}

/// A flag an experiment can run on (it has variants).
struct FlagChoice {
    id: String,
    variants: String,
    selected: bool,
}

struct ListRow {
    id: String,
    description: String,
    flag_id: String,
    environment: String,
    running: bool,
    variants: String,
    control: String,
    started: String,
    exposures: u64,
}

/// `GET /experiments`.
pub async fn show_experiments(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    Query(form): Query<ExperimentForm>,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let shell = Shell::new(
        &state,
        &live,
        &principal,
        "Experiments",
        "experiments",
        &uri,
    )
    .await;
    let listed = experiments::list_experiments(State(state.clone()), principal.clone())
        .await?
        .0;
    // This node's exposures first, as the results do.
    crate::flush_evaluation_counts(&state).await;
    let mut rows = Vec::new();
    for item in listed["items"].as_array().into_iter().flatten() {
        let id = text(&item["id"]);
        let primary = text(&item["metrics"][0]["event"]);
        let exposures = state
            .store
            .variant_tallies(&id, &primary)
            .await
            .map_err(ApiError::from)?
            .iter()
            .map(|t| t.exposed)
            .sum();
        rows.push(ListRow {
            description: text(&item["description"]),
            flag_id: text(&item["flag_id"]),
            environment: text(&item["environment"]),
            running: item["status"] == "running",
            variants: variants_text(&item["variants"]),
            control: text(&item["control"]),
            started: time_text(&item["started_at"]),
            exposures,
            id,
        });
    }
    // Running first, newest first.
    rows.sort_by(|a, b| b.running.cmp(&a.running).then(b.started.cmp(&a.started)));
    let mut flags: Vec<FlagChoice> = live
        .flags
        .values()
        .filter(|f| !f.flag.variants.is_empty())
        .map(|f| FlagChoice {
            id: f.flag.flag_id.clone(),
            variants: f
                .flag
                .variants
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            selected: f.flag.flag_id == form.flag_id,
        })
        .collect();
    flags.sort_by(|a, b| a.id.cmp(&b.id));
    let mut variant_names: Vec<String> = live
        .flags
        .values()
        .flat_map(|f| f.flag.variants.keys().cloned())
        .collect();
    variant_names.sort();
    variant_names.dedup();
    let environments: Vec<String> = environments_in_tree_order(&live)
        .into_iter()
        .map(|e| e.key)
        .collect();
    let chosen = if form.environment.is_empty() {
        "production"
    } else {
        form.environment.as_str()
    };
    render(&ExperimentsPage {
        environments: Choice::list(environments.iter().map(String::as_str), chosen),
        shell,
        rows,
        flags,
        variant_names,
        form,
    })
}

/// `POST /experiments`: starts one, as `POST /api/v1/experiments` does.
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(flatten)]
    fields: ExperimentForm,
    #[serde(flatten)]
    common: CommonFields,
}

/// `POST /experiments`.
pub async fn create_experiment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &form.common)?;
    let f = &form.fields;
    let metric = |event: &str, kind: &str| MetricRequest {
        event: event.trim().to_owned(),
        kind: if kind.is_empty() {
            "conversion".to_owned()
        } else {
            kind.to_owned()
        },
    };
    let request = CreateExperimentRequest {
        id: f.id.trim().to_owned(),
        description: Some(f.description.trim().to_owned()).filter(|d| !d.is_empty()),
        flag_id: f.flag_id.clone(),
        environment: f.environment.clone(),
        control: f.control.trim().to_owned(),
        primary_metric: metric(&f.event, &f.kind),
        secondary_metrics: if f.secondary_event.trim().is_empty() {
            Vec::new()
        } else {
            vec![metric(&f.secondary_event, &f.secondary_kind)]
        },
    };
    let id = request.id.clone();
    let result = experiments::create_experiment(
        State(state.clone()),
        principal,
        write_headers(&headers, &form.common, None),
        JsonBody(request),
    )
    .await;
    Ok(match result {
        Ok(_) => redirect_with_flash(
            &format!("/experiments/{id}"),
            "ok",
            &format!("Experiment {id} is running: exposures are recorded from now on."),
        ),
        Err(error) => {
            // Back to the form, filled in as it was.
            let fill = [
                ("id", &f.id),
                ("description", &f.description),
                ("flag_id", &f.flag_id),
                ("environment", &f.environment),
                ("control", &f.control),
                ("event", &f.event),
                ("kind", &f.kind),
                ("secondary_event", &f.secondary_event),
                ("secondary_kind", &f.secondary_kind),
            ]
            .iter()
            .map(|(name, value)| format!("{name}={}", percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
            redirect_with_flash(
                &format!("/experiments?{fill}"),
                "error",
                &api_message(error).await,
            )
        }
    })
}

#[derive(Template)]
#[template(path = "experiment.html")]
struct ExperimentPage {
    shell: Shell,
    id: String,
    description: String,
    flag_id: String,
    environment: String,
    running: bool,
    started: String,
    stopped: Option<String>,
    control: String,
    variants: String,
    verdict: String,
    /// `significant`, `not_enough_data`, `sample_ratio_mismatch` or
    /// `no_significant_difference`.
    verdict_kind: String,
    metrics: Vec<MetricView>,
}

struct MetricView {
    event: String,
    numeric: bool,
    primary: bool,
    message: String,
    confidence: String,
    rows: Vec<VariantRow>,
    sample_ratio: String,
    mismatch: bool,
}

struct VariantRow {
    name: String,
    control: bool,
    weight: String,
    users: u64,
    /// Conversions (conversion metrics).
    conversions: String,
    /// The rate (conversions) or mean (numeric).
    estimate: String,
    interval: String,
    lift: String,
    p_value: String,
}

/// `GET /experiments/{id}`.
pub async fn show_experiment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    extract::Path(id): extract::Path<String>,
) -> PageResult {
    let principal = viewer(principal)?;
    let results = experiments::get_experiment_results(
        State(state.clone()),
        principal.clone(),
        Path(id.clone()),
    )
    .await?
    .0;
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, id.clone(), "experiments", &uri).await;
    let experiment = &results["experiment"];
    let metrics: Vec<MetricView> = results["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| metric_view(m, i == 0))
        .collect();
    let verdict_kind = text(&results["metrics"][0]["verdict"]["kind"]);
    render(&ExperimentPage {
        shell,
        description: text(&experiment["description"]),
        flag_id: text(&experiment["flag_id"]),
        environment: text(&experiment["environment"]),
        running: experiment["status"] == "running",
        started: time_text(&experiment["started_at"]),
        stopped: experiment["stopped_at"]
            .as_str()
            .map(|_| time_text(&experiment["stopped_at"])),
        control: text(&experiment["control"]),
        variants: variants_text(&experiment["variants"]),
        verdict: sentence(&text(&results["verdict"])),
        verdict_kind,
        metrics,
        id,
    })
}

fn metric_view(m: &Value, primary: bool) -> MetricView {
    let numeric = m["kind"] == "numeric";
    let control = text(&m["control"]);
    let rows = m["variants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let name = text(&v["name"]);
            let (users, estimate) = if numeric {
                (v["n"].as_u64().unwrap_or(0), number(&v["mean"]))
            } else {
                (v["exposed_users"].as_u64().unwrap_or(0), rate(&v["rate"]))
            };
            let interval = if numeric {
                range_of(&v["interval"], |x| number(&Value::from(x)))
            } else {
                range_of(&v["interval"], |x| rate(&Value::from(x)))
            };
            VariantRow {
                control: name == control,
                weight: weight_text(&v["weight"]),
                users,
                conversions: v["conversions"]
                    .as_u64()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                estimate,
                interval,
                lift: if name == control {
                    "control".to_owned()
                } else {
                    lift_text(&v["lift"])
                },
                p_value: if name == control {
                    "—".to_owned()
                } else {
                    p_text(&v["p_value"])
                },
                name,
            }
        })
        .collect();
    let srm = &m["sample_ratio"];
    let mismatch = srm["mismatch"].as_bool().unwrap_or(false);
    let sample_ratio = match srm["p_value"].as_f64() {
        _ if mismatch => format!(
            "Sample ratio mismatch (p = {}): users were not split as configured; do not trust these numbers.",
            p_text(&srm["p_value"])
        ),
        Some(p) => format!(
            "Sample ratio check: p = {}, the users are split as configured.",
            p_text(&Value::from(p))
        ),
        None => "Sample ratio check: not enough exposures to check the split yet.".to_owned(),
    };
    let confidence = m["confidence_level"]
        .as_f64()
        .map(|c| format!("{:.0} %", c * 100.0))
        .unwrap_or_else(|| "95 %".to_owned());
    MetricView {
        event: text(&m["metric"]),
        numeric,
        primary,
        message: sentence(&text(&m["message"])),
        confidence,
        rows,
        sample_ratio,
        mismatch,
    }
}

/// `POST /experiments/{id}/stop`: as `POST /api/v1/experiments/{id}/stop`,
/// after a confirmation.
pub async fn stop_experiment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(id): extract::Path<String>,
    Form(common): Form<CommonFields>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &common)?;
    let back = format!("/experiments/{id}");
    if common.confirmed != "yes" {
        let retry = Retry {
            heading: format!("Stop experiment {id}?"),
            action_url: format!("/experiments/{id}/stop"),
            hidden: Vec::new(),
            button: "Stop the experiment".to_owned(),
            danger: true,
        };
        let note = "No more exposures are recorded once it stops; the results stay. \
                    A stopped experiment cannot be started again.";
        return confirm(&state, &principal, &common, &back, &retry, note).await;
    }
    let result = experiments::stop_experiment(
        State(state.clone()),
        principal,
        write_headers(&headers, &common, None),
        Path(id.clone()),
    )
    .await;
    Ok(match result {
        Ok(_) => redirect_with_flash(
            &back,
            "ok",
            &format!("Experiment {id} is stopped; its results stay."),
        ),
        Err(error) => redirect_with_flash(&back, "error", &api_message(error).await),
    })
}

/// A JSON string (or number) as text; empty for anything else.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn time_text(value: &Value) -> String {
    value
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(format_time)
        .unwrap_or_default()
}

/// `blue 50 / green 50`.
fn variants_text(variants: &Value) -> String {
    variants
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| format!("{} {}", text(&v["variant"]), weight_text(&v["weight"])))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A split's weight without a needless `.0`.
fn weight_text(value: &Value) -> String {
    match value.as_f64() {
        Some(w) if w.fract() == 0.0 => format!("{w:.0}"),
        Some(w) => w.to_string(),
        None => String::new(),
    }
}

/// A sentence starting with a capital letter.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `12.3 %`.
fn rate(value: &Value) -> String {
    value
        .as_f64()
        .map(|r| format!("{:.1} %", r * 100.0))
        .unwrap_or_else(|| "—".to_owned())
}

/// `42.50`.
fn number(value: &Value) -> String {
    value
        .as_f64()
        .map(|n| format!("{n:.2}"))
        .unwrap_or_else(|| "—".to_owned())
}

/// `low – high` of an interval.
fn range_of(interval: &Value, show: impl Fn(f64) -> String) -> String {
    match (interval["low"].as_f64(), interval["high"].as_f64()) {
        (Some(low), Some(high)) => format!("{} – {}", show(low), show(high)),
        _ => "—".to_owned(),
    }
}

fn signed_percent(x: f64) -> String {
    let percent = x * 100.0;
    if percent >= 0.0 {
        format!("+{percent:.1} %")
    } else {
        format!("−{:.1} %", -percent)
    }
}

/// `+25.0 % (−3.1 % to +60.2 %)`.
fn lift_text(lift: &Value) -> String {
    let Some(estimate) = lift["estimate"].as_f64() else {
        return "—".to_owned();
    };
    let mut out = signed_percent(estimate);
    if let (Some(low), Some(high)) = (
        lift["interval"]["low"].as_f64(),
        lift["interval"]["high"].as_f64(),
    ) {
        out.push_str(&format!(
            " ({} to {})",
            signed_percent(low),
            signed_percent(high)
        ));
    }
    out
}

/// `0.0123`, `< 0.0001`.
fn p_text(value: &Value) -> String {
    match value.as_f64() {
        Some(p) if p < 0.0001 => "< 0.0001".to_owned(),
        Some(p) => format!("{p:.4}"),
        None => "—".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(rate(&json!(0.1234)), "12.3 %");
        assert_eq!(rate(&Value::Null), "—");
        assert_eq!(p_text(&json!(0.00001)), "< 0.0001");
        assert_eq!(p_text(&json!(0.04321)), "0.0432");
        assert_eq!(
            lift_text(&json!({"estimate": 0.25, "interval": {"low": -0.031, "high": 0.602}})),
            "+25.0 % (−3.1 % to +60.2 %)"
        );
        assert_eq!(sentence("not enough data"), "Not enough data");
        assert_eq!(
            variants_text(
                &json!([{"variant": "blue", "weight": 50.0}, {"variant": "green", "weight": 50}])
            ),
            "blue 50 / green 50"
        );
    }
}
