//! Work on flag files without a service: reading flags as code (JSON or
//! YAML files, directories of them, or an export), checking them with the
//! engine, and computing test snapshots.

use std::path::{Path, PathBuf};

use ff_engine::{Context, Environment, Flag, FlagType, Problem, Segment, Snapshot};
use serde_json::{Value, json};

use crate::client::{CliError, CliResult};

/// Flags, segments and environments read from files, with where each flag
/// came from.
#[derive(Debug, Default)]
pub struct Files {
    /// Flag documents and their source (`file` or `file#flags[3]`).
    pub flags: Vec<(String, Value)>,
    /// Segment documents and their source.
    pub segments: Vec<(String, Value)>,
    /// Environment settings (from an export), if any.
    pub environments: Vec<Value>,
}

/// Reads a JSON or YAML file (by extension; else JSON, then YAML).
pub fn read_file(path: &Path) -> CliResult<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", path.display())))?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let yaml = || {
        serde_norway::from_str::<Value>(&text)
            .map_err(|e| CliError::invalid(format!("{}: not valid YAML: {e}", path.display())))
    };
    let json = || {
        serde_json::from_str::<Value>(&text)
            .map_err(|e| CliError::invalid(format!("{}: not valid JSON: {e}", path.display())))
    };
    match extension {
        "yaml" | "yml" => yaml(),
        "json" => json(),
        _ => json().or_else(|error| yaml().map_err(|_| error)),
    }
}

/// Reads files and directories (their `*.json`, `*.yaml`, `*.yml`, sorted).
/// A file holds one flag, a list of flags, or an export document
/// (`flags`, `segments`, `environments`).
pub fn read_paths(paths: &[PathBuf]) -> CliResult<Files> {
    let mut files = Files::default();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", path.display())))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| ["json", "yaml", "yml"].contains(&e))
                })
                .collect();
            entries.sort();
            for entry in entries {
                add_document(&mut files, &entry)?;
            }
        } else {
            add_document(&mut files, path)?;
        }
    }
    Ok(files)
}

fn add_document(files: &mut Files, path: &Path) -> CliResult {
    let name = path.display().to_string();
    match read_file(path)? {
        Value::Array(flags) => {
            for (i, flag) in flags.into_iter().enumerate() {
                files.flags.push((format!("{name}#[{i}]"), flag));
            }
        }
        Value::Object(map) if map.contains_key("flag_id") => {
            files.flags.push((name, Value::Object(map)));
        }
        Value::Object(map)
            if ["flags", "segments", "environments"]
                .iter()
                .any(|k| map.contains_key(*k)) =>
        {
            for (i, flag) in section(&map, "flags", &name)?.into_iter().enumerate() {
                files.flags.push((format!("{name}#flags[{i}]"), flag));
            }
            for (i, segment) in section(&map, "segments", &name)?.into_iter().enumerate() {
                files
                    .segments
                    .push((format!("{name}#segments[{i}]"), segment));
            }
            files
                .environments
                .extend(environments_section(map.get("environments"), &name)?);
        }
        _ => {
            return Err(CliError::invalid(format!(
                "{name}: expected a flag document (with flag_id), a list of flags, or an export (flags, segments, environments)"
            )));
        }
    }
    Ok(())
}

/// A list section of an export (`flags`, `segments`): absent is empty, any
/// other shape than a list is an error (never silently nothing).
fn section(map: &serde_json::Map<String, Value>, key: &str, name: &str) -> CliResult<Vec<Value>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(_) => Err(CliError::invalid(format!("{name}: {key} must be a list"))),
    }
}

/// The environments of a document: an export's list (`[{key: …}]`) or the
/// product description's map (`{development: {parent: null, …}}`), as a
/// list of settings each with its `key`.
fn environments_section(section: Option<&Value>, name: &str) -> CliResult<Vec<Value>> {
    let shape_error = || {
        CliError::invalid(format!(
            "{name}: environments must be a list of settings with a key, or a map from name to settings"
        ))
    };
    match section {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if item.get("key").and_then(Value::as_str).is_none() {
                    return Err(CliError::invalid(format!(
                        "{name}: environments[{i}] needs a key (its name)"
                    )));
                }
            }
            Ok(items.clone())
        }
        Some(Value::Object(by_name)) => by_name
            .iter()
            .map(|(key, settings)| {
                let mut settings = match settings {
                    Value::Object(settings) => settings.clone(),
                    Value::Null => serde_json::Map::new(),
                    _ => return Err(shape_error()),
                };
                settings
                    .entry("key")
                    .or_insert_with(|| Value::String(key.clone()));
                Ok(Value::Object(settings))
            })
            .collect(),
        Some(_) => Err(shape_error()),
    }
}

/// The parsed configuration, or every problem with its file and path.
pub struct Parsed {
    /// The flags.
    pub flags: Vec<Flag>,
    /// The segments.
    pub segments: Vec<Segment>,
    /// The environment tree (the seeded one when the files have none).
    pub environments: Vec<Environment>,
}

/// Checks files with the engine: each document on its own, then the set
/// (references, cycles). `Err` lists every problem, located.
pub fn parse(files: &Files) -> Result<(Parsed, Vec<String>), Vec<String>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut flags = Vec::new();
    for (source, doc) in &files.flags {
        match ff_engine::parse_flag(doc) {
            Ok(flag) => {
                for warning in ff_engine::lint_flag(&flag) {
                    warnings.push(format!("{source}: {warning}"));
                }
                flags.push(flag);
            }
            Err(problems) => errors.extend(problems.iter().map(|p| located(source, p))),
        }
    }
    let mut segments = Vec::new();
    for (source, doc) in &files.segments {
        match ff_engine::parse_segment(doc) {
            Ok(segment) => segments.push(segment),
            Err(problems) => errors.extend(problems.iter().map(|p| located(source, p))),
        }
    }
    let environments: Vec<Environment> = if files.environments.is_empty() {
        Environment::seed_tree()
    } else {
        files
            .environments
            .iter()
            .filter_map(|e| {
                let key = e.get("key")?.as_str()?;
                Some(Environment::new(
                    key,
                    e.get("parent").and_then(Value::as_str),
                    e.get("auto_sync").and_then(Value::as_bool).unwrap_or(false),
                ))
            })
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    for flag in &flags {
        if !seen.insert(flag.flag_id.as_str()) {
            errors.push(format!(
                "flag \"{}\" is defined more than once",
                flag.flag_id
            ));
        }
    }
    if errors.is_empty() {
        for problem in ff_engine::validate_set(&flags, &segments, &environments) {
            if problem.severity == ff_engine::Severity::Error {
                errors.push(problem.to_string());
            } else {
                warnings.push(problem.to_string());
            }
        }
    }
    if errors.is_empty() {
        Ok((
            Parsed {
                flags,
                segments,
                environments,
            },
            warnings,
        ))
    } else {
        Err(errors)
    }
}

fn located(source: &str, problem: &Problem) -> String {
    format!("{source}: {problem}")
}

/// The test scenarios of `snapshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Scenario {
    /// Every boolean flag off; other flags serve their default.
    AllFlagsOff,
    /// Every boolean flag on; other flags serve their default.
    AllFlagsOn,
    /// What the environment (default `production`) serves to a context
    /// without attributes.
    ProductionFlags,
}

impl Scenario {
    /// Its name in files.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::AllFlagsOff => "all_flags_off",
            Scenario::AllFlagsOn => "all_flags_on",
            Scenario::ProductionFlags => "production_flags",
        }
    }
}

/// The snapshot document (`docs/SNAPSHOT.md`).
pub fn snapshot(
    parsed: &Parsed,
    scenario: Scenario,
    environment: &str,
    generated_at: &str,
) -> CliResult<Value> {
    let mut flags = serde_json::Map::new();
    let compiled = Snapshot::build(&parsed.flags, &parsed.segments, &parsed.environments);
    let in_environment = compiled.environment(environment);
    if scenario == Scenario::ProductionFlags && in_environment.is_none() {
        return Err(CliError::invalid(format!(
            "environment \"{environment}\" is not in the configuration"
        )));
    }
    let empty = Context::from_json(json!({})).map_err(|e| CliError::invalid(e.0))?;
    for flag in &parsed.flags {
        let entry = match scenario {
            Scenario::AllFlagsOff | Scenario::AllFlagsOn => {
                let value = if flag.flag_type == FlagType::Boolean {
                    Value::Bool(scenario == Scenario::AllFlagsOn)
                } else {
                    flag.default_value.clone()
                };
                json!({"value": value, "reason": "STATIC"})
            }
            Scenario::ProductionFlags => {
                let Some(snapshot) = in_environment else {
                    continue;
                };
                let resolution = snapshot.evaluate(&flag.flag_id, &empty);
                let mut entry = json!({
                    "value": resolution.value.cloned().unwrap_or_else(|| flag.default_value.clone()),
                    "reason": resolution.reason.as_str(),
                });
                if let Some(variant) = resolution.variant {
                    entry["variant"] = json!(variant);
                }
                entry
            }
        };
        flags.insert(flag.flag_id.clone(), entry);
    }
    Ok(json!({
        "format": "feature-flags-snapshot",
        "version": 1,
        "scenario": scenario.name(),
        "environment": environment,
        "generated_at": generated_at,
        "flags": flags,
    }))
}
