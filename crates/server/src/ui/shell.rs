//! What every page shows around its content (the top bar, the banner of
//! flags killed in protected environments, a flash message) and the small
//! helpers pages share: rendering, HTML errors, redirects with a message,
//! and formatting of values and times.

use askama::Template;
use axum::extract::Query;
use axum::http::Uri;
use axum::response::{Html, IntoResponse, Redirect, Response};
use ff_store::{AuditQuery, Role};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::live::LiveConfig;
use crate::routes::overview::{cell, environments_in_tree_order};
use crate::state::AppState;
use crate::ui::{assets, session};
use crate::work::change_request::RequestStatus;
use crate::work::item::Status;

/// The frame of every page.
pub struct Shell {
    /// The page's title (the tab shows "<title> · Feature flags").
    pub title: String,
    /// The navigation entry to highlight (`flags`, `audit`, …).
    pub active: &'static str,
    /// Who is signed in.
    pub user: String,
    /// Their role.
    pub role: &'static str,
    /// The CSRF token of every form.
    pub csrf: String,
    /// Whether they may change flags (editor and up): viewers see states,
    /// not buttons (the API would refuse them anyway).
    pub can_edit: bool,
    /// The stylesheet's URL.
    pub css: String,
    /// The script's URL.
    pub js: String,
    /// Flags killed in protected environments (the banner).
    pub killed: Vec<Killed>,
    /// The message of the previous action, if any.
    pub flash: Option<Flash>,
    /// The configuration revision the page shows (the script asks
    /// `/live/revision` for a later one); `None`: the page does not follow.
    pub revision: Option<i64>,
    /// Change requests waiting for approval (the top bar's count; at most
    /// 100).
    pub pending_changes: usize,
}

/// A flag the kill switch turned off in a protected environment.
pub struct Killed {
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: String,
}

/// The outcome of an action, shown once after its redirect.
pub struct Flash {
    /// `ok`, `warn` (e.g. held for approval) or `error`.
    pub kind: &'static str,
    /// For people.
    pub message: String,
}

impl Shell {
    /// The frame of a page for `principal`.
    pub async fn new(
        state: &AppState,
        live: &LiveConfig,
        principal: &Principal,
        title: impl Into<String>,
        active: &'static str,
        uri: &Uri,
    ) -> Shell {
        Shell {
            title: title.into(),
            active,
            user: session::display_name(principal),
            role: principal.role().map(Role::name).unwrap_or("none"),
            csrf: session::csrf_token(principal),
            can_edit: principal.require(Role::Editor).is_ok(),
            css: assets::css_url(),
            js: assets::js_url(),
            killed: killed_flags(state, live).await,
            flash: flash_from(uri),
            revision: Some(live.revision),
            pending_changes: pending_count(state).await,
        }
    }

    /// The frame of an error page (nobody known, nothing fetched).
    pub fn bare(title: &str) -> Shell {
        Shell {
            title: title.to_owned(),
            active: "",
            user: String::new(),
            role: "",
            csrf: String::new(),
            can_edit: false,
            css: assets::css_url(),
            js: assets::js_url(),
            killed: Vec::new(),
            flash: None,
            revision: None,
            pending_changes: 0,
        }
    }
}

/// How many recent kill switch entries are consulted for the banner.
const KILL_LOOKBACK: u32 = 200;

/// The flags off in a protected environment because of the kill switch:
/// those off there now that a recent `emergency.disable` turned off there.
/// Costs no query unless some flag is off in a protected environment.
pub async fn killed_flags(state: &AppState, live: &LiveConfig) -> Vec<Killed> {
    let environments = environments_in_tree_order(live);
    let mut off = Vec::new();
    for env in environments.iter().filter(|e| e.protected) {
        for stored in live.flags.values() {
            if !cell(&stored.flag, &env.key, &environments).enabled {
                off.push(Killed {
                    flag_id: stored.flag.flag_id.clone(),
                    environment: env.key.clone(),
                });
            }
        }
    }
    if off.is_empty() {
        return off;
    }
    let query = AuditQuery {
        action: Some("emergency.disable".to_owned()),
        limit: Some(KILL_LOOKBACK),
        ..AuditQuery::default()
    };
    match state.store.audit(&query).await {
        Ok(kills) => off.retain(|k| {
            kills.iter().any(|entry| {
                entry.resource_key == k.flag_id
                    && entry
                        .environment
                        .as_ref()
                        .is_none_or(|e| *e == k.environment)
            })
        }),
        // The banner is a warning: without the audit, every flag off in a
        // protected environment is shown rather than none.
        Err(error) => tracing::warn!(error = %error, "could not read the kill switch entries"),
    }
    off
}

/// The number of pending change requests for the top bar (at most 100:
/// the badge says "99+" beyond).
pub async fn pending_count(state: &AppState) -> usize {
    let query = ff_store::WorkQuery {
        kind: Some(ff_store::WorkKind::ChangeRequest),
        statuses: vec![<RequestStatus as Status>::as_str(RequestStatus::Pending).to_owned()],
        limit: Some(100),
        ..ff_store::WorkQuery::default()
    };
    match state.store.work_items(&query).await {
        Ok(items) => items.len(),
        Err(error) => {
            tracing::warn!(error = %error, "could not count the pending change requests");
            0
        }
    }
}

/// An error as a page: the message, and what to do.
pub struct UiError(pub ApiError);

impl From<ApiError> for UiError {
    fn from(error: ApiError) -> UiError {
        UiError(error)
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    shell: Shell,
    status: u16,
    message: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        // What people read: the API's own message for a refusal; for a
        // failure of ours, only that it failed (the cause is logged by the
        // API's answer, below, and never shown).
        let message = match &self.0 {
            ApiError::Unauthorized(_) => {
                "Your session has ended: sign in again to continue.".to_owned()
            }
            ApiError::Internal(_) | ApiError::Unavailable(_) => {
                "Something went wrong on our side; try again in a moment.".to_owned()
            }
            other => other.to_string(),
        };
        let api = self.0.into_response();
        let status = api.status();
        let page = ErrorPage {
            shell: Shell::bare(status.canonical_reason().unwrap_or("Error")),
            status: status.as_u16(),
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => api,
        }
    }
}

/// A page's result.
pub type PageResult = Result<Response, UiError>;

/// Renders a page template.
pub fn render<T: Template>(page: &T) -> PageResult {
    page.render()
        .map(|html| Html(html).into_response())
        .map_err(|e| UiError(ApiError::Internal(format!("template: {e}"))))
}

/// The principal of a page request, which must at least be a viewer.
pub fn viewer(principal: Result<Principal, ApiError>) -> Result<Principal, UiError> {
    let principal = principal?;
    principal.require(Role::Viewer)?;
    Ok(principal)
}

#[derive(Deserialize)]
struct FlashQuery {
    flash: Option<String>,
    flash_kind: Option<String>,
}

/// The flash message carried by a redirect's URL (`?flash=…&flash_kind=`).
fn flash_from(uri: &Uri) -> Option<Flash> {
    let Query(query) = Query::<FlashQuery>::try_from_uri(uri).ok()?;
    let message = query.flash.filter(|m| !m.is_empty())?;
    let kind = match query.flash_kind.as_deref() {
        Some("warn") => "warn",
        Some("error") => "error",
        _ => "ok",
    };
    Some(Flash { kind, message })
}

/// A redirect (303) to `back` with a flash message in its query string
/// (replacing any earlier one).
pub fn redirect_with_flash(back: &str, kind: &str, message: &str) -> Response {
    let (path, query) = back.split_once('?').unwrap_or((back, ""));
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("flash=") && !p.starts_with("flash_kind="))
        .collect();
    let flash = format!("flash={}", percent_encode(message));
    let flash_kind = format!("flash_kind={kind}");
    pairs.push(&flash);
    pairs.push(&flash_kind);
    Redirect::to(&format!("{path}?{}", pairs.join("&"))).into_response()
}

/// A local path to go back to: only paths on this site (`/…`, not `//…`),
/// so that a form cannot send people elsewhere.
pub fn local_path(candidate: Option<&str>) -> Option<String> {
    let path = candidate?;
    let path = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(path);
    (path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'))
        .then(|| path.to_owned())
}

/// Percent-encoding for a query string value (everything but unreserved
/// characters).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A value as shown in a table cell: strings without quotes, long ones cut.
pub fn short_value(value: &Value) -> String {
    const MAX: usize = 28;
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A percentage without a needless `.0`.
pub fn percentage(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0} %")
    } else {
        format!("{value} %")
    }
}

/// A time as people read it here: `2026-12-07 09:52 UTC`.
pub fn format_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(
            local_path(Some("/flags/a?q=1")).as_deref(),
            Some("/flags/a?q=1")
        );
        assert_eq!(
            local_path(Some("http://127.0.0.1:8001/?q=x")).as_deref(),
            Some("/?q=x")
        );
        assert_eq!(local_path(Some("//evil.example/")), None);
        assert_eq!(local_path(Some("https://evil.example")), None);
        assert_eq!(local_path(None), None);
    }

    #[test]
    fn flash_replaces_the_previous_one() {
        let response = redirect_with_flash("/?q=a&flash=old&flash_kind=ok", "warn", "held: 1 & 2");
        let location = response.headers()["location"].to_str().unwrap_or_default();
        assert_eq!(
            location,
            "/?q=a&flash=held%3A%201%20%26%202&flash_kind=warn"
        );
    }

    #[test]
    fn values_are_shortened() {
        assert_eq!(short_value(&Value::from("abc")), "abc");
        assert_eq!(short_value(&serde_json::json!(true)), "true");
        assert_eq!(
            short_value(&Value::from("x".repeat(40))).chars().count(),
            28
        );
        assert_eq!(percentage(25.0), "25 %");
        assert_eq!(percentage(12.5), "12.5 %");
    }
}
