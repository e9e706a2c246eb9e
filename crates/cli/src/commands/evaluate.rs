//! `evaluate`: one flag for one context, by the service.

use reqwest::Method;
use serde_json::json;

use super::value_of;
use crate::client::{CliError, CliResult, Client, WriteOptions};
use crate::output::{Printer, short};

/// `evaluate`.
pub(crate) async fn evaluate(
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
