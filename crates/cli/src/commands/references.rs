//! `code-refs [PATH]`: where flag keys appear in a source tree.

use serde_json::{Value, json};

use crate::cli::CodeRefsArgs;
use crate::client::{CliError, CliResult, Client};
use crate::code_refs;
use crate::output::{Printer, short};

/// `code-refs`: the keys come from `--key` or the service (every flag, or
/// with `--stale` the stale ones).
pub(crate) async fn code_refs(
    client: Option<&Client>,
    printer: &Printer,
    args: &CodeRefsArgs,
) -> CliResult {
    let keys = match client {
        None => args.keys.clone(),
        Some(client) if args.stale => ids(&client.get("/api/v1/flags/stale").await?),
        Some(client) => ids(&super::flags::all_pages(client, "/api/v1/flags", &[]).await?),
    };
    let root = args.path.clone();
    let scan =
        tokio::task::spawn_blocking(move || code_refs::scan(&root, &keys).map(|scan| (scan, keys)))
            .await
            .map_err(|e| CliError::invalid(format!("the scan stopped: {e}")))?
            .map_err(CliError::invalid)?;
    let (scan, keys) = scan;
    let unreferenced: Vec<&String> = keys
        .iter()
        .filter(|k| !scan.references.contains_key(*k))
        .collect();
    let document = json!({
        "files_scanned": scan.files_scanned,
        "references": scan.references,
        "unreferenced": unreferenced,
    });
    printer.document(&document, |p| {
        let rows = scan
            .references
            .iter()
            .flat_map(|(key, places)| places.iter().map(move |r| vec![key.clone(), format!("{}:{}", r.path, r.line)]))
            .collect();
        p.table(&["flag", "reference"], rows);
        let (referenced, none) = (scan.references.len(), unreferenced.len());
        if args.stale {
            p.say(format!(
                "{referenced} stale flags still have references (remove the code first); {none} have none (safe to delete){}",
                list(&unreferenced)
            ));
        } else {
            p.say(format!(
                "{referenced} flags referenced in {} files scanned; {none} not referenced{}",
                scan.files_scanned,
                list(&unreferenced)
            ));
        }
    })
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|flag| short(&flag["flag_id"]))
        .filter(|id| !id.is_empty())
        .collect()
}

fn list(keys: &[&String]) -> String {
    if keys.is_empty() {
        String::new()
    } else {
        let shown: Vec<&str> = keys.iter().take(20).map(|k| k.as_str()).collect();
        let more = if keys.len() > 20 {
            format!(" and {} more", keys.len() - 20)
        } else {
            String::new()
        };
        format!(": {}{more}", shown.join(", "))
    }
}
