//! What each client command does: requests to the service (or the engine,
//! offline) and what is printed.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{
    AuditArgs, AuditCommand, ChangeRequestsCommand, DepsCommand, EmergencyArgs, EnvsCommand,
    FlagEnvArgs, FlagsCommand, KeysCommand, LimitArgs, ProtectionArgs, RollbackArgs,
    RolloutPlansCommand, ScheduleCommand, SegmentsCommand, WriteArgs,
};
use crate::client::{Answer, CliError, CliResult, Client, WriteOptions, exit, segment};
use crate::offline::{self, Scenario};
use crate::output::{Printer, pretty, short};

impl From<&WriteArgs> for WriteOptions {
    fn from(args: &WriteArgs) -> WriteOptions {
        WriteOptions {
            deployment_id: args.deployment_id.clone(),
            ..WriteOptions::from(&args.protection)
        }
    }
}

impl From<&ProtectionArgs> for WriteOptions {
    fn from(args: &ProtectionArgs) -> WriteOptions {
        WriteOptions {
            reason: args.reason.clone(),
            confirm: args.confirm,
            override_window: args.override_window,
            ..WriteOptions::default()
        }
    }
}

/// A write's answer: a change request when held (exit code 8), else the
/// document.
fn written(printer: &Printer, answer: Answer, done: impl FnOnce(&Printer, &Value)) -> CliResult {
    if answer.status == 202 {
        let request = &answer.body["change_request"];
        printer.document(&answer.body, |p| {
            p.say(format!(
                "held for approval as change request {} (needs {} approval(s) in {})",
                short(&request["id"]),
                short(&request["required_approvals"]),
                request["environments"]
                    .as_array()
                    .map(|e| e.iter().map(short).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ));
        })?;
        return Err(CliError::new(exit::HELD, String::new()));
    }
    printer.document(&answer.body, |p| done(p, &answer.body))
}

/// Parses a command-line value: JSON when it parses, else text.
fn value_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// `emergency-disable` / `emergency-enable`.
pub async fn emergency(
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
pub async fn rollback(client: &Client, printer: &Printer, args: &RollbackArgs) -> CliResult {
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
        return printer.document(&answer.body, |p| {
            let rows = answer.body["flags"]
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
    printer.document(&answer.body, |p| {
        p.say(format!(
            "{flag} rolled back to {version}{} (now version {})",
            args.environment
                .as_ref()
                .map(|e| format!(" in {e}"))
                .unwrap_or_default(),
            short(&answer.body["version"])
        ));
    })
}

/// `flags …`.
pub async fn flags(client: &Client, printer: &Printer, command: &FlagsCommand) -> CliResult {
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

/// A list's filters as query parameters: those given, percent-encoded.
fn filters(given: &[(&str, &Option<String>)]) -> Vec<String> {
    given
        .iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .map(|value| format!("{name}={}", segment(value)))
        })
        .collect()
}

/// The most items the service answers per list request.
const MOST_PER_REQUEST: u32 = 1000;

/// Every page of a list the service pages with `cursor` and `next_cursor`
/// (flags), as one document: all the items, and the `total`.
async fn all_pages(client: &Client, path: &str, query: &[String]) -> CliResult<Value> {
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

/// A list shown as a table: where it is, what its items are called, and
/// the table's columns.
struct Listing<'a> {
    path: &'a str,
    what: &'a str,
    columns: &'a [&'a str],
}

/// [`capped_list`] as a table, one row per item.
async fn capped_table(
    client: &Client,
    printer: &Printer,
    listing: &Listing<'_>,
    query: Vec<String>,
    limit: LimitArgs,
    row: impl Fn(&Value) -> Vec<String>,
) -> CliResult {
    let page = capped_list(client, listing.path, query, limit, listing.what).await?;
    printer.document(&page, |p| {
        let rows = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(row)
            .collect();
        p.table(listing.columns, rows);
    })
}

/// A list the service answers in one request of at most `limit` items,
/// newest first, with no next page (change requests, schedules, rollout
/// plans). One more than `limit` is asked for where the service allows it,
/// so that a list that was cut is told from one that is complete; a cut
/// list is said on standard error.
async fn capped_list(
    client: &Client,
    path: &str,
    mut query: Vec<String>,
    limit: LimitArgs,
    what: &str,
) -> CliResult<Value> {
    let limit = limit.limit.min(MOST_PER_REQUEST);
    query.push(format!("limit={}", (limit + 1).min(MOST_PER_REQUEST)));
    let mut page = client.get(&format!("{path}?{}", query.join("&"))).await?;
    let Some(items) = page["items"].as_array_mut() else {
        return Ok(page);
    };
    let limit = limit as usize;
    if items.len() > limit {
        items.truncate(limit);
        warn(&format!(
            "only the newest {limit} {what} are shown; there are more (raise --limit, or narrow the list)"
        ));
    } else if items.len() == MOST_PER_REQUEST as usize {
        warn(&format!(
            "only the newest {limit} {what} are shown: the service answers at most {MOST_PER_REQUEST} \
             and has no next page, so there may be more (narrow the list)"
        ));
    }
    Ok(page)
}

/// A warning on standard error, whatever the output format (also with
/// `--quiet`: it says that an answer is incomplete).
fn warn(line: &str) {
    eprintln!("warning: {line}");
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

/// Asks on the terminal; refuses without one (scripts pass `--yes`).
fn confirm(question: &str) -> CliResult<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            exit::USAGE,
            "not a terminal: pass --yes to apply without asking",
        ));
    }
    // On stderr: stdout is for the answer (a JSON document with -o json).
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::invalid(e.to_string()))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// `evaluate`.
pub async fn evaluate(
    client: &Client,
    printer: &Printer,
    flag: &str,
    env: &str,
    context: &[String],
) -> CliResult {
    let mut attributes = serde_json::Map::new();
    for pair in context {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| CliError::invalid(format!("--context {pair}: expected key=value")))?;
        attributes.insert(key.to_owned(), value_of(value));
    }
    let body = json!({"flag_id": flag, "environment": env, "context": attributes});
    let answer = client
        .send(
            Method::POST,
            "/api/v1/evaluate",
            Some(&body),
            &WriteOptions::default(),
        )
        .await?;
    printer.document(&answer.body, |p| {
        let b = &answer.body;
        let mut line = format!("{flag} = {} ({}", short(&b["value"]), short(&b["reason"]));
        if let Some(name) = b["rule"]["name"].as_str() {
            line.push_str(&format!(", rule {name}"));
        }
        if let Some(variant) = b["variant"].as_str() {
            line.push_str(&format!(", variant {variant}"));
        }
        line.push(')');
        p.say(line);
    })
}

/// `envs …`.
pub async fn envs(client: &Client, printer: &Printer, command: &EnvsCommand) -> CliResult {
    match command {
        EnvsCommand::List => {
            let page = client.get("/api/v1/environments").await?;
            printer.document(&page, |p| {
                let rows = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        vec![
                            short(&e["key"]),
                            short(&e["parent"]),
                            short(&e["auto_sync"]),
                            short(&e["approval_required"]),
                            short(&e["protected"]),
                            e["change_windows"]
                                .as_array()
                                .map_or(0, Vec::len)
                                .to_string(),
                        ]
                    })
                    .collect();
                p.table(
                    &[
                        "environment",
                        "parent",
                        "auto_sync",
                        "approval",
                        "protected",
                        "windows",
                    ],
                    rows,
                );
            })
        }
        EnvsCommand::Diff { from, to } => {
            let diff = client
                .get(&format!(
                    "/api/v1/environments/diff?from={}&to={}",
                    segment(from),
                    segment(to)
                ))
                .await?;
            printer.document(&diff, |p| {
                let mut rows = Vec::new();
                for flag in diff["differences"].as_array().into_iter().flatten() {
                    for change in flag["changes"].as_array().into_iter().flatten() {
                        rows.push(vec![
                            short(&flag["flag_id"]),
                            short(&change["path"]),
                            short(&change["before"]),
                            short(&change["after"]),
                        ]);
                    }
                }
                p.table(&["flag", "path", from, to], rows);
                p.say(format!("{} flag(s) equal", short(&diff["equal"])));
            })
        }
        EnvsCommand::Promote {
            environment,
            flags,
            all,
            write,
        } => {
            let body = if *all {
                json!({"all": true})
            } else {
                json!({"flags": flags})
            };
            let path = format!("/api/v1/environments/{}/promote", segment(environment));
            let answer = client
                .send(Method::POST, &path, Some(&body), &write.into())
                .await?;
            written(printer, answer, |p, body| {
                p.say(format!(
                    "promoted into {environment} from {}: {}",
                    short(&body["from"]),
                    body["promoted"]
                        .as_array()
                        .map(|f| f.iter().map(short).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ));
            })
        }
    }
}

/// `segments …`.
pub async fn segments(client: &Client, printer: &Printer, command: &SegmentsCommand) -> CliResult {
    match command {
        SegmentsCommand::List => {
            let page = client.get("/api/v1/segments").await?;
            printer.document(&page, |p| {
                let rows = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        vec![
                            short(&s["segment_id"]),
                            short(&s["conditions"]),
                            short(&s["used_by"]),
                        ]
                    })
                    .collect();
                p.table(&["segment", "conditions", "used by"], rows);
            })
        }
        SegmentsCommand::Get { segment: id } => {
            let doc = client
                .get(&format!("/api/v1/segments/{}", segment(id)))
                .await?;
            printer.document(&doc, |_| crate::output::emit_line(&pretty(&doc)))
        }
        SegmentsCommand::Create { file, write } => {
            let doc = offline::read_file(file)?;
            let answer = client
                .send(Method::POST, "/api/v1/segments", Some(&doc), &write.into())
                .await?;
            written(printer, answer, |p, body| {
                p.say(format!("created segment {}", short(&body["segment_id"])))
            })
        }
        SegmentsCommand::Delete { segment: id, write } => {
            let answer = client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/segments/{}", segment(id)),
                    None,
                    &write.into(),
                )
                .await?;
            written(printer, answer, |p, _| {
                p.say(format!("deleted segment {id}"))
            })
        }
    }
}

/// `audit` and `audit verify`.
pub async fn audit(client: &Client, printer: &Printer, args: &AuditArgs) -> CliResult {
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

/// `keys …`.
pub async fn keys(client: &Client, printer: &Printer, command: &KeysCommand) -> CliResult {
    match command {
        KeysCommand::List => {
            let page = client.get("/api/v1/api-keys").await?;
            printer.document(&page, |p| {
                let rows = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|k| {
                        vec![
                            short(&k["id"]),
                            short(&k["name"]),
                            short(&k["kind"]),
                            short(&k["role"]),
                            short(&k["environment"]),
                            short(&k["prefix"]),
                            if k["revoked_at"].is_null() {
                                "active".into()
                            } else {
                                "revoked".into()
                            },
                        ]
                    })
                    .collect();
                p.table(
                    &[
                        "id",
                        "name",
                        "kind",
                        "role",
                        "environment",
                        "prefix",
                        "state",
                    ],
                    rows,
                );
            })
        }
        KeysCommand::Create {
            name,
            kind,
            role,
            environment,
        } => {
            let mut body = json!({"name": name, "kind": kind});
            if let Some(role) = role {
                body["role"] = json!(role);
            }
            if let Some(env) = environment {
                body["environment"] = json!(env);
            }
            let answer = client
                .send(
                    Method::POST,
                    "/api/v1/api-keys",
                    Some(&body),
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |_| {
                // The secret is printed even with --quiet: it is shown once.
                eprintln!(
                    "created key {} ({}); its secret, shown once:",
                    short(&answer.body["id"]),
                    kind
                );
            })?;
            if printer.format == crate::output::Format::Table {
                crate::output::emit_line(&short(&answer.body["key"]));
            }
            Ok(())
        }
        KeysCommand::Revoke { id } => {
            let answer = client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/api-keys/{}", segment(id)),
                    None,
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| p.say(format!("revoked {id}")))
        }
    }
}

/// `change-requests …`.
pub async fn change_requests(
    client: &Client,
    printer: &Printer,
    command: &ChangeRequestsCommand,
) -> CliResult {
    let decide = |id: &str, verb: &str, comment: &Option<String>| {
        let path = format!("/api/v1/change-requests/{}/{verb}", segment(id));
        let body = comment
            .as_ref()
            .map_or_else(|| json!({}), |c| json!({"comment": c}));
        (path, body)
    };
    let (path, body) = match command {
        ChangeRequestsCommand::List {
            status,
            environment,
            flag,
            limit,
        } => {
            let query = filters(&[
                ("status", status),
                ("environment", environment),
                ("flag_id", flag),
            ]);
            return capped_table(
                client,
                printer,
                &Listing {
                    path: "/api/v1/change-requests",
                    what: "change requests",
                    columns: &[
                        "id",
                        "status",
                        "flags",
                        "environments",
                        "author",
                        "approvals",
                        "reason",
                    ],
                },
                query,
                *limit,
                |r| {
                    let flags: Vec<String> = r["changes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| short(&c["flag_id"]))
                        .collect();
                    vec![
                        short(&r["id"]),
                        short(&r["status"]),
                        flags.join(","),
                        r["environments"]
                            .as_array()
                            .map(|e| e.iter().map(short).collect::<Vec<_>>().join(","))
                            .unwrap_or_default(),
                        short(&r["author"]),
                        format!(
                            "{}/{}",
                            r["approvals"].as_array().map_or(0, Vec::len),
                            short(&r["required_approvals"])
                        ),
                        short(&r["reason"]),
                    ]
                },
            )
            .await;
        }
        ChangeRequestsCommand::Get { id } => {
            let request = client
                .get(&format!("/api/v1/change-requests/{}", segment(id)))
                .await?;
            return printer.document(&request, |_| crate::output::emit_line(&pretty(&request)));
        }
        ChangeRequestsCommand::Approve { id, comment } => decide(id, "approve", comment),
        ChangeRequestsCommand::Reject { id, comment } => decide(id, "reject", comment),
        ChangeRequestsCommand::Rebase { id } => decide(id, "rebase", &None),
    };
    let answer = client
        .send(Method::POST, &path, Some(&body), &WriteOptions::default())
        .await?;
    printer.document(&answer.body, |p| {
        p.say(format!(
            "change request {} is {}",
            short(&answer.body["id"]),
            short(&answer.body["status"])
        ));
    })
}

/// `schedule …`.
pub async fn schedule(client: &Client, printer: &Printer, command: &ScheduleCommand) -> CliResult {
    match command {
        ScheduleCommand::List {
            status,
            flag,
            limit,
        } => {
            let query = filters(&[("status", status), ("flag_id", flag)]);
            capped_table(
                client,
                printer,
                &Listing {
                    path: "/api/v1/schedules",
                    what: "schedules",
                    columns: &[
                        "id",
                        "status",
                        "flag",
                        "environment",
                        "at",
                        "action",
                        "error",
                    ],
                },
                query,
                *limit,
                |s| {
                    vec![
                        short(&s["id"]),
                        short(&s["status"]),
                        short(&s["flag_id"]),
                        short(&s["environment"]),
                        short(&s["at"]),
                        short(&s["action"]["type"]),
                        short(&s["error"]),
                    ]
                },
            )
            .await
        }
        ScheduleCommand::Create {
            flag,
            environment,
            at,
            action,
            value,
            percentage,
            rule,
            reason,
        } => {
            let action = match action.as_str() {
                "enable" => json!({"type": "enable"}),
                "disable" => json!({"type": "disable"}),
                "set-value" => {
                    let value = value
                        .as_ref()
                        .ok_or_else(|| CliError::new(exit::USAGE, "set-value needs --value"))?;
                    json!({"type": "set_value", "value": value_of(value)})
                }
                _ => {
                    let percentage = percentage.ok_or_else(|| {
                        CliError::new(exit::USAGE, "percentage needs --percentage")
                    })?;
                    let mut action = json!({"type": "percentage", "percentage": percentage});
                    if let Some(rule) = rule {
                        action["rule"] = rule_of(rule);
                    }
                    action
                }
            };
            let mut body = json!({"flag_id": flag, "at": at, "action": action});
            if let Some(env) = environment {
                body["environment"] = json!(env);
            }
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            let answer = client
                .send(
                    Method::POST,
                    "/api/v1/schedules",
                    Some(&body),
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| {
                p.say(format!("scheduled {} for {at}", short(&answer.body["id"])))
            })
        }
        ScheduleCommand::Cancel { id } => {
            let answer = client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/schedules/{}", segment(id)),
                    None,
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| p.say(format!("cancelled {id}")))
        }
    }
}

/// A rule given on the command line: an index when it is a number, else a
/// name.
fn rule_of(rule: &str) -> Value {
    rule.parse::<usize>()
        .map_or_else(|_| json!(rule), |i| json!(i))
}

/// `rollout-plans …`.
pub async fn rollout_plans(
    client: &Client,
    printer: &Printer,
    command: &RolloutPlansCommand,
) -> CliResult {
    let (path, body) = match command {
        RolloutPlansCommand::List {
            status,
            flag,
            environment,
            limit,
        } => {
            let query = filters(&[
                ("status", status),
                ("flag_id", flag),
                ("environment", environment),
            ]);
            return capped_table(
                client,
                printer,
                &Listing {
                    path: "/api/v1/rollout-plans",
                    what: "rollout plans",
                    columns: &[
                        "id",
                        "status",
                        "flag",
                        "environment",
                        "rule",
                        "percentages",
                        "applied",
                        "next step at",
                        "paused because",
                    ],
                },
                query,
                *limit,
                |plan| {
                    vec![
                        short(&plan["id"]),
                        short(&plan["status"]),
                        short(&plan["flag_id"]),
                        short(&plan["environment"]),
                        short(&plan["rule"]),
                        plan_percentages(plan),
                        format!(
                            "{}/{}",
                            short(&plan["next_step"]),
                            plan["steps"].as_array().map_or(0, Vec::len)
                        ),
                        short(&plan["due_at"]),
                        short(&plan["paused_reason"]),
                    ]
                },
            )
            .await;
        }
        RolloutPlansCommand::Get { id } => {
            let plan = client
                .get(&format!("/api/v1/rollout-plans/{}", segment(id)))
                .await?;
            return printer.document(&plan, |p| show_plan_steps(p, &plan));
        }
        RolloutPlansCommand::Create {
            flag,
            environment,
            rule,
            percentages,
            start_at,
            every_hours,
            reason,
        } => {
            let mut body = json!({
                "flag_id": flag,
                "environment": environment,
                "percentages": percentages,
                "start_at": start_at,
                "every_hours": every_hours,
            });
            if let Some(rule) = rule {
                body["rule"] = rule_of(rule);
            }
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            ("/api/v1/rollout-plans".to_owned(), Some(body))
        }
        RolloutPlansCommand::Pause { id, reason } => (
            format!("/api/v1/rollout-plans/{}/pause", segment(id)),
            Some(
                reason
                    .as_ref()
                    .map_or_else(|| json!({}), |r| json!({"reason": r})),
            ),
        ),
        RolloutPlansCommand::Resume { id } => (
            format!("/api/v1/rollout-plans/{}/resume", segment(id)),
            None,
        ),
    };
    let answer = client
        .send(Method::POST, &path, body.as_ref(), &WriteOptions::default())
        .await?;
    let plan = &answer.body;
    printer.document(plan, |p| {
        p.say(format!(
            "rollout plan {} of {} in {} is {}: {} % ({})",
            short(&plan["id"]),
            short(&plan["flag_id"]),
            short(&plan["environment"]),
            short(&plan["status"]),
            plan_percentages(plan).replace(',', " → "),
            plan["due_at"].as_str().map_or_else(
                || "no step due".to_owned(),
                |at| format!("next step at {at}")
            )
        ));
        if let Some(reason) = plan["paused_reason"].as_str() {
            p.say(format!("  paused because: {reason}"));
        }
    })
}

/// A plan's steps' percentages, comma-separated.
fn plan_percentages(plan: &Value) -> String {
    plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|step| percent(&step["percentage"]))
        .collect::<Vec<_>>()
        .join(",")
}

/// A percentage as people write it: `5`, `2.5` (the service's JSON has
/// `5.0`).
fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| short(value), |p| p.to_string())
}

/// `rollout-plans get` for people: what the plan is, then its steps.
fn show_plan_steps(printer: &Printer, plan: &Value) {
    let mut line = format!(
        "rollout plan {} of {} in {}: {}",
        short(&plan["id"]),
        short(&plan["flag_id"]),
        short(&plan["environment"]),
        short(&plan["status"])
    );
    if !plan["rule"].is_null() {
        line.push_str(&format!(", rule {}", short(&plan["rule"])));
    }
    printer.say(line);
    for (label, field) in [
        ("paused because", "paused_reason"),
        ("reason", "reason"),
        ("author", "author"),
    ] {
        if !plan[field].is_null() {
            printer.say(format!("  {label}: {}", short(&plan[field])));
        }
    }
    let history = plan["history"].as_array().cloned().unwrap_or_default();
    let rows = plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, step)| {
            let applied = history
                .iter()
                .find(|h| h["step"].as_u64() == Some(i as u64))
                .map(|h| short(&h["applied_at"]))
                .unwrap_or_default();
            vec![
                (i + 1).to_string(),
                percent(&step["percentage"]),
                short(&step["at"]),
                applied,
            ]
        })
        .collect();
    printer.table(&["step", "percentage", "at", "applied at"], rows);
}

/// `export`.
pub async fn export(client: &Client, format: &str, out: Option<&Path>) -> CliResult {
    let document = client.get("/api/v1/export?format=json").await?;
    let text = match format {
        "json" => pretty(&document) + "\n",
        "yaml" => crate::output::yaml(&document)?,
        other => {
            return Err(CliError::new(
                exit::USAGE,
                format!("unknown format {other}: json or yaml"),
            ));
        }
    };
    match out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", path.display()))),
        None => {
            crate::output::emit(&text);
            Ok(())
        }
    }
}

/// The import document of files: their flags and segments (and
/// environments, from an export).
pub fn import_document(files: &offline::Files) -> Value {
    let mut document = json!({
        "flags": files.flags.iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(),
        "segments": files.segments.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>(),
    });
    if !files.environments.is_empty() {
        document["environments"] = json!(files.environments);
    }
    document
}

/// `import` and `apply`: the plan (a dry run), then — unless only a plan
/// was asked for — the change, in one transaction.
pub async fn apply(
    client: &Client,
    printer: &Printer,
    document: &Value,
    dry_run: bool,
    prune: bool,
    yes: bool,
    write: &WriteArgs,
) -> CliResult {
    let prune = if prune { "&prune=true" } else { "" };
    let plan = client
        .send(
            Method::POST,
            &format!("/api/v1/import?dry_run=true{prune}"),
            Some(document),
            &WriteOptions::default(),
        )
        .await?
        .body;
    let changes = show_plan(printer, &plan)?;
    if dry_run || changes == 0 {
        return Ok(());
    }
    if !yes && !confirm("apply this plan?")? {
        return Err(CliError::new(exit::FAILED, "nothing changed"));
    }
    let answer = client
        .send(
            Method::POST,
            &format!("/api/v1/import?dry_run=false{prune}"),
            Some(document),
            &write.into(),
        )
        .await?;
    written(printer, answer, |p, body| {
        p.say(format!("applied at revision {}", short(&body["revision"])))
    })
}

/// Prints an import plan; returns how many changes it has.
fn show_plan(printer: &Printer, plan: &Value) -> CliResult<usize> {
    let mut rows = Vec::new();
    for (what, label) in [
        ("created", "create"),
        ("updated", "change"),
        ("deleted", "delete"),
    ] {
        for item in plan[what].as_array().into_iter().flatten() {
            let detail = item["differences"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    format!(
                        "{}: {} -> {}",
                        short(&d["path"]),
                        short(&d["before"]),
                        short(&d["after"])
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            rows.push(vec![
                label.to_owned(),
                short(&item["kind"]),
                short(&item["key"]),
                detail,
            ]);
        }
    }
    let count = rows.len();
    printer.document(plan, |p| {
        if rows.is_empty() {
            p.say("no changes: the service already matches");
        } else {
            p.table(&["plan", "kind", "key", "changes"], rows);
        }
    })?;
    Ok(count)
}

/// `validate`: offline, with the engine.
pub fn validate(printer: &Printer, paths: &[std::path::PathBuf]) -> CliResult {
    let files = offline::read_paths(paths)?;
    match offline::parse(&files) {
        Ok((parsed, warnings)) => {
            for warning in &warnings {
                printer.say(format!("warning: {warning}"));
            }
            let environments = if files.environments.is_empty() {
                String::new()
            } else {
                format!(", {} environment(s)", parsed.environments.len())
            };
            printer.say(format!(
                "valid: {} flag(s), {} segment(s){environments}",
                parsed.flags.len(),
                parsed.segments.len()
            ));
            Ok(())
        }
        Err(errors) => Err(CliError::invalid(format!(
            "{} problem(s):\n{}",
            errors.len(),
            errors
                .iter()
                .map(|e| format!("  error: {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}

/// `snapshot`.
pub async fn snapshot(
    client: Option<&Client>,
    printer: &Printer,
    scenario: Scenario,
    environment: &str,
    from: Option<&Path>,
    out: &Path,
) -> CliResult {
    let files = match (from, client) {
        (Some(path), _) => offline::read_paths(&[path.to_path_buf()])?,
        (None, Some(client)) => {
            let export = client.get("/api/v1/export?format=json").await?;
            let dir = std::env::temp_dir().join(format!(
                "feature-flags-snapshot-{}.json",
                std::process::id()
            ));
            std::fs::write(&dir, export.to_string())
                .map_err(|e| CliError::invalid(e.to_string()))?;
            let files = offline::read_paths(std::slice::from_ref(&dir));
            let _ = std::fs::remove_file(&dir);
            files?
        }
        (None, None) => return Err(CliError::new(exit::USAGE, "give --from FILE or a service")),
    };
    let (parsed, _) =
        offline::parse(&files).map_err(|errors| CliError::invalid(errors.join("\n")))?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let document = offline::snapshot(&parsed, scenario, environment, &now)?;
    std::fs::write(out, pretty(&document) + "\n")
        .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", out.display())))?;
    printer.say(format!(
        "wrote {} ({}, {} flags)",
        out.display(),
        scenario.name(),
        document["flags"]
            .as_object()
            .map_or(0, serde_json::Map::len)
    ));
    Ok(())
}

/// `deploy`.
pub async fn deploy(
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

/// `deps check`.
pub async fn deps(client: &Client, printer: &Printer, command: &DepsCommand) -> CliResult {
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
