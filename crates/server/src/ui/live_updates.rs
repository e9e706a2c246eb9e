//! `GET /live/revision?after=N`: a long poll that answers as soon as the
//! configuration served is past revision `N` (or after [`WAIT`] with the
//! same revision). The page's script then fetches the page again and
//! replaces the regions that changed (highlighting them), so that a change
//! made elsewhere (the API, the CLI, another node, a schedule) shows within
//! a second without a reload, and forms being typed in are left alone.
//!
//! A long poll rather than an event stream: it needs nothing but `fetch`,
//! authenticates like every page request, and costs nothing while idle.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::shell::{UiError, viewer};

/// The revision the page shows.
#[derive(Debug, Deserialize)]
pub struct After {
    #[serde(default)]
    after: i64,
}

/// The longest wait: below the usual proxy timeouts (60 s).
const WAIT: Duration = Duration::from_secs(25);

/// `GET /live/revision?after=N`.
pub async fn wait_for_revision(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    Query(after): Query<After>,
) -> Result<Json<Value>, UiError> {
    viewer(principal)?;
    // Subscribe before reading, so that no change falls in between.
    let mut changes = state.live.subscribe();
    let mut stopping = state.stopping.subscribe();
    let deadline = tokio::time::Instant::now()
        .checked_add(WAIT)
        .unwrap_or_else(tokio::time::Instant::now);
    loop {
        let revision = state.live.current().revision;
        if revision > after.after {
            return Ok(Json(json!({ "revision": revision })));
        }
        tokio::select! {
            received = changes.recv() => {
                // A lagging or closed channel: answer with what is current.
                if received.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
            _ = stopping.wait_for(|stopping| *stopping) => break,
        }
    }
    Ok(Json(json!({ "revision": state.live.current().revision })))
}
