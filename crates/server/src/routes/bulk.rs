//! `POST /api/v1/flags/bulk`: several flag changes in one transaction, all or
//! nothing.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use ff_api_types::{BulkOperation, BulkRequest, BulkResponse, BulkResult};
use ff_engine::edit::set_enabled;
use ff_store::{Change, Expect, Role};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::flag_ops::{flag_response, merge_patch, strip_meta, with_environment_entry};
use crate::governance::WriteMeta;
use crate::live::LiveConfig;
use crate::routes::change_requests::held;
use crate::state::AppState;
use crate::write::{Outcome, apply, change, expect_version};

/// Applies every operation or none. A problem in operation `i` is reported
/// with the path `operations[i]…`.
pub async fn bulk_flags(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<BulkRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    if request.operations.is_empty() {
        return Err(ApiError::bad_request(
            "no_changes",
            "operations: give at least one operation",
        ));
    }
    let mut seen = HashSet::new();
    for (i, op) in request.operations.iter().enumerate() {
        if let Some(id) = op.flag_id()
            && !seen.insert(id.to_owned())
        {
            return Err(ApiError::bad_request(
                "duplicate_flag",
                format!(
                    "operations[{i}]: flag \"{id}\" is already changed by an earlier operation; combine them"
                ),
            ));
        }
    }
    let meta = WriteMeta::from_request(&principal, &headers)
        .with_body(request.reason, request.deployment_id);
    let operations = request.operations;
    let outcome = apply(&state, meta, |live| {
        let mut changes = Vec::with_capacity(operations.len());
        let mut problems = Vec::new();
        for (i, op) in operations.iter().enumerate() {
            match plan(live, op) {
                Ok(planned) => changes.push(planned),
                Err(ApiError::Validation(found)) => {
                    problems.extend(
                        found
                            .into_iter()
                            .map(|p| p.prefixed(&format!("operations[{i}]"))),
                    );
                }
                Err(ApiError::NotFound(message)) => {
                    problems.push(ff_engine::Problem::error(
                        format!("operations[{i}]"),
                        message,
                    ));
                }
                Err(ApiError::BadRequest { message, .. } | ApiError::Conflict { message, .. }) => {
                    problems.push(ff_engine::Problem::error(
                        format!("operations[{i}]"),
                        message,
                    ));
                }
                Err(other) => return Err(other),
            }
        }
        if problems.is_empty() {
            Ok(changes)
        } else {
            Err(ApiError::Validation(problems))
        }
    })
    .await?;
    let commit = match outcome {
        Outcome::Held(request) => return Ok(held(&request)),
        other => other.into_commit()?,
    };
    let results: Vec<BulkResult> = operations
        .iter()
        .filter_map(BulkOperation::flag_id)
        .map(|id| match commit.live.flags.get(id) {
            Some(stored) => BulkResult::Flag(flag_response(stored)),
            None => BulkResult::Deleted {
                flag_id: id.to_owned(),
                deleted: true,
            },
        })
        .collect();
    Ok(Json(BulkResponse {
        revision: commit.revision,
        results,
    })
    .into_response())
}

fn plan(live: &LiveConfig, op: &BulkOperation) -> Result<ff_store::AuditedChange, ApiError> {
    let existing = |id: &str| {
        live.flags
            .get(id)
            .ok_or_else(|| ApiError::not_found("flag", id))
    };
    let parse = |doc: &Value| ff_engine::parse_flag(doc).map_err(ApiError::Validation);
    let known_env = |env: &str| {
        if live.environments.contains_key(env) {
            Ok(())
        } else {
            Err(ApiError::not_found("environment", env))
        }
    };
    Ok(match op {
        BulkOperation::Create { flag } => {
            let mut doc = flag.clone();
            strip_meta(&mut doc)?;
            let flag = parse(&doc).map_err(|e| prefix(e, "flag"))?;
            if live.flags.contains_key(&flag.flag_id) {
                return Err(ApiError::bad_request(
                    "already_exists",
                    format!("flag \"{}\" already exists", flag.flag_id),
                ));
            }
            change(Change::PutFlag(flag, Expect::Absent), "flag.create", None)
        }
        BulkOperation::Replace { flag, version } => {
            let mut doc = flag.clone();
            let body_version = strip_meta(&mut doc)?;
            let flag = parse(&doc).map_err(|e| prefix(e, "flag"))?;
            let current = existing(&flag.flag_id)?;
            let expect = expect_version(version.or(body_version), current.version);
            change(Change::PutFlag(flag, expect), "flag.update", None)
        }
        BulkOperation::Patch {
            flag_id,
            patch,
            version,
        } => {
            let current = existing(flag_id)?;
            let mut doc = serde_json::to_value(&current.flag).unwrap_or_default();
            merge_patch(&mut doc, patch);
            let flag = parse(&doc).map_err(|e| prefix(e, "patch"))?;
            if flag.flag_id != *flag_id {
                return Err(ApiError::bad_request(
                    "flag_id_mismatch",
                    "flags cannot be renamed",
                ));
            }
            change(
                Change::PutFlag(flag, expect_version(*version, current.version)),
                "flag.update",
                None,
            )
        }
        BulkOperation::Delete { flag_id, version } => {
            let current = existing(flag_id)?;
            change(
                Change::DeleteFlag(flag_id.clone(), expect_version(*version, current.version)),
                "flag.delete",
                None,
            )
        }
        BulkOperation::Enable {
            flag_id,
            environment,
        }
        | BulkOperation::Disable {
            flag_id,
            environment,
        } => {
            known_env(environment)?;
            let current = existing(flag_id)?;
            let enable = matches!(op, BulkOperation::Enable { .. });
            let flag = set_enabled(&current.flag, environment, enable, &live.environment_tree());
            let action = if enable {
                "flag.enable"
            } else {
                "flag.disable"
            };
            change(
                Change::PutFlag(flag, Expect::Version(current.version)),
                action,
                Some(environment),
            )
        }
        BulkOperation::SetValue {
            flag_id,
            environment,
            value,
        } => {
            known_env(environment)?;
            let current = existing(flag_id)?;
            let entry = match current.flag.environments.get(environment) {
                Some(ff_engine::EnvironmentEntry::Config(config)) => {
                    let mut doc = serde_json::to_value(config).unwrap_or_default();
                    doc["value"] = value.clone();
                    doc
                }
                _ => json!({ "value": value }),
            };
            let flag = parse(&with_environment_entry(
                &current.flag,
                environment,
                Some(entry),
            ))?;
            change(
                Change::PutFlag(flag, Expect::Version(current.version)),
                "flag.environment.update",
                Some(environment),
            )
        }
    })
}

fn prefix(error: ApiError, field: &str) -> ApiError {
    match error {
        ApiError::Validation(problems) => {
            ApiError::Validation(problems.into_iter().map(|p| p.prefixed(field)).collect())
        }
        other => other,
    }
}
