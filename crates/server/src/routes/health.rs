//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `GET /health/live`: the process answers.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /health/ready`: the database answers; reports the revision served.
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.store.ping().await.map_err(ApiError::Unavailable)?;
    let live = state.live.current();
    Ok(Json(json!({
        "status": "ok",
        "revision": live.revision,
        "flags": live.flags.len(),
        "environments": live.environments.len(),
    })))
}
