//! `emergency-disable`, `emergency-enable` and `rollback` (of a flag or a
//! deployment): the emergency procedures. The kill switch is never held for
//! approval; turning a flag back on (by `emergency-enable` or by a rollback
//! to a version where it was on) may be (exit code 8, naming the change
//! request).

use reqwest::Method;
use serde_json::json;

use super::written;
use crate::cli::{EmergencyArgs, RollbackArgs};
use crate::client::{CliError, CliResult, Client, WriteOptions, exit, segment};
use crate::output::{Printer, short};

/// `emergency-disable` / `emergency-enable`.
pub(crate) async fn emergency(
    client: &Client,
    printer: &Printer,
    args: &EmergencyArgs,
    enable: bool,
) -> CliResult {
    let mut body = json!({"flag_id": args.flag});
    if let Some(env) = &args.environment {
        body["environment"] = json!(env);
    }
    if let Some(reason) = &args.reason {
        body["reason"] = json!(reason);
    }
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
        p.say(format!(
            "{} {} in {} (version {})",
            args.flag,
            if enable { "enabled" } else { "disabled" },
            body["environments"]
                .as_array()
                .map(|e| e.iter().map(short).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
            short(&body["version"])
        ));
    })
}

/// `rollback`.
pub(crate) async fn rollback(client: &Client, printer: &Printer, args: &RollbackArgs) -> CliResult {
    if let Some(deployment) = &args.deployment_id {
        let mut body = json!({});
        if let Some(env) = &args.environment {
            body["environment"] = json!(env);
        }
        if let Some(reason) = &args.reason {
            body["reason"] = json!(reason);
        }
        let path = format!("/api/v1/deployments/{}/rollback", segment(deployment));
        let answer = client
            .send(Method::POST, &path, Some(&body), &WriteOptions::default())
            .await?;
        return written(printer, answer, |p, body| {
            let rows = body["flags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    vec![
                        short(&f["flag_id"]),
                        short(&f["result"]),
                        short(&f["from_version"]),
                        short(&f["restored_version"]),
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
        .map_or_else(|_| json!(version), |n| json!(n));
    let mut body = json!({"to_version": to_version});
    if let Some(env) = &args.environment {
        body["environment"] = json!(env);
    }
    if let Some(reason) = &args.reason {
        body["reason"] = json!(reason);
    }
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
            short(&body["version"])
        ));
    })
}
