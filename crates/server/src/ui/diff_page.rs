//! `GET /flags/{flag_id}/diff?from=N&to=M`: what changed between two
//! versions of a flag, path by path (the engine's diff, as
//! `GET /api/v1/flags/{id}/diff` answers it), with who made the newer one,
//! when and why.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Uri;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::ui::shell::{PageResult, Shell, format_time, render, viewer};

/// The versions compared.
#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: i64,
    to: i64,
}

#[derive(Template)]
#[template(path = "diff.html")]
struct DiffPage {
    shell: Shell,
    flag_id: String,
    from: i64,
    to: i64,
    actor: String,
    at: String,
    action: String,
    reason: Option<String>,
    changes: Vec<Change>,
}

struct Change {
    path: String,
    before: Option<String>,
    after: Option<String>,
}

/// `GET /flags/{flag_id}/diff`.
pub async fn show_diff(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    axum::extract::Path(flag_id): axum::extract::Path<String>,
    Query(query): Query<DiffQuery>,
) -> PageResult {
    let principal = viewer(principal)?;
    let version =
        |n: i64| {
            let state = state.clone();
            let flag_id = flag_id.clone();
            async move {
                state.store.flag_version(&flag_id, n).await?.ok_or_else(|| {
                    ApiError::NotFound(format!("flag \"{flag_id}\" has no version {n}"))
                })
            }
        };
    let from = version(query.from).await?;
    let to = version(query.to).await?;
    let live = state.live.current();
    let title = format!("{flag_id}: v{} → v{}", from.version, to.version);
    let shell = Shell::new(&state, &live, &principal, title, "flags", &uri).await;
    let changes = ff_engine::diff::diff(&from.document, &to.document)
        .into_iter()
        .map(|d| Change {
            path: if d.path.is_empty() {
                "(the whole document)".to_owned()
            } else {
                d.path
            },
            before: d.before.as_ref().map(pretty),
            after: d.after.as_ref().map(pretty),
        })
        .collect();
    render(&DiffPage {
        shell,
        from: from.version,
        to: to.version,
        actor: to.actor,
        at: format_time(to.at),
        action: to.action,
        reason: to.reason,
        changes,
        flag_id,
    })
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
