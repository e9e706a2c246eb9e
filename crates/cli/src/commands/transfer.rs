//! `export`, `import` and `apply`: whole configurations in and out.

use std::path::Path;

use ff_api_types::ImportReport;
use reqwest::Method;
use serde_json::{Value, json};

use super::{confirm, written};
use crate::cli::WriteArgs;
use crate::client::{CliError, CliResult, Client, WriteOptions, exit, typed};
use crate::offline;
use crate::output::{Printer, pretty, short};

/// `export`.
pub(crate) async fn export(client: &Client, format: &str, out: Option<&Path>) -> CliResult {
    let document = client.get("/api/v1/export?format=json").await?;
    let text = match format {
        "json" => pretty(&document) + "\n",
        "yaml" => crate::output::yaml(&document)?,
        other => {
            return Err(CliError::new(
                exit::USAGE,
                format!("unknown format {other}: json or yaml"),
            ));
        }
    };
    match out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", path.display()))),
        None => {
            crate::output::emit(&text);
            Ok(())
        }
    }
}

/// The import document of files: their flags and segments (and
/// environments, from an export).
pub(crate) fn import_document(files: &offline::Files) -> Value {
    let mut document = json!({
        "flags": files.flags.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
        "segments": files.segments.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>(),
    });
    if !files.environments.is_empty() {
        document["environments"] = json!(files.environments);
    }
    document
}

/// `import` and `apply`: the plan (a dry run), then — unless only a plan
/// was asked for — the change, in one transaction.
pub(crate) async fn apply(
    client: &Client,
    printer: &Printer,
    document: &Value,
    dry_run: bool,
    prune: bool,
    yes: bool,
    write: &WriteArgs,
) -> CliResult {
    let prune = if prune { "&prune=true" } else { "" };
    let plan = client
        .send(
            Method::POST,
            &format!("/api/v1/import?dry_run=true{prune}"),
            Some(document),
            &WriteOptions::default(),
        )
        .await?
        .body;
    let changes = show_plan(printer, &plan)?;
    if dry_run || changes == 0 {
        return Ok(());
    }
    if !yes && !confirm("apply this plan?")? {
        return Err(CliError::new(exit::FAILED, "nothing changed"));
    }
    let answer = client
        .send(
            Method::POST,
            &format!("/api/v1/import?dry_run=false{prune}"),
            Some(document),
            &write.into(),
        )
        .await?;
    written(printer, answer, |p, body| {
        if let Ok(report) = typed::<ImportReport>(body) {
            let revision = report.revision.map(|r| r.to_string());
            p.say(format!(
                "applied at revision {}",
                revision.unwrap_or_default()
            ));
        }
    })
}

/// Prints an import plan; returns how many changes it has.
fn show_plan(printer: &Printer, plan: &Value) -> CliResult<usize> {
    let report: ImportReport = typed(plan)?;
    let mut rows = Vec::new();
    for (items, label) in [
        (&report.created, "create"),
        (&report.updated, "change"),
        (&report.deleted, "delete"),
    ] {
        for item in items {
            let cell = |v: &Option<Value>| short(v.as_ref().unwrap_or(&Value::Null));
            let detail = item
                .differences
                .iter()
                .flatten()
                .map(|d| format!("{}: {} -> {}", d.path, cell(&d.before), cell(&d.after)))
                .collect::<Vec<_>>()
                .join("\n");
            rows.push(vec![
                label.to_owned(),
                item.kind.clone(),
                item.key.clone(),
                detail,
            ]);
        }
    }
    let count = rows.len();
    printer.document(plan, |p| {
        if rows.is_empty() {
            p.say("no changes: the service already matches");
        } else {
            p.table(&["plan", "kind", "key", "changes"], rows);
        }
    })?;
    Ok(count)
}
