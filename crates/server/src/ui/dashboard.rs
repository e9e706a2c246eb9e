//! `GET /`: every flag × every environment (the API's overview, filtered),
//! recent changes and the service's health; or, on an empty installation,
//! the first-run page: how to create a flag and connect an app.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri, header};
use ff_engine::{FlagType, Lifecycle};
use ff_store::AuditQuery;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::routes::overview::{
    OverviewCell, OverviewEnvironment, OverviewFlag, environments_in_tree_order, overview,
    pending_requests,
};
use crate::routes::stale;
use crate::state::AppState;
use crate::ui::shell::{
    Killed, PageResult, Shell, format_time, percentage, render, short_value, viewer,
};

/// The dashboard's filters, kept in the URL so that a view can be shared.
#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    /// Text in the id, description, owner or tags.
    #[serde(default)]
    q: String,
    /// Only flags with this tag.
    #[serde(default)]
    tag: String,
    /// Only flags of this type.
    #[serde(default, rename = "type")]
    flag_type: String,
    /// Only flags in this lifecycle stage.
    #[serde(default)]
    lifecycle: String,
    /// `1`: only cleanup candidates (`GET /api/v1/flags/stale`'s).
    #[serde(default)]
    stale: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    shell: Shell,
    filters: DashboardQuery,
    environments: Vec<OverviewEnvironment>,
    rows: Vec<Row>,
    total: usize,
    tag_choices: Vec<Choice>,
    type_choices: Vec<Choice>,
    lifecycle_choices: Vec<Choice>,
    recent: Vec<RecentChange>,
    health: Health,
}

#[derive(Template)]
#[template(path = "first_run.html")]
pub(super) struct FirstRunPage {
    pub(super) shell: Shell,
    pub(super) base_url: String,
    pub(super) environments: Vec<Choice>,
    /// A server key created on this page (shown once), for the snippets.
    pub(super) key: Option<NewKey>,
}

/// A key just created: its secret is shown once.
pub(super) struct NewKey {
    pub(super) name: String,
    pub(super) secret: String,
    pub(super) environment: String,
}

impl FirstRunPage {
    /// The environment the snippets connect to.
    fn environment(&self) -> &str {
        match &self.key {
            Some(key) => &key.environment,
            None => "production",
        }
    }

    /// The server key in a shell snippet.
    fn shell_key(&self) -> String {
        match &self.key {
            Some(key) => key.secret.clone(),
            None => "$FF_SERVER_KEY".to_owned(),
        }
    }

    /// The server key in the Kotlin snippet.
    fn kotlin_key(&self) -> String {
        match &self.key {
            Some(key) => format!("\"{}\"", key.secret),
            None => "System.getenv(\"FF_SERVER_KEY\")".to_owned(),
        }
    }

    /// The server key in the Python snippet.
    fn python_key(&self) -> String {
        match &self.key {
            Some(key) => format!("\"{}\"", key.secret),
            None => "os.environ[\"FF_SERVER_KEY\"]".to_owned(),
        }
    }
}

/// A flag's row.
pub struct Row {
    flag_id: String,
    flag_type: &'static str,
    description: String,
    tags: Vec<String>,
    lifecycle: Option<&'static str>,
    version: i64,
    /// Lowercased text the instant search looks in.
    search: String,
    /// Why it is a cleanup candidate (with the stale filter).
    stale_reason: Option<String>,
    cells: Vec<CellView>,
    /// Evaluations in the last 24 hours, every environment.
    usage: crate::ui::day_usage::DayUsage,
}

/// A flag in one environment, as the matrix shows it.
pub struct CellView {
    pub env: String,
    pub enabled: bool,
    pub killed: bool,
    pub value: String,
    pub rollout: Option<String>,
    pub rules: usize,
    pub inherited_from: Option<String>,
    pub pending: usize,
    /// Changes need a reason (and turning off a confirmation).
    pub protected: bool,
    /// Changes are held for approval.
    pub approval: bool,
}

impl CellView {
    /// The cell of an overview entry.
    pub fn of(
        flag_id: &str,
        cell: &OverviewCell,
        env: &OverviewEnvironment,
        killed: &[Killed],
    ) -> CellView {
        CellView {
            env: cell.environment.clone(),
            enabled: cell.enabled,
            killed: !cell.enabled
                && killed
                    .iter()
                    .any(|k| k.flag_id == flag_id && k.environment == cell.environment),
            value: short_value(&cell.value),
            rollout: cell.rollout_percentage.map(percentage),
            rules: cell.rules,
            inherited_from: cell.inherited_from.clone(),
            pending: cell.pending_change_requests.len(),
            protected: env.protected,
            approval: env.approval_required,
        }
    }

    /// The word for the state: On, Off or Killed.
    pub fn status(&self) -> &'static str {
        match (self.enabled, self.killed) {
            (true, _) => "On",
            (false, true) => "Killed",
            (false, false) => "Off",
        }
    }

    /// `on`, `off` or `killed`: the style of the state.
    pub fn status_class(&self) -> &'static str {
        match (self.enabled, self.killed) {
            (true, _) => "on",
            (false, true) => "killed",
            (false, false) => "off",
        }
    }
}

/// An option of a filter's select.
pub struct Choice {
    pub value: String,
    pub selected: bool,
}

impl Choice {
    /// The options, the current one selected.
    pub fn list<'a>(values: impl Iterator<Item = &'a str>, current: &str) -> Vec<Choice> {
        values
            .map(|value| Choice {
                value: value.to_owned(),
                selected: value == current,
            })
            .collect()
    }
}

/// An audit entry in "recent changes".
pub struct RecentChange {
    at: String,
    actor: String,
    action: String,
    resource: String,
    flag_link: Option<String>,
    environment: Option<String>,
    reason: Option<String>,
}

/// The service at a glance.
struct Health {
    revision: i64,
    database_ok: bool,
    streams: usize,
}

/// `GET /`.
pub async fn show_dashboard(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    Query(filters): Query<DashboardQuery>,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    if live.flags.is_empty() {
        let shell = Shell::new(&state, &live, &principal, "Welcome", "dashboard", &uri).await;
        return render(&first_run(shell, &live, &state.config, &headers, None));
    }
    let shell = Shell::new(&state, &live, &principal, "Dashboard", "dashboard", &uri).await;
    let pending = pending_requests(&state).await?;
    let overview = overview(&live, &pending);
    let tags: BTreeSet<String> = overview
        .flags
        .iter()
        .flat_map(|f| f.tags.iter().cloned())
        .collect();
    let stale = if filters.stale == "1" {
        Some(stale_flags(&state, &principal).await?)
    } else {
        None
    };
    let usage = crate::ui::day_usage::cached_last_day(&state).await?;
    let rows: Vec<Row> = overview
        .flags
        .iter()
        .filter(|flag| filters.matches(flag))
        .filter_map(|flag| {
            let reason = match &stale {
                Some(stale) => Some(stale.get(&flag.flag_id)?.clone()),
                None => None,
            };
            let mut row = row(flag, &overview.environments, &shell.killed);
            row.stale_reason = reason;
            row.usage = usage.of(&flag.flag_id);
            Some(row)
        })
        .collect();
    let recent = recent_changes(&state).await?;
    let health = Health {
        revision: live.revision,
        database_ok: state.store.ping().await.is_ok(),
        streams: state.live.stream_count(),
    };
    render(&DashboardPage {
        shell,
        total: overview.flags.len(),
        environments: overview.environments,
        rows,
        tag_choices: Choice::list(tags.iter().map(String::as_str), &filters.tag),
        type_choices: Choice::list(FlagType::ALL.iter().map(|t| t.as_str()), &filters.flag_type),
        lifecycle_choices: Choice::list(
            Lifecycle::ALL.iter().map(|l| l.as_str()),
            &filters.lifecycle,
        ),
        recent,
        health,
        filters,
    })
}

/// The first-run page (with a key just created, if any).
pub(super) fn first_run(
    shell: Shell,
    live: &crate::live::LiveConfig,
    config: &crate::config::ServeConfig,
    headers: &HeaderMap,
    key: Option<NewKey>,
) -> FirstRunPage {
    let chosen = key
        .as_ref()
        .map_or("production", |k| k.environment.as_str())
        .to_owned();
    let keys: Vec<String> = environments_in_tree_order(live)
        .into_iter()
        .map(|e| e.key)
        .collect();
    FirstRunPage {
        shell,
        base_url: base_url(config, headers),
        environments: Choice::list(keys.iter().map(String::as_str), &chosen),
        key,
    }
}

impl DashboardQuery {
    /// Whether a flag passes every filter.
    fn matches(&self, flag: &OverviewFlag) -> bool {
        let needle = self.q.trim().to_lowercase();
        (self.tag.is_empty() || flag.tags.contains(&self.tag))
            && (self.flag_type.is_empty() || flag.flag_type == self.flag_type)
            && (self.lifecycle.is_empty() || flag.lifecycle == Some(self.lifecycle.as_str()))
            && (needle.is_empty() || search_text(flag).contains(&needle))
    }

    /// Whether any filter is set (the empty state then says so).
    fn any(&self) -> bool {
        !(self.q.is_empty()
            && self.tag.is_empty()
            && self.flag_type.is_empty()
            && self.lifecycle.is_empty()
            && self.stale.is_empty())
    }
}

/// What the search looks in, lowercased: the same for the server's `?q=`
/// and the page's instant search (the row's `data-search`).
fn search_text(flag: &OverviewFlag) -> String {
    let mut text = flag.flag_id.to_lowercase();
    for part in flag
        .description
        .iter()
        .chain(flag.owner.iter())
        .chain(flag.tags.iter())
    {
        text.push(' ');
        text.push_str(&part.to_lowercase());
    }
    text
}

fn row(flag: &OverviewFlag, environments: &[OverviewEnvironment], killed: &[Killed]) -> Row {
    Row {
        flag_id: flag.flag_id.clone(),
        flag_type: flag.flag_type,
        description: flag.description.clone().unwrap_or_default(),
        tags: flag.tags.clone(),
        lifecycle: flag.lifecycle,
        version: flag.version,
        search: search_text(flag),
        stale_reason: None,
        usage: crate::ui::day_usage::DayUsage::default(),
        cells: flag
            .environments
            .iter()
            .zip(environments)
            .map(|(cell, env)| CellView::of(&flag.flag_id, cell, env, killed))
            .collect(),
    }
}

/// The cleanup candidates and why, from the API's own handler.
async fn stale_flags(
    state: &AppState,
    principal: &Principal,
) -> Result<BTreeMap<String, String>, ApiError> {
    let answer = stale::list_stale_flags(
        State(state.clone()),
        principal.clone(),
        QueryParams(ff_api_types::StaleQuery::default()),
    )
    .await?
    .0;
    Ok(answer
        .items
        .into_iter()
        .map(|item| (item.flag_id, item.reasons.join("; ")))
        .collect())
}

/// How many audit entries "recent changes" shows.
const RECENT: u32 = 8;

async fn recent_changes(state: &AppState) -> Result<Vec<RecentChange>, ApiError> {
    let entries = state
        .store
        .audit(&AuditQuery {
            limit: Some(RECENT),
            ..AuditQuery::default()
        })
        .await?;
    Ok(entries
        .into_iter()
        .map(|entry| RecentChange {
            at: format_time(entry.at),
            flag_link: (entry.resource_kind == ff_store::ResourceKind::Flag)
                .then(|| format!("/flags/{}", entry.resource_key)),
            resource: entry.resource_key,
            actor: entry.actor,
            action: entry.action,
            environment: entry.environment,
            reason: entry.reason,
        })
        .collect())
}

/// This service's URL for the snippets: `--public-url`, else as the
/// browser reached it (https when the service speaks TLS itself).
fn base_url(config: &crate::config::ServeConfig, headers: &HeaderMap) -> String {
    if let Some(url) = &config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:8001");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or(if config.serves_tls() { "https" } else { "http" });
    format!("{scheme}://{host}")
}
