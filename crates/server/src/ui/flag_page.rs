//! `GET /flags/{flag_id}`: one flag in every environment side by side (the
//! environment is a column, not a place to navigate to), the kill switch per
//! environment, a "test this flag" box, the raw document and its history.
//!
//! The test box is a GET form (`?env=&context=`): evaluating changes
//! nothing, so the result is a link that can be shared.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Uri;
use ff_api_types::EvaluationResult;
use ff_engine::{Condition, Context, Rule, Serve};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::live::live_flag;
use crate::routes::overview::{
    OverviewEnvironment, cell, effective_config, environments_in_tree_order, pending_requests,
};
use crate::state::AppState;
use crate::ui::changes::WindowState;
use crate::ui::changes::window_state;
use crate::ui::dashboard::{CellView, Choice};
use crate::ui::shell::{PageResult, Shell, format_time, percentage, render, viewer};

/// The test box's fields.
#[derive(Debug, Default, Deserialize)]
pub struct FlagQuery {
    /// The environment to evaluate in.
    #[serde(default)]
    env: String,
    /// The context, as JSON.
    #[serde(default)]
    context: String,
    /// The usage chart's range: `hour`, `day` (default) or `month`.
    #[serde(default)]
    usage: String,
}

#[derive(Template)]
#[template(path = "flag.html")]
struct FlagPage {
    shell: Shell,
    flag_id: String,
    flag_type: &'static str,
    description: String,
    tags: Vec<String>,
    owner: Option<String>,
    lifecycle: Option<&'static str>,
    version: i64,
    updated_at: String,
    prerequisites: Vec<String>,
    columns: Vec<Column>,
    test: TestBox,
    raw_json: String,
    history: Vec<HistoryRow>,
    usage: crate::ui::flag_usage::Usage,
}

/// One environment's column.
struct Column {
    cell: CellView,
    full_value: String,
    rules: Vec<RuleView>,
    own_rules: bool,
    pending: Vec<String>,
    /// The rollout percentage as a CSS width (`25%`).
    meter: String,
    /// Its change windows now (open, or when they next open).
    window: Option<WindowState>,
}

/// A targeting rule in words.
struct RuleView {
    name: String,
    conditions: Vec<String>,
    serve: String,
    percentage: Option<String>,
}

struct TestBox {
    env_choices: Vec<Choice>,
    context: String,
    result: Option<TestResult>,
    error: Option<String>,
}

struct TestResult {
    environment: String,
    value: String,
    variant: Option<String>,
    reason: String,
    rule: Option<String>,
    error_code: Option<String>,
}

struct HistoryRow {
    version: i64,
    action: String,
    actor: String,
    at: String,
    reason: Option<String>,
    deployment_id: Option<String>,
    diff_link: Option<String>,
    /// The rollback page for this version (not for the current one).
    rollback_link: Option<String>,
}

/// How many versions the history shows (the API pages through all).
const HISTORY: u32 = 25;

/// `GET /flags/{flag_id}`.
pub async fn show_flag(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    axum::extract::Path(flag_id): axum::extract::Path<String>,
    Query(query): Query<FlagQuery>,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let stored = live_flag(&live, &flag_id)?;
    let flag = &stored.flag;
    let shell = Shell::new(&state, &live, &principal, flag_id.clone(), "flags", &uri).await;
    let environments = environments_in_tree_order(&live);
    let pending = pending_requests(&state).await?;
    let now = time::OffsetDateTime::now_utc();
    let columns = environments
        .iter()
        .map(|env| {
            let mut overview_cell = cell(flag, &env.key, &environments);
            overview_cell.pending_change_requests = pending
                .get(&(flag_id.clone(), env.key.clone()))
                .cloned()
                .unwrap_or_default();
            let mut column = column(flag, env, &environments, overview_cell, &shell);
            column.window = live
                .environments
                .get(&env.key)
                .and_then(|e| window_state(&e.environment.change_windows, now));
            column
        })
        .collect();
    let test = test_box(&live, &flag_id, &environments, &query);
    let env_keys: Vec<String> = environments.iter().map(|e| e.key.clone()).collect();
    let usage = crate::ui::flag_usage::flag_usage(
        &state,
        &principal,
        &flag_id,
        &env_keys,
        crate::ui::flag_usage::Range::from_query(&query.usage),
    )
    .await?;
    let history = state
        .store
        .flag_versions(&flag_id, None, HISTORY)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|v| HistoryRow {
            diff_link: (v.version > 1).then(|| {
                format!(
                    "/flags/{flag_id}/diff?from={}&to={}",
                    v.version.saturating_sub(1),
                    v.version
                )
            }),
            rollback_link: (v.version != stored.version && !v.deleted)
                .then(|| format!("/flags/{flag_id}/rollback?version={}", v.version)),
            version: v.version,
            action: v.action,
            actor: v.actor,
            at: format_time(v.at),
            reason: v.reason,
            deployment_id: v.deployment_id,
        })
        .collect();
    render(&FlagPage {
        flag_type: flag.flag_type.as_str(),
        description: flag.description.clone().unwrap_or_default(),
        tags: flag.tags.clone(),
        owner: flag.owner.clone(),
        lifecycle: flag.lifecycle.map(|l| l.as_str()),
        version: stored.version,
        updated_at: format_time(stored.updated_at),
        prerequisites: flag.depends_on.iter().map(|d| d.flag.clone()).collect(),
        raw_json: serde_json::to_string_pretty(flag).unwrap_or_default(),
        columns,
        test,
        history,
        usage,
        flag_id,
        shell,
    })
}

fn column(
    flag: &ff_engine::Flag,
    env: &OverviewEnvironment,
    environments: &[OverviewEnvironment],
    overview_cell: crate::routes::overview::OverviewCell,
    shell: &Shell,
) -> Column {
    let (_, config) = effective_config(flag, &env.key, environments);
    let own_rules = config.targeting_rules.is_some();
    let rules = config
        .targeting_rules
        .as_deref()
        .unwrap_or(&flag.targeting_rules)
        .iter()
        .enumerate()
        .map(|(i, rule)| rule_view(i, rule))
        .collect();
    Column {
        full_value: serde_json::to_string_pretty(&overview_cell.value).unwrap_or_default(),
        pending: overview_cell.pending_change_requests.clone(),
        meter: overview_cell
            .rollout_percentage
            .map(|p| format!("{}%", p.clamp(0.0, 100.0)))
            .unwrap_or_default(),
        cell: CellView::of(&flag.flag_id, &overview_cell, env, &shell.killed),
        rules,
        own_rules,
        window: None,
    }
}

fn rule_view(index: usize, rule: &Rule) -> RuleView {
    RuleView {
        name: rule
            .name
            .clone()
            .unwrap_or_else(|| format!("Rule {}", super::ordinal(index))),
        conditions: rule.conditions.iter().map(condition_text).collect(),
        serve: match &rule.serve {
            Serve::Value(value) => format!("serve {value}"),
            Serve::Variant(name) => format!("serve variant {name}"),
            Serve::Split(split) => {
                let parts: Vec<String> = split
                    .iter()
                    .map(|w| format!("{} {}", w.variant, percentage(w.weight)))
                    .collect();
                format!("split {}", parts.join(" / "))
            }
        },
        percentage: rule.percentage.map(percentage),
    }
}

/// `country in ["IT","FR"]`, `in_segment beta_testers`.
fn condition_text(condition: &Condition) -> String {
    let mut text = String::new();
    if let Some(attribute) = &condition.attribute {
        text.push_str(attribute);
        text.push(' ');
    }
    text.push_str(condition.operator.as_str());
    if let Some(value) = &condition.value {
        text.push(' ');
        match value {
            Value::String(s) if condition.operator.is_segment() => text.push_str(s),
            other => text.push_str(&other.to_string()),
        }
    }
    text
}

/// The context shown in an empty test box.
const EXAMPLE_CONTEXT: &str = "{\n  \"user_id\": \"user-123\",\n  \"country\": \"IT\"\n}";

/// The test box, evaluated when the form was sent. Evaluates with the
/// compiled snapshot as `POST /api/v1/evaluate` does, but does not count
/// as a use of the flag: a person testing a flag must not hide that no
/// application evaluates it (the stale-flag report).
fn test_box(
    live: &crate::live::LiveConfig,
    flag_id: &str,
    environments: &[OverviewEnvironment],
    query: &FlagQuery,
) -> TestBox {
    let chosen = if query.env.is_empty() {
        environments
            .first()
            .map(|e| e.key.clone())
            .unwrap_or_default()
    } else {
        query.env.clone()
    };
    let mut test = TestBox {
        env_choices: Choice::list(environments.iter().map(|e| e.key.as_str()), &chosen),
        context: if query.context.is_empty() {
            EXAMPLE_CONTEXT.to_owned()
        } else {
            query.context.clone()
        },
        result: None,
        error: None,
    };
    if query.context.is_empty() && query.env.is_empty() {
        return test;
    }
    match evaluate(live, flag_id, &chosen, &query.context) {
        Ok(result) => test.result = Some(result),
        Err(message) => test.error = Some(message),
    }
    test
}

fn evaluate(
    live: &crate::live::LiveConfig,
    flag_id: &str,
    env: &str,
    context: &str,
) -> Result<TestResult, String> {
    let snapshot = live
        .snapshot
        .environment(env)
        .ok_or_else(|| format!("environment \"{env}\" does not exist"))?;
    let json: Value = if context.trim().is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_str(context).map_err(|e| format!("the context is not valid JSON: {e}"))?
    };
    let context = Context::from_json(json).map_err(|e| format!("invalid context: {}", e.0))?;
    let result = EvaluationResult::from_resolution(flag_id, &snapshot.evaluate(flag_id, &context));
    Ok(TestResult {
        environment: env.to_owned(),
        value: result
            .value
            .as_ref()
            .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
            .unwrap_or_else(|| "(none)".to_owned()),
        variant: result.variant,
        reason: result.reason,
        rule: result.rule.map(|r| match r.name {
            Some(name) => format!("{name} (rule {})", super::ordinal(r.index)),
            None => format!("Rule {}", super::ordinal(r.index)),
        }),
        error_code: result.error_code,
    })
}
