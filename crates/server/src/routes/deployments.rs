//! `/api/v1/deployments/{id}`: the flag changes a deployment made (every
//! write carrying its `X-Deployment-Id`), undone at once; and the seed's
//! deployment hooks (`pre_deploy` / `post_deploy` steps `enable_flag`,
//! `disable_flag`, `verify_flags`) run as one all-or-nothing request tagged
//! with the deployment id, so that a rollback undoes them too.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use ff_api_types::{
    DeploymentHooks, DeploymentHooksRequest, DeploymentRollback, DeploymentRollbackRequest,
    HookStep as StepReport, RevertedFlag,
};
use ff_engine::Flag;
use ff_engine::edit::{enabled_in, set_enabled, static_value};
use ff_store::{Change, Expect, FlagVersion, Role, StoredFlag};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJsonBody, Path};
use crate::flag_ops::{parse_flag, with_environment_entry};
use crate::governance::{WriteMeta, WriteMode};
use crate::routes::change_requests::held;
use crate::state::AppState;
use crate::write::{Outcome, apply, change};

/// What the rollback does to one flag.
struct Revert {
    flag_id: String,
    /// The version before the deployment's first change (`None`: the
    /// deployment created the flag).
    restored_version: Option<i64>,
    /// The flag now.
    current: StoredFlag,
    /// The flag after the rollback (`None`: delete it).
    target: Option<Flag>,
}

/// `POST /api/v1/deployments/{id}/rollback`: every flag the deployment
/// changed goes back to what it was before the deployment's first change of
/// it, in one audited commit. An emergency procedure where it only turns
/// flags off; where it turns one back on in an environment that requires
/// approval, the whole rollback becomes one change request (`202`).
pub async fn rollback_deployment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(deployment_id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<DeploymentRollbackRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let live = state.live.current();
    if let Some(env) = &body.environment
        && !live.environments.contains_key(env)
    {
        return Err(ApiError::not_found("environment", env));
    }
    let versions = state.store.deployment_versions(&deployment_id).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!(
            "deployment \"{deployment_id}\" changed no flag (changes name their deployment with X-Deployment-Id)"
        )));
    }
    let reverts = plan_reverts(&state, &versions, body.environment.as_deref()).await?;
    let meta = WriteMeta::from_request(&principal, &headers)
        .with_body(body.reason, None)
        .in_mode(WriteMode::Rollback)
        .with_default_reason(|| format!("rollback of deployment {deployment_id}"));
    // The rollback is not itself part of the deployment.
    let meta = WriteMeta {
        deployment_id: None,
        ..meta
    };
    let environment = body.environment.clone();
    let changing: Vec<&Revert> = reverts.iter().filter(|r| r.changes_something()).collect();
    let revision = if changing.is_empty() {
        live.revision
    } else {
        let outcome = apply(&state, meta, |_| {
            Ok(changing
                .iter()
                .map(|revert| {
                    let expect = Expect::Version(revert.current.version);
                    let kind = match &revert.target {
                        Some(flag) => Change::PutFlag(flag.clone(), expect),
                        None => Change::DeleteFlag(revert.flag_id.clone(), expect),
                    };
                    change(kind, "deployment.rollback", environment.as_deref())
                })
                .collect::<Vec<_>>())
        })
        .await?;
        match outcome {
            Outcome::Committed(commit) => commit.revision,
            Outcome::Unchanged => state.live.current().revision,
            Outcome::Held(request) => return Ok(held(&request)),
        }
    };
    let flags: Vec<RevertedFlag> = reverts
        .iter()
        .map(|revert| RevertedFlag {
            flag_id: revert.flag_id.clone(),
            result: revert.result().to_owned(),
            from_version: revert.current.version,
            restored_version: revert.restored_version,
        })
        .collect();
    Ok(Json(DeploymentRollback {
        deployment_id,
        environment: body.environment,
        revision,
        flags,
    })
    .into_response())
}

impl Revert {
    fn changes_something(&self) -> bool {
        match &self.target {
            Some(flag) => self.current.deleted || *flag != self.current.flag,
            None => !self.current.deleted,
        }
    }

    fn result(&self) -> &'static str {
        match (&self.target, self.changes_something()) {
            (_, false) => "unchanged",
            (None, true) => "deleted",
            (Some(_), true) if self.current.deleted => "restored",
            (Some(_), true) => "reverted",
        }
    }
}

/// For each flag the deployment changed: what it was before.
async fn plan_reverts(
    state: &AppState,
    versions: &[FlagVersion],
    environment: Option<&str>,
) -> Result<Vec<Revert>, ApiError> {
    // The deployment's first version of each flag.
    let mut first: BTreeMap<&str, i64> = BTreeMap::new();
    for version in versions {
        first
            .entry(version.flag_id.as_str())
            .and_modify(|v| *v = (*v).min(version.version))
            .or_insert(version.version);
    }
    let mut reverts = Vec::with_capacity(first.len());
    for (flag_id, first_version) in first {
        let current =
            state.store.flag(flag_id).await?.ok_or_else(|| {
                ApiError::Internal(format!("flag {flag_id} has versions but no row"))
            })?;
        let before = match first_version {
            1 => None,
            v => {
                state
                    .store
                    .flag_version(flag_id, v.saturating_sub(1))
                    .await?
            }
        };
        let before_doc = before.as_ref().filter(|b| !b.deleted).map(|b| &b.document);
        let target = match (environment, before_doc) {
            (None, Some(doc)) => Some(parse_flag(doc)?),
            (None, None) => None,
            (Some(env), doc) => {
                // Only this environment's entry goes back (removed if the
                // flag had none, or did not exist).
                let entry = doc
                    .and_then(|d| d.get("environments"))
                    .and_then(|e| e.get(env));
                Some(parse_flag(&with_environment_entry(
                    &current.flag,
                    env,
                    entry.cloned(),
                ))?)
            }
        };
        reverts.push(Revert {
            flag_id: flag_id.to_owned(),
            restored_version: before.map(|b| b.version),
            current,
            target,
        });
    }
    Ok(reverts)
}

/// One hook step.
#[derive(Debug, Clone, PartialEq)]
enum HookStep {
    Enable(String),
    Disable(String),
    Verify(Vec<String>),
}

/// `POST /api/v1/deployments/{id}/hooks`: runs one phase's steps in order
/// against the flags as they would be, and commits every flag change in one
/// transaction tagged with the deployment id — or nothing, when a step
/// names an unknown flag or a `verify_flags` flag is not on.
pub async fn run_deployment_hooks(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(deployment_id): Path<String>,
    JsonBody(body): JsonBody<DeploymentHooksRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    if !["pre_deploy", "post_deploy"].contains(&body.phase.as_str()) {
        return Err(ApiError::bad_request(
            "invalid_phase",
            format!(
                "phase must be pre_deploy or post_deploy, found \"{}\"",
                body.phase
            ),
        ));
    }
    let steps = parse_steps(&body.deployment, &body.phase)?;
    let env = body.environment.clone();
    if !state.live.current().environments.contains_key(&env) {
        return Err(ApiError::not_found("environment", &env));
    }
    let phase = body.phase.clone();
    let meta = WriteMeta::from_request(&principal, &headers)
        .with_body(body.reason, Some(deployment_id.clone()))
        .with_default_reason(|| format!("{phase} of deployment {deployment_id}"));
    let mut report = Vec::new();
    let action = format!("deployment.{phase}");
    let outcome = apply(&state, meta, |live| {
        let tree = live.environment_tree();
        // The flags as the steps leave them, in step order.
        let mut planned: BTreeMap<String, Flag> = BTreeMap::new();
        let mut failures = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            match step {
                HookStep::Enable(flag_id) | HookStep::Disable(flag_id) => {
                    let on = matches!(step, HookStep::Enable(_));
                    let Some(flag) = planned
                        .get(flag_id)
                        .cloned()
                        .or_else(|| live.flags.get(flag_id).map(|f| f.flag.clone()))
                    else {
                        failures.push(hook_step(
                            i,
                            flag_id,
                            HookOutcome::Failed("no such flag".into()),
                        ));
                        continue;
                    };
                    planned.insert(flag_id.clone(), set_enabled(&flag, &env, on, &tree));
                    report.push(hook_step(i, flag_id, HookOutcome::Enabled(on)));
                }
                HookStep::Verify(flag_ids) => {
                    for flag_id in flag_ids {
                        let flag = planned
                            .get(flag_id)
                            .or_else(|| live.flags.get(flag_id).map(|f| &f.flag));
                        let problem = match flag {
                            None => Some("no such flag".to_owned()),
                            Some(flag) if !enabled_in(flag, &env, &tree) => {
                                Some(format!("is off in {env}"))
                            }
                            Some(flag) => match static_value(flag, &env, &tree) {
                                Some(Value::Bool(false)) => Some(format!("serves false in {env}")),
                                _ => None,
                            },
                        };
                        match problem {
                            Some(problem) => {
                                failures.push(hook_step(i, flag_id, HookOutcome::Failed(problem)))
                            }
                            None => report.push(hook_step(i, flag_id, HookOutcome::Verified)),
                        }
                    }
                }
            }
        }
        if !failures.is_empty() {
            let summary: Vec<String> = failures
                .iter()
                .map(|f| format!("{} {}", f.flag_id, f.problem.as_deref().unwrap_or_default()))
                .collect();
            return Err(ApiError::Conflict {
                code: "verify_failed",
                message: format!("the {phase} steps were not applied: {}", summary.join("; ")),
                details: json!({ "failures": failures }),
            });
        }
        Ok(planned
            .into_values()
            .filter_map(|flag| {
                let current = live.flags.get(&flag.flag_id)?;
                (current.flag != flag).then(|| {
                    change(
                        Change::PutFlag(flag, Expect::Version(current.version)),
                        &action,
                        Some(&env),
                    )
                })
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let revision = match outcome {
        Outcome::Committed(commit) => Some(commit.revision),
        // Nothing to change: only verifications, or all as asked.
        Outcome::Unchanged => None,
        Outcome::Held(request) => return Ok(held(&request)),
    };
    Ok(Json(DeploymentHooks {
        deployment_id,
        environment: env,
        phase,
        revision,
        steps: report,
    })
    .into_response())
}

/// The steps of one phase, each problem located by its path.
fn parse_steps(deployment: &Value, phase: &str) -> Result<Vec<HookStep>, ApiError> {
    // The seed's YAML has a top-level `deployment:`; accept it either way.
    let deployment = deployment.get("deployment").unwrap_or(deployment);
    let Some(steps) = deployment.get(phase) else {
        return Ok(Vec::new());
    };
    let Value::Array(steps) = steps else {
        return Err(invalid(
            format!("deployment.{phase}"),
            "must be a list of steps",
        ));
    };
    let mut parsed = Vec::with_capacity(steps.len());
    let mut problems = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let path = format!("deployment.{phase}[{i}]");
        let Some((kind, value)) = step
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
        else {
            problems.push(ff_engine::Problem::error(
                path,
                "each step is one of {enable_flag: id}, {disable_flag: id}, {verify_flags: [ids]}",
            ));
            continue;
        };
        let path = format!("{path}.{kind}");
        match (kind.as_str(), value) {
            ("enable_flag", Value::String(id)) => parsed.push(HookStep::Enable(id.clone())),
            ("disable_flag", Value::String(id)) => parsed.push(HookStep::Disable(id.clone())),
            ("verify_flags", Value::Array(ids)) if ids.iter().all(Value::is_string) => {
                parsed.push(HookStep::Verify(
                    ids.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                ))
            }
            ("enable_flag" | "disable_flag", _) => {
                problems.push(ff_engine::Problem::error(path, "must be a flag id"));
            }
            ("verify_flags", _) => {
                problems.push(ff_engine::Problem::error(
                    path,
                    "must be a list of flag ids",
                ));
            }
            (other, _) => problems.push(ff_engine::Problem::error(
                path,
                format!(
                    "unknown step \"{other}\"; expected enable_flag, disable_flag or verify_flags"
                ),
            )),
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(ApiError::Validation(problems))
    }
}

fn invalid(path: String, message: &str) -> ApiError {
    ApiError::Validation(vec![ff_engine::Problem::error(path, message)])
}

/// What a deployment step did.
enum HookOutcome {
    Enabled(bool),
    Verified,
    Failed(String),
}

fn hook_step(step: usize, flag_id: &str, outcome: HookOutcome) -> StepReport {
    let (enabled, verified, problem) = match outcome {
        HookOutcome::Enabled(on) => (Some(on), None, None),
        HookOutcome::Verified => (None, Some(true), None),
        HookOutcome::Failed(problem) => (None, None, Some(problem)),
    };
    StepReport {
        step,
        flag_id: flag_id.to_owned(),
        enabled,
        verified,
        problem,
    }
}
