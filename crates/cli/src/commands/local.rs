//! `validate` and `snapshot`: the engine run here, on files (a snapshot
//! may start from the service's export).

use std::path::Path;

use crate::client::{CliError, CliResult, Client, exit};
use crate::offline::{self, Scenario};
use crate::output::{Printer, pretty};

/// `validate`: offline, with the engine.
pub(crate) fn validate(printer: &Printer, paths: &[std::path::PathBuf]) -> CliResult {
    let files = offline::read_paths(paths)?;
    match offline::parse(&files) {
        Ok((parsed, warnings)) => {
            for warning in &warnings {
                printer.say(format!("warning: {warning}"));
            }
            let environments = if files.environments.is_empty() {
                String::new()
            } else {
                format!(", {} environment(s)", parsed.environments.len())
            };
            printer.say(format!(
                "valid: {} flag(s), {} segment(s){environments}",
                parsed.flags.len(),
                parsed.segments.len()
            ));
            Ok(())
        }
        Err(errors) => Err(CliError::invalid(format!(
            "{} problem(s):\n{}",
            errors.len(),
            errors
                .iter()
                .map(|e| format!("  error: {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}

/// `snapshot`.
pub(crate) async fn snapshot(
    client: Option<&Client>,
    printer: &Printer,
    scenario: Scenario,
    environment: &str,
    from: Option<&Path>,
    out: &Path,
) -> CliResult {
    let files = match (from, client) {
        (Some(path), _) => offline::read_paths(&[path.to_path_buf()])?,
        (None, Some(client)) => {
            let export = client.get("/api/v1/export?format=json").await?;
            let dir = std::env::temp_dir().join(format!(
                "feature-flags-snapshot-{}.json",
                std::process::id()
            ));
            std::fs::write(&dir, export.to_string())
                .map_err(|e| CliError::invalid(e.to_string()))?;
            let files = offline::read_paths(std::slice::from_ref(&dir));
            let _ = std::fs::remove_file(&dir);
            files?
        }
        (None, None) => return Err(CliError::new(exit::USAGE, "give --from FILE or a service")),
    };
    let (parsed, _) =
        offline::parse(&files).map_err(|errors| CliError::invalid(errors.join("\n")))?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let document = offline::snapshot(&parsed, scenario, environment, &now)?;
    std::fs::write(out, pretty(&document) + "\n")
        .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", out.display())))?;
    printer.say(format!(
        "wrote {} ({}, {} flags)",
        out.display(),
        scenario.name(),
        document["flags"]
            .as_object()
            .map_or(0, serde_json::Map::len)
    ));
    Ok(())
}
