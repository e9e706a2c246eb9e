//! `flags …`: list, get, create, update, edit, enable, disable, set-value,
//! rollout, history and the rest of one flag's life.

use ff_api_types::{
    Flag, FlagAction, FlagDiff, FlagEnvironment, FlagVersion, Page, RuleSelector, Warning,
};
use reqwest::Method;
use serde_json::{Value, json};

use super::{confirm, filters, value_of, written};
use crate::cli::{FlagEnvArgs, FlagsCommand, WriteArgs};
use crate::client::{CliError, CliResult, Client, WriteOptions, exit, segment, typed};
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
            let flags: Page<Flag> = typed(&page)?;
            printer.document(&page, |p| {
                let rows = flags
                    .items
                    .iter()
                    .map(|f| {
                        let member =
                            |name: &str| short(f.document.get(name).unwrap_or(&Value::Null));
                        let envs = f
                            .document
                            .get("environments")
                            .and_then(Value::as_object)
                            .map(|e| e.keys().cloned().collect::<Vec<_>>().join(","))
                            .unwrap_or_default();
                        vec![
                            f.flag_id().to_owned(),
                            member("type"),
                            member("default_value"),
                            envs,
                            f.version.to_string(),
                            member("description"),
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
                let Ok(created) = typed::<Flag>(body) else {
                    return;
                };
                p.say(format!(
                    "created {} (version {})",
                    created.flag_id(),
                    created.version
                ));
                for warning in &created.warnings {
                    p.say(format!("  warning: {}", warning_text(warning)));
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
            let action = FlagAction::SetValue {
                value: value_of(value),
            };
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
            // A number is a position first (then a name), as people count
            // rules in a list.
            let rule = rule.as_ref().map(|rule| match rule.parse::<usize>() {
                Ok(index) => RuleSelector::Index(index),
                Err(_) => RuleSelector::Name(rule.clone()),
            });
            let action = FlagAction::SetPercentage {
                percentage: *percentage,
                rule,
            };
            act(client, printer, flag, environment, write, action).await
        }
        FlagsCommand::History { flag } => {
            let page = client
                .get(&format!(
                    "/api/v1/flags/{}/versions?limit=500",
                    segment(flag)
                ))
                .await?;
            let versions: Page<FlagVersion> = typed(&page)?;
            printer.document(&page, |p| {
                let rows = versions
                    .items
                    .into_iter()
                    .map(|v| {
                        vec![
                            v.version.to_string(),
                            v.at,
                            v.actor,
                            v.action,
                            v.reason.unwrap_or_default(),
                            v.deployment_id.unwrap_or_default(),
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
            let differences = typed::<FlagDiff>(&diff)?.differences;
            printer.document(&diff, |p| {
                let cell = |v: &Option<Value>| short(v.as_ref().unwrap_or(&Value::Null));
                let rows = differences
                    .iter()
                    .map(|d| vec![d.path.clone(), cell(&d.before), cell(&d.after)])
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
                if let Ok(restored) = typed::<Flag>(body) {
                    p.say(format!("restored {flag} (version {})", restored.version));
                }
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
        let page: Page<Value> = typed(&client.get(&format!("{path}?{}", query.join("&"))).await?)?;
        items.extend(page.items);
        match page.next_cursor {
            // A cursor that does not move on would be followed forever.
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => {
                let whole = Page {
                    items,
                    total: page.total,
                    next_cursor: None,
                };
                return Ok(serde_json::to_value(whole).unwrap_or_default());
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
    action: FlagAction,
) -> CliResult {
    let path = format!(
        "/api/v1/flags/{}/environments/{}",
        segment(flag),
        segment(environment)
    );
    let view: FlagEnvironment = typed(&client.get(&path).await?)?;
    let options = WriteOptions {
        if_match: Some(view.version),
        ..write.into()
    };
    let enabling = action == FlagAction::Enable;
    let action = serde_json::to_value(action).unwrap_or_default();
    let answer = client
        .send(
            Method::POST,
            &format!("{path}/actions"),
            Some(&action),
            &options,
        )
        .await?;
    written(printer, answer, |p, body| {
        let Ok(flag_now) = typed::<Flag>(body) else {
            return;
        };
        let entry = flag_now
            .document
            .get("environments")
            .and_then(|envs| envs.get(environment))
            .unwrap_or(&Value::Null);
        if flag_now.version == view.version {
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
            flag_now.version
        ));
        if view.entry.is_none()
            && !entry.is_null()
            && let Some(from) = &view.inherited_from
        {
            p.say(format!(
                "  {environment} has its own entry now: it no longer inherits from {from}"
            ));
        }
        for warning in &flag_now.warnings {
            p.say(format!("  warning: {}", warning_text(warning)));
        }
    })
}

/// A warning in words.
fn warning_text(warning: &Warning) -> &str {
    match warning {
        Warning::Problem(problem) => &problem.message,
        Warning::Text(text) => text,
    }
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
    let action = if on {
        FlagAction::Enable
    } else {
        FlagAction::Disable
    };
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
    // The document alone, without what the service adds (version, times).
    let read: Flag = typed(&client.get(&path).await?)?;
    let version = read.version;
    let current = Value::Object(read.document);
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
    body["version"] = json!(version);
    let answer = client
        .send(Method::PUT, &path, Some(&body), &write.into())
        .await?;
    written(printer, answer, |p, body| {
        if let Ok(written) = typed::<Flag>(body) {
            p.say(format!("{flag} is now version {}", written.version));
        }
    })
}
