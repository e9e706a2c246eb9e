//! The flag editor: `/new-flag` and `/flags/{flag_id}/edit` (not
//! `/flags/new`: `new` is a valid flag key).
//!
//! One form holds the whole flag: its facts, the default value, variants,
//! the flag-level rules, each environment's entry (on/off, value, rules of
//! its own or the flag's) and prerequisites. Rules are built from
//! dropdowns (attribute suggestions, operators in words, a segment picker)
//! with a percentage slider and weighted variants.
//!
//! The buttons that add or remove a row (a rule, a condition, a variant …)
//! post the form back and the page comes back with the row added, the rest
//! as typed: the editor works without JavaScript and never loses what was
//! typed. Saving sends the document through the API's own handler
//! (`POST /api/v1/flags` or `PUT /api/v1/flags/{id}`) with the form's
//! version as `If-Match`, its reason and confirmation, so approvals,
//! protection and the audit apply. A refusal comes back on the same form:
//! the engine's problems next to the fields they name (the field names are
//! the document paths the problems carry), a stale version as a
//! conflict that shows what changed meanwhile and offers to save over it.
//!
//! - `draft`: the form's state, read from a flag or a submitted form, and
//!   turned into the document.
//! - `view`: the page's fields, with their problems placed.

pub(super) mod draft;
pub(super) mod view;

use axum::Form;
use axum::extract::{self, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::live::{LiveConfig, live_flag};
use crate::routes::flags;
use crate::routes::overview::environments_in_tree_order;
use crate::state::AppState;
use crate::ui::actions::{body_json, write_headers};
use crate::ui::form_data::{FormFields, Submitted};
use crate::ui::shell::{PageResult, Shell, UiError, redirect_with_flash, viewer};
use draft::Draft;
use view::{Conflict, EditorPage, Outcome};

/// `GET /new-flag`.
pub async fn show_new(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = editor(principal)?;
    let live = state.live.current();
    let draft = Draft::new_flag(&environment_keys(&live));
    let page = Page::new(&state, &live, &principal, &uri, None).await;
    page.render(draft, Outcome::default())
}

/// `GET /flags/{flag_id}/edit`.
pub async fn show_edit(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    extract::Path(flag_id): extract::Path<String>,
) -> PageResult {
    let principal = editor(principal)?;
    let live = state.live.current();
    let stored = live_flag(&live, &flag_id)?;
    let draft = Draft::from_flag(&stored.flag, &environment_keys(&live));
    let page = Page::new(&state, &live, &principal, &uri, Some(stored.version)).await;
    page.render(draft, Outcome::default())
}

/// `POST /new-flag`.
pub async fn submit_new(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let principal = editor(principal)?;
    let form = Submitted::read(&principal, &FormFields::from_pairs(&pairs))?;
    let live = state.live.current();
    let draft = Draft::from_form(&pairs, &environment_keys(&live));
    let page = Page::new(&state, &live, &principal, &uri, None).await;
    if !form.saves() {
        return page.rework(draft, &form);
    }
    let document = match draft.to_document() {
        Ok(document) => document,
        Err(problems) => return page.refuse(draft, Outcome::problems(problems), &form),
    };
    let flag_id = draft.flag_id.trim().to_owned();
    let result = flags::create_flag(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, None),
        JsonBody(document),
    )
    .await;
    match result {
        Ok(_) => Ok(redirect_with_flash(
            &format!("/flags/{flag_id}"),
            "ok",
            &format!("Created {flag_id}."),
        )),
        Err(error) => page.refuse(draft, Outcome::from_error(error).await, &form),
    }
}

/// `POST /flags/{flag_id}/edit`.
pub async fn submit_edit(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    extract::Path(flag_id): extract::Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let principal = editor(principal)?;
    let form = Submitted::read(&principal, &FormFields::from_pairs(&pairs))?;
    let live = state.live.current();
    let mut draft = Draft::from_form(&pairs, &environment_keys(&live));
    // A flag is never renamed: the URL names it.
    draft.flag_id.clone_from(&flag_id);
    let page = Page::new(&state, &live, &principal, &uri, form.version).await;
    if !form.saves() {
        return page.rework(draft, &form);
    }
    let document = match draft.to_document() {
        Ok(document) => document,
        Err(problems) => return page.refuse(draft, Outcome::problems(problems), &form),
    };
    let result = flags::replace_flag(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, form.version),
        Path(flag_id.clone()),
        JsonBody(document),
    )
    .await;
    let back = format!("/flags/{flag_id}");
    match result {
        Ok(response) if response.status() == StatusCode::ACCEPTED => {
            let body = body_json(response).await;
            let id = body["change_request"]["id"]
                .as_str()
                .unwrap_or("a change request");
            Ok(redirect_with_flash(
                &back,
                "warn",
                &format!(
                    "Held for approval: {id} waits for an approver before the change takes effect."
                ),
            ))
        }
        Ok(response) => {
            let body = body_json(response).await;
            let version = body["version"].as_i64().unwrap_or_default();
            Ok(redirect_with_flash(
                &back,
                "ok",
                &format!("Saved {flag_id} (version {version})."),
            ))
        }
        Err(ApiError::Conflict {
            code: "version_conflict",
            details,
            ..
        }) => {
            let conflict = Conflict::find(&state, &flag_id, form.version, &details).await;
            let mut page = page;
            // Saving again saves over what changed meanwhile (on purpose
            // now: the page showed what that was).
            page.version = conflict.as_ref().map(|c| c.current_version);
            page.refuse(draft, Outcome::conflict(conflict), &form)
        }
        Err(error) => page.refuse(draft, Outcome::from_error(error).await, &form),
    }
}

/// What every answer of the editor needs to render the form again.
struct Page {
    shell: Shell,
    live: std::sync::Arc<LiveConfig>,
    /// The version the form is based on; `None` for a new flag.
    version: Option<i64>,
}

impl Page {
    async fn new(
        state: &AppState,
        live: &std::sync::Arc<LiveConfig>,
        principal: &Principal,
        uri: &Uri,
        version: Option<i64>,
    ) -> Page {
        // The title names the flag once the page is built (`EditorPage`).
        let shell = Shell::new(state, live, principal, "", "flags", uri).await;
        Page {
            shell,
            live: live.clone(),
            version,
        }
    }

    fn render(self, draft: Draft, outcome: Outcome) -> PageResult {
        self.answer(draft, outcome, "", false, StatusCode::OK)
    }

    fn answer(
        self,
        draft: Draft,
        outcome: Outcome,
        reason: &str,
        confirmed: bool,
        status: StatusCode,
    ) -> PageResult {
        let page = EditorPage::build(
            self.shell,
            &self.live,
            draft,
            self.version,
            outcome,
            reason,
            confirmed,
        );
        let html = crate::ui::shell::render(&page)?;
        Ok((status, html).into_response())
    }

    /// Carries out a button that is not "save" (adds or removes a row) and
    /// answers the form again, as typed otherwise.
    fn rework(self, mut draft: Draft, form: &Submitted) -> PageResult {
        let outcome = if draft.apply_op(&form.op) {
            copied_notice(&draft, &form.op).map_or_else(Outcome::default, Outcome::notice)
        } else {
            Outcome::message("That row is gone already; the form shows what is left.")
        };
        self.answer(
            draft,
            outcome,
            &form.common.reason,
            form.confirmed(),
            StatusCode::OK,
        )
    }

    /// The form again with what stopped the save.
    fn refuse(self, draft: Draft, outcome: Outcome, form: &Submitted) -> PageResult {
        let status = outcome.status();
        self.answer(
            draft,
            outcome,
            &form.common.reason,
            form.confirmed(),
            status,
        )
    }
}

/// After `copy_rules|<from>|<to>`: what was copied, and that it is saved
/// with the form.
fn copied_notice(draft: &Draft, op: &str) -> Option<String> {
    let mut parts = op.split('|');
    let (Some("copy_rules"), Some(from), Some(to)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let count = draft
        .environments
        .iter()
        .find(|e| e.key == to)
        .map_or(0, |e| e.rules.len());
    let source = if from == "*" {
        "the rules for every environment".to_owned()
    } else {
        from.to_owned()
    };
    let rules = if count == 1 { "rule" } else { "rules" };
    Some(format!(
        "Copied {count} {rules} from {source} to {to}. Nothing is saved yet: review them below, then save."
    ))
}

/// The editor is for editors and up; a viewer is told so.
fn editor(principal: Result<Principal, ApiError>) -> Result<Principal, UiError> {
    let principal = viewer(principal)?;
    principal.require(ff_store::Role::Editor)?;
    Ok(principal)
}

/// The installation's environments, parents before children.
fn environment_keys(live: &LiveConfig) -> Vec<String> {
    environments_in_tree_order(live)
        .into_iter()
        .map(|e| e.key)
        .collect()
}
