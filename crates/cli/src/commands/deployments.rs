//! `deploy`: a deployment's hooks.

use std::path::Path;

use ff_api_types::{DeploymentHooks, DeploymentHooksRequest};
use reqwest::Method;

use super::written;
use crate::cli::ProtectionArgs;
use crate::client::{CliError, CliResult, Client, exit, segment, typed};
use crate::offline;
use crate::output::Printer;

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
    let request = DeploymentHooksRequest {
        environment: environment.to_owned(),
        phase: format!("{phase}_deploy"),
        deployment: document,
        reason: None,
    };
    let body = serde_json::to_value(request).unwrap_or_default();
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
        let steps = typed::<DeploymentHooks>(body).map_or_else(|_| Vec::new(), |d| d.steps);
        let rows = steps
            .into_iter()
            .map(|s| {
                let what = if s.verified.is_some() {
                    "verified on"
                } else if s.enabled == Some(true) {
                    "enabled"
                } else {
                    "disabled"
                };
                vec![s.step.to_string(), s.flag_id, what.to_owned()]
            })
            .collect();
        p.say(format!(
            "{phase}_deploy of {deployment_id} in {environment}:"
        ));
        p.table(&["step", "flag", "result"], rows);
    })
}
