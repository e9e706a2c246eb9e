//! `evaluate`: one flag for one context, by the service.

use ff_api_types::{EvaluateRequest, EvaluationResult};
use reqwest::Method;
use serde_json::Value;

use super::value_of;
use crate::client::{CliError, CliResult, Client, WriteOptions, typed};
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
    let request = EvaluateRequest {
        flag_id: Some(flag.to_owned()),
        flag_ids: None,
        environment: Some(env.to_owned()),
        context: Value::Object(attributes),
    };
    let body = serde_json::to_value(request).unwrap_or_default();
    let answer = client
        .send(
            Method::POST,
            "/api/v1/evaluate",
            Some(&body),
            &WriteOptions::default(),
        )
        .await?;
    let result: EvaluationResult = typed(&answer.body)?;
    printer.document(&answer.body, |p| {
        let value = short(result.value.as_ref().unwrap_or(&Value::Null));
        let mut line = format!("{flag} = {value} ({}", result.reason);
        if let Some(name) = result.rule.as_ref().and_then(|r| r.name.as_deref()) {
            line.push_str(&format!(", rule {name}"));
        }
        if let Some(variant) = &result.variant {
            line.push_str(&format!(", variant {variant}"));
        }
        line.push(')');
        p.say(line);
    })
}
