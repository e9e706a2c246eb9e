//! `audit` and `audit verify`.

use serde_json::Value;

use super::filters;
use crate::cli::{AuditArgs, AuditCommand};
use crate::client::{CliError, CliResult, Client, exit};
use crate::output::{Printer, short};

/// `audit` and `audit verify`.
pub(crate) async fn audit(client: &Client, printer: &Printer, args: &AuditArgs) -> CliResult {
    if let Some(AuditCommand::Verify) = args.verify {
        let report = client.get("/api/v1/audit/verify").await?;
        printer.document(&report, |p| {
            if report["valid"] == true {
                p.say(format!(
                    "the audit log is intact: {} entries",
                    short(&report["entries"])
                ));
            }
        })?;
        if report["valid"] != true {
            return Err(CliError::new(
                exit::FAILED,
                format!(
                    "the audit log is broken at entry {}",
                    short(&report["first_broken_id"])
                ),
            ));
        }
        return Ok(());
    }
    let mut query = vec![format!("limit={}", args.limit)];
    query.extend(filters(&[
        ("flag_id", &args.flag),
        ("environment", &args.environment),
        ("actor", &args.actor),
        ("action", &args.action),
        ("deployment_id", &args.deployment_id),
    ]));
    let page = client
        .get(&format!("/api/v1/audit?{}", query.join("&")))
        .await?;
    let mut entries: Vec<Value> = page["items"].as_array().cloned().unwrap_or_default();
    entries.reverse();
    printer.document(&page, |p| {
        p.table(&AUDIT_HEADER, entries.iter().map(audit_row).collect())
    })?;
    if !args.follow {
        return Ok(());
    }
    // Follow: poll for entries after the newest seen, oldest first.
    let mut last = entries.last().and_then(|e| e["id"].as_i64()).unwrap_or(0);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let page = client
            .get(&format!(
                "/api/v1/audit?{}&limit=1000",
                query[1..].join("&")
            ))
            .await?;
        let mut fresh: Vec<Value> = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["id"].as_i64().is_some_and(|id| id > last))
            .cloned()
            .collect();
        fresh.reverse();
        for entry in &fresh {
            match printer.format {
                crate::output::Format::Table => {
                    crate::output::emit_line(&audit_row(entry).join("  "))
                }
                _ => crate::output::emit_line(&serde_json::to_string(entry).unwrap_or_default()),
            }
            last = last.max(entry["id"].as_i64().unwrap_or(last));
        }
    }
}

const AUDIT_HEADER: [&str; 7] = [
    "id",
    "at",
    "actor",
    "action",
    "resource",
    "environment",
    "reason",
];

fn audit_row(entry: &Value) -> Vec<String> {
    vec![
        short(&entry["id"]),
        short(&entry["at"]),
        short(&entry["actor"]),
        short(&entry["action"]),
        short(&entry["resource_key"]),
        short(&entry["environment"]),
        short(&entry["reason"]),
    ]
}
