//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use ff_api_types::{Liveness, Readiness};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `GET /health/live`: the process answers.
pub async fn live() -> Json<Liveness> {
    Json(Liveness {
        status: "ok".to_owned(),
    })
}

/// `GET /health/ready`: the database answers; reports the revision served.
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Readiness>> {
    state.store.ping().await.map_err(ApiError::Unavailable)?;
    let live = state.live.current();
    Ok(Json(Readiness {
        status: "ok".to_owned(),
        revision: live.revision,
        flags: live.flags.len() as u64,
        environments: live.environments.len() as u64,
    }))
}
