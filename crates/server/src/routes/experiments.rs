//! `/api/v1/experiments` and `/api/v1/track`: A/B experiments on a flag's
//! weighted split, the events they are measured by, and their results.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_api_types::{CreateExperimentRequest, TrackRequest, TrackedEventRequest};
use ff_store::{Change, Expect, ExperimentRecord, Role, StoredExperiment, TrackedEvent};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::experiments::definition::{self, Experiment, Status};
use crate::experiments::privacy;
use crate::extract::{JsonBody, Path};
use crate::governance::{WriteMeta, WriteMode};
use crate::state::AppState;
use crate::write::{apply, change};

/// Events one `track` request may carry.
pub const MAX_TRACKED: usize = 1_000;

/// `POST /api/v1/experiments`: starts an experiment on a flag's weighted
/// split (exposures are recorded from now on).
pub async fn create_experiment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateExperimentRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let experiment = definition::define(request, &state.live.current(), state.clock.now())?;
    let id = experiment.id.clone();
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    put(
        &state,
        meta,
        &experiment,
        Expect::Absent,
        "experiment.create",
    )
    .await?;
    let stored = stored(&state, &id).await?;
    Ok((StatusCode::CREATED, Json(body(&stored))).into_response())
}

/// `GET /api/v1/experiments`: every experiment.
pub async fn list_experiments(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    let items: Vec<Value> = state.store.experiments().await?.iter().map(body).collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/experiments/{id}`.
pub async fn get_experiment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    Ok(Json(body(&stored(&state, &id).await?)))
}

/// `POST /api/v1/experiments/{id}/stop`: no more exposures; results stay.
pub async fn stop_experiment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Editor)?;
    let current = stored(&state, &id).await?;
    let mut experiment = parse(&current)?;
    if experiment.status == Status::Stopped {
        return Ok(Json(body(&current)));
    }
    experiment.status = Status::Stopped;
    experiment.stopped_at = Some(state.clock.now());
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    put(
        &state,
        meta,
        &experiment,
        Expect::Version(current.version),
        "experiment.stop",
    )
    .await?;
    Ok(Json(body(&stored(&state, &id).await?)))
}

/// `GET /api/v1/experiments/{id}/results`: per metric (the primary first),
/// every variant's figures against the control, the sample ratio check and
/// a verdict in plain words.
pub async fn get_experiment_results(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    let experiment = parse(&stored(&state, &id).await?)?;
    // This node's exposures first, so that results are as fresh as it knows.
    crate::flush_evaluation_counts(&state).await;
    let mut metrics = Vec::with_capacity(experiment.metrics.len());
    for metric in &experiment.metrics {
        let tallies = state.store.variant_tallies(&id, &metric.event).await?;
        metrics.push(crate::experiments::results::report(
            &experiment,
            metric,
            &tallies,
        )?);
    }
    let verdict = metrics
        .first()
        .map(|m| m["message"].clone())
        .unwrap_or(Value::Null);
    Ok(Json(json!({
        "experiment": experiment,
        "verdict": verdict,
        "metrics": metrics,
    })))
}

/// `POST /api/v1/track`: events that experiments are measured by, one
/// (`event`, `user_id`, `value`, `timestamp`) or a batch (`events`). Any
/// key may send them. User ids are stored as keyed hashes.
pub async fn track_events(
    State(state): State<AppState>,
    _principal: Principal,
    JsonBody(request): JsonBody<TrackRequest>,
) -> ApiResult<Json<Value>> {
    let requested = match (request.events, request.event, request.user_id) {
        (Some(events), None, None) => events,
        (None, Some(event), Some(user_id)) => vec![TrackedEventRequest {
            event,
            user_id,
            value: request.value,
            timestamp: request.timestamp,
        }],
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "give either `event` and `user_id` (one event) or `events` (a batch)",
            ));
        }
    };
    if requested.len() > MAX_TRACKED {
        return Err(ApiError::unprocessable(
            "batch_too_large",
            format!("events: at most {MAX_TRACKED} per request"),
        ));
    }
    let now = state.clock.now();
    let key = state.subject_key();
    let mut events = Vec::with_capacity(requested.len());
    for (i, event) in requested.into_iter().enumerate() {
        events.push(checked(event, i, now, key, state.config.clear_subject_ids)?);
    }
    state.store.record_events(&events).await?;
    Ok(Json(json!({ "accepted": events.len() })))
}

/// One event, checked, with its user id hashed.
fn checked(
    event: TrackedEventRequest,
    i: usize,
    now: OffsetDateTime,
    key: &str,
    clear: bool,
) -> Result<TrackedEvent, ApiError> {
    let at = |field: &str| format!("events[{i}].{field}");
    let bad = |field: &str, what: &str| {
        ApiError::unprocessable("invalid_event", format!("{}: {what}", at(field)))
    };
    if event.event.trim().is_empty()
        || event.event.len() > 128
        || event.event.chars().any(char::is_control)
    {
        return Err(bad("event", "give a name of 1 to 128 characters"));
    }
    if event.user_id.is_empty()
        || event.user_id.len() > 256
        || event.user_id.chars().any(char::is_control)
    {
        return Err(bad("user_id", "give an id of 1 to 256 characters"));
    }
    if event.value.is_some_and(|v| !v.is_finite()) {
        return Err(bad("value", "must be a finite number"));
    }
    let when = match event.timestamp.as_deref() {
        None => now,
        Some(text) => {
            let when = OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| bad("timestamp", "give an RFC 3339 time"))?;
            if when < now.saturating_sub(time::Duration::days(7))
                || when > now.saturating_add(time::Duration::minutes(5))
            {
                return Err(bad("timestamp", "must be within the last 7 days"));
            }
            when
        }
    };
    Ok(TrackedEvent {
        event: event.event,
        subject: privacy::subject(key, &event.user_id, clear),
        value: event.value,
        at: when,
    })
}

async fn put(
    state: &AppState,
    meta: WriteMeta,
    experiment: &Experiment,
    expect: Expect,
    action: &str,
) -> Result<(), ApiError> {
    let record = ExperimentRecord {
        id: experiment.id.clone(),
        flag_id: experiment.flag_id.clone(),
        environment: experiment.environment.clone(),
        document: serde_json::to_value(experiment)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    };
    let environment = experiment.environment.clone();
    apply(state, meta, |_| {
        Ok(vec![change(
            Change::PutExperiment(record, expect),
            action,
            Some(&environment),
        )])
    })
    .await?
    .into_commit()?;
    crate::reload_experiments_and_log_switches(state).await;
    Ok(())
}

async fn stored(state: &AppState, id: &str) -> Result<StoredExperiment, ApiError> {
    // No experiment id holds a NUL (ids are keys), and PostgreSQL cannot
    // even compare with one.
    if id.contains('\0') {
        return Err(ApiError::not_found("experiment", id));
    }
    state
        .store
        .experiment(id)
        .await?
        .ok_or_else(|| ApiError::not_found("experiment", id))
}

fn parse(stored: &StoredExperiment) -> Result<Experiment, ApiError> {
    serde_json::from_value(stored.experiment.document.clone())
        .map_err(|e| ApiError::Internal(format!("stored experiment unreadable: {e}")))
}

fn body(stored: &StoredExperiment) -> Value {
    let mut body = stored.experiment.document.clone();
    body["version"] = json!(stored.version);
    body
}
