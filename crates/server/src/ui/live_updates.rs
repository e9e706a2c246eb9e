//! `GET /live/revision?after=N&pending=P`: a long poll that answers as soon
//! as the configuration served is past revision `N`, or the number of
//! change requests waiting for approval is no longer `P` (or after
//! [`WAIT`] with neither). The page's script then fetches the page again and
//! replaces the regions that changed (highlighting them), so that a change
//! made elsewhere (the API, the CLI, another node, a schedule) shows within
//! a second without a reload, and forms being typed in are left alone.
//!
//! A long poll rather than an event stream: it needs nothing but `fetch`,
//! authenticates like every page request, and costs nothing while idle.
//!
//! Change requests are not part of the configuration (a request changes no
//! revision of the view), so the count is read again when this node commits
//! anything ([`crate::live::Live::known_revision`] moves), and every
//! [`RECOUNT`] in any case, for requests made on another node: one small
//! query per open page every few seconds, at most.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::shell::{UiError, pending_count, viewer};

/// What the page shows.
#[derive(Debug, Deserialize)]
pub struct After {
    /// Its configuration revision.
    #[serde(default)]
    after: i64,
    /// Its count of pending change requests (the top bar's); absent: the
    /// count is not followed.
    #[serde(default)]
    pending: Option<usize>,
}

/// The longest wait: below the usual proxy timeouts (60 s).
const WAIT: Duration = Duration::from_secs(25);

/// How often this node's own commits are looked for (an atomic read).
const TICK: Duration = Duration::from_secs(1);

/// How often the pending count is read again without a commit of this
/// node's (another node's requests).
const RECOUNT: Duration = Duration::from_secs(5);

/// `GET /live/revision?after=N&pending=P`.
pub async fn wait_for_revision(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    Query(after): Query<After>,
) -> Result<Json<Value>, UiError> {
    viewer(principal)?;
    // Subscribe before reading, so that no change falls in between.
    let mut changes = state.live.subscribe();
    let mut stopping = state.stopping.subscribe();
    let deadline = from_now(WAIT);
    let mut counted_at_commit = state.live.known_revision();
    let mut next_recount = from_now(RECOUNT);
    let mut pending = after.pending;
    loop {
        let revision = state.live.current().revision;
        if revision > after.after || pending != after.pending {
            break;
        }
        let woke = tokio::select! {
            // A lagging or closed channel: answer with what is current.
            received = changes.recv() => if received.is_err() { Woke::Done } else { Woke::Change },
            _ = tokio::time::sleep(TICK), if after.pending.is_some() => Woke::Tick,
            _ = tokio::time::sleep_until(deadline) => Woke::Done,
            _ = stopping.wait_for(|stopping| *stopping) => Woke::Done,
        };
        match woke {
            Woke::Done => break,
            Woke::Change => {}
            Woke::Tick => {
                let known = state.live.known_revision();
                let now = tokio::time::Instant::now();
                if known != counted_at_commit || now >= next_recount {
                    counted_at_commit = known;
                    next_recount = now.checked_add(RECOUNT).unwrap_or(now);
                    pending = Some(pending_count(&state).await);
                }
            }
        }
    }
    let mut answer = json!({ "revision": state.live.current().revision });
    if let Some(count) = pending {
        answer["pending"] = json!(count);
    }
    Ok(Json(answer))
}

/// What ended a wait.
enum Woke {
    /// The configuration changed: compare the revision again.
    Change,
    /// A tick: look for this node's commits, or count again.
    Tick,
    /// Answer now (the wait is over, the service stops, or the channel lagged).
    Done,
}

/// `wait` from now (now itself in the impossible case that the clock
/// cannot count that far).
fn from_now(wait: std::time::Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(wait).unwrap_or(now)
}
