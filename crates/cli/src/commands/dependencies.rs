//! `deps check`.

use ff_api_types::DependencyCheck;

use crate::cli::DepsCommand;
use crate::client::{CliError, CliResult, Client, WriteOptions, exit, segment, typed};
use crate::output::{Printer, short};

/// `deps check`.
pub(crate) async fn deps(client: &Client, printer: &Printer, command: &DepsCommand) -> CliResult {
    let DepsCommand::Check { file, environment } = command;
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", file.display())))?;
    let path = format!(
        "/api/v1/dependencies/check?environment={}",
        segment(environment)
    );
    let answer = client
        .send_text(&path, "application/yaml", text, &WriteOptions::default())
        .await?;
    let report: DependencyCheck = typed(&answer.body)?;
    printer.document(&answer.body, |p| {
        let rows = report
            .dependencies
            .iter()
            .map(|d| {
                vec![
                    d.flag.clone(),
                    d.repository.clone().unwrap_or_default(),
                    d.depends_on.clone(),
                    short(&d.required_value),
                    short(&d.actual_value),
                    if d.holds { "holds" } else { "broken" }.to_owned(),
                    d.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        p.table(
            &[
                "flag",
                "repository",
                "depends on",
                "required",
                "actual",
                "",
                "detail",
            ],
            rows,
        );
    })?;
    if report.holds {
        Ok(())
    } else {
        Err(CliError::new(
            exit::FAILED,
            format!("dependencies do not hold in {environment}"),
        ))
    }
}
