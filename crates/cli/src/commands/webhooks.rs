//! `webhooks …`: outgoing webhook endpoints and their deliveries.

use ff_api_types::{CreateWebhookRequest, Page, Webhook, WebhookDelivery};
use reqwest::Method;

use crate::cli::WebhooksCommand;
use crate::client::{CliResult, Client, WriteOptions, segment, typed};
use crate::output::Printer;

/// `webhooks …`.
pub(crate) async fn webhooks(
    client: &Client,
    printer: &Printer,
    command: &WebhooksCommand,
) -> CliResult {
    match command {
        WebhooksCommand::List => {
            let page = client.get("/api/v1/webhooks").await?;
            let endpoints: Page<Webhook> = typed(&page)?;
            printer.document(&page, |p| {
                let rows = endpoints
                    .items
                    .into_iter()
                    .map(|w| {
                        let environments = if w.environments.is_empty() {
                            "all".to_owned()
                        } else {
                            w.environments.join(",")
                        };
                        vec![
                            w.id,
                            w.url,
                            w.events.join(","),
                            environments,
                            w.format,
                            if w.enabled { "enabled" } else { "paused" }.to_owned(),
                        ]
                    })
                    .collect();
                p.table(
                    &["id", "url", "events", "environments", "format", "state"],
                    rows,
                );
            })
        }
        WebhooksCommand::Create {
            endpoint,
            events,
            environments,
            format,
            disabled,
            description,
        } => {
            let request = CreateWebhookRequest {
                url: endpoint.clone(),
                events: events.clone(),
                environments: environments.clone(),
                format: format.clone(),
                enabled: disabled.then_some(false),
                description: description.clone(),
            };
            let body = serde_json::to_value(request).unwrap_or_default();
            let answer = client
                .send(
                    Method::POST,
                    "/api/v1/webhooks",
                    Some(&body),
                    &WriteOptions::default(),
                )
                .await?;
            let created: Webhook = typed(&answer.body)?;
            printer.document(&answer.body, |_| {
                // The secret is printed even with --quiet: it is shown once.
                eprintln!(
                    "created webhook {} for {}; its signing secret, shown once:",
                    created.id,
                    created.events.join(", ")
                );
            })?;
            if printer.format == crate::output::Format::Table {
                crate::output::emit_line(created.secret.as_deref().unwrap_or_default());
            }
            Ok(())
        }
        WebhooksCommand::Deliveries { id } => {
            let page = client
                .get(&format!("/api/v1/webhooks/{}/deliveries", segment(id)))
                .await?;
            let deliveries: Page<WebhookDelivery> = typed(&page)?;
            printer.document(&page, |p| {
                let rows = deliveries.items.into_iter().map(delivery_row).collect();
                p.table(
                    &[
                        "id",
                        "event",
                        "status",
                        "attempts",
                        "last status",
                        "next attempt",
                        "last error",
                        "created",
                    ],
                    rows,
                );
            })
        }
        WebhooksCommand::Test { id } => {
            let answer = client
                .send(
                    Method::POST,
                    &format!("/api/v1/webhooks/{}/test", segment(id)),
                    None,
                    &WriteOptions::default(),
                )
                .await?;
            let sent: WebhookDelivery = typed(&answer.body)?;
            printer.document(&answer.body, |p| {
                p.table(
                    &[
                        "id",
                        "event",
                        "status",
                        "attempts",
                        "last status",
                        "next attempt",
                        "last error",
                        "created",
                    ],
                    vec![delivery_row(sent)],
                );
            })
        }
        WebhooksCommand::Delete { id } => {
            let answer = client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/webhooks/{}", segment(id)),
                    None,
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| p.say(format!("deleted {id}")))
        }
    }
}

fn delivery_row(d: WebhookDelivery) -> Vec<String> {
    vec![
        d.id,
        d.event,
        d.status,
        d.attempts.to_string(),
        d.last_status_code
            .map(|s| s.to_string())
            .unwrap_or_default(),
        d.next_attempt_at.unwrap_or_default(),
        d.last_error.unwrap_or_default(),
        d.created_at,
    ]
}
