//! `GET /playground`: one context evaluated against every flag in the
//! chosen environments at once: each value and why (reason, variant, the
//! rule that matched). A GET form, like the flag page's test box: nothing
//! changes, so a result is a link. Evaluated with the compiled snapshots as
//! `POST /api/v1/evaluate` does, without counting as a use of the flags.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::Uri;
use ff_api_types::EvaluationResult;
use ff_engine::Context;
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::overview::environments_in_tree_order;
use crate::state::AppState;
use crate::ui::shell::{PageResult, Shell, render, short_value, viewer};

#[derive(Template)]
#[template(path = "playground.html")]
struct PlaygroundPage {
    shell: Shell,
    context: String,
    environments: Vec<EnvChoice>,
    /// The chosen environments, in tree order (the result's columns).
    columns: Vec<String>,
    rows: Vec<ResultRow>,
    error: Option<String>,
    evaluated: bool,
}

struct EnvChoice {
    key: String,
    checked: bool,
}

struct ResultRow {
    flag_id: String,
    cells: Vec<ResultCell>,
}

struct ResultCell {
    value: String,
    reason: String,
    detail: Option<String>,
}

/// The context shown in an empty form.
const EXAMPLE_CONTEXT: &str =
    "{\n  \"user_id\": \"user-123\",\n  \"country\": \"IT\",\n  \"plan\": \"pro\"\n}";

/// `GET /playground?context=…&env=…&env=…`.
pub async fn show_playground(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    Query(pairs): Query<Vec<(String, String)>>,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "Playground", "playground", &uri).await;
    let context_text = pairs
        .iter()
        .find(|(k, _)| k == "context")
        .map(|(_, v)| v.clone());
    let chosen: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "env")
        .map(|(_, v)| v.as_str())
        .collect();
    let all = environments_in_tree_order(&live);
    // Every environment until the form says otherwise.
    let checked = |key: &str| chosen.is_empty() || chosen.contains(&key);
    let columns: Vec<String> = all
        .iter()
        .filter(|e| checked(&e.key))
        .map(|e| e.key.clone())
        .collect();
    let mut page = PlaygroundPage {
        shell,
        context: context_text
            .clone()
            .unwrap_or_else(|| EXAMPLE_CONTEXT.to_owned()),
        environments: all
            .iter()
            .map(|e| EnvChoice {
                key: e.key.clone(),
                checked: checked(&e.key),
            })
            .collect(),
        columns,
        rows: Vec::new(),
        error: None,
        evaluated: false,
    };
    if let Some(text) = context_text {
        match parse_context(&text) {
            Ok(context) => {
                page.rows = evaluate_all(&live, &page.columns, &context);
                page.evaluated = true;
            }
            Err(message) => page.error = Some(message),
        }
    }
    render(&page)
}

fn parse_context(text: &str) -> Result<Context, String> {
    let json: Value = if text.trim().is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_str(text).map_err(|e| format!("the context is not valid JSON: {e}"))?
    };
    Context::from_json(json).map_err(|e| format!("invalid context: {}", e.0))
}

/// Every flag in each environment: rows by flag id, cells in column order.
fn evaluate_all(
    live: &crate::live::LiveConfig,
    columns: &[String],
    context: &Context,
) -> Vec<ResultRow> {
    let snapshots: Vec<_> = columns
        .iter()
        .map(|env| live.snapshot.environment(env))
        .collect();
    live.flags
        .keys()
        .map(|flag_id| ResultRow {
            flag_id: flag_id.clone(),
            cells: snapshots
                .iter()
                .map(|snapshot| match snapshot {
                    Some(snapshot) => cell(&EvaluationResult::from_resolution(
                        flag_id,
                        &snapshot.evaluate(flag_id, context),
                    )),
                    None => ResultCell {
                        value: String::new(),
                        reason: "ERROR".to_owned(),
                        detail: Some("no such environment".to_owned()),
                    },
                })
                .collect(),
        })
        .collect()
}

fn cell(result: &EvaluationResult) -> ResultCell {
    let rule = result.rule.as_ref().map(|r| match &r.name {
        Some(name) => format!("rule {name}"),
        None => format!("rule {}", super::ordinal(r.index)),
    });
    let detail = [
        rule,
        result.variant.as_ref().map(|v| format!("variant {v}")),
        result
            .failed_prerequisite
            .as_ref()
            .map(|p| format!("needs {p}")),
        result.error_code.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    ResultCell {
        value: result.value.as_ref().map(short_value).unwrap_or_default(),
        reason: result.reason.clone(),
        detail: (!detail.is_empty()).then(|| detail.join(" · ")),
    }
}
