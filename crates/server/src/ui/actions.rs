//! The forms' POST handlers. Each calls the API's own handler (the same
//! function `POST /api/v1/...` runs) with the same principal and the
//! request's headers, the form's reason, confirmation and version put where
//! the API reads them (`X-Change-Reason`, `X-Confirm`, `If-Match`). So a
//! change made here follows every rule an API call follows, and is audited
//! the same way.
//!
//! Then it redirects back (303) with the outcome as a flash message: done,
//! held for approval (with the change request), or the API's refusal. When
//! the refusal is that a protected environment wants a reason or a
//! confirmation, a confirmation page asks for it and posts the form again.

use askama::Template;
use axum::body::to_bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::{Form, extract};
use ff_api_types::EmergencyRequest;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::routes::{emergency, flags};
use crate::state::AppState;
use crate::ui::session;
use crate::ui::shell::{PageResult, Shell, UiError, local_path, redirect_with_flash, render};

/// The fields every action form may carry besides its own.
#[derive(Debug, Default, Deserialize)]
pub struct CommonFields {
    /// The CSRF token the page was rendered with.
    #[serde(default)]
    pub(super) csrf: String,
    /// Why (required in protected environments).
    #[serde(default)]
    pub(super) reason: String,
    /// `yes` once a confirmation page (or the script's dialog) confirmed.
    #[serde(default)]
    pub(super) confirmed: String,
    /// Where to go afterwards (a local path; default: the referring page).
    #[serde(default)]
    pub(super) back: String,
}

/// `POST /flags/{flag_id}/environments/{env}/toggle`.
#[derive(Debug, Deserialize)]
pub struct ToggleForm {
    /// `enable` or `disable`.
    action: String,
    /// The version the page showed (`If-Match`: a stale page gets a 409).
    #[serde(default)]
    version: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// Turns a flag on or off in one environment, as
/// `POST /api/v1/flags/{id}/environments/{env}/actions` does.
pub async fn toggle_flag(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path((flag_id, env)): extract::Path<(String, String)>,
    Form(form): Form<ToggleForm>,
) -> PageResult {
    let cell = Cell {
        flag_id: &flag_id,
        env: &env,
        action: &form.action,
        version: form.version.parse().ok(),
    };
    toggle(&state, principal?, &headers, cell, &form.common).await
}

/// `POST /toggle`: the dashboard's matrix.
#[derive(Debug, Deserialize)]
pub struct MatrixForm {
    /// The pressed cell: `flag:environment:action:version`.
    cell: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// The dashboard's matrix is one form whose buttons each name their cell,
/// rather than a form per cell: with 1 000 flags in 3 environments, 3 000
/// forms (each with its token) would triple the page.
pub async fn toggle_cell(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    Form(form): Form<MatrixForm>,
) -> PageResult {
    // Flag and environment keys never contain `:`.
    let parts: Vec<&str> = form.cell.split(':').collect();
    let [flag_id, env, action, version] = parts[..] else {
        return Err(UiError(ApiError::bad_request(
            "invalid_form",
            "the form names no flag and environment; reload the page",
        )));
    };
    let cell = Cell {
        flag_id,
        env,
        action,
        version: version.parse().ok(),
    };
    toggle(&state, principal?, &headers, cell, &form.common).await
}

/// A flag in an environment, and what to do there.
struct Cell<'a> {
    flag_id: &'a str,
    env: &'a str,
    /// `enable` or `disable`.
    action: &'a str,
    /// The version the page showed.
    version: Option<i64>,
}

async fn toggle(
    state: &AppState,
    principal: Principal,
    headers: &HeaderMap,
    cell: Cell<'_>,
    common: &CommonFields,
) -> PageResult {
    check_csrf(&principal, common)?;
    let back = back_to(headers, common, "/");
    let Cell {
        flag_id,
        env,
        action: action_name,
        version,
    } = cell;
    let (action, turned) = match action_name {
        "enable" => (ff_api_types::FlagAction::Enable, "on"),
        "disable" => (ff_api_types::FlagAction::Disable, "off"),
        other => {
            return Err(UiError(ApiError::bad_request(
                "invalid_action",
                format!("unknown action \"{other}\"; expected enable or disable"),
            )));
        }
    };
    let result = flags::apply_flag_action(
        State(state.clone()),
        principal.clone(),
        write_headers(headers, common, version),
        Path((flag_id.to_owned(), env.to_owned())),
        JsonBody(action),
    )
    .await;
    let retry = Retry {
        heading: format!("Turn {flag_id} {turned} in {env}?"),
        action_url: format!("/flags/{flag_id}/environments/{env}/toggle"),
        hidden: vec![
            ("action", action_name.to_owned()),
            (
                "version",
                version.map(|v| v.to_string()).unwrap_or_default(),
            ),
        ],
        button: format!("Turn {turned}"),
        danger: turned == "off",
    };
    let done = format!("{flag_id} is now {turned} in {env}.");
    outcome(state, &principal, common, &back, result, retry, &done).await
}

/// `POST /flags/{flag_id}/kill` and `/re-enable`.
#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    /// The environment.
    environment: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// The kill switch, as `POST /api/v1/emergency/disable`: effective at once,
/// never held. Asks for confirmation first (the script's dialog, or a
/// confirmation page without script).
pub async fn kill_flag(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(flag_id): extract::Path<String>,
    Form(form): Form<SwitchForm>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &form.common)?;
    let back = back_to(&headers, &form.common, &format!("/flags/{flag_id}"));
    let env = form.environment.clone();
    let retry = Retry {
        heading: format!("Kill {flag_id} in {env}?"),
        action_url: format!("/flags/{flag_id}/kill"),
        hidden: vec![("environment", env.clone())],
        button: format!("Kill {flag_id} in {env}"),
        danger: true,
    };
    if form.common.confirmed != "yes" {
        let note = format!(
            "{flag_id} will serve its off value to everyone in {env} at once. \
             The kill switch is never held for approval; turning the flag back on is an \
             ordinary change."
        );
        return confirm(&state, &principal, &form.common, &back, &retry, &note).await;
    }
    let request = EmergencyRequest {
        flag_id: flag_id.clone(),
        environment: Some(env.clone()),
        reason: non_empty(&form.common.reason),
    };
    let result = emergency::emergency_disable(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, None),
        JsonBody(request),
    )
    .await;
    let done = format!("Killed: {flag_id} is off in {env}.");
    outcome(
        &state,
        &principal,
        &form.common,
        &back,
        result,
        retry,
        &done,
    )
    .await
}

/// Turns a killed flag back on, as `POST /api/v1/emergency/enable`: an
/// ordinary governed change (a reason where protected, approval where
/// required).
pub async fn re_enable_flag(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(flag_id): extract::Path<String>,
    Form(form): Form<SwitchForm>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &form.common)?;
    let back = back_to(&headers, &form.common, &format!("/flags/{flag_id}"));
    let env = form.environment.clone();
    let request = EmergencyRequest {
        flag_id: flag_id.clone(),
        environment: Some(env.clone()),
        reason: non_empty(&form.common.reason),
    };
    let result = emergency::emergency_enable(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, None),
        JsonBody(request),
    )
    .await;
    let retry = Retry {
        heading: format!("Turn {flag_id} back on in {env}?"),
        action_url: format!("/flags/{flag_id}/re-enable"),
        hidden: vec![("environment", env.clone())],
        button: "Re-enable".to_owned(),
        danger: false,
    };
    let done = format!("{flag_id} is on again in {env}.");
    outcome(
        &state,
        &principal,
        &form.common,
        &back,
        result,
        retry,
        &done,
    )
    .await
}

/// How to post a form again from a confirmation page.
pub(super) struct Retry {
    pub(super) heading: String,
    pub(super) action_url: String,
    pub(super) hidden: Vec<(&'static str, String)>,
    pub(super) button: String,
    pub(super) danger: bool,
}

/// The answer to an action: a redirect with what happened, or the
/// confirmation page when a protected environment wants a reason or a
/// confirmation.
pub(super) async fn outcome(
    state: &AppState,
    principal: &Principal,
    common: &CommonFields,
    back: &str,
    result: Result<Response, ApiError>,
    retry: Retry,
    done: &str,
) -> PageResult {
    match result {
        Ok(response) if response.status() == StatusCode::ACCEPTED => {
            let body = body_json(response).await;
            let id = body["change_request"]["id"]
                .as_str()
                .unwrap_or("a change request");
            let message = format!(
                "Held for approval: {id} waits for an approver before the change takes effect."
            );
            Ok(redirect_with_flash(back, "warn", &message))
        }
        Ok(_) => Ok(redirect_with_flash(back, "ok", done)),
        Err(ApiError::Refused {
            code: "reason_required" | "confirmation_required",
            message,
            ..
        }) if common.confirmed != "yes" || common.reason.trim().is_empty() => {
            confirm(state, principal, common, back, &retry, &message).await
        }
        Err(error) => {
            let message = api_message(error).await;
            Ok(redirect_with_flash(back, "error", &message))
        }
    }
}

/// The confirmation page of an action.
#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    shell: Shell,
    heading: String,
    note: String,
    action_url: String,
    hidden: Vec<(&'static str, String)>,
    back: String,
    reason: String,
    button: String,
    danger: bool,
}

pub(super) async fn confirm(
    state: &AppState,
    principal: &Principal,
    common: &CommonFields,
    back: &str,
    retry: &Retry,
    note: &str,
) -> PageResult {
    let live = state.live.current();
    let uri = axum::http::Uri::from_static("/");
    let shell = Shell::new(state, &live, principal, retry.heading.clone(), "", &uri).await;
    render(&ConfirmPage {
        shell,
        heading: retry.heading.clone(),
        note: note.to_owned(),
        action_url: retry.action_url.clone(),
        hidden: retry.hidden.clone(),
        back: back.to_owned(),
        reason: common.reason.clone(),
        button: retry.button.clone(),
        danger: retry.danger,
    })
}

/// Refuses a form whose CSRF token is not the one of the signed-in person.
pub(super) fn check_csrf(principal: &Principal, common: &CommonFields) -> Result<(), UiError> {
    if session::form_token_matches(principal, &common.csrf) {
        Ok(())
    } else {
        Err(UiError(ApiError::Forbidden(
            "this form has expired; reload the page and try again".into(),
        )))
    }
}

/// The request's headers for the API handler: the request's own (its
/// request id ends up in the audit), with the form's reason, confirmation
/// and version where the API reads them (and nothing the browser sent in
/// their place).
pub(super) fn write_headers(
    headers: &HeaderMap,
    common: &CommonFields,
    version: Option<i64>,
) -> HeaderMap {
    let mut out = headers.clone();
    for name in [
        "x-change-reason",
        "x-confirm",
        "x-override-change-window",
        "x-deployment-id",
    ] {
        out.remove(name);
    }
    out.remove(header::IF_MATCH);
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            out.insert(name, value);
        }
    };
    if let Some(reason) = non_empty(&common.reason) {
        set(HeaderName::from_static("x-change-reason"), &reason);
    }
    if common.confirmed == "yes" {
        set(HeaderName::from_static("x-confirm"), "true");
    }
    if let Some(version) = version {
        set(header::IF_MATCH, &format!("\"{version}\""));
    }
    out
}

/// Where to go after an action: the form's `back`, else the page the form
/// was on (`Referer`), else `fallback`; always a path on this site.
pub(super) fn back_to(headers: &HeaderMap, common: &CommonFields, fallback: &str) -> String {
    local_path(non_empty(&common.back).as_deref())
        .or_else(|| local_path(headers.get(header::REFERER).and_then(|v| v.to_str().ok())))
        .unwrap_or_else(|| fallback.to_owned())
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// An answer's JSON body (small: the API's own answers).
pub(super) async fn body_json(response: Response) -> Value {
    let bytes = to_bytes(response.into_body(), 1024 * 1024)
        .await
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or_default()
}

/// The message the API would answer for an error (what people read).
pub(super) async fn api_message(error: ApiError) -> String {
    let body = body_json(axum::response::IntoResponse::into_response(error)).await;
    body["error"]["message"]
        .as_str()
        .unwrap_or("the change failed")
        .to_owned()
}
