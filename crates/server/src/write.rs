//! The write path every change takes: plan against the latest configuration,
//! check that the change introduces no broken reference, review it against
//! the environments' rules (once), commit it (versions, documents, audit,
//! revision in one transaction) or hold it for approval, then advance the
//! live configuration from what was committed so that the next read sees it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use ff_engine::{Flag, Problem, Segment, validate_set};
use ff_store::{AuditedChange, Change, ChangeSet, Expect, WorkItem};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::governance::{self, Review, WriteMeta};
use crate::live::{LiveConfig, OwnCommit};
use crate::state::AppState;
use crate::work::change_request;
use crate::work::item::{ItemStep, bookkeeping};

/// One audited change, for plans.
pub fn change(change: Change, action: &str, environment: Option<&str>) -> AuditedChange {
    AuditedChange {
        change,
        action: action.to_owned(),
        environment: environment.map(str::to_owned),
    }
}

/// What a write's plan asks to commit.
#[derive(Debug, Default)]
pub struct Plan {
    /// The changes: reviewed by governance, then committed (or held for
    /// approval) together.
    pub changes: Vec<AuditedChange>,
    /// The scheduled item whose due step these changes are, if any.
    pub step: Option<ItemStep>,
}

impl From<Vec<AuditedChange>> for Plan {
    fn from(changes: Vec<AuditedChange>) -> Plan {
        Plan {
            changes,
            step: None,
        }
    }
}

/// What a write did. None of it is a failure: refusals are `Err(ApiError)`.
#[derive(Debug)]
pub enum Outcome {
    /// The changes are committed.
    Committed(Commit),
    /// The changes need approval: the change request (committed instead).
    Held(WorkItem),
    /// The plan found nothing to change; nothing was written.
    Unchanged,
}

impl Outcome {
    /// The commit of a write that is never held and always changes
    /// something: administrative and approved writes, creations, segments.
    /// Anything else would be a bug in the write path, answered as one.
    pub fn into_commit(self) -> Result<Commit, ApiError> {
        match self {
            Outcome::Committed(commit) => Ok(commit),
            Outcome::Held(request) => Err(ApiError::Internal(format!(
                "a write that is never held became change request {}",
                request.id
            ))),
            Outcome::Unchanged => Err(ApiError::Internal(
                "a write that always changes something changed nothing".into(),
            )),
        }
    }
}

/// A commit, and the configuration that includes it.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The revision the commit made.
    pub revision: i64,
    /// The new version of each change, in change order (0 for API keys).
    pub versions: Vec<i64>,
    /// When, as stored (whole milliseconds).
    pub at: OffsetDateTime,
    /// The live configuration with the committed documents in it (advanced
    /// from them, not read back).
    pub live: Arc<LiveConfig>,
}

/// Applies a write: `plan` turns the latest configuration into changes (or
/// refuses), the changes are checked, reviewed by governance once, and
/// committed — or, where an environment requires approval, held as a change
/// request. The live configuration is then advanced from what was committed.
pub async fn apply<F, P>(state: &AppState, meta: WriteMeta, plan: F) -> Result<Outcome, ApiError>
where
    F: FnOnce(&LiveConfig) -> Result<P, ApiError>,
    P: Into<Plan>,
{
    let _serialised = state.writes.lock().await;
    // Another node may have written since this one last looked.
    state.live.refresh().await?;
    let planned_at = state.live.known_revision();
    let live = state.live.current();
    let Plan { changes, step } = plan(&live)?.into();
    if changes.is_empty() && step.is_none() {
        return Ok(Outcome::Unchanged);
    }
    crate::scope_of_writes::check_write(&live, &changes, &meta)?;
    check_flag_sizes(&changes, state.config.max_flag_bytes)?;
    check_references(&live, &changes)?;
    let at = stored_time(state.clock.now());
    let review = governance::review(&live, &changes, &meta, at, &state.config.compliance_tags)?;
    if !review.held.is_empty() {
        let (request, held) = held_changes(&live, &changes, &meta, &review, step)?;
        let set = change_set(held, meta, at);
        commit(state, planned_at, set).await?;
        return Ok(Outcome::Held(request));
    }
    let mut changes = changes;
    if let Some(step) = step {
        changes.push(bookkeeping(&step.item, step.next));
    }
    let written: Vec<String> = changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::PutFlag(flag, _) => Some(flag.flag_id.clone()),
            _ => None,
        })
        .collect();
    let mut set = change_set(changes, meta, at);
    if !review.window_overridden.is_empty() {
        set.reason = Some(format!(
            "{} [change window overridden in {}]",
            set.reason.unwrap_or_default(),
            review.window_overridden.join(", ")
        ));
    }
    let committed = commit(state, planned_at, set).await?;
    let live = state.live.current();
    // New flags can be counted as used from their first evaluation on.
    state
        .flag_usage
        .track_written(&live, written.iter().map(String::as_str));
    Ok(Outcome::Committed(Commit {
        revision: committed.revision,
        versions: committed.versions,
        at,
        live,
    }))
}

/// The change request a held write becomes, and what is committed with it:
/// the request, and the scheduled item (if the write is its step) waiting
/// for it.
fn held_changes(
    live: &LiveConfig,
    changes: &[AuditedChange],
    meta: &WriteMeta,
    review: &Review,
    step: Option<ItemStep>,
) -> Result<(WorkItem, Vec<AuditedChange>), ApiError> {
    let mut request = change_request::hold(live, changes, meta, review)?;
    let mut waiting = None;
    if let Some(step) = step {
        waiting = Some(change_request::hold_step(&mut request, &step)?);
    }
    let create = change(
        Change::PutWorkItem(request.clone(), Expect::Absent),
        "change_request.create",
        review.held.first().map(String::as_str),
    );
    Ok((request, std::iter::once(create).chain(waiting).collect()))
}

fn change_set(changes: Vec<AuditedChange>, meta: WriteMeta, at: OffsetDateTime) -> ChangeSet {
    ChangeSet {
        changes,
        actor: meta.actor,
        at,
        reason: meta.reason,
        request_id: meta.request_id,
        deployment_id: meta.deployment_id,
    }
}

/// Commits, then advances the live configuration from what was written
/// (planned when the store was at `planned_at`).
async fn commit(
    state: &AppState,
    planned_at: i64,
    set: ChangeSet,
) -> Result<ff_store::Committed, ApiError> {
    // Kept to advance the live configuration: the store takes the set.
    let changes = set.changes.clone();
    let (actor, at) = (set.actor.clone(), set.at);
    let started = std::time::Instant::now();
    let committed = state.store.commit(set).await;
    state
        .metrics
        .commit_seconds
        .observe(started.elapsed().as_secs_f64());
    let committed = committed?;
    let own = OwnCommit {
        revision: committed.revision,
        versions: &committed.versions,
        at,
        actor: &actor,
        changes: &changes,
    };
    state.live.advance(planned_at, &own).await?;
    Ok(committed)
}

/// A time as the store keeps it: whole milliseconds, UTC. Commits use it, so
/// that what the live configuration records is what a read would give.
fn stored_time(at: OffsetDateTime) -> OffsetDateTime {
    let millis = at.unix_timestamp_nanos() / 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(millis.saturating_mul(1_000_000)).unwrap_or(at)
}

/// Refuses flag documents larger than `max_bytes` serialised: every
/// version is kept, shown in the audit log twice (before and after) and
/// sent to every stream, so one oversized flag multiplies into memory and
/// bandwidth everywhere. (Large allow-lists belong in segments.)
pub(crate) fn check_flag_sizes(
    changes: &[AuditedChange],
    max_bytes: usize,
) -> Result<(), ApiError> {
    let problems: Vec<Problem> = changes
        .iter()
        .filter_map(|audited| match &audited.change {
            Change::PutFlag(flag, _) => Some(flag),
            _ => None,
        })
        .filter_map(|flag| {
            let size = serialized_size(flag);
            (size > max_bytes).then(|| {
                Problem::error(
                    format!("flags[{}]", flag.flag_id),
                    format!(
                        "the flag document is {size} bytes; at most {max_bytes} \
                         (--max-flag-bytes); move long lists into a segment"
                    ),
                )
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(problems))
    }
}

/// The length of `value` as compact JSON, counted without building it.
pub(crate) fn serialized_size(value: &impl serde::Serialize) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(bytes.len());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serialising a document that was parsed cannot fail; if it did, the
    // store would refuse it anyway.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
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
            | Change::PutWorkItem(..)
            | Change::PutExperiment(..)
            | Change::CreateUser(_)
            | Change::UpdateUser(_)
            | Change::PutWebhook(..)
            | Change::DeleteWebhook(..) => {}
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
    let exists =
        |id: &str| !deleted.contains(id) && (puts.contains_key(id) || live.flags.contains_key(id));
    let named: HashSet<&str> = puts
        .values()
        .flat_map(|f| f.depends_on.iter().map(|d| d.flag.as_str()))
        .collect();
    let flag_ids: HashSet<&str> = if named.iter().all(|id| exists(id)) {
        // Every prerequisite resolves: the set need hold only those.
        named
    } else {
        // A problem will be reported: its suggestions come from every flag.
        live.flags
            .keys()
            .map(String::as_str)
            .chain(puts.keys().copied())
            .filter(|id| !deleted.contains(id))
            .collect()
    };
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
    let mut deleted_ids: Vec<&str> = deleted.iter().copied().collect();
    deleted_ids.sort_unstable();
    for deleted_id in deleted_ids {
        for stored in live.dependents_of(deleted_id) {
            let flag = &stored.flag;
            if deleted.contains(flag.flag_id.as_str()) || puts.contains_key(flag.flag_id.as_str()) {
                continue;
            }
            for (i, dependency) in flag.depends_on.iter().enumerate() {
                if dependency.flag == deleted_id {
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
    }
    if puts.values().any(|f| !f.depends_on.is_empty()) {
        // A cycle this change makes runs through a written flag: look among
        // the flags reachable from them only.
        let get = |id: &str| -> Option<&Flag> {
            if deleted.contains(id) {
                return None;
            }
            puts.get(id)
                .copied()
                .or_else(|| live.flags.get(id).map(|f| &f.flag))
        };
        let mut reachable: BTreeMap<&str, &Flag> = BTreeMap::new();
        let mut pending: Vec<&str> = puts.keys().copied().collect();
        while let Some(id) = pending.pop() {
            if reachable.contains_key(id) {
                continue;
            }
            let Some(flag) = get(id) else { continue };
            reachable.insert(id, flag);
            pending.extend(flag.depends_on.iter().map(|d| d.flag.as_str()));
        }
        let reachable: Vec<&Flag> = reachable.into_values().collect();
        problems.extend(ff_engine::validate::prerequisite_cycles(&reachable));
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

/// The version a write must find: the one the client names (it read the flag
/// at that version), else the one this write was planned against, so that a
/// concurrent change is a conflict rather than silently overwritten.
pub fn expect_version(client: Option<i64>, planned_against: i64) -> Expect {
    Expect::Version(client.unwrap_or(planned_against))
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use serde_json::{Value, json};
    use time::macros::datetime;

    use super::*;

    /// development → production; the segment `beta`; the flags `base`,
    /// `feature` (requires `base`, uses `beta`) and `legacy`, whose segment
    /// `gone` was deleted long ago (a problem this write did not make).
    fn live() -> LiveConfig {
        let mut live = LiveConfig::default();
        for (key, parent) in [("development", None), ("production", Some("development"))] {
            let settings: ff_store::EnvironmentSettings =
                serde_json::from_value(json!({"key": key, "parent": parent})).unwrap();
            let stored = ff_store::StoredEnvironment {
                environment: settings,
                version: 1,
                updated_at: datetime!(2026-01-01 00:00 UTC),
            };
            live.environments.insert(key.to_owned(), Arc::new(stored));
        }
        let segment = ff_engine::parse_segment(&json!({"segment_id": "beta", "conditions": []}));
        let stored = ff_store::StoredSegment {
            segment: segment.unwrap(),
            version: 1,
            updated_at: datetime!(2026-01-01 00:00 UTC),
        };
        live.segments.insert("beta".to_owned(), Arc::new(stored));
        for doc in [
            json!({"flag_id": "base", "default_value": true}),
            json!({"flag_id": "feature", "default_value": true, "depends_on": [{"flag": "base"}],
                   "targeting_rules": [{"name": "r", "conditions": [{"operator": "in_segment", "value": "beta"}], "value": false}]}),
            json!({"flag_id": "legacy", "default_value": true,
                   "targeting_rules": [{"name": "r", "conditions": [{"operator": "in_segment", "value": "gone"}], "value": false}]}),
        ] {
            let stored = ff_store::StoredFlag {
                flag: ff_engine::parse_flag(&doc).unwrap(),
                version: 1,
                deleted: false,
                created_at: datetime!(2026-01-01 00:00 UTC),
                updated_at: datetime!(2026-01-01 00:00 UTC),
            };
            live.put_flag(doc["flag_id"].as_str().unwrap(), Some(Arc::new(stored)));
        }
        live
    }

    fn audited(change: Change) -> AuditedChange {
        AuditedChange {
            change,
            action: "test".into(),
            environment: None,
        }
    }

    fn put(doc: Value) -> AuditedChange {
        audited(Change::PutFlag(
            ff_engine::parse_flag(&doc).unwrap(),
            Expect::Any,
        ))
    }

    fn delete(flag_id: &str) -> AuditedChange {
        audited(Change::DeleteFlag(flag_id.into(), Expect::Any))
    }

    /// The reference check, one case a line: the changes, and the paths of
    /// the problems they introduce (none: accepted).
    #[test]
    fn check_references_cases() {
        let segment = |id: &str| {
            let doc = json!({"segment_id": id, "conditions": []});
            audited(Change::PutSegment(
                ff_engine::parse_segment(&doc).unwrap(),
                Expect::Any,
            ))
        };
        let in_segment = |flag: &str, segment: &str| {
            json!({"flag_id": flag, "default_value": true, "targeting_rules": [
                {"name": "r", "conditions": [{"operator": "in_segment", "value": segment}], "value": false}]})
        };
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<AuditedChange>, Vec<&str>)> = vec![
            ("a known prerequisite", vec![put(json!({"flag_id": "new", "default_value": true, "depends_on": [{"flag": "base"}]}))], vec![]),
            ("an unknown prerequisite, relative to the one flag written",
             vec![put(json!({"flag_id": "new", "default_value": true, "depends_on": [{"flag": "missing"}]}))],
             vec!["depends_on[0].flag"]),
            ("an unknown segment", vec![put(in_segment("new", "nope"))], vec!["targeting_rules[0].conditions[0].value"]),
            ("an unknown environment", vec![put(json!({"flag_id": "new", "default_value": true, "environments": {"qa": false}}))],
             vec!["environments.qa"]),
            ("deleting a prerequisite others need", vec![delete("base")], vec!["flags[feature].depends_on[0].flag"]),
            ("deleting it with the flag that needs it", vec![delete("base"), delete("feature")], vec![]),
            ("a prerequisite cycle", vec![put(json!({"flag_id": "base", "default_value": true, "depends_on": [{"flag": "feature"}]}))],
             vec!["flags[feature].depends_on[0]"]),
            ("a segment write: what was broken before is not its fault", vec![segment("other")], vec![]),
            ("deleting a segment in use", vec![audited(Change::DeleteSegment("beta".into(), Expect::Any))],
             vec!["flags[feature].targeting_rules[0].conditions[0].value"]),
            ("a flag and the segment it uses, together", vec![segment("fresh"), put(in_segment("new", "fresh"))], vec![]),
        ];
        let live = live();
        for (what, changes, expected) in cases {
            let paths: Vec<String> = match check_references(&live, &changes) {
                Ok(()) => Vec::new(),
                Err(ApiError::Validation(problems)) => {
                    problems.into_iter().map(|p| p.path).collect()
                }
                Err(other) => panic!("{what}: {other:?}"),
            };
            assert_eq!(paths, expected, "{what}");
        }
    }
}
