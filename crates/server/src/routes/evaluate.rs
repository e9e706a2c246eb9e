//! `POST /api/v1/evaluate`: the engine's full resolution, from the in-memory
//! snapshot (no database on this path).

use axum::Json;
use axum::extract::State;
use ff_api_types::{BulkEvaluation, EvaluateRequest, EvaluateResponse, EvaluationResult};
use ff_engine::Context;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

/// Evaluates one flag (`flag_id`), several (`flag_ids`) or all (neither) for
/// a context. Any key may evaluate; server and client keys only in their
/// own environment.
pub async fn evaluate(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<EvaluateRequest>,
) -> ApiResult<Json<EvaluateResponse>> {
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
            state.flag_usage.record(&flag_id, state.clock.now());
            EvaluateResponse::One(EvaluationResult::from_resolution(
                &flag_id,
                &snapshot.evaluate(&flag_id, &context),
            ))
        }
        (None, ids) => {
            let results = match ids {
                Some(ids) => ids
                    .iter()
                    .map(|id| {
                        state.flag_usage.record(id, state.clock.now());
                        EvaluationResult::from_resolution(id, &snapshot.evaluate(id, &context))
                    })
                    .collect(),
                None => {
                    state.flag_usage.record_all(state.clock.now());
                    snapshot
                        .evaluate_all(&context)
                        .map(|(id, resolution)| EvaluationResult::from_resolution(id, &resolution))
                        .collect()
                }
            };
            EvaluateResponse::Bulk(BulkEvaluation {
                environment,
                revision: live.revision,
                results,
            })
        }
    };
    Ok(Json(body))
}
