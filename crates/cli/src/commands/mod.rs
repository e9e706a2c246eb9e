//! What each client command does: requests to the service (or the engine,
//! offline) and what is printed.
//!
//! One file per resource, as the service's routes are (`ff_server`'s
//! `routes/`); this module holds what they share: write options from the
//! arguments, how a write's answer (or its hold) is shown, lists, questions.

mod audit;
mod change_requests;
mod dependencies;
mod deployments;
mod emergency;
mod environments;
mod evaluate;
mod flags;
mod insights;
mod keys;
mod local;
mod references;
mod rollout_plans;
mod schedules;
mod segments;
mod transfer;
mod users;
mod webhooks;

pub(crate) use audit::audit;
pub(crate) use change_requests::change_requests;
pub(crate) use dependencies::deps;
pub(crate) use deployments::deploy;
pub(crate) use emergency::{emergency, rollback};
pub(crate) use environments::envs;
pub(crate) use evaluate::evaluate;
pub(crate) use flags::flags;
pub(crate) use insights::{evaluation_log, experiments, metrics, subjects};
pub(crate) use keys::keys;
pub(crate) use local::{snapshot, validate};
pub(crate) use references::code_refs;
pub(crate) use rollout_plans::rollout_plans;
pub(crate) use schedules::schedule;
pub(crate) use segments::segments;
pub(crate) use transfer::{apply, export, import_document};
pub(crate) use users::users;
pub(crate) use webhooks::webhooks;

use std::io::{BufRead, IsTerminal, Write};

use ff_api_types::{Page, WorkItem};
use serde_json::{Value, json};

use crate::cli::{LimitArgs, ProtectionArgs, WriteArgs};
use crate::client::{Answer, CliError, CliResult, Client, WriteOptions, exit, segment};
use crate::output::{Printer, short};

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
        let held: ff_api_types::Held = crate::client::typed(&answer.body)?;
        let request = held.change_request;
        let member = |name: &str| request.document.get(name).unwrap_or(&Value::Null);
        printer.document(&answer.body, |p| {
            p.say(format!(
                "held for approval as change request {} (needs {} approval(s) in {})",
                request.id,
                short(member("required_approvals")),
                member("environments")
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

/// A list shown as a table: where it is, what its items are called, and
/// the table's columns.
struct Listing<'a> {
    path: &'a str,
    what: &'a str,
    columns: &'a [&'a str],
}

/// [`capped_list`] of work items (change requests, schedules, rollout
/// plans) as a table, one row per item.
async fn capped_table(
    client: &Client,
    printer: &Printer,
    listing: &Listing<'_>,
    query: Vec<String>,
    limit: LimitArgs,
    row: impl Fn(&WorkItem) -> Vec<String>,
) -> CliResult {
    let page = capped_list(client, listing.path, query, limit, listing.what).await?;
    let items: Page<WorkItem> = crate::client::typed(&page)?;
    printer.document(&page, |p| {
        let rows = items.items.iter().map(row).collect();
        p.table(listing.columns, rows);
    })
}

/// A member of a work item's document (null when it has none).
fn member<'a>(item: &'a WorkItem, name: &str) -> &'a Value {
    item.document.get(name).unwrap_or(&Value::Null)
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

/// A rule given on the command line: an index when it is a number, else a
/// name.
fn rule_of(rule: &str) -> Value {
    rule.parse::<usize>()
        .map_or_else(|_| json!(rule), |i| json!(i))
}
