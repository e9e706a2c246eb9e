//! `GET /api/v1/flags/stale`: cleanup candidates — flags nobody evaluates
//! any more, and flags that have served one value to everyone, everywhere,
//! for a long time (the feature shipped; the flag is dead code).

use axum::Json;
use axum::extract::State;
use ff_api_types::{StaleFlag, StaleFlags, StaleQuery};
use ff_engine::edit::static_value;
use ff_engine::{Flag, Serve};
use ff_store::{Role, StoredFlag};
use serde_json::Value;
use time::Duration;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::flag_ops::rfc3339;
use crate::state::AppState;
use crate::usage::ALL_FLAGS;

/// The longest look back, in days: dates further back than this are not
/// worth a calendar's arithmetic.
const MAX_DAYS: u32 = 36_500;

/// `GET /api/v1/flags/stale`.
pub async fn list_stale_flags(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<StaleQuery>,
) -> ApiResult<Json<StaleFlags>> {
    principal.require(Role::Viewer)?;
    let unused_days = query.unused_days.unwrap_or(30);
    let rollout_days = query.rollout_days.unwrap_or(14);
    for (name, days) in [("unused_days", unused_days), ("rollout_days", rollout_days)] {
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("{name} must be between 1 and {MAX_DAYS} (100 years), found {days}"),
            ));
        }
    }
    // What this node saw since its last flush counts too.
    crate::flush_flag_usage(&state).await;
    let usage = state.store.flag_usage().await?;
    let now = state.clock.now();
    let days_ago = |days: u32| {
        now.checked_sub(Duration::days(i64::from(days)))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    };
    let unused_since = days_ago(unused_days);
    let constant_since = days_ago(rollout_days);
    let live = state.live.current();
    let tree = live.environment_tree();
    let every_flag = usage.get(ALL_FLAGS).copied();
    let mut candidates = Vec::new();
    for stored in live.flags.values() {
        let last = [usage.get(&stored.flag.flag_id).copied(), every_flag]
            .into_iter()
            .flatten()
            .max();
        let mut reasons = Vec::new();
        match last {
            Some(last) if last < unused_since => reasons.push(format!(
                "not evaluated for {unused_days} days (last {})",
                rfc3339(last)
            )),
            None if stored.created_at < unused_since => reasons.push(format!(
                "never evaluated, created {} days ago",
                days_between(stored.created_at, now)
            )),
            _ => {}
        }
        if let Some(value) = constant_everywhere(
            stored,
            &live.environments.keys().cloned().collect::<Vec<_>>(),
            &tree,
        ) && stored.updated_at < constant_since
        {
            reasons.push(format!(
                "serves {value} to everyone in every environment, unchanged since {}",
                rfc3339(stored.updated_at)
            ));
        }
        if !reasons.is_empty() {
            candidates.push(StaleFlag {
                flag_id: stored.flag.flag_id.clone(),
                owner: stored.flag.owner.clone(),
                lifecycle: stored.flag.lifecycle.map(|l| l.as_str().to_owned()),
                last_evaluated_at: last.map(rfc3339),
                updated_at: rfc3339(stored.updated_at),
                reasons,
            });
        }
    }
    Ok(Json(StaleFlags {
        unused_days,
        rollout_days,
        as_of: rfc3339(now),
        items: candidates,
    }))
}

/// The one value a flag serves to everyone in every environment, if so.
fn constant_everywhere(
    stored: &StoredFlag,
    environments: &[String],
    tree: &[ff_engine::Environment],
) -> Option<Value> {
    let mut values = environments.iter().map(|env| {
        static_value(&stored.flag, env, tree).or_else(|| rolled_out_value(&stored.flag, env, tree))
    });
    let first = values.next()??;
    values.all(|v| v.as_ref() == Some(&first)).then_some(first)
}

/// The value a flag's first rule serves to everyone in an environment, when
/// that rule has no conditions and 100 % (or no percentage): what a finished
/// gradual rollout leaves behind. Later rules and the default are then dead.
fn rolled_out_value(flag: &Flag, env: &str, tree: &[ff_engine::Environment]) -> Option<Value> {
    let rules = ff_engine::edit::in_effect(flag, env, tree).rules;
    let first = rules.first()?;
    if !first.conditions.is_empty() || first.percentage.is_some_and(|p| p < 100.0) {
        return None;
    }
    match &first.serve {
        Serve::Value(value) => Some(value.clone()),
        Serve::Variant(name) => flag.variants.get(name).cloned(),
        // A split serves one value only when every share names the same.
        Serve::Split(shares) => {
            let first_share = shares.first()?;
            shares
                .iter()
                .all(|s| s.variant == first_share.variant)
                .then(|| flag.variants.get(&first_share.variant).cloned())?
        }
    }
}

/// Whole days from `earlier` to `later`, without the panic that subtracting
/// two times far apart could cause.
fn days_between(earlier: time::OffsetDateTime, later: time::OffsetDateTime) -> i64 {
    later
        .unix_timestamp()
        .saturating_sub(earlier.unix_timestamp())
        .div_euclid(86_400)
}
