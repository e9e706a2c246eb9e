//! Evaluation metrics: SDKs report what they evaluated locally
//! (`POST /api/v1/metrics`), and a flag's counts are read over a time range
//! (`GET /api/v1/flags/{flag_id}/metrics`). The service's own evaluations are
//! counted where they happen (`evaluate`, `ofrep`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use ff_api_types::{MetricsAccepted, MetricsBatch};
use ff_store::{CountQuery, EvaluationCount, Granularity};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Path, QueryParams};
use crate::flag_ops::rfc3339;
use crate::metrics::evaluations::{MAX_LABEL_CHARS, TallyKey, error_of, label_of, reason_of};
use crate::state::AppState;

/// Entries one batch may carry.
pub const MAX_BATCH_ENTRIES: usize = 10_000;
/// The largest count one entry may carry.
pub const MAX_ENTRY_COUNT: u64 = 1_000_000_000;
/// Buckets one read may answer.
pub const MAX_BUCKETS: i64 = 2_000;

/// `POST /api/v1/metrics`: adds an SDK's counts. Any key may report, for
/// its own environment; flags this service does not have are dropped (and
/// named in the answer). Reported flags count as evaluated for the
/// stale-flag report too: SDKs that evaluate locally are its main users.
pub async fn report_metrics(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(batch): JsonBody<MetricsBatch>,
) -> ApiResult<Json<MetricsAccepted>> {
    let environment = principal
        .evaluation_environment(batch.environment.as_deref())?
        .to_owned();
    let live = state.live.current();
    if !live.environments.contains_key(&environment) {
        return Err(ApiError::not_found("environment", &environment));
    }
    if batch.evaluations.len() > MAX_BATCH_ENTRIES || batch.exposures.len() > MAX_BATCH_ENTRIES {
        return Err(ApiError::unprocessable(
            "batch_too_large",
            format!(
                "evaluations, exposures: at most {MAX_BATCH_ENTRIES} entries each per batch; send several"
            ),
        ));
    }
    let now = state.clock.now();
    let window_end_at = window_end(batch.window_end.as_deref(), now)?;
    let minute = Granularity::Minute
        .bucket_of(window_end_at)
        .unix_timestamp();
    // Check every entry before counting any: a bad batch counts nothing.
    let mut entries = Vec::with_capacity(batch.evaluations.len());
    for (i, tally) in batch.evaluations.iter().enumerate() {
        let at = |field: &str| format!("evaluations[{i}].{field}");
        let reason = reason_of(&tally.reason).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_reason",
                format!("{}: unknown reason \"{}\"", at("reason"), tally.reason),
            )
        })?;
        let error_code = match tally.error_code.as_deref() {
            None => None,
            Some(code) => Some(error_of(code).ok_or_else(|| {
                ApiError::unprocessable(
                    "invalid_error_code",
                    format!("{}: unknown error code \"{code}\"", at("error_code")),
                )
            })?),
        };
        if tally.count > MAX_ENTRY_COUNT {
            return Err(ApiError::unprocessable(
                "invalid_count",
                format!("{}: at most {MAX_ENTRY_COUNT}", at("count")),
            ));
        }
        for (field, text) in [("label", &tally.label), ("variant", &tally.variant)] {
            if text
                .as_deref()
                .is_some_and(|v| v.chars().count() > MAX_LABEL_CHARS)
            {
                return Err(ApiError::unprocessable(
                    "invalid_variant",
                    format!("{}: at most {MAX_LABEL_CHARS} characters", at(field)),
                ));
            }
        }
        entries.push((tally, reason, error_code));
    }
    let mut exposed_at = Vec::with_capacity(batch.exposures.len());
    for (i, exposure) in batch.exposures.iter().enumerate() {
        exposed_at.push(
            window_end(exposure.at.as_deref(), window_end_at).map_err(|_| {
                ApiError::unprocessable(
                    "invalid_exposure",
                    format!("exposures[{i}].at: an RFC 3339 time within the last 24 hours"),
                )
            })?,
        );
        if exposure.user_id.is_empty()
            || exposure.user_id.len() > 256
            || exposure.variant.chars().count() > MAX_LABEL_CHARS
        {
            return Err(ApiError::unprocessable(
                "invalid_exposure",
                format!(
                    "exposures[{i}]: a user_id of 1 to 256 characters and a variant of at most {MAX_LABEL_CHARS}"
                ),
            ));
        }
    }
    let mut answer = MetricsAccepted {
        exposures: record_exposures(&state, &batch.exposures, &exposed_at, &environment),
        accepted: 0,
        dropped: 0,
        unknown_flags: Vec::new(),
    };
    for (tally, reason, error_code) in entries {
        if !live.flags.contains_key(&tally.flag_id) {
            answer.dropped = answer.dropped.saturating_add(tally.count);
            if answer.unknown_flags.len() < 10 && !answer.unknown_flags.contains(&tally.flag_id) {
                answer.unknown_flags.push(tally.flag_id.clone());
            }
            continue;
        }
        let label = match &tally.label {
            Some(label) => std::borrow::Cow::Borrowed(label.as_str()),
            None => label_of(tally.variant.as_deref(), tally.value.as_ref()),
        };
        state.evaluation_counts.add(
            TallyKey {
                bucket: minute,
                flag_id: &tally.flag_id,
                environment: &environment,
                label: &label,
                reason,
                error_code,
            },
            tally.count,
        );
        if tally.count > 0 {
            state.flag_usage.record(&tally.flag_id, window_end_at);
        }
        answer.accepted = answer.accepted.saturating_add(tally.count);
    }
    Ok(Json(answer))
}

/// Notes the reported exposures to experiments running on their flags in
/// `environment`; answers how many there were.
fn record_exposures(
    state: &AppState,
    exposures: &[ff_api_types::ExposureReport],
    exposed_at: &[OffsetDateTime],
    environment: &str,
) -> u64 {
    let index = state.exposures.index.load();
    let mut noted = 0u64;
    for (exposure, &at) in exposures.iter().zip(exposed_at) {
        if let Some(id) = index.running(&exposure.flag_id, environment) {
            let subject = crate::experiments::privacy::subject(
                state.subject_key(),
                &exposure.user_id,
                state.config.clear_subject_ids,
            );
            state.exposures.note(id, subject, &exposure.variant, at);
            noted = noted.saturating_add(1);
        }
    }
    noted
}

/// A batch's window end: at most a day old and not in the future (a
/// little clock skew is forgiven).
fn window_end(text: Option<&str>, now: OffsetDateTime) -> Result<OffsetDateTime, ApiError> {
    let Some(text) = text else {
        return Ok(now);
    };
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ApiError::unprocessable("invalid_window_end", "window_end: give an RFC 3339 time")
    })?;
    if at < now.saturating_sub(time::Duration::days(1))
        || at > now.saturating_add(time::Duration::minutes(5))
    {
        return Err(ApiError::unprocessable(
            "invalid_window_end",
            "window_end: must be within the last 24 hours",
        ));
    }
    Ok(at.min(now))
}

/// The query of `GET /api/v1/flags/{flag_id}/metrics`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    /// One environment's counts (default: every environment's).
    pub environment: Option<String>,
    /// `minute`, `hour` (default) or `day`.
    pub granularity: Option<String>,
    /// The range's start (default: a day before `until`).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// The range's end (default: now).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
}

/// `GET /api/v1/flags/{flag_id}/metrics`: a flag's evaluations over a time
/// range (default: the last 24 hours by hour), per bucket (every bucket of
/// the range, empty ones included, for charts) and in total: by outcome,
/// reason and environment, errors and the error rate, and when it was last
/// evaluated.
pub async fn get_flag_metrics(
    State(state): State<AppState>,
    principal: Principal,
    Path(flag_id): Path<String>,
    QueryParams(query): QueryParams<MetricsQuery>,
) -> ApiResult<Json<Value>> {
    let environments = [query.environment.clone()];
    let mut answers = flag_metrics(&state, &principal, &flag_id, &environments, &query).await?;
    Ok(Json(answers.pop().unwrap_or(Value::Null)))
}

/// The answer of `GET /api/v1/flags/{flag_id}/metrics` for each of
/// `environments` (`None`: every environment), in their order, from one
/// read of the counts and of the last evaluation times: the flag page's
/// chart, a line per environment, asks for all of them at once.
pub async fn flag_metrics(
    state: &AppState,
    principal: &Principal,
    flag_id: &str,
    environments: &[Option<String>],
    query: &MetricsQuery,
) -> ApiResult<Vec<Value>> {
    principal.require(ff_store::Role::Viewer)?;
    if state.store.flag(flag_id).await?.is_none() {
        return Err(ApiError::not_found("flag", flag_id));
    }
    let granularity = match query.granularity.as_deref() {
        None => Granularity::Hour,
        Some(name) => Granularity::from_name(name).ok_or_else(|| {
            ApiError::bad_request("invalid_granularity", "granularity: minute, hour or day")
        })?,
    };
    let now = state.clock.now();
    let bucket = time::Duration::seconds(granularity.seconds());
    let until = granularity
        .bucket_of(query.until.unwrap_or(now))
        .checked_add(bucket)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_range",
                "until: its bucket would end after the last time there is (year 9999)",
            )
        })?;
    let since = granularity.bucket_of(
        query
            .since
            .unwrap_or(now.saturating_sub(time::Duration::days(1))),
    );
    let buckets = until
        .unix_timestamp()
        .saturating_sub(since.unix_timestamp())
        .checked_div(granularity.seconds())
        .unwrap_or(0);
    if buckets <= 0 || buckets > MAX_BUCKETS {
        return Err(ApiError::unprocessable(
            "invalid_range",
            format!(
                "since/until: give a range of 1 to {MAX_BUCKETS} {}s",
                granularity.as_str()
            ),
        ));
    }
    // This node's counts first, so that a read right after evaluating sees them.
    crate::flush_evaluation_counts(state).await;
    crate::flush_flag_usage(state).await;
    // One environment: only its counts; several: every environment's, split here.
    let only = match environments {
        [one] => one.clone(),
        _ => None,
    };
    let counts = state
        .store
        .evaluation_counts(&CountQuery {
            flag_id: flag_id.to_owned(),
            environment: only,
            granularity,
            since,
            until,
        })
        .await?;
    let last_evaluated_at = state.store.flag_usage().await?.get(flag_id).copied();
    Ok(environments
        .iter()
        .map(|environment| {
            let counts: Vec<EvaluationCount> = counts
                .iter()
                .filter(|c| environment.as_ref().is_none_or(|e| *e == c.environment))
                .cloned()
                .collect();
            summary(
                flag_id,
                granularity,
                since,
                buckets,
                &counts,
                last_evaluated_at,
            )
        })
        .collect())
}

/// Totals and dense buckets of `counts`.
fn summary(
    flag_id: &str,
    granularity: Granularity,
    since: OffsetDateTime,
    buckets: i64,
    counts: &[EvaluationCount],
    last_evaluated_at: Option<OffsetDateTime>,
) -> Value {
    let bucket = time::Duration::seconds(granularity.seconds());
    let mut totals = Tally::default();
    let mut by_environment: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_bucket: BTreeMap<i64, Tally> = BTreeMap::new();
    for count in counts {
        totals.add(count);
        let total = by_environment.entry(&count.environment).or_default();
        *total = total.saturating_add(count.count);
        by_bucket
            .entry(count.bucket_start.unix_timestamp())
            .or_default()
            .add(count);
    }
    let series: Vec<Value> = (0..buckets)
        .map(|i| {
            let start =
                since.saturating_add(bucket.saturating_mul(i32::try_from(i).unwrap_or(i32::MAX)));
            let tally = by_bucket
                .remove(&start.unix_timestamp())
                .unwrap_or_default();
            json!({
                "start": rfc3339(start),
                "evaluations": tally.evaluations,
                "errors": tally.errors,
                "by_outcome": tally.by_outcome,
            })
        })
        .collect();
    let error_rate = if totals.evaluations > 0 {
        totals.errors as f64 / totals.evaluations as f64
    } else {
        0.0
    };
    json!({
        "flag_id": flag_id,
        "granularity": granularity.as_str(),
        "since": rfc3339(since),
        "until": rfc3339(since.saturating_add(bucket.saturating_mul(i32::try_from(buckets).unwrap_or(i32::MAX)))),
        "totals": {
            "evaluations": totals.evaluations,
            "errors": totals.errors,
            "error_rate": error_rate,
            "by_outcome": totals.by_outcome,
            "by_reason": totals.by_reason,
            "by_environment": by_environment,
        },
        "buckets": series,
        "last_evaluated_at": last_evaluated_at.map(rfc3339),
    })
}

/// Sums of counts.
#[derive(Debug, Default)]
struct Tally {
    evaluations: i64,
    errors: i64,
    by_outcome: BTreeMap<String, i64>,
    by_reason: BTreeMap<String, i64>,
}

impl Tally {
    fn add(&mut self, count: &EvaluationCount) {
        self.evaluations = self.evaluations.saturating_add(count.count);
        if !count.error_code.is_empty() {
            self.errors = self.errors.saturating_add(count.count);
        }
        let outcome = if count.error_code.is_empty() {
            &count.label
        } else {
            &count.error_code
        };
        let by_outcome = self.by_outcome.entry(outcome.clone()).or_default();
        *by_outcome = by_outcome.saturating_add(count.count);
        let by_reason = self.by_reason.entry(count.reason.clone()).or_default();
        *by_reason = by_reason.saturating_add(count.count);
    }
}

/// `GET /metrics`: the service's metrics in the OpenMetrics text format,
/// for Prometheus. Public unless `--metrics-token` is set; then it needs
/// `Authorization: Bearer <that token>`.
pub async fn get_prometheus_metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    if let Some(token) = &state.config.metrics_token {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), token.as_bytes()).into();
        if !matches {
            return Err(ApiError::Unauthorized(
                "the metrics need `Authorization: Bearer <FEATURE_FLAGS_METRICS_TOKEN>`".into(),
            ));
        }
    }
    let live = state.live.current();
    state.metrics.revision.set(live.revision);
    state
        .metrics
        .flags
        .set(i64::try_from(live.flags.len()).unwrap_or(i64::MAX));
    let pending = state
        .store
        .work_items(&ff_store::WorkQuery {
            kind: Some(ff_store::WorkKind::ChangeRequest),
            statuses: vec!["pending".to_owned()],
            limit: Some(10_000),
            ..ff_store::WorkQuery::default()
        })
        .await?;
    state
        .metrics
        .pending_change_requests
        .set(i64::try_from(pending.len()).unwrap_or(i64::MAX));
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response())
}

/// `POST /api/v1/flags/{flag_id}/environments/{env}/evaluation-log`:
/// logs the flag's evaluations there for a while, on every node.
pub async fn start_evaluation_log(
    State(state): State<AppState>,
    principal: Principal,
    Path((flag_id, environment)): Path<(String, String)>,
    crate::extract::OptionalJsonBody(request): crate::extract::OptionalJsonBody<
        ff_api_types::EvaluationLogRequest,
    >,
) -> ApiResult<Json<Value>> {
    principal.require_in(ff_store::Role::Editor, [environment.as_str()])?;
    logged_flag(&state, &flag_id, &environment)?;
    let minutes = request.minutes.unwrap_or(10);
    if !(1..=60).contains(&minutes) {
        return Err(ApiError::unprocessable(
            "invalid_minutes",
            "minutes: between 1 and 60",
        ));
    }
    let until = state
        .clock
        .now()
        .saturating_add(time::Duration::minutes(i64::from(minutes)));
    let clear = request.clear_context.unwrap_or(false);
    state
        .store
        .set_log_switch(&flag_id, &environment, Some((until, clear)))
        .await?;
    crate::reload_experiments_and_log_switches(&state).await;
    Ok(Json(
        json!({"flag_id": flag_id, "environment": environment, "until": rfc3339(until), "clear_context": clear}),
    ))
}

/// `DELETE …/evaluation-log`: stops logging (what was logged stays a day).
pub async fn stop_evaluation_log(
    State(state): State<AppState>,
    principal: Principal,
    Path((flag_id, environment)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    principal.require_in(ff_store::Role::Editor, [environment.as_str()])?;
    logged_flag(&state, &flag_id, &environment)?;
    state
        .store
        .set_log_switch(&flag_id, &environment, None)
        .await?;
    crate::reload_experiments_and_log_switches(&state).await;
    Ok(Json(
        json!({"flag_id": flag_id, "environment": environment, "until": null}),
    ))
}

/// `GET …/evaluation-log`: the newest logged evaluations (at most 500)
/// and until when logging is on.
pub async fn get_evaluation_log(
    State(state): State<AppState>,
    principal: Principal,
    Path((flag_id, environment)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    principal.require(ff_store::Role::Viewer)?;
    logged_flag(&state, &flag_id, &environment)?;
    crate::flush_evaluation_counts(&state).await;
    let entries = state
        .store
        .evaluation_log(&flag_id, &environment, 500)
        .await?;
    let switch = state.store.log_switches().await?.into_iter().find(|s| {
        s.flag_id == flag_id && s.environment == environment && s.until > state.clock.now()
    });
    Ok(Json(json!({
        "flag_id": flag_id,
        "environment": environment,
        "until": switch.as_ref().map(|s| rfc3339(s.until)),
        "clear_context": switch.map(|s| s.clear_context),
        "items": entries.into_iter().map(|e| {
            let mut item = e.entry;
            item["at"] = json!(rfc3339(e.at));
            item
        }).collect::<Vec<_>>(),
    })))
}

fn logged_flag(state: &AppState, flag_id: &str, environment: &str) -> Result<(), ApiError> {
    let live = state.live.current();
    if !live.flags.contains_key(flag_id) {
        return Err(ApiError::not_found("flag", flag_id));
    }
    if !live.environments.contains_key(environment) {
        return Err(ApiError::not_found("environment", environment));
    }
    Ok(())
}
