//! `change-requests …`.

use ff_api_types::{ReviewRequest, WorkItem};
use reqwest::Method;

use super::{Listing, capped_table, filters, member};
use crate::cli::ChangeRequestsCommand;
use crate::client::{CliResult, Client, WriteOptions, segment, typed};
use crate::output::{Printer, pretty, short};

/// `change-requests …`.
pub(crate) async fn change_requests(
    client: &Client,
    printer: &Printer,
    command: &ChangeRequestsCommand,
) -> CliResult {
    let decide = |id: &str, verb: &str, comment: &Option<String>| {
        let path = format!("/api/v1/change-requests/{}/{verb}", segment(id));
        let review = ReviewRequest {
            comment: comment.clone(),
        };
        let body = serde_json::to_value(review).unwrap_or_default();
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
                    let flags: Vec<String> = member(r, "changes")
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| short(&c["flag_id"]))
                        .collect();
                    vec![
                        r.id.clone(),
                        r.status.clone(),
                        flags.join(","),
                        member(r, "environments")
                            .as_array()
                            .map(|e| e.iter().map(short).collect::<Vec<_>>().join(","))
                            .unwrap_or_default(),
                        short(member(r, "author")),
                        format!(
                            "{}/{}",
                            member(r, "approvals").as_array().map_or(0, Vec::len),
                            short(member(r, "required_approvals"))
                        ),
                        short(member(r, "reason")),
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
    let decided: WorkItem = typed(&answer.body)?;
    printer.document(&answer.body, |p| {
        p.say(format!(
            "change request {} is {}",
            decided.id, decided.status
        ));
    })
}
