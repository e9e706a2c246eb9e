//! Dependencies between flags: the seed's cross-repository
//! `flag-dependencies.yaml` checked against an environment, and what depends
//! on a flag. (`depends_on` prerequisites themselves are enforced when
//! written and when evaluated.)

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use ff_api_types::{
    CheckDependenciesQuery, DependencyCheck, DependencyResult, Dependent, Dependents,
};
use ff_engine::edit::{enabled_in, static_value};
use ff_engine::{Context, Environment, Flag, Problem};
use ff_store::Role;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::document::{declared_format, read_document};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, QueryParams, RawBody};
use crate::live::LiveConfig;
use crate::state::AppState;

/// The largest `flag-dependencies.yaml` checked (a few thousand
/// dependencies; the body limit of other routes is larger).
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// One requirement of the document: `flag` needs `depends_on` to be
/// `required_value`.
struct Requirement {
    flag: String,
    repository: Option<String>,
    depends_on: String,
    required_value: Value,
}

/// `POST /api/v1/dependencies/check?environment=E`: each dependency of the
/// seed's `flag-dependencies.yaml`, its required and actual value in E, and
/// whether it holds.
pub async fn check_dependencies(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    QueryParams(query): QueryParams<CheckDependenciesQuery>,
    RawBody(body): RawBody,
) -> ApiResult<Json<DependencyCheck>> {
    principal.require(Role::Viewer)?;
    let environment = query.environment.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            "environment: say which environment to check",
        )
    })?;
    let live = state.live.current();
    if !live.environments.contains_key(&environment) {
        return Err(ApiError::not_found("environment", &environment));
    }
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let format = declared_format(&headers, query.format.as_deref())?;
    let requirements =
        read_document(body, format, |document| parse_requirements(&document)).await?;
    let tree = live.environment_tree();
    let results: Vec<DependencyResult> = requirements
        .iter()
        .map(|r| check(&live, &environment, &tree, r))
        .collect();
    let holds = results.iter().all(|r| r.holds);
    Ok(Json(DependencyCheck {
        environment,
        holds,
        dependencies: results,
    }))
}

fn check(
    live: &LiveConfig,
    env: &str,
    tree: &[Environment],
    requirement: &Requirement,
) -> DependencyResult {
    let mut details = Vec::new();
    if !live.flags.contains_key(&requirement.flag) {
        details.push(format!("flag \"{}\" does not exist here", requirement.flag));
    }
    let (actual, holds) = match live.flags.get(&requirement.depends_on) {
        None => {
            details.push(format!(
                "flag \"{}\" does not exist here",
                requirement.depends_on
            ));
            (Value::Null, false)
        }
        Some(stored) => {
            let (actual, varies) = actual_value(live, &stored.flag, env, tree);
            if varies {
                details.push(format!(
                    "\"{}\" has targeting rules in \"{env}\": the value shown is the one for an empty context",
                    requirement.depends_on
                ));
            }
            let holds = actual == requirement.required_value;
            (actual, holds)
        }
    };
    DependencyResult {
        flag: requirement.flag.clone(),
        repository: requirement.repository.clone(),
        depends_on: requirement.depends_on.clone(),
        required_value: requirement.required_value.clone(),
        actual_value: actual,
        holds,
        detail: (!details.is_empty()).then(|| details.join("; ")),
    }
}

/// A flag's value in an environment for everyone when rules do not decide;
/// otherwise its value for an empty context, and `true` (it varies).
fn actual_value(live: &LiveConfig, flag: &Flag, env: &str, tree: &[Environment]) -> (Value, bool) {
    if let Some(value) = static_value(flag, env, tree) {
        return (value, false);
    }
    let value = live
        .snapshot
        .environment(env)
        .and_then(|snapshot| {
            let context = Context::from_json(json!({})).ok()?;
            snapshot.evaluate(&flag.flag_id, &context).value.cloned()
        })
        .unwrap_or(Value::Null);
    (value, true)
}

/// Reads `dependencies: [{flag, depends_on: [{repository, flag, required_value}]}]`,
/// every problem with its path.
fn parse_requirements(document: &Value) -> Result<Vec<Requirement>, ApiError> {
    let mut problems = Vec::new();
    let mut requirements = Vec::new();
    let Some(list) = document.get("dependencies").and_then(Value::as_array) else {
        return Err(ApiError::Validation(vec![Problem::error(
            "dependencies",
            "missing: the document lists `dependencies: [{flag, depends_on: [...]}]`",
        )]));
    };
    for (i, entry) in list.iter().enumerate() {
        let path = format!("dependencies[{i}]");
        let flag = entry.get("flag").and_then(Value::as_str);
        if flag.is_none() {
            problems.push(Problem::error(
                format!("{path}.flag"),
                "missing: the dependent flag's id",
            ));
        }
        let Some(items) = entry.get("depends_on").and_then(Value::as_array) else {
            problems.push(Problem::error(
                format!("{path}.depends_on"),
                "missing: a list of {repository, flag, required_value}",
            ));
            continue;
        };
        for (j, item) in items.iter().enumerate() {
            let item_path = format!("{path}.depends_on[{j}]");
            let Some(depends_on) = item.get("flag").and_then(Value::as_str) else {
                problems.push(Problem::error(
                    format!("{item_path}.flag"),
                    "missing: the flag depended on",
                ));
                continue;
            };
            if let Some(flag) = flag {
                requirements.push(Requirement {
                    flag: flag.to_owned(),
                    repository: item
                        .get("repository")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    depends_on: depends_on.to_owned(),
                    // As for `depends_on` in flags: `true` unless said.
                    required_value: item
                        .get("required_value")
                        .cloned()
                        .unwrap_or(Value::Bool(true)),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(requirements)
    } else {
        Err(ApiError::Validation(problems))
    }
}

/// `GET /api/v1/flags/{flag_id}/dependents`: the flags that require it,
/// directly or through others, and whether each requirement holds in each
/// environment now.
pub async fn list_dependents(
    State(state): State<AppState>,
    principal: Principal,
    Path(flag_id): Path<String>,
) -> ApiResult<Json<Dependents>> {
    principal.require(Role::Viewer)?;
    let live = state.live.current();
    crate::live::live_flag(&live, &flag_id)?;
    let tree = live.environment_tree();
    let mut seen = BTreeSet::from([flag_id.clone()]);
    let mut frontier = vec![flag_id.clone()];
    let mut dependents = Vec::new();
    let mut direct = true;
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for required in &frontier {
            for stored in live.flags.values() {
                let flag = &stored.flag;
                for dependency in flag.depends_on.iter().filter(|d| &d.flag == required) {
                    let prerequisite = live.flags.get(required).map(|f| &f.flag);
                    let holds: std::collections::BTreeMap<String, bool> = live
                        .environments
                        .keys()
                        .map(|env| {
                            let holds = prerequisite.is_some_and(|p| {
                                enabled_in(p, env, &tree)
                                    && static_value(p, env, &tree)
                                        .is_none_or(|v| v == dependency.required_value)
                            });
                            (env.clone(), holds)
                        })
                        .collect();
                    dependents.push(Dependent {
                        flag_id: flag.flag_id.clone(),
                        requires: required.clone(),
                        required_value: dependency.required_value.clone(),
                        repository: dependency.repository.clone(),
                        direct,
                        holds,
                    });
                    if seen.insert(flag.flag_id.clone()) {
                        next.push(flag.flag_id.clone());
                    }
                }
            }
        }
        frontier = next;
        direct = false;
    }
    Ok(Json(Dependents {
        flag_id,
        dependents,
    }))
}
