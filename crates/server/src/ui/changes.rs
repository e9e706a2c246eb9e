//! `/changes`: the approvals queue. Pending change requests first (what
//! each would change, path by path, who asked, when and why), each with
//! approve and reject (a comment for the record) and, when a flag moved on
//! since the request was made, rebase; then the recent decided ones.
//!
//! Every decision goes through the API's own handlers
//! (`POST /api/v1/change-requests/{id}/approve`, `/reject`, `/rebase`), so
//! the four-eyes rule is the API's: the page only says beforehand what the
//! API would answer (the author, or whoever rebased a request, sees why they
//! cannot approve it instead of a button that fails).
//!
//! Also here: the state of an environment's change windows now (open, or
//! closed until the next opening), shown on `/environments` and on the flag
//! page's cards.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::{Form, extract};
use ff_api_types::ReviewRequest;
use ff_store::{ChangeWindow, Role, StoredWorkItem};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{OptionalJsonBody, Path};
use crate::governance::outside_windows;
use crate::live::LiveConfig;
use crate::routes::change_requests;
use crate::state::AppState;
use crate::ui::actions::{CommonFields, api_message, back_to, check_csrf, write_headers};
use crate::ui::shell::{PageResult, Shell, format_time, redirect_with_flash, render, viewer};
use crate::work::change_request::{self, ChangeRequest, RequestStatus};
use crate::work::operations;

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    shell: Shell,
    pending: Vec<RequestView>,
    decided: Vec<DecidedView>,
    /// The signed-in person may approve (approver and up).
    can_approve: bool,
}

/// A pending request as the queue shows it.
struct RequestView {
    id: String,
    flags: Vec<String>,
    environments: Vec<String>,
    author: String,
    age: String,
    created: String,
    reason: Option<String>,
    deployment_id: Option<String>,
    /// `schedule sch_…` or `rollout plan rp_…` when it holds a due step.
    origin: Option<String>,
    approvals: Vec<String>,
    required: u32,
    changes: Vec<ChangeView>,
    /// A flag changed since: approving would be refused; rebase first.
    stale: bool,
    /// Why the signed-in person may not approve it (four eyes), if so.
    not_yours_to_approve: Option<String>,
    /// Their own request (they may withdraw it).
    own: bool,
}

/// One flag write of a request.
struct ChangeView {
    flag_id: String,
    action: String,
    /// Created, deleted or changed (path by path).
    summary: Option<&'static str>,
    diff: Vec<DiffRow>,
}

/// One path that a change sets.
pub(super) struct DiffRow {
    pub(super) path: String,
    pub(super) before: Option<String>,
    pub(super) after: Option<String>,
}

/// An applied or rejected request.
struct DecidedView {
    id: String,
    applied: bool,
    flags: String,
    environments: String,
    author: String,
    decided_by: String,
    comment: Option<String>,
    at: String,
}

/// How many decided requests are shown.
const RECENT: u32 = 20;

/// `GET /changes`.
pub async fn show_changes(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "Changes", "changes", &uri).await;
    let names = people_names(&state).await;
    let now = OffsetDateTime::now_utc();
    let me = principal.key_id();
    let can_approve = principal.require(Role::Approver).is_ok();
    let pending_items =
        operations::list_change_requests(&state, Some(RequestStatus::Pending), None, None, 1000)
            .await?;
    // The oldest first: a queue is worked through in order.
    let mut pending: Vec<RequestView> = pending_items
        .iter()
        .filter_map(|stored| {
            let request = change_request::document(stored).ok()?;
            Some(request_view(stored, &request, &live, &names, me, now))
        })
        .collect();
    pending.reverse();
    let mut decided = Vec::new();
    for status in [RequestStatus::Applied, RequestStatus::Rejected] {
        let items =
            operations::list_change_requests(&state, Some(status), None, None, RECENT).await?;
        decided.extend(items.iter().filter_map(|stored| {
            let request = change_request::document(stored).ok()?;
            Some((
                stored.updated_at,
                decided_view(stored, &request, status, &names),
            ))
        }));
    }
    decided.sort_by_key(|d| std::cmp::Reverse(d.0));
    let decided = decided
        .into_iter()
        .take(RECENT as usize)
        .map(|(_, view)| view)
        .collect();
    render(&ChangesPage {
        shell,
        pending,
        decided,
        can_approve,
    })
}

fn request_view(
    stored: &StoredWorkItem,
    request: &ChangeRequest,
    live: &LiveConfig,
    names: &HashMap<String, String>,
    me: &str,
    now: OffsetDateTime,
) -> RequestView {
    let id = stored.item.id.clone();
    let mut flags: Vec<String> = request.changes.iter().map(|c| c.flag_id.clone()).collect();
    flags.dedup();
    let stale = request.changes.iter().any(|held| {
        let current = live.flags.get(&held.flag_id).map(|f| f.version);
        current != held.base_version && !(held.restores && current.is_none())
    });
    let rebased_by_me = request.rebases.iter().any(|r| r.actor == me);
    let not_yours_to_approve = if request.author == me {
        Some(
            "You made this request: someone else with the approver role must approve it."
                .to_owned(),
        )
    } else if rebased_by_me {
        Some(
            "You rebased this request, so what it applies is partly yours: someone else must approve it."
                .to_owned(),
        )
    } else if request.approvals.iter().any(|a| a.actor == me) {
        Some("You approved it; it waits for another approval.".to_owned())
    } else {
        None
    };
    RequestView {
        flags,
        environments: request.environments.clone(),
        author: name_of(names, &request.author),
        age: age(stored.created_at, now),
        created: format_time(stored.created_at),
        reason: request.reason.clone(),
        deployment_id: request.deployment_id.clone(),
        origin: request.origin.as_ref().map(|o| {
            let kind = match o.kind {
                ff_store::WorkKind::RolloutPlan => "rollout plan",
                _ => "schedule",
            };
            format!("{kind} {}", o.id)
        }),
        approvals: request
            .approvals
            .iter()
            .map(|a| name_of(names, &a.actor))
            .collect(),
        required: request.required_approvals,
        changes: request
            .changes
            .iter()
            .map(|held| ChangeView {
                flag_id: held.flag_id.clone(),
                action: held.action.clone(),
                summary: match (&held.before, &held.after) {
                    (Value::Null, _) => Some("creates the flag"),
                    (_, Value::Null) => Some("deletes the flag"),
                    _ => None,
                },
                diff: diff_rows(&held.before, &held.after),
            })
            .collect(),
        stale,
        own: request.author == me,
        not_yours_to_approve,
        id,
    }
}

fn decided_view(
    stored: &StoredWorkItem,
    request: &ChangeRequest,
    status: RequestStatus,
    names: &HashMap<String, String>,
) -> DecidedView {
    let applied = status == RequestStatus::Applied;
    let decision = if applied {
        request.approvals.last()
    } else {
        request.rejection.as_ref()
    };
    let mut flags: Vec<String> = request.changes.iter().map(|c| c.flag_id.clone()).collect();
    flags.dedup();
    DecidedView {
        id: stored.item.id.clone(),
        applied,
        flags: flags.join(", "),
        environments: request.environments.join(", "),
        author: name_of(names, &request.author),
        decided_by: decision
            .map(|d| name_of(names, &d.actor))
            .unwrap_or_default(),
        comment: decision.and_then(|d| d.comment.clone()),
        at: format_time(decision.map_or(stored.updated_at, |d| d.at)),
    }
}

/// What a change sets, path by path (the engine's diff).
pub(super) fn diff_rows(before: &Value, after: &Value) -> Vec<DiffRow> {
    if before.is_null() || after.is_null() {
        return Vec::new();
    }
    ff_engine::diff::diff(before, after)
        .into_iter()
        .map(|d| DiffRow {
            path: if d.path.is_empty() {
                "(the whole document)".to_owned()
            } else {
                d.path
            },
            before: d.before.as_ref().map(pretty),
            after: d.after.as_ref().map(pretty),
        })
        .collect()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// People's names by user id (`user:<email>`), to show instead of ids.
pub(super) async fn people_names(state: &AppState) -> HashMap<String, String> {
    match state.store.users().await {
        Ok(users) => users.into_iter().map(|u| (u.id, u.display_name)).collect(),
        Err(error) => {
            tracing::warn!(error = %error, "could not read the people's names");
            HashMap::new()
        }
    }
}

/// A person's name, or a key's id as it is.
pub(super) fn name_of(names: &HashMap<String, String>, actor: &str) -> String {
    names.get(actor).cloned().unwrap_or_else(|| {
        actor
            .strip_prefix("user:")
            .map_or_else(|| actor.to_owned(), str::to_owned)
    })
}

/// `3 min ago`, `2 h ago`, `4 days ago`.
fn age(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let minutes = now
        .unix_timestamp()
        .saturating_sub(at.unix_timestamp())
        .div_euclid(60)
        .max(0);
    match minutes {
        0 => "just now".to_owned(),
        1..=59 => format!("{minutes} min ago"),
        60..=2879 => format!("{} h ago", minutes / 60),
        _ => format!("{} days ago", minutes / 1440),
    }
}

/// The form of `POST /changes/{id}/approve`, `/reject` and `/rebase`.
#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    /// For the record (the audit's reason of a rejection or rebase).
    #[serde(default)]
    comment: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// What a review does.
#[derive(Clone, Copy)]
enum Review {
    Approve,
    Reject,
    Rebase,
}

/// `POST /changes/{id}/approve`: as `POST /api/v1/change-requests/{id}/approve`.
pub async fn approve_request(
    state: State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    path: extract::Path<String>,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    review(state, principal, headers, path, form, Review::Approve).await
}

/// `POST /changes/{id}/reject`.
pub async fn reject_request(
    state: State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    path: extract::Path<String>,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    review(state, principal, headers, path, form, Review::Reject).await
}

/// `POST /changes/{id}/rebase`.
pub async fn rebase_request(
    state: State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    path: extract::Path<String>,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    review(state, principal, headers, path, form, Review::Rebase).await
}

async fn review(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(id): extract::Path<String>,
    form: ReviewForm,
    what: Review,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &form.common)?;
    let back = back_to(&headers, &form.common, "/changes");
    let comment = form.comment.trim();
    let body = OptionalJsonBody(ReviewRequest {
        comment: (!comment.is_empty()).then(|| comment.to_owned()),
    });
    let headers = write_headers(&headers, &form.common, None);
    let (state, principal) = (State(state), principal);
    let result = match what {
        Review::Approve => {
            change_requests::approve_change_request(
                state,
                principal,
                headers,
                Path(id.clone()),
                body,
            )
            .await
        }
        Review::Reject => {
            change_requests::reject_change_request(
                state,
                principal,
                headers,
                Path(id.clone()),
                body,
            )
            .await
        }
        Review::Rebase => {
            change_requests::rebase_change_request(
                state,
                principal,
                headers,
                Path(id.clone()),
                body,
            )
            .await
        }
    };
    Ok(match result {
        Ok(axum::Json(item)) => {
            let message = match what {
                Review::Approve if item.applied == Some(true) => {
                    format!("Approved and applied: {id}.")
                }
                Review::Approve => format!("Approved: {id} waits for another approval."),
                Review::Reject => format!("Rejected: {id}; nothing was applied."),
                Review::Rebase => format!(
                    "Rebased: {id} now applies onto the flags' latest versions; its approvals were cleared."
                ),
            };
            redirect_with_flash(&back, "ok", &message)
        }
        Err(error) => redirect_with_flash(&back, "error", &api_message(error).await),
    })
}

/// An environment's change windows now.
pub(super) struct WindowState {
    /// Writes are accepted now.
    pub(super) open: bool,
    /// `open now` or `closed: opens Monday 09:00 Europe/Rome`.
    pub(super) text: String,
    /// Each window in words (`monday/friday 09:00–17:00 UTC`).
    pub(super) windows: Vec<String>,
}

/// The windows' state at `now`; `None` without windows (always open).
pub(super) fn window_state(windows: &[ChangeWindow], now: OffsetDateTime) -> Option<WindowState> {
    if windows.is_empty() {
        return None;
    }
    let described = windows
        .iter()
        .map(|w| format!("{} {}–{} {}", w.days.join("/"), w.start, w.end, w.time_zone))
        .collect();
    Some(match outside_windows(windows, now) {
        None => WindowState {
            open: true,
            text: "open now".to_owned(),
            windows: described,
        },
        Some(next) => WindowState {
            open: false,
            text: format!(
                "closed: opens {}",
                next.opens.strftime("%a %Y-%m-%d %H:%M %Z")
            ),
            windows: described,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn window(days: &[&str], start: &str, end: &str) -> ChangeWindow {
        ChangeWindow {
            days: days.iter().map(|d| (*d).to_owned()).collect(),
            start: start.to_owned(),
            end: end.to_owned(),
            time_zone: "UTC".to_owned(),
        }
    }

    #[test]
    fn windows_say_open_or_when_they_open() {
        // 2026-12-07 is a Monday.
        let monday_noon = datetime!(2026-12-07 12:00 UTC);
        assert!(window_state(&[], monday_noon).is_none());
        let weekdays = [window(&["monday", "tuesday"], "09:00", "17:00")];
        let open = window_state(&weekdays, monday_noon).map(|s| (s.open, s.text));
        assert_eq!(open, Some((true, "open now".to_owned())));
        let evening = window_state(&weekdays, datetime!(2026-12-07 18:00 UTC));
        let evening = evening.map(|s| (s.open, s.text, s.windows));
        assert_eq!(
            evening,
            Some((
                false,
                "closed: opens Tue 2026-12-08 09:00 UTC".to_owned(),
                vec!["monday/tuesday 09:00–17:00 UTC".to_owned()]
            ))
        );
    }

    #[test]
    fn ages_read_naturally() {
        let now = datetime!(2026-12-07 12:00 UTC);
        assert_eq!(age(now, now), "just now");
        assert_eq!(age(datetime!(2026-12-07 11:55 UTC), now), "5 min ago");
        assert_eq!(age(datetime!(2026-12-07 09:00 UTC), now), "3 h ago");
        assert_eq!(age(datetime!(2026-12-03 12:00 UTC), now), "4 days ago");
    }
}
