//! `audit` and `audit verify`.

use ff_api_types::{AuditEntry, AuditVerification, Page};

use super::filters;
use crate::cli::{AuditArgs, AuditCommand};
use crate::client::{CliError, CliResult, Client, exit, typed};
use crate::output::Printer;

/// `audit` and `audit verify`.
pub(crate) async fn audit(client: &Client, printer: &Printer, args: &AuditArgs) -> CliResult {
    if let Some(AuditCommand::Verify) = args.verify {
        let answer = client.get("/api/v1/audit/verify").await?;
        let report: AuditVerification = typed(&answer)?;
        printer.document(&answer, |p| {
            if report.valid {
                p.say(format!(
                    "the audit log is intact: {} entries",
                    report.entries
                ));
            }
        })?;
        if !report.valid {
            let at = report.first_broken_id.map(|id| id.to_string());
            return Err(CliError::new(
                exit::FAILED,
                format!(
                    "the audit log is broken at entry {}",
                    at.unwrap_or_default()
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
    let mut entries = typed::<Page<AuditEntry>>(&page)?.items;
    entries.reverse();
    printer.document(&page, |p| {
        p.table(&AUDIT_HEADER, entries.iter().map(audit_row).collect())
    })?;
    if !args.follow {
        return Ok(());
    }
    // Follow: poll for entries after the newest seen, oldest first.
    let mut last = entries.last().map_or(0, |e| e.id);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let page = client
            .get(&format!(
                "/api/v1/audit?{}&limit=1000",
                query[1..].join("&")
            ))
            .await?;
        let mut fresh: Vec<AuditEntry> = typed::<Page<AuditEntry>>(&page)?
            .items
            .into_iter()
            .filter(|e| e.id > last)
            .collect();
        fresh.reverse();
        for entry in &fresh {
            match printer.format {
                crate::output::Format::Table => {
                    crate::output::emit_line(&audit_row(entry).join("  "))
                }
                _ => crate::output::emit_line(&serde_json::to_string(entry).unwrap_or_default()),
            }
            last = last.max(entry.id);
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

fn audit_row(entry: &AuditEntry) -> Vec<String> {
    vec![
        entry.id.to_string(),
        entry.at.clone(),
        entry.actor.clone(),
        entry.action.clone(),
        entry.resource_key.clone(),
        entry.environment.clone().unwrap_or_default(),
        entry.reason.clone().unwrap_or_default(),
    ]
}
