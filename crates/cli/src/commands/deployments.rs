//! `deploy`: a deployment's hooks.

use std::path::Path;

use reqwest::Method;
use serde_json::json;

use super::written;
use crate::cli::ProtectionArgs;
use crate::client::{CliError, CliResult, Client, exit, segment};
use crate::offline;
use crate::output::{Printer, short};

/// `deploy`.
pub(crate) async fn deploy(
    client: &Client,
    printer: &Printer,
    file: &Path,
    phase: &str,
    deployment_id: &str,
    environment: &str,
    protection: &ProtectionArgs,
) -> CliResult {
    let document = offline::read_file(file)?;
    let body = json!({
        "environment": environment,
        "phase": format!("{phase}_deploy"),
        "deployment": document,
    });
    let path = format!("/api/v1/deployments/{}/hooks", segment(deployment_id));
    let answer = match client
        .send(Method::POST, &path, Some(&body), &protection.into())
        .await
    {
        Ok(answer) => answer,
        Err(error) if error.api_code.as_deref() == Some("verify_failed") => {
            // A failed verification: the deployment must not go on. Other
            // refusals (a confirmation or reason needed, a stale version, a
            // change window) keep their own exit codes and hints.
            return Err(CliError::new(
                exit::FAILED,
                format!("{phase}_deploy failed, nothing applied: {}", error.message),
            ));
        }
        Err(error) => return Err(error),
    };
    written(printer, answer, |p, body| {
        let rows = body["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let what = if s.get("verified").is_some() {
                    "verified on".to_owned()
                } else if s["enabled"] == true {
                    "enabled".to_owned()
                } else {
                    "disabled".to_owned()
                };
                vec![short(&s["step"]), short(&s["flag_id"]), what]
            })
            .collect();
        p.say(format!(
            "{phase}_deploy of {deployment_id} in {environment}:"
        ));
        p.table(&["step", "flag", "result"], rows);
    })
}
