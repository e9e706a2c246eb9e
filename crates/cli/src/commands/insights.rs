//! `metrics`, `experiments …` and `subjects …`: what flags did, what
//! experiments found, and privacy requests.

use reqwest::Method;
use serde_json::{Value, json};

use super::confirm;
use crate::cli::{EvaluationLogArgs, ExperimentsCommand, MetricsArgs, SubjectsCommand};
use crate::client::{CliError, CliResult, Client, WriteOptions, segment};
use crate::output::{Printer, short};

/// Bars of the text chart, lowest to highest.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `metrics FLAG`.
pub(crate) async fn metrics(client: &Client, printer: &Printer, args: &MetricsArgs) -> CliResult {
    let since = time::OffsetDateTime::now_utc() - duration(&args.since)?;
    let since = since
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| CliError::invalid(e.to_string()))?;
    let mut path = format!(
        "/api/v1/flags/{}/metrics?granularity={}&since={}",
        segment(&args.flag),
        args.granularity,
        segment(&since)
    );
    if let Some(env) = &args.environment {
        path.push_str(&format!("&environment={}", segment(env)));
    }
    let answer = client.get(&path).await?;
    printer.document(&answer, |p| {
        let counts: Vec<i64> = answer["buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| b["evaluations"].as_i64().unwrap_or_default())
            .collect();
        let totals = &answer["totals"];
        p.say(format!(
            "{} evaluations of {} since {} ({} errors)",
            totals["evaluations"],
            args.flag,
            short(&answer["since"]),
            totals["errors"]
        ));
        p.say(format!("per {}: {}", args.granularity, chart(&counts)));
        let rows = |key: &str| -> Vec<Vec<String>> {
            totals[key]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, count)| {
                    vec![
                        key.trim_start_matches("by_").to_owned(),
                        name.clone(),
                        count.to_string(),
                    ]
                })
                .collect()
        };
        let mut table = rows("by_outcome");
        table.extend(rows("by_reason"));
        table.extend(rows("by_environment"));
        p.table(&["by", "name", "evaluations"], table);
    })
}

/// `evaluation-log FLAG --env ENV [--on MINUTES [--clear] | --off]`.
pub(crate) async fn evaluation_log(
    client: &Client,
    printer: &Printer,
    args: &EvaluationLogArgs,
) -> CliResult {
    let path = format!(
        "/api/v1/flags/{}/environments/{}/evaluation-log",
        segment(&args.flag),
        segment(&args.environment)
    );
    if let Some(minutes) = args.on {
        let body = json!({"minutes": minutes, "clear_context": args.clear});
        let answer = client
            .send(Method::POST, &path, Some(&body), &WriteOptions::default())
            .await?;
        return printer.document(&answer.body, |p| {
            p.say(format!(
                "logging {} in {} until {}",
                args.flag,
                args.environment,
                short(&answer.body["until"])
            ));
        });
    }
    if args.off {
        let answer = client
            .send(Method::DELETE, &path, None, &WriteOptions::default())
            .await?;
        return printer.document(&answer.body, |p| {
            p.say(format!(
                "stopped logging {} in {}",
                args.flag, args.environment
            ))
        });
    }
    let log = client.get(&path).await?;
    printer.document(&log, |p| {
        let rows = log["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                vec![
                    short(&e["at"]),
                    short(&e["value"]),
                    short(&e["variant"]),
                    short(&e["reason"]),
                    short(&e["rule"]["name"]),
                    short(&e["context"]),
                ]
            })
            .collect();
        p.table(
            &["at", "value", "variant", "reason", "rule", "context"],
            rows,
        );
        match log["until"].as_str() {
            Some(until) => p.say(format!("logging until {until}")),
            None => p.say("logging is off (switch it on with --on MINUTES)"),
        }
    })
}

/// A sparkline of `counts`, scaled to the largest.
pub(crate) fn chart(counts: &[i64]) -> String {
    let top = counts.iter().copied().max().unwrap_or_default();
    counts
        .iter()
        .map(|&count| {
            if top <= 0 || count <= 0 {
                ' '
            } else {
                // Eight equal slices of the largest; any count shows.
                let step = (count.saturating_mul(8) + top - 1) / top - 1;
                BARS[usize::try_from(step.clamp(0, 7)).unwrap_or_default()]
            }
        })
        .collect()
}

/// `90m`, `24h`, `7d`.
fn duration(text: &str) -> CliResult<time::Duration> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| {
        CliError::invalid(format!(
            "--since: give minutes, hours or days, like 90m, 24h or 7d (not {text:?})"
        ))
    })?;
    match unit {
        "m" => Ok(time::Duration::minutes(n)),
        "h" => Ok(time::Duration::hours(n)),
        "d" => Ok(time::Duration::days(n)),
        _ => Err(CliError::invalid(format!(
            "--since: give minutes, hours or days, like 90m, 24h or 7d (not {text:?})"
        ))),
    }
}

/// `experiments …`.
pub(crate) async fn experiments(
    client: &Client,
    printer: &Printer,
    command: &ExperimentsCommand,
) -> CliResult {
    match command {
        ExperimentsCommand::List => {
            let page = client.get("/api/v1/experiments").await?;
            printer.document(&page, |p| {
                let rows = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        vec![
                            short(&e["id"]),
                            short(&e["flag_id"]),
                            short(&e["environment"]),
                            short(&e["control"]),
                            short(&e["metrics"][0]["event"]),
                            short(&e["status"]),
                        ]
                    })
                    .collect();
                p.table(
                    &[
                        "id",
                        "flag",
                        "environment",
                        "control",
                        "primary metric",
                        "status",
                    ],
                    rows,
                );
            })
        }
        ExperimentsCommand::Create {
            id,
            flag,
            environment,
            control,
            metric,
            secondary,
            description,
        } => {
            let mut body = json!({
                "id": id, "flag_id": flag, "environment": environment, "control": control,
                "primary_metric": metric_of(metric),
                "secondary_metrics": secondary.iter().map(|m| metric_of(m)).collect::<Vec<_>>(),
            });
            if let Some(description) = description {
                body["description"] = json!(description);
            }
            let answer = client
                .send(
                    Method::POST,
                    "/api/v1/experiments",
                    Some(&body),
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| {
                p.say(format!(
                    "started {id} on {flag} in {environment}; exposures are recorded from now on"
                ));
            })
        }
        ExperimentsCommand::Results { id } => {
            let answer = client
                .get(&format!("/api/v1/experiments/{}/results", segment(id)))
                .await?;
            printer.document(&answer, |p| {
                p.say(short(&answer["verdict"]));
                for metric in answer["metrics"].as_array().into_iter().flatten() {
                    p.say(format!(
                        "\n{} ({})",
                        short(&metric["metric"]),
                        short(&metric["kind"])
                    ));
                    let rows = metric["variants"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| {
                            let figure = if metric["kind"] == "numeric" {
                                &v["mean"]
                            } else {
                                &v["rate"]
                            };
                            vec![
                                short(&v["name"]),
                                // Conversion results count exposed users; numeric ones `n`.
                                short(if v["exposed_users"].is_null() {
                                    &v["n"]
                                } else {
                                    &v["exposed_users"]
                                }),
                                figure
                                    .as_f64()
                                    .map_or_else(|| "-".into(), |f| format!("{f:.4}")),
                                v["lift"]["estimate"]
                                    .as_f64()
                                    .map_or_else(|| "-".into(), |l| format!("{:+.1} %", l * 100.0)),
                                v["p_value"]
                                    .as_f64()
                                    .map_or_else(|| "-".into(), |p| format!("{p:.4}")),
                            ]
                        })
                        .collect();
                    let figure = if metric["kind"] == "numeric" {
                        "mean"
                    } else {
                        "rate"
                    };
                    p.table(&["variant", "users", figure, "lift", "p-value"], rows);
                }
            })
        }
        ExperimentsCommand::Stop { id } => {
            let answer = client
                .send(
                    Method::POST,
                    &format!("/api/v1/experiments/{}/stop", segment(id)),
                    None,
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| {
                p.say(format!("stopped {id}; its results stay"))
            })
        }
    }
}

/// `EVENT` or `EVENT:numeric` / `EVENT:conversion`.
fn metric_of(text: &str) -> Value {
    match text.rsplit_once(':') {
        Some((event, kind)) => json!({"event": event, "kind": kind}),
        None => json!({"event": text, "kind": "conversion"}),
    }
}

/// `subjects …`.
pub(crate) async fn subjects(
    client: &Client,
    printer: &Printer,
    command: &SubjectsCommand,
) -> CliResult {
    match command {
        SubjectsCommand::Export { user_id } => {
            let answer = client
                .get(&format!("/api/v1/subjects/{}", segment(user_id)))
                .await?;
            // Always the whole document: an export is for keeping.
            crate::output::emit_line(&crate::output::pretty(&answer));
            Ok(())
        }
        SubjectsCommand::Erase { user_id, yes } => {
            if !yes && !confirm(&format!("Erase everything held about {user_id}?"))? {
                return Err(CliError::new(crate::client::exit::FAILED, "nothing erased"));
            }
            let answer = client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/subjects/{}", segment(user_id)),
                    None,
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| {
                p.say(format!(
                    "erased {} exposures and {} events; rules: {}; segments: {}",
                    answer.body["exposures_erased"],
                    answer.body["events_erased"],
                    short(&answer.body["rules"]["status"]),
                    short(&answer.body["segments"]["status"])
                ));
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_chart_scales_to_the_largest_bucket() {
        assert_eq!(super::chart(&[0, 1, 4, 8]), " ▁▄█");
        assert_eq!(super::chart(&[0, 0]), "  ");
        assert_eq!(super::chart(&[]), "");
    }
}
