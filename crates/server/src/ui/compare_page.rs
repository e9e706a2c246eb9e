//! `/environments/compare?from=staging&to=production`: what differs between
//! two environments (the API's environment diff, `GET
//! /api/v1/environments/diff`, inheritance resolved), flag by flag, with
//! promotion of one flag or all of them (`POST
//! /api/v1/environments/{to}/promote`). A promotion copies from an
//! environment's parent, so it is offered when `from` is `to`'s parent.
//! It is previewed first (what each flag serves in `to` now and after,
//! and whether `to` holds the change for approval), then applied with a
//! reason under `to`'s rules.

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use ff_api_types::{EnvironmentDiff, EnvironmentDiffQuery, PromoteRequest};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path, QueryParams};
use crate::routes::environments::{diff_environments, promote_environment};
use crate::routes::overview::environments_in_tree_order;
use crate::state::AppState;
use crate::ui::actions::{CommonFields, Retry, check_csrf, outcome, write_headers};
use crate::ui::form_data::FormFields;
use crate::ui::shell::{
    PageResult, Shell, percent_encode, redirect_with_flash, render, short_value, viewer,
};

/// `?from=&to=`.
#[derive(Debug, Default, Deserialize)]
pub struct CompareQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    shell: Shell,
    from: String,
    to: String,
    /// Every environment, for the two selects.
    environments: Vec<String>,
    rows: Vec<FlagRow>,
    equal: u64,
    /// The API's refusal (an unknown environment), if any.
    error: Option<String>,
    /// Whether `from` is `to`'s parent (promotion copies from the parent).
    can_promote: bool,
    /// `to`'s parent, when it is not `from` (to suggest that comparison).
    to_parent: Option<String>,
    /// What `to` asks of a change (approval, a reason).
    rules: String,
}

/// A flag that differs.
struct FlagRow {
    flag_id: String,
    changes: Vec<ChangeRow>,
}

/// One way it differs.
struct ChangeRow {
    /// `enabled`, `value`, `targeting_rules[0].percentage`, …
    what: String,
    /// In `from` (short, and whole for the tooltip).
    from: Shown,
    /// In `to`.
    to: Shown,
}

struct Shown {
    short: String,
    full: String,
    /// Absent there.
    missing: bool,
}

impl Shown {
    fn of(value: Option<&Value>, path: &str) -> Shown {
        match value {
            None => Shown {
                short: "not set".to_owned(),
                full: String::new(),
                missing: true,
            },
            Some(Value::Bool(on)) if path == "enabled" => Shown {
                short: if *on { "on" } else { "off" }.to_owned(),
                full: on.to_string(),
                missing: false,
            },
            Some(value) => Shown {
                short: short_value(value),
                full: serde_json::to_string_pretty(value).unwrap_or_default(),
                missing: false,
            },
        }
    }
}

/// `GET /environments/compare`.
pub async fn show_compare(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    Query(query): Query<CompareQuery>,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let shell = Shell::new(
        &state,
        &live,
        &principal,
        "Compare environments",
        "environments",
        &uri,
    )
    .await;
    let ordered = environments_in_tree_order(&live);
    let parent_of = |key: &str| {
        live.environments
            .get(key)
            .and_then(|e| e.environment.tree.parent.clone())
    };
    // By default the last environment with a parent, against its parent
    // (production against staging, as first start seeds them).
    let (from, to) = if query.from.is_empty() || query.to.is_empty() {
        ordered
            .iter()
            .rev()
            .find_map(|e| parent_of(&e.key).map(|p| (p, e.key.clone())))
            .unwrap_or_default()
    } else {
        (query.from, query.to)
    };
    let mut page = ComparePage {
        shell,
        environments: ordered.iter().map(|e| e.key.clone()).collect(),
        rows: Vec::new(),
        equal: 0,
        error: None,
        can_promote: parent_of(&to).as_deref() == Some(from.as_str()),
        to_parent: parent_of(&to).filter(|p| *p != from),
        rules: live
            .environments
            .get(&to)
            .map(|e| rules_of(&e.environment))
            .unwrap_or_default(),
        from,
        to,
    };
    if page.from.is_empty() {
        page.error = Some("Comparing needs two environments; this installation has one.".into());
        return render(&page);
    }
    match diff(&state, &principal, &page.from, &page.to).await {
        Ok(diff) => {
            page.equal = diff.equal;
            page.rows = diff.differences.into_iter().map(flag_row).collect();
        }
        Err(error) => page.error = Some(crate::ui::actions::api_message(error).await),
    }
    render(&page)
}

async fn diff(
    state: &AppState,
    principal: &Principal,
    from: &str,
    to: &str,
) -> Result<EnvironmentDiff, ApiError> {
    let Json(diff) = diff_environments(
        State(state.clone()),
        principal.clone(),
        QueryParams(EnvironmentDiffQuery {
            from: Some(from.to_owned()),
            to: Some(to.to_owned()),
        }),
    )
    .await?;
    Ok(diff)
}

fn flag_row(difference: ff_api_types::EnvironmentDifference) -> FlagRow {
    FlagRow {
        flag_id: difference.flag_id,
        changes: difference
            .changes
            .into_iter()
            .map(|c| ChangeRow {
                from: Shown::of(c.before.as_ref(), &c.path),
                to: Shown::of(c.after.as_ref(), &c.path),
                what: if c.path.is_empty() {
                    "everything".to_owned()
                } else {
                    c.path
                },
            })
            .collect(),
    }
}

/// What an environment asks of a change, in words ("" when nothing).
fn rules_of(settings: &ff_store::EnvironmentSettings) -> String {
    let key = &settings.tree.key;
    match (settings.approval_required, settings.protected) {
        (true, _) => format!(
            "{key} requires approval: a promotion becomes a change request that {} must approve.",
            if settings.required_approvals > 1 {
                format!("{} approvers", settings.required_approvals)
            } else {
                "an approver".to_owned()
            }
        ),
        (false, true) => format!("{key} is protected: a promotion needs a reason."),
        _ => String::new(),
    }
}

#[derive(Template)]
#[template(path = "promote.html")]
struct PromotePage {
    shell: Shell,
    from: String,
    to: String,
    rows: Vec<FlagRow>,
    rules: String,
    back: String,
}

/// `POST /environments/compare/promote`: without `confirmed=yes`, the
/// preview of what promoting the chosen flags (`flag`, or `all=yes`: every
/// flag that differs) would change; with it, the promotion.
pub async fn promote(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> PageResult {
    let principal = principal?;
    let form = FormFields::read(&headers, &body)?;
    let common = form.common();
    check_csrf(&principal, &common)?;
    let from = form.text("from");
    let to = form.text("to");
    let back = format!(
        "/environments/compare?from={}&to={}",
        percent_encode(&from),
        percent_encode(&to)
    );
    let parent = state
        .live
        .current()
        .environments
        .get(&to)
        .and_then(|e| e.environment.tree.parent.clone());
    if parent.as_deref() != Some(from.as_str()) {
        let message = match parent {
            Some(parent) => format!(
                "A promotion copies from an environment's parent: compare {parent} with {to} to promote into {to}."
            ),
            None => format!("{to} has no parent to promote from."),
        };
        return Ok(redirect_with_flash(&back, "error", &message));
    }
    let chosen = form.all("flag");
    let all = form.text("all") == "yes";
    let diff = match diff(&state, &principal, &from, &to).await {
        Ok(diff) => diff,
        Err(error) => {
            let message = crate::ui::actions::api_message(error).await;
            return Ok(redirect_with_flash(&back, "error", &message));
        }
    };
    let rows: Vec<FlagRow> = diff
        .differences
        .into_iter()
        .filter(|d| all || chosen.contains(&d.flag_id))
        .map(flag_row)
        .collect();
    if common.confirmed != "yes" {
        if rows.is_empty() {
            return Ok(redirect_with_flash(
                &back,
                "ok",
                &format!("Nothing to promote: {to} already serves what {from} does."),
            ));
        }
        let live = state.live.current();
        let shell = Shell::new(
            &state,
            &live,
            &principal,
            format!("Promote to {to}"),
            "environments",
            &uri,
        )
        .await;
        let rules = live
            .environments
            .get(&to)
            .map(|e| rules_of(&e.environment))
            .unwrap_or_default();
        return render(&PromotePage {
            shell,
            from,
            to,
            rows,
            rules,
            back,
        });
    }
    // Exactly the flags previewed (a flag equal by now is reported as
    // unchanged by the API).
    let flags = if chosen.is_empty() {
        rows.iter().map(|r| r.flag_id.clone()).collect()
    } else {
        chosen
    };
    if flags.is_empty() {
        return Ok(redirect_with_flash(
            &back,
            "ok",
            &format!("Nothing to promote: {to} already serves what {from} does."),
        ));
    }
    let done = format!("Promoted from {from} to {to}: {}.", flags.join(", "));
    let mut hidden: Vec<(&'static str, String)> = vec![("from", from.clone()), ("to", to.clone())];
    hidden.extend(flags.iter().map(|f| ("flag", f.clone())));
    let retry = Retry {
        heading: format!("Promote to {to}?"),
        action_url: "/environments/compare/promote".to_owned(),
        hidden,
        button: format!("Promote to {to}"),
        danger: false,
    };
    let reason = common.reason.trim();
    let request = PromoteRequest {
        flags,
        reason: (!reason.is_empty()).then(|| reason.to_owned()),
        ..PromoteRequest::default()
    };
    let result = promote_environment(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &common, None),
        Path(to.clone()),
        JsonBody(request),
    )
    .await;
    let common = CommonFields {
        back: back.clone(),
        ..common
    };
    outcome(&state, &principal, &common, &back, result, retry, &done).await
}
