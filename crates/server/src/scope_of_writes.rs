//! Which environments a planned write touches, and the role it needs in
//! each, checked against a scoped writer's roles (`scope`) before anything
//! is committed. Apart from `scope` so that the decision there, which
//! `auth` calls, does not depend on governance (which depends on `auth`).

use ff_store::{AuditedChange, Change, Expect, Role, WorkKind};

use crate::error::ApiError;
use crate::governance::{self, WriteMeta, WriteMode};
use crate::live::LiveConfig;
use crate::scope::{Needed, check};

/// What a planned write needs: editor in every environment its flags and
/// segments touch, admin in every environment whose settings it writes.
/// Approved change requests are not re-checked here: their author was
/// checked when they were asked for, their approver when approving.
pub fn write_needs(live: &LiveConfig, changes: &[AuditedChange]) -> Needed {
    let mut needed = Needed::new();
    let mut need = |env: &str, role: Role| {
        let entry = needed.entry(env.to_owned()).or_insert(role);
        *entry = (*entry).max(role);
    };
    let tree = live.environment_tree();
    for write in governance::flag_writes(live, changes) {
        for env in governance::affected_environments(&write, live, &tree) {
            need(&env, Role::Editor);
        }
        // An entry written or removed that serves the same for now still
        // changes that environment (it stops or starts inheriting).
        let entry = |flag: Option<&'_ ff_engine::Flag>, env: &str| {
            flag.and_then(|f| f.environments.get(env)).cloned()
        };
        let named = [write.before, write.after]
            .into_iter()
            .flatten()
            .flat_map(|f| f.environments.keys());
        for env in named {
            if entry(write.before, env) != entry(write.after, env) {
                need(env, Role::Editor);
            }
        }
    }
    for audited in changes {
        match &audited.change {
            // A new flag: only the environments it configures.
            Change::PutFlag(flag, Expect::Absent) if !live.flags.contains_key(&flag.flag_id) => {
                for env in flag.environments.keys() {
                    need(env, Role::Editor);
                }
            }
            Change::PutSegment(segment, _) => {
                for env in governance::segment_environments(live, &segment.segment_id, &tree) {
                    need(&env, Role::Editor);
                }
            }
            Change::DeleteSegment(id, _) => {
                for env in governance::segment_environments(live, id, &tree) {
                    need(&env, Role::Editor);
                }
            }
            // Schedules and rollout plans (made, paused, resumed,
            // cancelled) change their environment later; one without an
            // environment may change any. Change requests are decided by
            // their own rules (`crate::work::operations`).
            Change::PutWorkItem(item, _) if item.kind != WorkKind::ChangeRequest => {
                match &item.environment {
                    Some(env) => need(env, Role::Editor),
                    None => live
                        .environments
                        .keys()
                        .for_each(|env| need(env, Role::Editor)),
                }
            }
            Change::PutExperiment(experiment, _) => need(&experiment.environment, Role::Editor),
            Change::PutEnvironment(settings, _) => need(&settings.tree.key, Role::Admin),
            Change::DeleteEnvironment(key, _) => need(key, Role::Admin),
            _ => {}
        }
    }
    needed
}

/// Refuses a planned write that touches an environment out of the writer's
/// scope (see the module's documentation).
pub fn check_write(
    live: &LiveConfig,
    changes: &[AuditedChange],
    meta: &WriteMeta,
) -> Result<(), ApiError> {
    let Some(roles) = meta.environment_roles.as_ref() else {
        return Ok(());
    };
    if meta.mode == WriteMode::Approved {
        return Ok(());
    }
    let needed = write_needs(live, changes);
    check(
        Some(roles),
        needed.iter().map(|(env, role)| (env.as_str(), *role)),
    )
}
