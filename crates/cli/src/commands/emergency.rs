//! `emergency-disable`, `emergency-enable` and `rollback` (of a flag or a
//! deployment): the emergency procedures. The kill switch is never held for
//! approval; turning a flag back on (by `emergency-enable` or by a rollback
//! to a version where it was on) may be (exit code 8, naming the change
//! request).

use ff_api_types::{
    DeploymentRollback, DeploymentRollbackRequest, EmergencyRequest, EmergencyResponse, Flag,
    RollbackRequest, VersionRef,
};
use reqwest::Method;
use serde_json::Value;

use super::written;
use crate::cli::{EmergencyArgs, RollbackArgs};
use crate::client::{CliError, CliResult, Client, WriteOptions, exit, segment, typed};
use crate::output::Printer;

/// A request body as JSON.
fn body_of(request: impl serde::Serialize) -> Value {
    serde_json::to_value(request).unwrap_or_default()
}

/// `emergency-disable` / `emergency-enable`.
pub(crate) async fn emergency(
    client: &Client,
    printer: &Printer,
    args: &EmergencyArgs,
    enable: bool,
) -> CliResult {
    let body = body_of(EmergencyRequest {
        flag_id: args.flag.clone(),
        environment: args.environment.clone(),
        reason: args.reason.clone(),
    });
    let path = if enable {
        "/api/v1/emergency/enable"
    } else {
        "/api/v1/emergency/disable"
    };
    let answer = client
        .send(Method::POST, path, Some(&body), &WriteOptions::default())
        .await?;
    // Turning a flag back on is an ordinary change: it may be held for
    // approval (exit code 8, naming the change request).
    written(printer, answer, |p, body| {
        if let Ok(switched) = typed::<EmergencyResponse>(body) {
            p.say(format!(
                "{} {} in {} (version {})",
                args.flag,
                if enable { "enabled" } else { "disabled" },
                switched.environments.join(", "),
                switched.version
            ));
        }
    })
}

/// `rollback`.
pub(crate) async fn rollback(client: &Client, printer: &Printer, args: &RollbackArgs) -> CliResult {
    if let Some(deployment) = &args.deployment_id {
        let body = body_of(DeploymentRollbackRequest {
            environment: args.environment.clone(),
            reason: args.reason.clone(),
        });
        let path = format!("/api/v1/deployments/{}/rollback", segment(deployment));
        let answer = client
            .send(Method::POST, &path, Some(&body), &WriteOptions::default())
            .await?;
        return written(printer, answer, |p, body| {
            let flags = typed::<DeploymentRollback>(body).map_or_else(|_| Vec::new(), |r| r.flags);
            let rows = flags
                .into_iter()
                .map(|f| {
                    vec![
                        f.flag_id,
                        f.result,
                        f.from_version.to_string(),
                        f.restored_version
                            .map(|v| v.to_string())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            p.say(format!("rolled back deployment {deployment}"));
            p.table(
                &["flag", "result", "was at version", "restored version"],
                rows,
            );
        });
    }
    let (Some(flag), Some(version)) = (&args.flag, &args.to_version) else {
        return Err(CliError::new(
            exit::USAGE,
            "give --flag with --to-version, or --deployment-id",
        ));
    };
    // A number is a version; anything else (`1.2.3`) a deployment label.
    let to_version = version
        .parse::<i64>()
        .map_or_else(|_| VersionRef::Label(version.clone()), VersionRef::Number);
    let body = body_of(RollbackRequest {
        to_version,
        environment: args.environment.clone(),
        reason: args.reason.clone(),
    });
    let path = format!("/api/v1/flags/{}/rollback", segment(flag));
    let answer = client
        .send(Method::POST, &path, Some(&body), &WriteOptions::default())
        .await?;
    written(printer, answer, |p, body| {
        p.say(format!(
            "{flag} rolled back to {version}{} (now version {})",
            args.environment
                .as_ref()
                .map(|e| format!(" in {e}"))
                .unwrap_or_default(),
            typed::<Flag>(body)
                .map(|f| f.version.to_string())
                .unwrap_or_default()
        ));
    })
}
