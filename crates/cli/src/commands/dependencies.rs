//! `deps check`.

use crate::cli::DepsCommand;
use crate::client::{CliError, CliResult, Client, WriteOptions, exit, segment};
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
    let report = answer.body;
    printer.document(&report, |p| {
        let rows = report["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                vec![
                    short(&d["flag"]),
                    short(&d["repository"]),
                    short(&d["depends_on"]),
                    short(&d["required_value"]),
                    short(&d["actual_value"]),
                    if d["holds"] == true {
                        "holds".into()
                    } else {
                        "broken".into()
                    },
                    short(&d["detail"]),
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
    if report["holds"] == true {
        Ok(())
    } else {
        Err(CliError::new(
            exit::FAILED,
            format!("dependencies do not hold in {environment}"),
        ))
    }
}
