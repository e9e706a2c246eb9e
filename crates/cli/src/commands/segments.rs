//! `segments …`.

use ff_api_types::{Page, Segment};
use reqwest::Method;
use serde_json::Value;

use super::written;
use crate::cli::SegmentsCommand;
use crate::client::{CliResult, Client, segment, typed};
use crate::offline;
use crate::output::{Printer, pretty, short};

/// `segments …`.
pub(crate) async fn segments(
    client: &Client,
    printer: &Printer,
    command: &SegmentsCommand,
) -> CliResult {
    match command {
        SegmentsCommand::List => {
            let page = client.get("/api/v1/segments").await?;
            let segments: Page<Segment> = typed(&page)?;
            printer.document(&page, |p| {
                let rows = segments
                    .items
                    .iter()
                    .map(|s| {
                        let member =
                            |name: &str| short(s.document.get(name).unwrap_or(&Value::Null));
                        vec![
                            member("segment_id"),
                            member("conditions"),
                            short(&Value::from(s.used_by.clone())),
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
