//! The wire contract, checked on every answer the API tests receive: the
//! route's OpenAPI entry (`GET /api/v1/openapi.json`, generated from the
//! `ff_api_types` types the route table names) documents the answer's
//! status, and the body validates against the documented schema. So a
//! handler that answers a shape or a status its types do not describe fails
//! the test that made it answer.
//!
//! The validator knows the JSON Schema keywords the document uses (`$ref`,
//! `type`, `properties`, `required`, `additionalProperties`, `items`,
//! `enum`, `const`, `anyOf`, `oneOf`, `allOf`, `minimum`, `maximum`,
//! `minLength`, `minItems`); other keywords (`pattern`, `format`) are not
//! checked here (schemathesis checks them against the running binary:
//! `tests/schemathesis/run`).

use reqwest::Method;
use serde_json::{Map, Value};

/// Panics unless the answer to `method path` is documented and validates.
pub fn check(method: &Method, path: &str, status: u16, content_type: Option<&str>, body: &Value) {
    let document = ff_server::openapi_document();
    let Some(template) = route_of(document, method, path) else {
        return; // Not an API route (e.g. 404 for an unknown path).
    };
    let operation = &document["paths"][template.as_str()][method.as_str().to_lowercase()];
    let responses = &operation["responses"];
    let Some(response) = responses.get(status.to_string()) else {
        panic!(
            "{method} {path} answered {status}, which the OpenAPI document does not list for {template} \
             (documented: {:?}); body: {body}",
            responses.as_object().map(|r| r.keys().collect::<Vec<_>>())
        );
    };
    let is_json = content_type.is_some_and(|t| t.starts_with("application/json"));
    let Some(schema) = response["content"]["application/json"].get("schema") else {
        return;
    };
    if !is_json || body.is_null() {
        return;
    }
    let mut problems = Vec::new();
    validate(document, schema, body, "", &mut problems);
    assert!(
        problems.is_empty(),
        "{method} {path} answered {status} with a body that does not validate against the documented \
         schema of {template}:\n  {}\nbody: {body}",
        problems.join("\n  ")
    );
}

/// The documented path template that `path` matches (literal segments
/// preferred over parameters: `/flags/stale` before `/flags/{flag_id}`).
fn route_of(document: &Value, method: &Method, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let method = method.as_str().to_lowercase();
    document["paths"]
        .as_object()?
        .iter()
        .filter(|(_, item)| item.get(&method).is_some())
        .filter_map(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    continue;
                }
                if part != segment {
                    return None;
                }
                literal += 1;
            }
            Some((literal, template.clone()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}

/// Appends to `problems` where `value` (at `at`) breaks `schema`.
fn validate(document: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => return problems.push(format!("{at}: nothing is allowed here")),
        Value::Object(schema) => schema,
        _ => return,
    };
    if let Some(Value::String(reference)) = schema.get("$ref") {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &document["components"]["schemas"][name];
        assert!(!target.is_null(), "unresolved reference {reference}");
        validate(document, target, value, at, problems);
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.iter().any(|t| is_type(value, t)) {
            problems.push(format!("{at}: expected {allowed:?}, found {value}"));
            return;
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        problems.push(format!("{at}: expected {constant}, found {value}"));
    }
    bounds(schema, value, at, problems);
    for keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = schema.get(keyword) {
            let matching = options
                .iter()
                .filter(|option| {
                    let mut found = Vec::new();
                    validate(document, option, value, at, &mut found);
                    found.is_empty()
                })
                .count();
            let ok = if keyword == "oneOf" {
                matching == 1
            } else {
                matching >= 1
            };
            if !ok {
                problems.push(format!(
                    "{at}: {matching} of the {keyword} options match {value}"
                ));
            }
        }
    }
    if let Some(Value::Array(all)) = schema.get("allOf") {
        for part in all {
            validate(document, part, value, at, problems);
        }
    }
    if let Value::Object(members) = value {
        object(document, schema, members, at, problems);
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(document, item_schema, item, &format!("{at}[{i}]"), problems);
        }
    }
}

fn object(
    document: &Value,
    schema: &Map<String, Value>,
    members: &Map<String, Value>,
    at: &str,
    problems: &mut Vec<String>,
) {
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !members.contains_key(name) {
            problems.push(format!("{at}: the member \"{name}\" is missing"));
        }
    }
    for (name, member) in members {
        let here = format!("{at}.{name}");
        match (properties.get(name), schema.get("additionalProperties")) {
            (Some(property), _) => validate(document, property, member, &here, problems),
            (None, Some(extra)) => validate(document, extra, member, &here, problems),
            (None, None) => {}
        }
    }
}

fn bounds(schema: &Map<String, Value>, value: &Value, at: &str, problems: &mut Vec<String>) {
    let number = |keyword: &str| schema.get(keyword).and_then(Value::as_f64);
    if let Some(n) = value.as_f64()
        && (number("minimum").is_some_and(|min| n < min)
            || number("maximum").is_some_and(|max| n > max))
    {
        problems.push(format!("{at}: {n} is out of range"));
    }

    if let (Some(text), Some(min)) = (value.as_str(), number("minLength"))
        && (text.chars().count() as f64) < min
    {
        problems.push(format!("{at}: shorter than {min}"));
    }
    if let (Some(items), Some(min)) = (value.as_array(), number("minItems"))
        && (items.len() as f64) < min
    {
        problems.push(format!("{at}: fewer than {min} items"));
    }
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}
