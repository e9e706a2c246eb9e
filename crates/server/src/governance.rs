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
        let minutes = i32::from(local.hour()) * 60 + i32::from(local.minute());
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
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
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
        let mut doc = serde_json::to_value(&live.flags["base"].flag).unwrap();
        doc["environments"] = json!({ env: entry });
        ff_store::AuditedChange {
            change: Change::PutFlag(ff_engine::parse_flag(&doc).unwrap(), Expect::Version(1)),
            action: "flag.update".into(),
            environment: Some(env.into()),
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
}
