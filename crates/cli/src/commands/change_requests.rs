//! `change-requests …`.

use reqwest::Method;
use serde_json::json;

use super::{Listing, capped_table, filters};
use crate::cli::ChangeRequestsCommand;
use crate::client::{CliResult, Client, WriteOptions, segment};
use crate::output::{Printer, pretty, short};

/// `change-requests …`.
pub(crate) async fn change_requests(
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
