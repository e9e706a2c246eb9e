//! The rules of environments (DESIGN.md §4), applied to a planned write
//! before it commits: which environments a change really affects, change
//! windows, rollback protection, the dependency policy and whether the write
//! must wait for approval. A write is described by [`WriteMeta`] (who, why,
//! with what confirmations) and [`WriteMode`] (how strictly the rules
//! apply); [`review`] runs once per write, in `crate::write::apply`.
//!
//! A change *affects* an environment when what is evaluated there differs
//! (the effective entry, inherited through `auto_sync` parents, and the
//! flag-level type, default, variants, rules and prerequisites). Editing a
//! description affects nothing; editing `development` affects an
//! `auto_sync` `staging` that inherits it. Creating a flag affects nothing:
//! nothing uses it yet.

use std::collections::{BTreeMap, HashMap};

use axum::http::{HeaderMap, StatusCode};
use ff_engine::edit::{on_in, static_value};
use ff_engine::{Environment, Flag, project_flag};
use ff_store::{Change, ChangeWindow, DependencyPolicy, Expect, Role, StoredEnvironment};
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::live::LiveConfig;

/// How strictly a write is governed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Every rule: windows, protection, dependency policy, approvals.
    #[default]
    Governed,
    /// The kill switch: never held by approvals or windows (the seed's
    /// emergency procedure); still audited with a reason.
    Emergency,
    /// Rollbacks (of a flag, of a deployment): an emergency procedure in
    /// each environment where it only turns the flag off, an ordinary
    /// governed change wherever it turns a flag back on or changes what it
    /// serves (reviewed per environment, see [`rollback_mode`]).
    Rollback,
    /// Applying an approved change request: approvals and the checks made
    /// when it was requested are done; change windows and the dependency
    /// policy still apply.
    Approved,
    /// Environment settings, keys: not about what is evaluated.
    Administrative,
}

/// Who is writing, why, and as part of what.
#[derive(Debug, Clone, Default)]
pub struct WriteMeta {
    /// The API key id.
    pub actor: String,
    /// The actor's role (admin keys).
    pub role: Option<Role>,
    /// The actor's roles when they are scoped to environments
    /// (`crate::scope`); `None`: `role` everywhere.
    pub environment_roles: Option<ff_store::EnvironmentRoles>,
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
            environment_roles: principal.environment_roles().cloned(),
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

/// What [`review`] decided for a write that may go ahead.
#[derive(Debug, Default)]
pub struct Review {
    /// Environments whose approval the write needs (empty: commit it).
    pub held: Vec<String>,
    /// How many approvals the change request needs.
    pub required_approvals: u32,
    /// Environments whose change window an admin overrode.
    pub window_overridden: Vec<String>,
}

/// One flag write, seen from the environments.
#[derive(Debug)]
pub struct FlagWrite<'a> {
    /// The flag.
    pub flag_id: &'a str,
    /// The live flag before (`None`: created or restored).
    pub before: Option<&'a Flag>,
    /// The flag after (`None`: deleted).
    pub after: Option<&'a Flag>,
}

/// The flag writes of a change set that touch live flags.
pub fn flag_writes<'a>(
    live: &'a LiveConfig,
    changes: &'a [ff_store::AuditedChange],
) -> Vec<FlagWrite<'a>> {
    let mut writes = Vec::new();
    for audited in changes {
        let (flag_id, after, restores) = match &audited.change {
            // A put expecting a version of a flag that is not live restores
            // a deleted flag: it starts serving again, so it is governed.
            Change::PutFlag(flag, expect) => (
                flag.flag_id.as_str(),
                Some(flag),
                matches!(expect, Expect::Version(_)),
            ),
            Change::DeleteFlag(id, _) => (id.as_str(), None, false),
            _ => continue,
        };
        let before = live.flags.get(flag_id).map(|f| &f.flag);
        // Creating a flag is not governed: nothing uses it yet.
        if before.is_some() || restores {
            writes.push(FlagWrite {
                flag_id,
                before,
                after,
            });
        }
    }
    writes
}

/// The part of a flag that decides evaluation in one environment, in a form
/// that compares: the flag projected onto the environment, without
/// metadata.
pub fn evaluated_in(flag: &Flag, env: &str, tree: &[Environment]) -> Flag {
    let mut projected = project_flag(flag, env, tree);
    projected.description = None;
    projected.tags.clear();
    projected.owner = None;
    projected.lifecycle = None;
    projected
}

/// The environments in which a write changes what is evaluated.
pub fn affected_environments(
    write: &FlagWrite<'_>,
    live: &LiveConfig,
    tree: &[Environment],
) -> Vec<String> {
    live.environments
        .keys()
        .filter(|env| {
            let before = write.before.map(|f| evaluated_in(f, env, tree));
            let after = write.after.map(|f| evaluated_in(f, env, tree));
            before != after
        })
        .cloned()
        .collect()
}

/// Applies the environments' rules to a planned write. `Err` refuses it;
/// `Ok` says whether it must be held for approval.
pub fn review(
    live: &LiveConfig,
    changes: &[ff_store::AuditedChange],
    meta: &WriteMeta,
    now: OffsetDateTime,
    compliance_tags: &[String],
) -> Result<Review, ApiError> {
    let mut review = Review::default();
    if matches!(meta.mode, WriteMode::Administrative) {
        return Ok(review);
    }
    let tree = live.environment_tree();
    let writes = flag_writes(live, changes);
    // Environment → the flags of this write that affect it.
    let mut affected: BTreeMap<String, Vec<&FlagWrite<'_>>> = BTreeMap::new();
    for write in &writes {
        for env in affected_environments(write, live, &tree) {
            affected.entry(env).or_default().push(write);
        }
    }
    // Segments: they change what every flag using them serves. Their
    // writes need a reason in protected environments and respect change
    // windows; they are not held for approval (a change request holds flag
    // documents only).
    for segment_id in segment_writes(changes) {
        for env in segment_environments(live, segment_id, &tree) {
            affected.entry(env).or_default();
        }
    }
    for (env, writes) in &affected {
        let Some(settings) = live.environments.get(env) else {
            continue;
        };
        let mode = match meta.mode {
            WriteMode::Rollback => rollback_mode(writes, env, &tree),
            other => other,
        };
        let needs_approval = settings.environment.approval_required
            || (settings.environment.protected
                && writes
                    .iter()
                    .any(|w| has_compliance_tag(w, compliance_tags)));
        if mode == WriteMode::Governed {
            check_protection(live, settings, env, writes, meta, &tree)?;
            if writes.is_empty() {
                // Only segments affect this environment.
                if let Some(next) = outside_windows(&settings.environment.change_windows, now) {
                    if meta.override_window
                        && meta.role >= Some(Role::Admin)
                        && meta.reason.is_some()
                    {
                        review.window_overridden.push(env.clone());
                    } else {
                        return Err(window_refusal(env, &next, meta));
                    }
                }
                continue;
            }
        }
        if matches!(mode, WriteMode::Governed | WriteMode::Approved) {
            // Other flags may have changed since a request was made: what it
            // would break is decided when it is applied.
            check_dependency_policy(live, settings, env, writes, &tree)?;
        }
        if mode == WriteMode::Governed && needs_approval {
            review.held.push(env.clone());
            review.required_approvals = review
                .required_approvals
                .max(settings.environment.required_approvals.max(1));
            // The window matters when the request is applied, not now.
            continue;
        }
        if mode != WriteMode::Emergency
            && let Some(next) = outside_windows(&settings.environment.change_windows, now)
        {
            if meta.override_window && meta.role >= Some(Role::Admin) && meta.reason.is_some() {
                review.window_overridden.push(env.clone());
            } else {
                return Err(window_refusal(env, &next, meta));
            }
        }
    }
    Ok(review)
}

/// How a rollback is reviewed in `env`: as the kill switch where every flag
/// it writes is off there afterwards (or deleted: callers get their
/// defaults), else as an ordinary governed change. A rollback that turns a
/// feature back on in production is a release, not an emergency.
pub fn rollback_mode(writes: &[&FlagWrite<'_>], env: &str, tree: &[Environment]) -> WriteMode {
    let only_turns_off = writes.iter().all(|write| {
        write
            .after
            .is_none_or(|flag| !ff_engine::edit::enabled_in(flag, env, tree))
    });
    if only_turns_off {
        WriteMode::Emergency
    } else {
        WriteMode::Governed
    }
}

/// A protected environment's changes need a reason, also when they are
/// scheduled: checked when the schedule or plan is made, since nobody is
/// there to give one when it applies.
pub fn require_reason_if_protected(
    live: &LiveConfig,
    environment: Option<&str>,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    let protected = environment
        .and_then(|env| live.environments.get(env))
        .is_some_and(|e| e.environment.protected);
    if protected && reason.is_none() {
        return Err(ApiError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "reason_required",
            message: format!(
                "environment \"{}\" is protected: give a \"reason\" (or X-Change-Reason)",
                environment.unwrap_or_default()
            ),
            details: json!({ "environment": environment }),
        });
    }
    Ok(())
}

/// The segments a change set writes or deletes.
fn segment_writes(changes: &[ff_store::AuditedChange]) -> Vec<&str> {
    changes
        .iter()
        .filter_map(|audited| match &audited.change {
            Change::PutSegment(segment, _) => Some(segment.segment_id.as_str()),
            Change::DeleteSegment(id, _) => Some(id.as_str()),
            _ => None,
        })
        .collect()
}

/// The environments in which some live flag's rules in effect use a
/// segment.
pub fn segment_environments(
    live: &LiveConfig,
    segment_id: &str,
    tree: &[Environment],
) -> Vec<String> {
    live.environments
        .keys()
        .filter(|env| {
            live.flags.values().any(|stored| {
                let projected = evaluated_in(&stored.flag, env, tree);
                let own = projected
                    .environments
                    .get(env.as_str())
                    .and_then(|entry| entry.to_config().targeting_rules);
                rules_use_segment(
                    own.as_deref().unwrap_or(&projected.targeting_rules),
                    segment_id,
                )
            })
        })
        .cloned()
        .collect()
}

/// Whether any condition of these rules tests membership of a segment.
pub fn rules_use_segment(rules: &[ff_engine::Rule], segment_id: &str) -> bool {
    rules.iter().any(|rule| {
        rule.conditions.iter().any(|c| {
            matches!(
                c.operator,
                ff_engine::Operator::InSegment | ff_engine::Operator::NotInSegment
            ) && match &c.value {
                Some(Value::String(id)) => id == segment_id,
                Some(Value::Array(ids)) => ids.iter().any(|id| id.as_str() == Some(segment_id)),
                _ => false,
            }
        })
    })
}

fn has_compliance_tag(write: &FlagWrite<'_>, compliance_tags: &[String]) -> bool {
    [write.before, write.after]
        .into_iter()
        .flatten()
        .any(|flag| flag.tags.iter().any(|t| compliance_tags.contains(t)))
}

/// Rollback protection: a reason for every change, a confirmation for
/// destructive ones (deleting a flag that is on there, turning off a flag
/// that others depend on).
fn check_protection(
    live: &LiveConfig,
    settings: &StoredEnvironment,
    env: &str,
    writes: &[&FlagWrite<'_>],
    meta: &WriteMeta,
    tree: &[Environment],
) -> Result<(), ApiError> {
    if !settings.environment.protected {
        return Ok(());
    }
    if meta.reason.is_none() {
        return Err(ApiError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "reason_required",
            message: format!(
                "environment \"{env}\" is protected: say why with an X-Change-Reason header (or a \"reason\" in the body)"
            ),
            details: json!({ "environment": env }),
        });
    }
    if meta.confirmed {
        return Ok(());
    }
    for write in writes {
        let Some(before) = write.before else { continue };
        let was_on = on_in(before, env, tree);
        let now_on = write.after.is_some_and(|f| on_in(f, env, tree));
        if !was_on || now_on {
            continue;
        }
        let dependents = dependents_of(live, write.flag_id);
        let what = if write.after.is_none() {
            Some(format!(
                "deletes flag \"{}\", which is on in \"{env}\"",
                write.flag_id
            ))
        } else if !dependents.is_empty() {
            Some(format!(
                "turns off flag \"{}\" in \"{env}\", which {} depend on",
                write.flag_id,
                dependents.join(", ")
            ))
        } else {
            None
        };
        if let Some(what) = what {
            return Err(ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: "confirmation_required",
                message: format!(
                    "this change {what}; \"{env}\" is protected: repeat it with the header X-Confirm: true"
                ),
                details: json!({ "environment": env, "flag_id": write.flag_id, "dependents": dependents }),
            });
        }
    }
    Ok(())
}

/// The live flags whose prerequisites name `flag_id`.
pub fn dependents_of<'a>(live: &'a LiveConfig, flag_id: &str) -> Vec<&'a str> {
    live.dependents_of(flag_id)
        .map(|f| f.flag.flag_id.as_str())
        .collect()
}

/// The flags as a dependency check sees them: the live ones, some of them
/// replaced or removed by a write. Lookups by id and of the flags that
/// require one go through indexes, never through every flag: at 100 000
/// flags a scan per check made every write (and an import, quadratically)
/// cost in proportion to the whole configuration.
pub struct FlagView<'a> {
    live: &'a LiveConfig,
    /// The written flags as they will be (`None`: deleted).
    written: HashMap<&'a str, Option<&'a Flag>>,
    /// For each prerequisite, the written flags that name it.
    written_dependents: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> FlagView<'a> {
    /// The live flags as they are.
    pub fn live(live: &'a LiveConfig) -> FlagView<'a> {
        FlagView {
            live,
            written: HashMap::new(),
            written_dependents: HashMap::new(),
        }
    }

    /// The live flags as they will be after `writes`.
    pub fn after(live: &'a LiveConfig, writes: &[&FlagWrite<'a>]) -> FlagView<'a> {
        let mut written_dependents: HashMap<&str, Vec<&str>> = HashMap::new();
        for write in writes {
            for dependency in write.after.iter().flat_map(|f| &f.depends_on) {
                written_dependents
                    .entry(dependency.flag.as_str())
                    .or_default()
                    .push(write.flag_id);
            }
        }
        FlagView {
            live,
            written: writes.iter().map(|w| (w.flag_id, w.after)).collect(),
            written_dependents,
        }
    }

    /// The flag with this id.
    pub fn get(&self, flag_id: &str) -> Option<&'a Flag> {
        match self.written.get(flag_id) {
            Some(written) => *written,
            None => self.live.flags.get(flag_id).map(|f| &f.flag),
        }
    }

    /// The flags that name `flag_id` among their prerequisites, in id order.
    pub fn requiring(&self, flag_id: &str) -> Vec<&'a Flag> {
        let mut ids: Vec<&str> = self
            .live
            .dependents
            .get(flag_id)
            .into_iter()
            .flat_map(|ids| ids.iter().map(String::as_str))
            .chain(
                self.written_dependents
                    .get(flag_id)
                    .into_iter()
                    .flatten()
                    .copied(),
            )
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| self.get(id))
            .filter(|f| f.depends_on.iter().any(|d| d.flag == flag_id))
            .collect()
    }
}

/// Prerequisite problems of `flag` in `env`, with `flags` giving the other
/// flags as they will be: its own prerequisites that are off or serve
/// another value, and (when it is off) the flags that are on and require it.
pub fn dependency_problems(
    flag: &Flag,
    env: &str,
    tree: &[Environment],
    flags: &FlagView<'_>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let on = on_in(flag, env, tree);
    if on {
        for dependency in &flag.depends_on {
            let Some(prerequisite) = flags.get(&dependency.flag) else {
                continue;
            };
            if let Some(actual) = static_value(prerequisite, env, tree)
                && actual != dependency.required_value
            {
                problems.push(format!(
                    "\"{}\" is on in \"{env}\" but its prerequisite \"{}\" serves {actual} there, not {}",
                    flag.flag_id, dependency.flag, dependency.required_value
                ));
            }
        }
    } else {
        for other in flags.requiring(&flag.flag_id) {
            if on_in(other, env, tree) {
                problems.push(format!(
                    "\"{}\" is off in \"{env}\" but \"{}\", which is on there, requires it",
                    flag.flag_id, other.flag_id
                ));
            }
        }
    }
    problems
}

/// In an environment whose `dependency_policy` is `refuse`, a write may not
/// leave a prerequisite broken that was not broken before.
fn check_dependency_policy(
    live: &LiveConfig,
    settings: &StoredEnvironment,
    env: &str,
    writes: &[&FlagWrite<'_>],
    tree: &[Environment],
) -> Result<(), ApiError> {
    if settings.environment.dependency_policy != DependencyPolicy::Refuse {
        return Ok(());
    }
    let before = FlagView::live(live);
    let after = FlagView::after(live, writes);
    let mut problems = Vec::new();
    for write in writes {
        let was: Vec<String> = write
            .before
            .map(|f| dependency_problems(f, env, tree, &before))
            .unwrap_or_default();
        if let Some(flag) = write.after {
            problems.extend(
                dependency_problems(flag, env, tree, &after)
                    .into_iter()
                    .filter(|p| !was.contains(p)),
            );
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(ApiError::Refused {
        status: StatusCode::CONFLICT,
        code: "prerequisite_broken",
        message: format!(
            "environment \"{env}\" refuses changes that break prerequisites: {}",
            problems.join("; ")
        ),
        details: json!({ "environment": env, "problems": problems }),
    })
}

/// A time zone by IANA name (`Europe/Rome`, `UTC`).
pub fn time_zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

/// `None` when `now` is inside one of the windows (or there are none);
/// otherwise when the next window opens.
pub fn outside_windows(windows: &[ChangeWindow], now: OffsetDateTime) -> Option<NextWindow> {
    if windows.is_empty() {
        return None;
    }
    let timestamp = jiff::Timestamp::from_second(now.unix_timestamp()).ok()?;
    let mut next: Option<NextWindow> = None;
    for window in windows {
        let Some(tz) = time_zone(&window.time_zone) else {
            continue;
        };
        let (Some(start), Some(end)) = (hh_mm(&window.start), hh_mm(&window.end)) else {
            continue;
        };
        let local = timestamp.to_zoned(tz.clone());
        let today = local.date();
        let minutes = minutes_since_midnight(i32::from(local.hour()), i32::from(local.minute()));
        if on_day(window, today.weekday()) && start <= minutes && minutes < end {
            return None;
        }
        // The next opening within a week.
        for days_ahead in 0..=7 {
            let Ok(day) = today.checked_add(jiff::Span::new().days(days_ahead)) else {
                continue;
            };
            if !on_day(window, day.weekday()) || (days_ahead == 0 && minutes >= start) {
                continue;
            }
            let Ok(opens) = day
                .at(
                    i8::try_from(start / 60).unwrap_or(0),
                    i8::try_from(start % 60).unwrap_or(0),
                    0,
                    0,
                )
                .to_zoned(tz.clone())
            else {
                continue;
            };
            if next
                .as_ref()
                .is_none_or(|n| opens.timestamp() < n.opens.timestamp())
            {
                next = Some(NextWindow {
                    opens,
                    window: window.clone(),
                });
            }
            break;
        }
    }
    // Windows exist but none is valid: refuse rather than allow.
    Some(next.unwrap_or_else(|| NextWindow {
        opens: timestamp.to_zoned(TimeZone::UTC),
        window: windows[0].clone(),
    }))
}

/// When writes are next allowed.
#[derive(Debug, Clone)]
pub struct NextWindow {
    /// The opening, in the window's time zone.
    pub opens: jiff::Zoned,
    /// The window.
    pub window: ChangeWindow,
}

fn on_day(window: &ChangeWindow, day: Weekday) -> bool {
    let name = match day {
        Weekday::Monday => "monday",
        Weekday::Tuesday => "tuesday",
        Weekday::Wednesday => "wednesday",
        Weekday::Thursday => "thursday",
        Weekday::Friday => "friday",
        Weekday::Saturday => "saturday",
        Weekday::Sunday => "sunday",
    };
    window.days.iter().any(|d| d == name)
}

/// Minutes since midnight of `HH:MM`.
fn hh_mm(text: &str) -> Option<i32> {
    let (h, m) = text.split_once(':')?;
    let (h, m) = (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then(|| minutes_since_midnight(h, m))
}

#[expect(
    clippy::arithmetic_side_effects,
    reason = "hours and minutes of a clock time, checked or given in range"
)]
fn minutes_since_midnight(hour: i32, minute: i32) -> i32 {
    hour * 60 + minute
}

fn window_refusal(env: &str, next: &NextWindow, meta: &WriteMeta) -> ApiError {
    let opens = next.opens.strftime("%A %Y-%m-%d %H:%M %Z").to_string();
    let opens_at = next.opens.timestamp().to_string();
    let hint = if meta.override_window {
        "an override needs the admin role and a reason"
    } else {
        "an admin can override with the header X-Override-Change-Window: true and a reason"
    };
    ApiError::Refused {
        status: StatusCode::FORBIDDEN,
        code: "outside_change_window",
        message: format!(
            "environment \"{env}\" accepts changes only in its change windows; the next opens {opens} ({} {}–{} {}); {hint}",
            next.window.days.join("/"),
            next.window.start,
            next.window.end,
            next.window.time_zone
        ),
        details: json!({
            "environment": env,
            "next_window_opens_at": opens_at,
            "window": next.window,
        }),
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use time::macros::datetime;

    fn window(days: &[&str], start: &str, end: &str, tz: &str) -> ChangeWindow {
        ChangeWindow {
            days: days.iter().map(|d| (*d).to_owned()).collect(),
            start: start.to_owned(),
            end: end.to_owned(),
            time_zone: tz.to_owned(),
        }
    }

    #[test]
    fn inside_a_window_in_its_time_zone() {
        // Tuesday 2026-11-24 09:30 UTC is 10:30 in Rome.
        let windows = [window(&["tuesday"], "10:00", "11:00", "Europe/Rome")];
        assert!(outside_windows(&windows, datetime!(2026-11-24 09:30 UTC)).is_none());
        let next = outside_windows(&windows, datetime!(2026-11-24 10:30 UTC)).unwrap();
        // Next Tuesday, 10:00 in Rome.
        assert_eq!(next.opens.timestamp().to_string(), "2026-12-01T09:00:00Z");
    }

    #[test]
    fn the_next_window_is_the_earliest_opening() {
        let windows = [
            window(&["friday"], "09:00", "17:00", "UTC"),
            window(&["wednesday"], "14:00", "15:00", "America/New_York"),
        ];
        // Tuesday 2026-11-24 12:00 UTC: Wednesday 14:00 New York = 19:00 UTC.
        let next = outside_windows(&windows, datetime!(2026-11-24 12:00 UTC)).unwrap();
        assert_eq!(next.opens.timestamp().to_string(), "2026-11-25T19:00:00Z");
        // Later the same day, before the window opens.
        let today = [window(&["tuesday"], "13:00", "14:00", "UTC")];
        let next = outside_windows(&today, datetime!(2026-11-24 12:00 UTC)).unwrap();
        assert_eq!(next.opens.timestamp().to_string(), "2026-11-24T13:00:00Z");
    }

    #[test]
    fn no_windows_means_always() {
        assert!(outside_windows(&[], datetime!(2026-11-24 03:00 UTC)).is_none());
    }

    /// development → staging (auto_sync, windows on Mondays 09–17 UTC) →
    /// production (approval, protected, dependency policy `refuse`), with the
    /// flags `base` (on everywhere) and `feature`, which requires `base`.
    fn live() -> LiveConfig {
        live_with(|_| {})
    }

    /// [`live`] with production's settings changed by `production`, and a
    /// third flag, `segmented`, whose rules (in every environment) use the
    /// segment `beta`.
    fn live_with(production_settings: fn(&mut ff_store::EnvironmentSettings)) -> LiveConfig {
        let mut live = LiveConfig::default();
        let environment = |key: &str, parent: Option<&str>, auto_sync: bool| {
            let settings: ff_store::EnvironmentSettings = serde_json::from_value(json!({
                "key": key, "parent": parent, "auto_sync": auto_sync
            }))
            .unwrap();
            settings
        };
        let mut staging = environment("staging", Some("development"), true);
        staging.change_windows = vec![window(&["monday"], "09:00", "17:00", "UTC")];
        let mut production = environment("production", Some("staging"), false);
        production.approval_required = true;
        production.protected = true;
        production.dependency_policy = DependencyPolicy::Refuse;
        production_settings(&mut production);
        for settings in [environment("development", None, false), staging, production] {
            let key = settings.tree.key.clone();
            let stored = StoredEnvironment {
                environment: settings,
                version: 1,
                updated_at: datetime!(2026-01-01 00:00 UTC),
            };
            live.environments.insert(key, std::sync::Arc::new(stored));
        }
        for doc in [
            json!({"flag_id": "base", "default_value": true}),
            json!({"flag_id": "feature", "default_value": true, "depends_on": [{"flag": "base"}]}),
            json!({"flag_id": "segmented", "default_value": false, "targeting_rules": [
                {"name": "beta", "conditions": [{"operator": "in_segment", "value": "beta"}], "value": true}
            ]}),
        ] {
            let flag = ff_engine::parse_flag(&doc).unwrap();
            let stored = ff_store::StoredFlag {
                flag,
                version: 1,
                deleted: false,
                created_at: datetime!(2026-01-01 00:00 UTC),
                updated_at: datetime!(2026-01-01 00:00 UTC),
            };
            live.put_flag(
                doc["flag_id"].as_str().unwrap(),
                Some(std::sync::Arc::new(stored)),
            );
        }
        live
    }

    /// `base` with its entry in `env` set to `entry`.
    fn put_base(live: &LiveConfig, env: &str, entry: Value) -> ff_store::AuditedChange {
        put_flag(
            based(live, &json!({"environments": { env: entry }})),
            Some(env),
        )
    }

    /// `base`'s document with the fields of `changes` replaced.
    fn based(live: &LiveConfig, changes: &Value) -> Flag {
        let mut doc = serde_json::to_value(&live.flags["base"].flag).unwrap();
        for (field, value) in changes.as_object().into_iter().flatten() {
            doc[field] = value.clone();
        }
        ff_engine::parse_flag(&doc).unwrap()
    }

    fn put_flag(flag: Flag, env: Option<&str>) -> ff_store::AuditedChange {
        ff_store::AuditedChange {
            change: Change::PutFlag(flag, Expect::Version(1)),
            action: "flag.update".into(),
            environment: env.map(str::to_owned),
        }
    }

    /// Where `base` changes, the entry, the mode, a reason, confirmed, when;
    /// the environments that hold the write, or the code of the refusal.
    type Case<'a> = (
        &'a str,
        Value,
        WriteMode,
        Option<&'a str>,
        bool,
        OffsetDateTime,
        Result<Vec<&'a str>, &'a str>,
    );

    /// Review verdicts, one [`Case`] a line.
    #[test]
    fn review_verdicts() {
        const MONDAY: OffsetDateTime = datetime!(2026-11-30 10:00 UTC);
        const SATURDAY: OffsetDateTime = datetime!(2026-11-28 10:00 UTC);
        use WriteMode::*;
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            // Development: no rules. Inherited by staging, whose window is closed on Saturdays.
            ("development", json!(false), Governed, None, false, MONDAY, Ok(vec![])),
            ("development", json!(false), Governed, None, false, SATURDAY, Err("outside_change_window")),
            ("staging", json!(false), Governed, None, false, SATURDAY, Err("outside_change_window")),
            // The kill switch ignores windows; an approved request does not.
            ("staging", json!({"enabled": false}), Emergency, Some("outage"), false, SATURDAY, Ok(vec![])),
            ("staging", json!(false), Approved, None, false, SATURDAY, Err("outside_change_window")),
            ("staging", json!(false), Administrative, None, false, SATURDAY, Ok(vec![])),
            // Production: a reason, then a confirmation to turn off what others
            // require (and the dependency policy), then approval.
            ("production", json!(false), Governed, None, false, MONDAY, Err("reason_required")),
            ("production", json!({"enabled": false}), Governed, Some("why"), false, MONDAY, Err("confirmation_required")),
            ("production", json!({"enabled": false}), Governed, Some("why"), true, MONDAY, Err("prerequisite_broken")),
            ("production", json!(true), Governed, Some("why"), false, MONDAY, Ok(vec!["production"])),
            // Applying an approved request: no approval, the policy still holds.
            ("production", json!(true), Approved, Some("why"), false, MONDAY, Ok(vec![])),
            ("production", json!({"enabled": false}), Approved, Some("why"), true, MONDAY, Err("prerequisite_broken")),
            ("production", json!({"enabled": false}), Emergency, Some("why"), false, MONDAY, Ok(vec![])),
        ];
        let live = live();
        for (i, (env, entry, mode, reason, confirmed, now, expected)) in
            cases.into_iter().enumerate()
        {
            let meta = WriteMeta {
                actor: "key_a".into(),
                mode,
                reason: reason.map(str::to_owned),
                confirmed,
                ..WriteMeta::default()
            };
            let changes = [put_base(&live, env, entry)];
            let verdict = review(&live, &changes, &meta, now, &[]);
            match (verdict, expected) {
                (Ok(review), Ok(held)) => assert_eq!(review.held, held, "case {i}"),
                (Err(ApiError::Refused { code, .. }), Err(expected)) => {
                    assert_eq!(code, expected, "case {i}")
                }
                (got, expected) => panic!("case {i}: {got:?}, expected {expected:?}"),
            }
        }
    }

    /// What a write changes, for [`governed_cases`].
    #[derive(Clone, Copy)]
    enum Write {
        /// `base`'s entry in an environment.
        Entry(&'static str, &'static str),
        /// `base` tagged `sox`, its entry in production turned on.
        TaggedEntry,
        /// `base`'s description only.
        Description,
        /// The segment `beta`, which `segmented` uses everywhere.
        Segment,
    }

    impl Write {
        fn changes(self, live: &LiveConfig) -> Vec<ff_store::AuditedChange> {
            let change = match self {
                Write::Entry(env, entry) => {
                    put_base(live, env, serde_json::from_str(entry).unwrap())
                }
                Write::TaggedEntry => put_flag(
                    based(
                        live,
                        &json!({"tags": ["sox"], "environments": {"production": true}}),
                    ),
                    Some("production"),
                ),
                Write::Description => {
                    put_flag(based(live, &json!({"description": "now described"})), None)
                }
                Write::Segment => {
                    let segment = ff_engine::parse_segment(&json!({
                        "segment_id": "beta",
                        "conditions": [{"attribute": "plan", "operator": "equals", "value": "beta"}]
                    }))
                    .unwrap();
                    ff_store::AuditedChange {
                        change: Change::PutSegment(segment, Expect::Version(1)),
                        action: "segment.update".into(),
                        environment: None,
                    }
                }
            };
            vec![change]
        }
    }

    /// The writer: mode, role, reason, `X-Override-Change-Window`.
    fn writer(
        mode: WriteMode,
        role: Role,
        reason: Option<&str>,
        override_window: bool,
    ) -> WriteMeta {
        WriteMeta {
            actor: "key_a".into(),
            role: Some(role),
            mode,
            reason: reason.map(str::to_owned),
            override_window,
            ..WriteMeta::default()
        }
    }

    fn unchanged(_: &mut ff_store::EnvironmentSettings) {}
    fn two_approvals(settings: &mut ff_store::EnvironmentSettings) {
        settings.required_approvals = 2;
    }
    fn zero_approvals(settings: &mut ff_store::EnvironmentSettings) {
        settings.required_approvals = 0;
    }
    fn protected_only(settings: &mut ff_store::EnvironmentSettings) {
        settings.approval_required = false;
    }

    /// What a review decided: the environments held, the approvals they
    /// need and the windows overridden; or the code of the refusal.
    type Verdict = Result<(Vec<&'static str>, u32, Vec<&'static str>), &'static str>;

    /// Production's settings, for [`governed_cases`].
    type Settings = fn(&mut ff_store::EnvironmentSettings);

    /// What a case is about, production's settings, the write, the writer,
    /// when, the compliance tags and the verdict.
    type GovernedCase = (
        &'static str,
        Settings,
        Write,
        WriteMeta,
        OffsetDateTime,
        &'static [&'static str],
        Verdict,
    );

    /// Required approvals, compliance tags, window overrides, rollbacks,
    /// segments and metadata-only edits, one case a line: what it is about,
    /// production's settings, the write, the writer, when, the compliance
    /// tags, the verdict.
    #[test]
    fn governed_cases() {
        const MONDAY: OffsetDateTime = datetime!(2026-11-30 10:00 UTC);
        const SATURDAY: OffsetDateTime = datetime!(2026-11-28 10:00 UTC);
        const SOX: &[&str] = &["sox"];
        use Role::*;
        use Write::*;
        use WriteMode::*;
        #[rustfmt::skip]
        let cases: Vec<GovernedCase> = vec![
            ("required approvals are production's", two_approvals, Entry("production", "true"),
             writer(Governed, Editor, Some("why"), false), MONDAY, &[], Ok((vec!["production"], 2, vec![]))),
            ("a request needs at least one approval", zero_approvals, Entry("production", "true"),
             writer(Governed, Editor, Some("why"), false), MONDAY, &[], Ok((vec!["production"], 1, vec![]))),
            ("a compliance tag holds a write in a protected environment", protected_only, TaggedEntry,
             writer(Governed, Editor, Some("why"), false), MONDAY, SOX, Ok((vec!["production"], 1, vec![]))),
            ("without a compliance tag a protected environment does not hold", protected_only, TaggedEntry,
             writer(Governed, Editor, Some("why"), false), MONDAY, &[], Ok((vec![], 0, vec![]))),
            ("an admin with a reason overrides a window", unchanged, Entry("staging", "false"),
             writer(Governed, Admin, Some("hotfix"), true), SATURDAY, &[], Ok((vec![], 0, vec!["staging"]))),
            ("an inherited change overrides the heir's window", unchanged, Entry("development", "false"),
             writer(Governed, Admin, Some("hotfix"), true), SATURDAY, &[], Ok((vec![], 0, vec!["staging"]))),
            ("an approver may not override a window", unchanged, Entry("staging", "false"),
             writer(Governed, Approver, Some("hotfix"), true), SATURDAY, &[], Err("outside_change_window")),
            ("an override needs a reason", unchanged, Entry("staging", "false"),
             writer(Governed, Admin, None, true), SATURDAY, &[], Err("outside_change_window")),
            ("an approved request may override a window too", unchanged, Entry("staging", "false"),
             writer(Approved, Admin, Some("hotfix"), true), SATURDAY, &[], Ok((vec![], 0, vec!["staging"]))),
            ("a rollback that turns off is an emergency", unchanged, Entry("production", r#"{"enabled": false}"#),
             writer(Rollback, Editor, None, false), MONDAY, &[], Ok((vec![], 0, vec![]))),
            ("a rollback that turns on is governed", unchanged, Entry("production", "true"),
             writer(Rollback, Editor, None, false), MONDAY, &[], Err("reason_required")),
            ("a rollback that turns on is held", unchanged, Entry("production", "true"),
             writer(Rollback, Editor, Some("why"), false), MONDAY, &[], Ok((vec!["production"], 1, vec![]))),
            ("a segment write is never held", unchanged, Segment,
             writer(Governed, Editor, Some("why"), false), MONDAY, &[], Ok((vec![], 0, vec![]))),
            ("a segment write respects windows", unchanged, Segment,
             writer(Governed, Editor, Some("why"), false), SATURDAY, &[], Err("outside_change_window")),
            ("a segment write needs a reason where protected", unchanged, Segment,
             writer(Governed, Editor, None, false), MONDAY, &[], Err("reason_required")),
            ("a description affects no environment", unchanged, Description,
             writer(Governed, Editor, None, false), SATURDAY, &[], Ok((vec![], 0, vec![]))),
            ("administrative writes are not reviewed", unchanged, Entry("production", "false"),
             writer(Administrative, Viewer, None, false), SATURDAY, &[], Ok((vec![], 0, vec![]))),
        ];
        for (what, settings, write, meta, now, compliance, expected) in cases {
            let live = live_with(settings);
            let compliance: Vec<String> = compliance.iter().map(|t| (*t).to_owned()).collect();
            let verdict = review(&live, &write.changes(&live), &meta, now, &compliance);
            match (verdict, expected) {
                (Ok(review), Ok((held, approvals, overridden))) => {
                    assert_eq!(review.held, held, "{what}");
                    assert_eq!(review.required_approvals, approvals, "{what}");
                    assert_eq!(review.window_overridden, overridden, "{what}");
                }
                (Err(ApiError::Refused { code, .. }), Err(expected)) => {
                    assert_eq!(code, expected, "{what}")
                }
                (got, expected) => panic!("{what}: {got:?}, expected {expected:?}"),
            }
        }
    }

    /// Which environments a write of `base` affects: (what changes, the
    /// environments).
    #[test]
    fn affected_environments_cases() {
        let live = live();
        let tree = live.environment_tree();
        let base = &live.flags["base"].flag;
        #[rustfmt::skip]
        let cases: Vec<(Option<Value>, Vec<&str>)> = vec![
            // development's entry is inherited by staging (auto_sync), not by production.
            (Some(json!({"environments": {"development": false}})), vec!["development", "staging"]),
            (Some(json!({"environments": {"staging": false}})), vec!["staging"]),
            (Some(json!({"environments": {"production": false}})), vec!["production"]),
            // Metadata changes nothing evaluated.
            (Some(json!({"description": "d", "tags": ["t"], "owner": "o"})), vec![]),
            (Some(json!({"default_value": false})), vec!["development", "production", "staging"]),
            // Deleted: callers get their defaults everywhere.
            (None, vec!["development", "production", "staging"]),
        ];
        for (changes, expected) in cases {
            let after = changes.as_ref().map(|c| based(&live, c));
            let write = FlagWrite {
                flag_id: "base",
                before: Some(base),
                after: after.as_ref(),
            };
            assert_eq!(
                affected_environments(&write, &live, &tree),
                expected,
                "{changes:?}"
            );
        }
    }

    /// Prerequisite problems in production, one case a line: the flag
    /// checked, the flags written alongside it, the problems (by a part of
    /// their text).
    #[test]
    fn dependency_problems_cases() {
        let live = live();
        let tree = live.environment_tree();
        let flag = |doc: Value| ff_engine::parse_flag(&doc).unwrap();
        let base_off = json!({"flag_id": "base", "default_value": true, "environments": {"production": {"enabled": false}}});
        let feature =
            json!({"flag_id": "feature", "default_value": true, "depends_on": [{"flag": "base"}]});
        #[rustfmt::skip]
        let cases: Vec<(Value, Vec<Value>, Vec<&str>)> = vec![
            // As live: base on, feature on and satisfied.
            (feature.clone(), vec![], vec![]),
            // base turned off: feature's prerequisite serves false...
            (feature.clone(), vec![base_off.clone()], vec!["its prerequisite \"base\" serves false there, not true"]),
            // ...and base is off while feature, on, requires it.
            (base_off.clone(), vec![], vec!["\"base\" is off in \"production\" but \"feature\", which is on there, requires it"]),
            // Unless feature goes off with it.
            (base_off.clone(), vec![json!({"flag_id": "feature", "default_value": true, "environments": {"production": {"enabled": false}},
                                              "depends_on": [{"flag": "base"}]})], vec![]),
            // A prerequisite wanting another value.
            (json!({"flag_id": "picky", "default_value": true, "depends_on": [{"flag": "base", "required_value": false}]}),
             vec![], vec!["its prerequisite \"base\" serves true there, not false"]),
            // An off flag requires nothing; an unknown prerequisite is the reference check's.
            (json!({"flag_id": "off", "default_value": true, "environments": {"production": {"enabled": false}},
                    "depends_on": [{"flag": "base", "required_value": false}]}), vec![], vec![]),
            (json!({"flag_id": "orphan", "default_value": true, "depends_on": [{"flag": "missing"}]}), vec![], vec![]),
        ];
        for (checked, written, expected) in cases {
            let written: Vec<Flag> = written.into_iter().map(flag).collect();
            let writes: Vec<FlagWrite<'_>> = written
                .iter()
                .map(|f| FlagWrite {
                    flag_id: &f.flag_id,
                    before: live.flags.get(&f.flag_id).map(|s| &s.flag),
                    after: Some(f),
                })
                .collect();
            let view = FlagView::after(&live, &writes.iter().collect::<Vec<_>>());
            let problems = dependency_problems(&flag(checked.clone()), "production", &tree, &view);
            assert_eq!(problems.len(), expected.len(), "{checked}: {problems:?}");
            for (problem, part) in problems.iter().zip(expected) {
                assert!(problem.contains(part), "{checked}: {problem}");
            }
        }
    }

    /// A reason is wanted where the environment is protected, also for
    /// what is scheduled.
    #[test]
    fn reasons_for_protected_environments() {
        let live = live();
        for (env, reason, refused) in [
            (Some("production"), None, true),
            (Some("production"), Some("why"), false),
            (Some("staging"), None, false),
            (Some("nowhere"), None, false),
            (None, None, false),
        ] {
            assert_eq!(
                require_reason_if_protected(&live, env, reason).is_err(),
                refused,
                "{env:?} {reason:?}"
            );
        }
    }
}
