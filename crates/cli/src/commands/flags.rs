//! `flags …`: list, get, create, update, edit, enable, disable, set-value,
//! rollout, history and the rest of one flag's life.

use reqwest::Method;
use serde_json::{Value, json};

use super::{confirm, filters, value_of, written};
use crate::cli::{FlagEnvArgs, FlagsCommand, WriteArgs};
use crate::client::{CliError, CliResult, Client, WriteOptions, exit, segment};
use crate::offline;
use crate::output::{Printer, pretty, short};

/// `flags …`.
pub(crate) async fn flags(client: &Client, printer: &Printer, command: &FlagsCommand) -> CliResult {
    match command {
        FlagsCommand::List {
            tag,
            owner,
            lifecycle,
            search,
            deleted,
            page_size,
        } => {
            let mut query = vec![format!("limit={page_size}")];
            query.extend(filters(&[
                ("tag", tag),
                ("owner", owner),
                ("lifecycle", lifecycle),
                ("q", search),
            ]));
            if *deleted {
                query.push("deleted=true".to_owned());
            }
            let page = all_pages(client, "/api/v1/flags", &query).await?;
            printer.document(&page, |p| {
                let rows = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| {
                        let envs = f["environments"]
                            .as_object()
                            .map(|e| e.keys().cloned().collect::<Vec<_>>().join(","))
                            .unwrap_or_default();
                        vec![
                            short(&f["flag_id"]),
                            short(&f["type"]),
                            short(&f["default_value"]),
                            envs,
                            short(&f["version"]),
                            short(&f["description"]),
                        ]
                    })
                    .collect();
                p.table(
                    &[
                        "flag",
                        "type",
                        "default",
                        "environments",
                        "version",
                        "description",
                    ],
                    rows,
                );
            })
        }
        FlagsCommand::Get { flag } => {
            let doc = client
                .get(&format!("/api/v1/flags/{}", segment(flag)))
                .await?;
            printer.document(&doc, |_| crate::output::emit_line(&pretty(&doc)))
        }
        FlagsCommand::Create { file, write } => {
            let doc = offline::read_file(file)?;
            let answer = client
                .send(Method::POST, "/api/v1/flags", Some(&doc), &write.into())
                .await?;
            written(printer, answer, |p, body| {
                p.say(format!(
                    "created {} (version {})",
                    short(&body["flag_id"]),
                    short(&body["version"])
                ));
                for warning in body["warnings"].as_array().into_iter().flatten() {
                    p.say(format!("  warning: {}", short(&warning["message"])));
                }
            })
        }
        FlagsCommand::Edit { flag, yes, write } => edit(client, printer, flag, *yes, write).await,
        FlagsCommand::SetValue {
            flag,
            value,
            environment,
            write,
        } => {
            let action = json!({"action": "set_value", "value": value_of(value)});
            act(client, printer, flag, environment, write, action).await
        }
        FlagsCommand::Enable(args) => toggle(client, printer, args, true).await,
        FlagsCommand::Disable(args) => toggle(client, printer, args, false).await,
        FlagsCommand::Rollout {
            flag,
            environment,
            percentage,
            rule,
            write,
        } => {
            let mut action = json!({"action": "set_percentage", "percentage": percentage});
            if let Some(rule) = rule {
                // A number is a position first (then a name), as people
                // count rules in a list.
                action["rule"] = match rule.parse::<usize>() {
                    Ok(index) => json!(index),
                    Err(_) => json!(rule),
                };
            }
            act(client, printer, flag, environment, write, action).await
        }
        FlagsCommand::History { flag } => {
            let page = client
                .get(&format!(
                    "/api/v1/flags/{}/versions?limit=500",
                    segment(flag)
                ))
                .await?;
            printer.document(&page, |p| {
                let rows = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| {
                        vec![
                            short(&v["version"]),
                            short(&v["at"]),
                            short(&v["actor"]),
                            short(&v["action"]),
                            short(&v["reason"]),
                            short(&v["deployment_id"]),
                        ]
                    })
                    .collect();
                p.table(
                    &["version", "at", "actor", "action", "reason", "deployment"],
                    rows,
                );
            })
        }
        FlagsCommand::Diff { flag, from, to } => {
            let mut path = format!("/api/v1/flags/{}/diff?from={from}", segment(flag));
            if let Some(to) = to {
                path.push_str(&format!("&to={to}"));
            }
            let diff = client.get(&path).await?;
            printer.document(&diff, |p| {
                let rows = diff["differences"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| vec![short(&d["path"]), short(&d["before"]), short(&d["after"])])
                    .collect();
                p.table(&["path", "before", "after"], rows);
            })
        }
        FlagsCommand::Delete { flag, write } => {
            let answer = client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/flags/{}", segment(flag)),
                    None,
                    &write.into(),
                )
                .await?;
            written(printer, answer, |p, _| {
                p.say(format!("deleted {flag} (restorable)"))
            })
        }
        FlagsCommand::Restore { flag, write } => {
            let answer = client
                .send(
                    Method::POST,
                    &format!("/api/v1/flags/{}/restore", segment(flag)),
                    None,
                    &write.into(),
                )
                .await?;
            written(printer, answer, |p, body| {
                p.say(format!(
                    "restored {flag} (version {})",
                    short(&body["version"])
                ))
            })
        }
    }
}

/// Every page of a list the service pages with `cursor` and `next_cursor`
/// (flags), as one document: all the items, and the `total`.
pub(crate) async fn all_pages(client: &Client, path: &str, query: &[String]) -> CliResult<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = query.to_vec();
        if let Some(cursor) = &cursor {
            query.push(format!("cursor={}", segment(cursor)));
        }
        let page = client.get(&format!("{path}?{}", query.join("&"))).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            // A cursor that does not move on would be followed forever.
            Some(next) if cursor.as_deref() != Some(next) => cursor = Some(next.to_owned()),
            _ => {
                let mut document = json!({ "items": items });
                if !page["total"].is_null() {
                    document["total"] = page["total"].clone();
                }
                return Ok(document);
            }
        }
    }
}

/// One edit of a flag in an environment (`flags set-value`, `enable`,
/// `disable`, `rollout`), made by the service on the flag's latest document
/// (`POST …/environments/{env}/actions`). The flag is read first, and the
/// edit sent with `If-Match` on the version read, so that a change made by
/// someone else in between is a conflict (exit code 6) rather than
/// silently built upon; the read also says whether the environment
/// inherited before.
async fn act(
    client: &Client,
    printer: &Printer,
    flag: &str,
    environment: &str,
    write: &WriteArgs,
    action: Value,
) -> CliResult {
    let path = format!(
        "/api/v1/flags/{}/environments/{}",
        segment(flag),
        segment(environment)
    );
    let view = client.get(&path).await?;
    let options = WriteOptions {
        if_match: view["version"].as_i64(),
        ..write.into()
    };
    let answer = client
        .send(
            Method::POST,
            &format!("{path}/actions"),
            Some(&action),
            &options,
        )
        .await?;
    let enabling = action["action"] == "enable";
    written(printer, answer, |p, body| {
        let entry = &body["environments"][environment];
        if body["version"] == view["version"] {
            // Nothing to change: no new version was written.
            p.say(if enabling {
                format!("{flag} is already on in {environment}")
            } else if entry.is_null() {
                format!("{flag} in {environment}: inherits already")
            } else {
                format!("{flag} in {environment}: already {}", short(entry))
            });
            return;
        }
        let what = if entry.is_null() {
            "inherits again".to_owned()
        } else {
            short(entry)
        };
        p.say(format!(
            "{flag} in {environment}: {what} (version {})",
            short(&body["version"])
        ));
        if view["entry"].is_null()
            && !entry.is_null()
            && let Some(from) = view["inherited_from"].as_str()
        {
            p.say(format!(
                "  {environment} has its own entry now: it no longer inherits from {from}"
            ));
        }
        for warning in body["warnings"].as_array().into_iter().flatten() {
            p.say(format!("  warning: {}", short(warning)));
        }
    })
}

/// `flags enable` / `flags disable`: the service's kill switch edit (see
/// `ff_engine::edit::set_enabled`), which leaves the flag on when enabling:
/// an environment that inherits a switched-off entry gets what it serves
/// when on as its own entry, and an own entry is removed only when what the
/// environment would then inherit is on.
async fn toggle(client: &Client, printer: &Printer, args: &FlagEnvArgs, on: bool) -> CliResult {
    let FlagEnvArgs {
        flag,
        environment,
        write,
    } = args;
    let action = json!({"action": if on { "enable" } else { "disable" }});
    act(client, printer, flag, environment, write, action).await
}

/// `flags edit`: $EDITOR on the document, the diff, a question, the write
/// (with the version read).
async fn edit(
    client: &Client,
    printer: &Printer,
    flag: &str,
    yes: bool,
    write: &WriteArgs,
) -> CliResult {
    let path = format!("/api/v1/flags/{}", segment(flag));
    let mut current = client.get(&path).await?;
    let version = current["version"].clone();
    if let Value::Object(map) = &mut current {
        for meta in ["version", "created_at", "updated_at", "deleted", "warnings"] {
            map.remove(meta);
        }
    }
    let dir = std::env::temp_dir().join(format!("feature-flags-edit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| CliError::invalid(e.to_string()))?;
    let file = dir.join(format!("{flag}.json"));
    std::fs::write(&file, pretty(&current)).map_err(|e| CliError::invalid(e.to_string()))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_owned());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&file)
        .status()
        .map_err(|e| CliError::invalid(format!("cannot start the editor {editor}: {e}")))?;
    if !status.success() {
        return Err(CliError::new(
            exit::FAILED,
            format!("the editor {editor} failed; nothing changed"),
        ));
    }
    let edited = offline::read_file(&file)?;
    let _ = std::fs::remove_dir_all(&dir);
    let differences = ff_engine::diff::diff(&current, &edited);
    if differences.is_empty() {
        printer.say("no changes");
        return Ok(());
    }
    // For people, like every line: not with --quiet, and not into the
    // JSON or YAML document a script reads.
    for d in &differences {
        printer.say(format!(
            "  {}: {} -> {}",
            d.path,
            short(&d.before.clone().unwrap_or_default()),
            short(&d.after.clone().unwrap_or_default())
        ));
    }
    if !yes && !confirm("apply these changes?")? {
        return Err(CliError::new(exit::FAILED, "nothing changed"));
    }
    let mut body = edited;
    body["version"] = version;
    let answer = client
        .send(Method::PUT, &path, Some(&body), &write.into())
        .await?;
    written(printer, answer, |p, body| {
        p.say(format!("{flag} is now version {}", short(&body["version"])))
    })
}
