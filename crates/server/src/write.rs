//! The write path every change takes: plan against the latest configuration,
//! check that the change introduces no broken reference, commit (versions,
//! documents, audit, revision in one transaction), then refresh the live
//! configuration so that the next read sees it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::http::HeaderMap;
use ff_engine::{Flag, Problem, Segment, validate_set};
use ff_store::{AuditedChange, Change, ChangeSet, Committed, Expect, Role, StoredFlag};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::governance::{self, WriteMode};
use crate::live::LiveConfig;
use crate::state::AppState;

/// Who is writing, why, and as part of what.
#[derive(Debug, Clone, Default)]
pub struct WriteMeta {
    /// The API key id.
    pub actor: String,
    /// The actor's role (admin keys).
    pub role: Option<Role>,
    /// How strictly the environments' rules apply.
    pub mode: WriteMode,
    /// `X-Confirm: true`: destructive changes in protected environments
    /// are intended.
    pub confirmed: bool,
    /// `X-Override-Change-Window: true` (admins, with a reason).
    pub override_window: bool,
    /// `X-Change-Reason` header or a body's `reason`.
    pub reason: Option<String>,
    /// `X-Request-Id`.
    pub request_id: Option<String>,
    /// `X-Deployment-Id` header or a body's `deployment_id`.
    pub deployment_id: Option<String>,
}

impl WriteMeta {
    /// The metadata of a request.
    pub fn from_request(principal: &Principal, headers: &HeaderMap) -> WriteMeta {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let yes =
            |name: &str| header(name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        WriteMeta {
            actor: principal.key_id().to_owned(),
            role: principal.role(),
            mode: WriteMode::Governed,
            confirmed: yes("x-confirm"),
            override_window: yes("x-override-change-window"),
            reason: header("x-change-reason"),
            // A client's own request id is kept only when it is one the
            // audit log takes: it is for correlation, never worth a refusal.
            request_id: header("x-request-id").filter(|id| {
                ff_store::text::check_name("request_id", id, ff_store::text::MAX_ID_CHARS).is_ok()
            }),
            deployment_id: header("x-deployment-id"),
        }
    }

    /// The same writer, in another mode.
    pub fn in_mode(mut self, mode: WriteMode) -> WriteMeta {
        self.mode = mode;
        self
    }

    /// A reason when none was given (emergency procedures name themselves).
    pub fn with_default_reason(mut self, reason: impl FnOnce() -> String) -> WriteMeta {
        if self.reason.is_none() {
            self.reason = Some(reason());
        }
        self
    }

    /// A body's `reason` and `deployment_id` take precedence over headers.
    pub fn with_body(mut self, reason: Option<String>, deployment_id: Option<String>) -> WriteMeta {
        if reason.is_some() {
            self.reason = reason;
        }
        if deployment_id.is_some() {
            self.deployment_id = deployment_id;
        }
        self
    }
}

/// One audited change, for plans.
pub fn change(change: Change, action: &str, environment: Option<&str>) -> AuditedChange {
    AuditedChange {
        change,
        action: action.to_owned(),
        environment: environment.map(str::to_owned),
    }
}

/// Applies a write: `plan` turns the latest configuration into changes (or
/// refuses), the changes are checked and committed, and the live
/// configuration is refreshed. Returns the commit and the configuration that
/// includes it.
pub async fn apply<F>(
    state: &AppState,
    meta: WriteMeta,
    plan: F,
) -> Result<(Committed, Arc<LiveConfig>), ApiError>
where
    F: FnOnce(&LiveConfig) -> Result<Vec<AuditedChange>, ApiError>,
{
    let _serialised = state.writes.lock().await;
    // Another node may have written since this one last looked.
    state.live.refresh().await?;
    let live = state.live.current();
    let changes = plan(&live)?;
    if changes.is_empty() {
        return Err(ApiError::bad_request(
            "no_changes",
            "the request changes nothing",
        ));
    }
    check_references(&live, &changes)?;
    let now = state.clock.now();
    let review = governance::review(&live, &changes, &meta, now, &state.config.compliance_tags)?;
    if !review.held.is_empty() {
        let request = crate::routes::change_requests::hold(&live, &changes, &meta, &review)?;
        let held = crate::routes::change_requests::response(&request);
        state
            .store
            .commit(ChangeSet {
                changes: vec![change(
                    Change::PutWorkItem(request, Expect::Absent),
                    "change_request.create",
                    review.held.first().map(String::as_str),
                )],
                actor: meta.actor,
                at: now,
                reason: meta.reason,
                request_id: meta.request_id,
                deployment_id: meta.deployment_id,
            })
            .await?;
        return Err(ApiError::Held(held));
    }
    let mut reason = meta.reason;
    if !review.window_overridden.is_empty() {
        reason = Some(format!(
            "{} [change window overridden in {}]",
            reason.unwrap_or_default(),
            review.window_overridden.join(", ")
        ));
    }
    let written: Vec<String> = changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::PutFlag(flag, _) => Some(flag.flag_id.clone()),
            _ => None,
        })
        .collect();
    let committed = state
        .store
        .commit(ChangeSet {
            changes,
            actor: meta.actor,
            at: now,
            reason,
            request_id: meta.request_id,
            deployment_id: meta.deployment_id,
        })
        .await?;
    state.live.refresh().await?;
    let live = state.live.current();
    // New flags can be counted as used from their first evaluation on.
    state
        .flag_usage
        .track_written(&live, written.iter().map(String::as_str));
    Ok((committed, live))
}

/// Like [`apply`], for requests that may find nothing to do (everything
/// already as asked): that is `Ok(None)` rather than an error.
pub async fn apply_if_any<F>(
    state: &AppState,
    meta: WriteMeta,
    plan: F,
) -> Result<Option<(Committed, Arc<LiveConfig>)>, ApiError>
where
    F: FnOnce(&LiveConfig) -> Result<Vec<AuditedChange>, ApiError>,
{
    match apply(state, meta, plan).await {
        Ok(done) => Ok(Some(done)),
        Err(ApiError::BadRequest {
            code: "no_changes", ..
        }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Refuses changes that would introduce a configuration problem (an unknown
/// segment, prerequisite or environment, a prerequisite cycle, an environment
/// loop). Problems that existed before are not this write's fault.
pub(crate) fn check_references(
    live: &LiveConfig,
    changes: &[AuditedChange],
) -> Result<(), ApiError> {
    let only_flags = changes.iter().all(|c| {
        matches!(
            c.change,
            Change::PutFlag(..)
                | Change::DeleteFlag(..)
                | Change::CreateApiKey(_)
                | Change::RevokeApiKey(_)
                | Change::PutWorkItem(..)
        )
    });
    if only_flags {
        return check_flag_changes(live, changes);
    }
    let mut flags: BTreeMap<&str, &Flag> = live
        .flags
        .iter()
        .map(|(k, v)| (k.as_str(), &v.flag))
        .collect();
    let mut segments: BTreeMap<&str, &Segment> = live
        .segments
        .iter()
        .map(|(k, v)| (k.as_str(), &v.segment))
        .collect();
    let mut environments: BTreeMap<&str, ff_engine::Environment> = live
        .environments
        .iter()
        .map(|(k, v)| (k.as_str(), v.environment.tree.clone()))
        .collect();
    let mut touched_flags = Vec::new();
    for audited in changes {
        match &audited.change {
            Change::PutFlag(flag, _) => {
                flags.insert(&flag.flag_id, flag);
                touched_flags.push(flag.flag_id.as_str());
            }
            Change::DeleteFlag(id, _) => {
                flags.remove(id.as_str());
            }
            Change::PutSegment(segment, _) => {
                segments.insert(&segment.segment_id, segment);
            }
            Change::DeleteSegment(id, _) => {
                segments.remove(id.as_str());
            }
            Change::PutEnvironment(settings, _) => {
                environments.insert(&settings.tree.key, settings.tree.clone());
            }
            Change::DeleteEnvironment(key, _) => {
                environments.remove(key.as_str());
            }
            Change::RestoreFlag(..)
            | Change::CreateApiKey(_)
            | Change::RevokeApiKey(_)
            | Change::PutWorkItem(..) => {}
        }
    }
    let after = validate_set(
        &flags.into_values().collect::<Vec<_>>(),
        &segments.into_values().cloned().collect::<Vec<_>>(),
        &environments.into_values().collect::<Vec<_>>(),
    );
    if after.is_empty() {
        return Ok(());
    }
    // Rare: only now is it worth finding what was already wrong before.
    let before: HashSet<String> = validate_set(
        &live.flag_documents(),
        &live.segment_documents(),
        &live.environment_tree(),
    )
    .iter()
    .map(ToString::to_string)
    .collect();
    let introduced: Vec<Problem> = after
        .into_iter()
        .filter(|p| !before.contains(&p.to_string()))
        .collect();
    if introduced.is_empty() {
        return Ok(());
    }
    let introduced = relative_to_single_flag(introduced, touched_flags);
    Err(ApiError::Validation(introduced))
}

/// The common case in time proportional to the change rather than to the
/// configuration: when only flags change, only their own references, the
/// flags that depend on deleted ones and (if a changed flag has
/// prerequisites) cycles can break.
fn check_flag_changes(live: &LiveConfig, changes: &[AuditedChange]) -> Result<(), ApiError> {
    let mut puts: BTreeMap<&str, &Flag> = BTreeMap::new();
    let mut deleted: HashSet<&str> = HashSet::new();
    for audited in changes {
        match &audited.change {
            Change::PutFlag(flag, _) => {
                deleted.remove(flag.flag_id.as_str());
                puts.insert(&flag.flag_id, flag);
            }
            Change::DeleteFlag(id, _) => {
                puts.remove(id.as_str());
                deleted.insert(id);
            }
            _ => {}
        }
    }
    let flag_ids: HashSet<&str> = live
        .flags
        .keys()
        .map(String::as_str)
        .chain(puts.keys().copied())
        .filter(|id| !deleted.contains(id))
        .collect();
    let segment_ids: HashSet<&str> = live.segments.keys().map(String::as_str).collect();
    let env_keys: HashSet<&str> = live.environments.keys().map(String::as_str).collect();
    let mut problems = Vec::new();
    for flag in puts.values() {
        let prefix = format!("flags[{}]", flag.flag_id);
        problems.extend(
            ff_engine::validate::check_flag_references(flag, &flag_ids, &segment_ids, &env_keys)
                .into_iter()
                .map(|p| p.prefixed(&prefix)),
        );
    }
    for stored in live.flags.values() {
        let flag = &stored.flag;
        if deleted.contains(flag.flag_id.as_str()) || puts.contains_key(flag.flag_id.as_str()) {
            continue;
        }
        for (i, dependency) in flag.depends_on.iter().enumerate() {
            if deleted.contains(dependency.flag.as_str()) {
                problems.push(Problem::error(
                    format!("flags[{}].depends_on[{i}].flag", flag.flag_id),
                    format!(
                        "flag \"{}\" depends on \"{}\", which this change deletes",
                        flag.flag_id, dependency.flag
                    ),
                ));
            }
        }
    }
    if puts.values().any(|f| !f.depends_on.is_empty()) {
        let after: Vec<&Flag> = live
            .flags
            .iter()
            .filter(|(id, _)| !deleted.contains(id.as_str()) && !puts.contains_key(id.as_str()))
            .map(|(_, f)| &f.flag)
            .chain(puts.values().copied())
            .collect();
        problems.extend(ff_engine::validate::prerequisite_cycles(&after));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(ApiError::Validation(relative_to_single_flag(
        problems,
        puts.keys().copied().collect(),
    )))
}

/// When one flag is written, its problems are located relative to its
/// document (`targeting_rules[0]…` rather than `flags[x].targeting_rules[0]…`).
fn relative_to_single_flag(problems: Vec<Problem>, touched: Vec<&str>) -> Vec<Problem> {
    let [only] = touched.as_slice() else {
        return problems;
    };
    let prefix = format!("flags[{only}].");
    problems
        .into_iter()
        .map(|mut p| {
            if let Some(rest) = p.path.strip_prefix(&prefix) {
                p.path = rest.to_owned();
            }
            p
        })
        .collect()
}

/// Reads a flag document: engine parsing with every problem reported, 422.
pub fn parse_flag(doc: &serde_json::Value) -> Result<Flag, ApiError> {
    ff_engine::parse_flag(doc).map_err(ApiError::Validation)
}

/// Reads a segment document.
pub fn parse_segment(doc: &serde_json::Value) -> Result<Segment, ApiError> {
    ff_engine::parse_segment(doc).map_err(ApiError::Validation)
}

/// The live flag, or 404.
pub fn live_flag<'a>(live: &'a LiveConfig, flag_id: &str) -> Result<&'a StoredFlag, ApiError> {
    live.flags
        .get(flag_id)
        .map(|f| &**f)
        .ok_or_else(|| ApiError::not_found("flag", flag_id))
}

/// The version a write must find: the one the client names (it read the flag
/// at that version), else the one this write was planned against, so that a
/// concurrent change is a conflict rather than silently overwritten.
pub fn expect_version(client: Option<i64>, planned_against: i64) -> Expect {
    Expect::Version(client.unwrap_or(planned_against))
}

/// A version named by `If-Match` (`"3"`, `W/"3"` or `3`).
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid_if_match",
            format!("If-Match must be a version number such as \"3\", found {text:?}"),
        )
    })
}
