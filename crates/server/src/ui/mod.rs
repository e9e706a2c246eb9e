//! The admin web interface: HTML pages rendered here from templates compiled
//! into the binary (`crates/server/templates/`, askama), with a stylesheet
//! and a small script of our own (`crates/server/assets/`). No build step,
//! no request to another host; every page works without JavaScript (forms
//! submit and redirect back with a message), the script only makes it
//! quicker (instant search, confirmations, live updates).
//!
//! Pages read the live configuration in memory (never one query per flag).
//! Every change a page makes goes through the API's own handlers
//! (`crate::routes`) with the same `Principal` and request headers, so it
//! follows the same rules (roles, approvals, change windows, protection,
//! reasons, audit, `If-Match`) and is indistinguishable from an API call.
//!
//! - `shell`: what every page shows around its content (top bar, banner of
//!   killed flags, flash message) and the helpers pages share.
//! - `dashboard`: `/`, every flag × every environment, or the first-run page.
//! - `flag_page`: `/flags/{id}`, one flag in every environment side by side.
//! - `flag_usage`: the flag page's usage section (evaluations over time per
//!   environment as a server-drawn SVG chart, values served, error rate).
//! - `day_usage`: the dashboard's "last 24 h" column (one grouped query,
//!   its answer kept in memory for 10 s and read again in the background).
//! - `experiments_page`: `/experiments`, A/B experiments: list, create,
//!   results with statistics and a verdict, stop.
//! - `diff_page`: `/flags/{id}/diff`, what changed between two versions.
//! - `editor`: `/new-flag` and `/flags/{id}/edit`, the whole flag in one
//!   form (rules from dropdowns, problems next to their fields).
//! - `actions`: the forms' POST handlers (toggle, kill, re-enable).
//! - `playground`: `/playground`, one context against every flag.
//! - `audit_page`: `/audit`.
//! - `changes`: `/changes`, the approvals queue (approve, reject, rebase a
//!   change request); also the change windows' state shown on pages.
//! - `schedules`: `/schedules`, scheduled changes and rollout plans
//!   (create, cancel, pause, resume; a plan's steps as a timeline).
//! - `rollback`: `/flags/{id}/rollback`, a flag or one environment back to
//!   an old version (what it changes, a reason, then the API's rollback).
//! - `lists`: `/flags`, `/segments`, `/environments`.
//! - `segment_editor`: `/new-segment` and `/segments/{id}/edit`, a
//!   segment's conditions from the flag editor's dropdowns; deleting one.
//! - `keys`: `/keys`, API keys: list, create (the secret shown once), revoke.
//! - `live_updates`: `/live/revision`, the long poll that lets an open page
//!   show a change made elsewhere without a reload.
//! - `assets`: the stylesheet and script under content-hashed names.
//! - `session`: the signed-in person as pages show them (name, the forms'
//!   CSRF token).
//! - `sign_in`: `/sign-in` and `/sign-out`; a page asked for without a
//!   session redirects to `/sign-in` and back.
//! - `transfer_page`: `/import` (upload or paste, preview the dry run's
//!   diff, apply with a reason) and `/export` (the download).
//! - `bulk`: `POST /bulk`, the flag list's action bar (enable, disable,
//!   tag, lifecycle, delete) through the API's bulk handler.
//! - `users_page`: `/users`, people (admins only): create, role, disable.
//! - `environment_editor`: `/environments/{env}/edit`, an environment's
//!   settings (parent, auto-sync, protection, approvals, change windows);
//!   `/new-environment` and deleting one.
//! - `compare_page`: `/environments/compare`, the environment diff, with
//!   previewed promotion.
//! - `form_data`: form bodies with repeated fields or a file upload.

mod actions;
mod assets;
mod audit_page;
mod bulk;
mod changes;
mod compare_page;
mod dashboard;
pub(crate) mod day_usage;
mod diff_page;
mod editor;
mod environment_editor;
mod experiments_page;
mod flag_page;
mod flag_usage;
mod form_data;
mod keys;
mod lists;
mod live_updates;
mod playground;
mod rollback;
mod schedules;
mod segment_editor;
pub mod session;
mod shell;
mod sign_in;
mod transfer_page;
mod users_page;

use axum::Router;
use axum::routing::{get, post};
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::state::AppState;

/// A page that needs a signed-in person and has none (a 401) sends the
/// browser to the sign-in page, which brings it back afterwards.
async fn sign_in_first(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let wanted = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    // The script's long poll answers its own 401 (a page reloads then).
    let is_get =
        request.method() == axum::http::Method::GET && !request.uri().path().starts_with("/live/");
    let response = next.run(request).await;
    if is_get && response.status() == axum::http::StatusCode::UNAUTHORIZED {
        return sign_in::to_sign_in(&wanted);
    }
    response
}

/// A position as people count it: the rule at index 0 is "rule 1".
fn ordinal(index: usize) -> usize {
    index.saturating_add(1)
}

/// The interface's routes (merged into the service's router unless
/// `--ui=false`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::show_dashboard))
        .route("/flags", get(lists::show_flags))
        .route("/flags/{flag_id}", get(flag_page::show_flag))
        .route("/flags/{flag_id}/diff", get(diff_page::show_diff))
        .route("/new-flag", get(editor::show_new).post(editor::submit_new))
        .route(
            "/flags/{flag_id}/edit",
            get(editor::show_edit).post(editor::submit_edit),
        )
        .route(
            "/flags/{flag_id}/environments/{env}/toggle",
            post(actions::toggle_flag),
        )
        .route("/toggle", post(actions::toggle_cell))
        .route("/flags/{flag_id}/kill", post(actions::kill_flag))
        .route("/flags/{flag_id}/re-enable", post(actions::re_enable_flag))
        .route("/playground", get(playground::show_playground))
        .route("/changes", get(changes::show_changes))
        .route("/changes/{id}/approve", post(changes::approve_request))
        .route("/changes/{id}/reject", post(changes::reject_request))
        .route("/changes/{id}/rebase", post(changes::rebase_request))
        .route(
            "/schedules",
            get(schedules::show_schedules).post(schedules::create_schedule),
        )
        .route("/schedules/{id}/cancel", post(schedules::cancel_schedule))
        .route("/rollout-plans", post(schedules::create_plan))
        .route("/rollout-plans/{id}/pause", post(schedules::pause_plan))
        .route("/rollout-plans/{id}/resume", post(schedules::resume_plan))
        .route(
            "/flags/{flag_id}/rollback",
            get(rollback::show_rollback).post(rollback::rollback_flag),
        )
        .route(
            "/experiments",
            get(experiments_page::show_experiments).post(experiments_page::create_experiment),
        )
        .route("/experiments/{id}", get(experiments_page::show_experiment))
        .route(
            "/experiments/{id}/stop",
            post(experiments_page::stop_experiment),
        )
        .route("/audit", get(audit_page::show_audit))
        .route("/segments", get(lists::show_segments))
        .route(
            "/new-segment",
            get(segment_editor::show_new_segment).post(segment_editor::submit_new_segment),
        )
        .route(
            "/segments/{segment_id}/edit",
            get(segment_editor::show_edit_segment).post(segment_editor::submit_edit_segment),
        )
        .route(
            "/segments/{segment_id}/delete",
            post(segment_editor::delete_segment),
        )
        .route("/environments", get(lists::show_environments))
        .route(
            "/new-environment",
            get(environment_editor::show_new_environment)
                .post(environment_editor::submit_new_environment),
        )
        .route(
            "/environments/{env}/delete",
            post(environment_editor::delete_environment),
        )
        .route(
            "/environments/{env}/edit",
            get(environment_editor::show_edit_environment)
                .post(environment_editor::submit_edit_environment),
        )
        .route("/keys", get(keys::show_keys).post(keys::create_key))
        .route("/keys/{id}/revoke", post(keys::revoke_key))
        // The data pages: import and export, bulk changes, people, and the
        // environment comparison.
        .route(
            "/import",
            get(transfer_page::show_import).post(transfer_page::post_import),
        )
        .route("/export", get(transfer_page::download_export))
        .route("/bulk", post(bulk::bulk_change))
        .route(
            "/users",
            get(users_page::show_users).post(users_page::create_user),
        )
        .route("/users/update", post(users_page::update_user))
        .route("/environments/compare", get(compare_page::show_compare))
        .route("/environments/compare/promote", post(compare_page::promote))
        .route("/live/revision", get(live_updates::wait_for_revision))
        .route("/assets/{name}", get(assets::serve_asset))
        .route(
            "/sign-in",
            get(sign_in::show_sign_in).post(sign_in::sign_in),
        )
        .route("/sign-out", post(sign_in::sign_out))
        .layer(axum::middleware::from_fn(sign_in_first))
        // Pages compress well (the dashboard of 1 000 flags: 1.5 MB of
        // HTML, about a tenth gzipped), and an open page fetches itself
        // again on every change. Only here: the API's answers are small and
        // its hot paths are measured without it.
        // The fastest level: most of the gain at a fraction of the time.
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .quality(CompressionLevel::Fastest),
        )
}
