//! `GET /api/v1/overview`: every flag in every environment at a glance, as
//! the dashboard shows it (the admin interface renders the same
//! [`Overview`]).
//!
//! Built from the live configuration in memory; the only store query is the
//! list of pending change requests (one query, whatever the number of
//! flags).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use ff_engine::{EnvironmentConfig, EnvironmentEntry, Flag, Rule};
use ff_store::{Role, StoredFlag};
use serde::Serialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::live::LiveConfig;
use crate::state::AppState;
use crate::work::change_request::{self, RequestStatus};
use crate::work::operations;

/// Every flag × every environment.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Overview {
    /// The store revision the overview reflects.
    pub revision: i64,
    /// The environments, parents before children.
    pub environments: Vec<OverviewEnvironment>,
    /// The live flags, by id; each with one cell per environment, in the
    /// order of `environments`.
    pub flags: Vec<OverviewFlag>,
}

/// An environment's settings that matter at a glance.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OverviewEnvironment {
    /// Its key.
    pub key: String,
    /// The environment it inherits from.
    pub parent: Option<String>,
    /// Flags without an entry here follow the parent.
    pub auto_sync: bool,
    /// Changes need a reason, destructive ones a confirmation.
    pub protected: bool,
    /// Changes are held for approval.
    pub approval_required: bool,
}

/// One flag and its state in every environment.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct OverviewFlag {
    /// The flag.
    pub flag_id: String,
    /// `boolean`, `string`, `number` or `json`.
    #[serde(rename = "type")]
    pub flag_type: &'static str,
    /// Free text.
    pub description: Option<String>,
    /// Labels.
    pub tags: Vec<String>,
    /// The owning team.
    pub owner: Option<String>,
    /// The lifecycle stage.
    pub lifecycle: Option<&'static str>,
    /// The current version.
    pub version: i64,
    /// One per environment.
    pub environments: Vec<OverviewCell>,
}

/// A flag in one environment.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct OverviewCell {
    /// The environment.
    pub environment: String,
    /// `false`: the flag serves its off value there.
    pub enabled: bool,
    /// The value served when no rule matches.
    pub value: Value,
    /// How many targeting rules are in effect.
    #[schemars(range(max = u32::MAX))]
    pub rules: usize,
    /// The first percentage among the rules in effect (a gradual rollout).
    pub rollout_percentage: Option<f64>,
    /// The environment whose entry is in effect, when inherited (`auto_sync`).
    pub inherited_from: Option<String>,
    /// Pending change requests that change this flag and need this
    /// environment's approval.
    pub pending_change_requests: Vec<String>,
}

/// `GET /api/v1/overview`.
pub async fn get_overview(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Overview>> {
    principal.require(Role::Viewer)?;
    let pending = pending_requests(&state).await?;
    Ok(Json(overview(&state.live.current(), &pending)))
}

/// Pending change requests by (flag, environment): one store query.
pub async fn pending_requests(state: &AppState) -> ApiResult<PendingRequests> {
    let items = operations::list_change_requests(
        state,
        Some(RequestStatus::Pending),
        None,
        None,
        PENDING_LIMIT,
    )
    .await?;
    let mut pending = PendingRequests::new();
    for stored in &items {
        let Ok(request) = change_request::document(stored) else {
            continue;
        };
        let flags: BTreeSet<&str> = request.changes.iter().map(|c| c.flag_id.as_str()).collect();
        for flag in flags {
            for env in &request.environments {
                pending
                    .entry((flag.to_owned(), env.clone()))
                    .or_default()
                    .push(stored.item.id.clone());
            }
        }
    }
    Ok(pending)
}

/// At most this many pending requests are shown (a queue longer than that
/// is a problem of its own, visible on the approvals page).
const PENDING_LIMIT: u32 = 1000;

/// Change request ids by (flag id, environment).
pub type PendingRequests = BTreeMap<(String, String), Vec<String>>;

/// The overview of a live configuration.
pub fn overview(live: &LiveConfig, pending: &PendingRequests) -> Overview {
    let environments = environments_in_tree_order(live);
    let flags = live
        .flags
        .values()
        .map(|stored| overview_flag(stored, &environments, pending))
        .collect();
    Overview {
        revision: live.revision,
        environments,
        flags,
    }
}

/// The environments, roots first and each child after its parent (then by
/// key): development, staging, production rather than alphabetical order.
pub fn environments_in_tree_order(live: &LiveConfig) -> Vec<OverviewEnvironment> {
    let all: Vec<OverviewEnvironment> = live
        .environments
        .values()
        .map(|e| OverviewEnvironment {
            key: e.environment.tree.key.clone(),
            parent: e.environment.tree.parent.clone(),
            auto_sync: e.environment.tree.auto_sync,
            protected: e.environment.protected,
            approval_required: e.environment.approval_required,
        })
        .collect();
    let mut ordered: Vec<OverviewEnvironment> = Vec::with_capacity(all.len());
    let mut placed: BTreeSet<String> = BTreeSet::new();
    // Depth by depth; the bound guards against a loop the validation missed.
    for _ in 0..=all.len() {
        let ready: Vec<&OverviewEnvironment> = all
            .iter()
            .filter(|e| !placed.contains(&e.key))
            .filter(|e| e.parent.as_ref().is_none_or(|p| placed.contains(p)))
            .collect();
        if ready.is_empty() {
            break;
        }
        let keys: Vec<String> = ready.iter().map(|e| e.key.clone()).collect();
        ordered.extend(ready.into_iter().cloned());
        placed.extend(keys);
    }
    ordered.extend(all.into_iter().filter(|e| !placed.contains(&e.key)));
    ordered
}

fn overview_flag(
    stored: &StoredFlag,
    environments: &[OverviewEnvironment],
    pending: &PendingRequests,
) -> OverviewFlag {
    let flag = &stored.flag;
    OverviewFlag {
        flag_id: flag.flag_id.clone(),
        flag_type: flag.flag_type.as_str(),
        description: flag.description.clone(),
        tags: flag.tags.clone(),
        owner: flag.owner.clone(),
        lifecycle: flag.lifecycle.map(|l| l.as_str()),
        version: stored.version,
        environments: environments
            .iter()
            .map(|env| {
                let mut cell = cell(flag, &env.key, environments);
                cell.pending_change_requests = pending
                    .get(&(flag.flag_id.clone(), env.key.clone()))
                    .cloned()
                    .unwrap_or_default();
                cell
            })
            .collect(),
    }
}

/// The flag as it is in effect in `env`: its own entry, or the one it
/// inherits through `auto_sync` parents, with the flag-level fallbacks.
pub fn cell(flag: &Flag, env: &str, environments: &[OverviewEnvironment]) -> OverviewCell {
    let (source, config) = effective_config(flag, env, environments);
    let rules: &[Rule] = config
        .targeting_rules
        .as_deref()
        .unwrap_or(&flag.targeting_rules);
    OverviewCell {
        environment: env.to_owned(),
        enabled: config.enabled.unwrap_or(true),
        rules: rules.len(),
        rollout_percentage: rules.iter().find_map(|r| r.percentage),
        value: config.value.unwrap_or_else(|| flag.default_value.clone()),
        inherited_from: source.filter(|k| *k != env).map(str::to_owned),
        pending_change_requests: Vec::new(),
    }
}

/// The environment whose entry is in effect in `env` (if any has one) and
/// that entry as a configuration (empty: the flag-level fallbacks apply).
pub fn effective_config<'a>(
    flag: &'a Flag,
    env: &str,
    environments: &[OverviewEnvironment],
) -> (Option<&'a str>, EnvironmentConfig) {
    let source = effective_source(flag, env, environments);
    let config = source
        .and_then(|key| flag.environments.get(key))
        .map(EnvironmentEntry::to_config)
        .unwrap_or_default();
    (source, config)
}

/// The environment whose entry is in effect in `env` (walking up through
/// `auto_sync` parents), if any has one.
fn effective_source<'a>(
    flag: &'a Flag,
    env: &str,
    environments: &[OverviewEnvironment],
) -> Option<&'a str> {
    let mut current = env.to_owned();
    for _ in 0..=environments.len() {
        if let Some((key, _)) = flag.environments.get_key_value(current.as_str()) {
            return Some(key.as_str());
        }
        let parent = environments
            .iter()
            .find(|e| e.key == current)
            .filter(|e| e.auto_sync)
            .and_then(|e| e.parent.clone());
        current = parent?;
    }
    None
}
