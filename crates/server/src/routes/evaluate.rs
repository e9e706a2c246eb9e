//! `POST /api/v1/evaluate`: the engine's full resolution, from the in-memory
//! snapshot (no database on this path).

use axum::Json;
use axum::extract::State;
use ff_api_types::{BulkEvaluation, EvaluateRequest, EvaluationResult};
use ff_engine::{Context, Resolution};
use serde_json::Value;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::live::LiveConfig;
use crate::state::AppState;

/// Evaluates one flag (`flag_id`), several (`flag_ids`) or all (neither) for
/// a context. Any key may evaluate; server and client keys only in their
/// own environment.
pub async fn evaluate(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<EvaluateRequest>,
) -> ApiResult<Json<Value>> {
    let environment = principal
        .evaluation_environment(request.environment.as_deref())?
        .to_owned();
    let live = state.live.current();
    let snapshot = live
        .snapshot
        .environment(&environment)
        .ok_or_else(|| ApiError::not_found("environment", &environment))?;
    let context = Context::from_json(request.context).map_err(|e| {
        ApiError::bad_request("invalid_context", format!("INVALID_CONTEXT: {}", e.0))
    })?;
    let body = match (request.flag_id, request.flag_ids) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "give either flag_id or flag_ids, not both",
            ));
        }
        (Some(flag_id), None) => {
            let now = state.clock.now();
            state.flag_usage.record(&flag_id, now);
            let resolution = snapshot.evaluate(&flag_id, &context);
            count(
                &state,
                &live,
                &flag_id,
                &environment,
                &resolution,
                &context,
                now,
            );
            serde_json::to_value(EvaluationResult::from_resolution(&flag_id, &resolution))
        }
        (None, ids) => {
            let results = match ids {
                Some(ids) => {
                    let now = state.clock.now();
                    ids.iter()
                        .map(|id| {
                            state.flag_usage.record(id, now);
                            let resolution = snapshot.evaluate(id, &context);
                            count(&state, &live, id, &environment, &resolution, &context, now);
                            EvaluationResult::from_resolution(id, &resolution)
                        })
                        .collect()
                }
                // Every flag at once is a fetch (a client caching values),
                // not a read of each flag: not counted per flag.
                None => {
                    state.flag_usage.record_all(state.clock.now());
                    snapshot
                        .evaluate_all(&context)
                        .map(|(id, resolution)| EvaluationResult::from_resolution(id, &resolution))
                        .collect()
                }
            };
            serde_json::to_value(BulkEvaluation {
                environment,
                revision: live.revision,
                results,
            })
        }
    };
    body.map(Json)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Counts an evaluation of a flag that exists (made-up ids are not
/// counted: they would let any caller grow the counters without bound),
/// and notes an exposure when an experiment runs on the flag there and a
/// variant was served to a known user.
pub fn count(
    state: &AppState,
    live: &LiveConfig,
    flag_id: &str,
    environment: &str,
    resolution: &Resolution<'_>,
    context: &Context,
    now: time::OffsetDateTime,
) {
    if state.config.count_evaluations && live.flags.contains_key(flag_id) {
        state
            .evaluation_counts
            .record(flag_id, environment, resolution, now);
    }
    state.evaluation_log.note(
        flag_id,
        environment,
        context,
        resolution,
        now,
        state.subject_key(),
    );
    let index = state.exposures.index.load();
    if let (Some(id), Some(variant), Some(user)) = (
        index.running(flag_id, environment),
        resolution.variant,
        context.targeting_key(),
    ) {
        let subject = crate::experiments::privacy::subject(
            state.subject_key(),
            user,
            state.config.clear_subject_ids,
        );
        state.exposures.note(id, subject, variant, now);
    }
}
