//! `GET /audit`: the audit log, newest first, filtered by flag,
//! environment, actor and action (GET parameters, so a view can be shared),
//! a page at a time; and, on request, the hash chain's verification. Both
//! through the API's own handlers (`GET /api/v1/audit`, `/audit/verify`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Uri;
use ff_api_types::AuditQuery;
use ff_store::ResourceKind;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::routes::audit;
use crate::state::AppState;
use crate::ui::dashboard::Choice;
use crate::ui::shell::{PageResult, Shell, format_time, percent_encode, render, viewer};

/// The page's filters.
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilters {
    #[serde(default)]
    flag_id: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    /// The next page: entries below this id.
    before_id: Option<i64>,
    /// `1`: verify the hash chain (reads the whole log).
    #[serde(default)]
    verify: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    shell: Shell,
    filters: AuditFilters,
    entries: Vec<EntryRow>,
    next_page: Option<String>,
    verification: Option<Verification>,
    verify_link: String,
    env_choices: Vec<Choice>,
    filtered: bool,
}

struct EntryRow {
    id: i64,
    at: String,
    actor: String,
    action: String,
    kind: &'static str,
    resource: String,
    flag_link: Option<String>,
    environment: Option<String>,
    reason: Option<String>,
    deployment_id: Option<String>,
}

struct Verification {
    valid: bool,
    entries: u64,
    first_broken_id: Option<i64>,
}

/// Entries per page.
const PAGE: u32 = 50;

/// `GET /audit`.
pub async fn show_audit(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    Query(filters): Query<AuditFilters>,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "Audit log", "audit", &uri).await;
    let query = AuditQuery {
        flag_id: non_empty(&filters.flag_id),
        environment: non_empty(&filters.environment),
        actor: non_empty(&filters.actor),
        action: non_empty(&filters.action),
        before_id: filters.before_id,
        limit: Some(PAGE),
        ..AuditQuery::default()
    };
    let page = audit::list_audit(State(state.clone()), principal.clone(), QueryParams(query))
        .await?
        .0;
    let next_page = page
        .next_cursor
        .map(|cursor| format!("{}&before_id={cursor}", filter_query(&filters)));
    let verification = if filters.verify == "1" {
        let answer = audit::verify_audit(State(state.clone()), principal)
            .await?
            .0;
        Some(Verification {
            valid: answer.valid,
            entries: answer.entries,
            first_broken_id: answer.first_broken_id,
        })
    } else {
        None
    };
    let entries = page
        .items
        .into_iter()
        .map(|entry| EntryRow {
            id: entry.id,
            at: time::OffsetDateTime::parse(
                &entry.at,
                &time::format_description::well_known::Rfc3339,
            )
            .map(format_time)
            .unwrap_or(entry.at),
            kind: ResourceKind::from_name(&entry.resource_kind)
                .map_or("other", ResourceKind::as_str),
            flag_link: ResourceKind::from_name(&entry.resource_kind)
                .and_then(|kind| resource_link(kind, &entry.resource_key)),
            resource: entry.resource_key,
            actor: entry.actor,
            action: entry.action,
            environment: entry.environment,
            reason: entry.reason,
            deployment_id: entry.deployment_id,
        })
        .collect();
    let env_choices = Choice::list(
        live.environments.keys().map(String::as_str),
        &filters.environment,
    );
    render(&AuditPage {
        shell,
        verify_link: format!("{}&verify=1", filter_query(&filters)),
        filtered: !(filters.flag_id.is_empty()
            && filters.environment.is_empty()
            && filters.actor.is_empty()
            && filters.action.is_empty()),
        entries,
        next_page,
        verification,
        filters,
        env_choices,
    })
}

/// Where a resource of the log is shown: a flag's page, a change request's
/// JSON (its page comes with the approvals queue).
fn resource_link(kind: ResourceKind, key: &str) -> Option<String> {
    match kind {
        ResourceKind::Flag => Some(format!("/flags/{key}")),
        ResourceKind::ChangeRequest => Some(format!("/api/v1/change-requests/{key}")),
        _ => None,
    }
}

/// `/audit?flag_id=…&…` with the current filters.
fn filter_query(filters: &AuditFilters) -> String {
    format!(
        "/audit?flag_id={}&environment={}&actor={}&action={}",
        percent_encode(&filters.flag_id),
        percent_encode(&filters.environment),
        percent_encode(&filters.actor),
        percent_encode(&filters.action)
    )
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
