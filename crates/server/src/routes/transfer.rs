//! `/api/v1/export` and `/api/v1/import`: the whole configuration (flags,
//! segments, environments) as one JSON or YAML document, for backups and
//! flags-as-code. An import is one transaction; `dry_run` shows what it
//! would do.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ff_api_types::{Difference, ExportQuery, ImportItem, ImportQuery, ImportReport};
use ff_engine::{EnvironmentEntry, Flag, Problem, Segment};
use ff_store::{AuditedChange, Change, EnvironmentSettings, Expect, Role};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::document::{declared_format, read_document};
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryParams, RawBody};
use crate::governance::WriteMeta;
use crate::live::LiveConfig;
use crate::routes::change_requests::held;
use crate::routes::environments::parse_environment_settings;
use crate::state::AppState;
use crate::write::{Outcome, apply, change, check_flag_sizes, check_references};

/// The version of the export document's shape.
pub const FORMAT_VERSION: u32 = 1;

/// `GET /api/v1/export`: everything, flags in the explicit form (every
/// environment entry an object), so that no JSON value can be mistaken for a
/// configuration.
pub async fn export_configuration(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ExportQuery>,
) -> ApiResult<Response> {
    principal.require(Role::Viewer)?;
    let live = state.live.current();
    let document = json!({
        "format_version": FORMAT_VERSION,
        "revision": live.revision,
        "environments": live.environments.values().map(|e| &e.environment).collect::<Vec<_>>(),
        "segments": live.segments.values().map(|s| &s.segment).collect::<Vec<_>>(),
        "flags": live.flags.values().map(|f| explicit(&f.flag)).collect::<Vec<_>>(),
    });
    match query.format.as_deref() {
        None | Some("json") => Ok(axum::Json(document).into_response()),
        Some("yaml") => {
            let text = serde_saphyr::to_string(&document)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/yaml"),
            );
            Ok(response)
        }
        Some(other) => Err(ApiError::bad_request(
            "invalid_query",
            format!("format: unknown format \"{other}\"; expected json or yaml"),
        )),
    }
}

/// A flag with every environment entry in the explicit `{value: …}` form.
pub fn explicit(flag: &Flag) -> Flag {
    let mut flag = flag.clone();
    for entry in flag.environments.values_mut() {
        if let EnvironmentEntry::Value(_) = entry {
            *entry = EnvironmentEntry::Config(entry.to_config());
        }
    }
    flag
}

/// `POST /api/v1/import`: applies an export document (JSON or YAML) in one
/// transaction: creates and updates environments, segments and flags (and
/// with `prune`, deletes the flags and segments it does not list).
pub async fn import_configuration(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    QueryParams(query): QueryParams<ImportQuery>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let format = declared_format(&headers, query.format.as_deref())?;
    let incoming = read_document(body, format, |document| Incoming::parse(&document)).await?;
    if !incoming.environments.is_empty() {
        principal.require(Role::Admin)?;
    }
    let live = state.live.current();
    let plan = plan_import(&live, &incoming, query.prune);
    if query.dry_run {
        // Checked exactly as the real import would be, so that a dry run
        // that passes is one that can be applied.
        check_flag_sizes(&plan.changes, state.config.max_flag_bytes)?;
        check_references(&live, &plan.changes)?;
        return Ok(axum::Json(plan.report(true, None)).into_response());
    }
    if plan.changes.is_empty() {
        return Ok(axum::Json(plan.report(false, Some(live.revision))).into_response());
    }
    let meta = WriteMeta::from_request(&principal, &headers);
    let mut report = None;
    let outcome = apply(&state, meta, |latest| {
        // Planned again against the configuration the commit applies to.
        let plan = plan_import(latest, &incoming, query.prune);
        let changes = plan.changes.clone();
        report = Some(plan);
        Ok(changes)
    })
    .await?;
    let plan = report.unwrap_or(plan);
    let revision = match outcome {
        Outcome::Committed(commit) => commit.revision,
        // Another write made it so meanwhile.
        Outcome::Unchanged => state.live.current().revision,
        Outcome::Held(request) => return Ok(held(&request)),
    };
    Ok(axum::Json(plan.report(false, Some(revision))).into_response())
}

/// A parsed import document.
struct Incoming {
    environments: Vec<EnvironmentSettings>,
    segments: Vec<Segment>,
    flags: Vec<Flag>,
}

impl Incoming {
    /// Parses every part, reporting every problem with its path
    /// (`flags[2].targeting_rules[0]…`).
    fn parse(document: &Value) -> Result<Incoming, ApiError> {
        let Value::Object(map) = document else {
            return Err(ApiError::bad_request(
                "invalid_body",
                "an import is an object with flags, segments and environments",
            ));
        };
        let mut problems = Vec::new();
        for key in map.keys() {
            if ![
                "format_version",
                "revision",
                "exported_at",
                "environments",
                "segments",
                "flags",
            ]
            .contains(&key.as_str())
            {
                problems.push(Problem::error(
                    key.clone(),
                    format!("unknown field \"{key}\"; expected flags, segments, environments"),
                ));
            }
        }
        let list = |name: &str, problems: &mut Vec<Problem>| -> Vec<Value> {
            match map.get(name) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items.clone(),
                Some(_) => {
                    problems.push(Problem::error(name, "expected a list"));
                    Vec::new()
                }
            }
        };
        let mut environments = Vec::new();
        for (path, item) in environment_entries(map.get("environments"), &mut problems) {
            match parse_environment_settings(&item) {
                Ok(settings) => environments.push(settings),
                Err(ApiError::Validation(found)) => {
                    problems.extend(found.into_iter().map(|p| p.prefixed(&path)));
                }
                Err(other) => return Err(other),
            }
        }
        let mut segments = Vec::new();
        for (i, item) in list("segments", &mut problems).iter().enumerate() {
            match ff_engine::parse_segment(item) {
                Ok(segment) => segments.push(segment),
                Err(found) => problems.extend(
                    found
                        .into_iter()
                        .map(|p| p.prefixed(&format!("segments[{i}]"))),
                ),
            }
        }
        let mut flags = Vec::new();
        for (i, item) in list("flags", &mut problems).iter().enumerate() {
            let mut item = item.clone();
            let _ = crate::flag_ops::strip_meta(&mut item);
            match ff_engine::parse_flag(&item) {
                Ok(flag) => flags.push(flag),
                Err(found) => problems.extend(
                    found
                        .into_iter()
                        .map(|p| p.prefixed(&format!("flags[{i}]"))),
                ),
            }
        }
        if problems.is_empty() {
            Ok(Incoming {
                environments,
                segments,
                flags,
            })
        } else {
            Err(ApiError::Validation(problems))
        }
    }
}

/// The environments of an import, each with its path for problems: the
/// export's list (`[{key: development, …}]`) or the product description's
/// map (`{development: {parent: null, …}}`, keyed by name).
fn environment_entries(
    section: Option<&Value>,
    problems: &mut Vec<Problem>,
) -> Vec<(String, Value)> {
    match section {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (format!("environments[{i}]"), item.clone()))
            .collect(),
        Some(Value::Object(by_name)) => {
            let mut entries = Vec::new();
            for (name, settings) in by_name {
                let path = format!("environments.{name}");
                let mut settings = match settings {
                    Value::Object(settings) => settings.clone(),
                    Value::Null => serde_json::Map::new(),
                    _ => {
                        problems.push(Problem::error(
                            path,
                            "expected the environment's settings (parent, description, auto_sync, …)",
                        ));
                        continue;
                    }
                };
                match settings.get("key") {
                    None => {
                        settings.insert("key".into(), Value::String(name.clone()));
                    }
                    Some(Value::String(key)) if key == name => {}
                    Some(other) => {
                        problems.push(Problem::error(
                            format!("{path}.key"),
                            format!("{other} differs from the environment's name \"{name}\""),
                        ));
                        continue;
                    }
                }
                entries.push((path, Value::Object(settings)));
            }
            entries
        }
        Some(_) => {
            problems.push(Problem::error(
                "environments",
                "expected a list of environments, or a map from name to settings",
            ));
            Vec::new()
        }
    }
}

/// What an import does.
struct ImportPlan {
    changes: Vec<AuditedChange>,
    created: Vec<ImportItem>,
    updated: Vec<ImportItem>,
    deleted: Vec<ImportItem>,
    unchanged: usize,
}

impl ImportPlan {
    fn report(&self, dry_run: bool, revision: Option<i64>) -> ImportReport {
        ImportReport {
            dry_run,
            created: self.created.clone(),
            updated: self.updated.clone(),
            deleted: self.deleted.clone(),
            unchanged: self.unchanged as u64,
            revision,
        }
    }
}

fn plan_import(live: &LiveConfig, incoming: &Incoming, prune: bool) -> ImportPlan {
    let mut plan = ImportPlan {
        changes: Vec::new(),
        created: Vec::new(),
        updated: Vec::new(),
        deleted: Vec::new(),
        unchanged: 0,
    };
    // Parents before children, so that each environment's parent exists.
    let mut environments: Vec<&EnvironmentSettings> = incoming.environments.iter().collect();
    environments.sort_by_key(|e| depth(e, &incoming.environments));
    for settings in environments {
        let key = &settings.tree.key;
        let current = live.environments.get(key);
        let before = current.map(|c| serde_json::to_value(&c.environment).unwrap_or_default());
        let after = serde_json::to_value(settings).unwrap_or_default();
        plan.add(
            "environment",
            key,
            before,
            after,
            current.map(|c| c.version),
            |expect| {
                change(
                    Change::PutEnvironment(settings.clone(), expect),
                    "environment.import",
                    Some(key),
                )
            },
        );
    }
    for segment in &incoming.segments {
        let key = &segment.segment_id;
        let current = live.segments.get(key);
        let before = current.map(|c| serde_json::to_value(&c.segment).unwrap_or_default());
        let after = serde_json::to_value(segment).unwrap_or_default();
        plan.add(
            "segment",
            key,
            before,
            after,
            current.map(|c| c.version),
            |expect| {
                change(
                    Change::PutSegment(segment.clone(), expect),
                    "segment.import",
                    None,
                )
            },
        );
    }
    for flag in &incoming.flags {
        let key = &flag.flag_id;
        let current = live.flags.get(key);
        let before = current.map(|c| serde_json::to_value(explicit(&c.flag)).unwrap_or_default());
        let after = serde_json::to_value(explicit(flag)).unwrap_or_default();
        plan.add(
            "flag",
            key,
            before,
            after,
            current.map(|c| c.version),
            |expect| change(Change::PutFlag(flag.clone(), expect), "flag.import", None),
        );
    }
    if prune {
        for (key, stored) in &live.flags {
            if !incoming.flags.iter().any(|f| &f.flag_id == key) {
                plan.deleted.push(import_item("flag", key, None));
                plan.changes.push(change(
                    Change::DeleteFlag(key.clone(), Expect::Version(stored.version)),
                    "flag.import.delete",
                    None,
                ));
            }
        }
        for (key, stored) in &live.segments {
            if !incoming.segments.iter().any(|s| &s.segment_id == key) {
                plan.deleted.push(import_item("segment", key, None));
                plan.changes.push(change(
                    Change::DeleteSegment(key.clone(), Expect::Version(stored.version)),
                    "segment.import.delete",
                    None,
                ));
            }
        }
    }
    plan
}

fn import_item(kind: &str, key: &str, differences: Option<Vec<Difference>>) -> ImportItem {
    ImportItem {
        kind: kind.to_owned(),
        key: key.to_owned(),
        differences,
    }
}

impl ImportPlan {
    fn add(
        &mut self,
        kind: &str,
        key: &str,
        before: Option<Value>,
        after: Value,
        version: Option<i64>,
        make: impl FnOnce(Expect) -> AuditedChange,
    ) {
        match (before, version) {
            (Some(before), Some(version)) => {
                let differences = crate::wire::differences(&before, &after);
                if differences.is_empty() {
                    self.unchanged = self.unchanged.saturating_add(1);
                } else {
                    self.updated.push(import_item(kind, key, Some(differences)));
                    self.changes.push(make(Expect::Version(version)));
                }
            }
            _ => {
                self.created.push(import_item(kind, key, None));
                self.changes.push(make(Expect::Absent));
            }
        }
    }
}

fn depth(settings: &EnvironmentSettings, all: &[EnvironmentSettings]) -> usize {
    let mut depth = 0usize;
    let mut parent = settings.tree.parent.as_deref();
    while let Some(key) = parent {
        depth = depth.saturating_add(1);
        if depth > all.len() {
            break;
        }
        parent = all
            .iter()
            .find(|e| e.tree.key == key)
            .and_then(|e| e.tree.parent.as_deref());
    }
    depth
}
