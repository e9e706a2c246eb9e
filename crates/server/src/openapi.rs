//! The OpenAPI 3.1 document (`GET /api/v1/openapi.json`), generated from
//! the route table (`crate::routes::ROUTES`) that also builds the router, so
//! every documented route exists and every route is documented.
//!
//! Schemas come from the `ff_api_types` types each route names (derived
//! with `schemars`, JSON Schema 2020-12, which OpenAPI 3.1 uses as it is):
//! request bodies, answers, query parameters, and the error envelope of
//! every error status the route can give ([`error_statuses`]).

use std::collections::BTreeSet;

use ff_api_types::{ErrorBody, OfrepError};
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::routes::table::{Access, Answer, Body, Media, Route, SchemaFn};

/// What a query string's text may hold: no control character (C0, DEL, C1).
const NO_CONTROL_CHARACTERS: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// Where the document keeps its schemas (`#/components/schemas/Name`).
const SCHEMAS_PATH: &str = "/components/schemas";

/// Builds the document of a route table.
pub fn build(routes: &[Route]) -> Value {
    let mut generator = generator();
    let mut paths = Map::new();
    for route in routes {
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(
                route.method.to_lowercase(),
                operation(route, &mut generator),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Feature flags",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Admin REST API of the feature flag service. Errors are always \
                `{\"error\": {\"code\", \"message\", \"details\"}}` (OFREP's evaluation routes \
                answer OFREP's own `{key, errorCode, errorDetails}`). Authenticate with \
                `Authorization: Bearer <key>` or `X-API-Key: <key>`. Writes accept \
                `X-Change-Reason` and `X-Deployment-Id` headers, recorded in the audit log."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            },
            "schemas": generator.take_definitions(true),
        },
    })
}

/// The schema generator of the document: JSON Schema 2020-12, with
/// definitions under `#/components/schemas/`.
pub fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|settings| settings.definitions_path = SCHEMAS_PATH.into())
        .into_generator()
}

fn operation(route: &Route, generator: &mut SchemaGenerator) -> Value {
    let mut parameters: Vec<Value> = path_parameters(route.path)
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": path_parameter_schema(name)}))
        .collect();
    if let Some(query) = route.query {
        parameters.extend(query_parameters(query));
    }
    let mut op = json!({
        "operationId": route.operation_id,
        "tags": [route.tag],
        "summary": route.summary,
        "parameters": parameters,
        "responses": responses(route, generator),
    });
    match route.access {
        Access::Public => op["security"] = json!([]),
        Access::AnyKey => {
            op["security"] = json!([{"bearer": []}, {"apiKey": []}]);
            op["description"] =
                json!("Any key; server and client keys only in their own environment.");
        }
        Access::Role(role) => {
            op["security"] = json!([{"bearer": []}, {"apiKey": []}]);
            op["description"] = json!(format!(
                "Needs an admin key with the `{}` role or higher.",
                role.name()
            ));
        }
    }
    if let Body::Some(media, schema) = route.body {
        op["requestBody"] = json!({"required": true, "content": content(media, schema(generator))});
    }
    op
}

/// The `{name}` parameters of a path, in order.
pub fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// Path parameters are strings, but for a flag's `{version}`, which the
/// handler reads as a number (anything else is a 400).
fn path_parameter_schema(name: &str) -> Value {
    match name {
        "version" => json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX}),
        _ => json!({"type": "string", "minLength": 1}),
    }
}

/// The query parameters of a query type: one per member, its schema inlined
/// (a query string cannot hold `null`, so `Option`'s null is dropped).
fn query_parameters(query: SchemaFn) -> Vec<Value> {
    let mut inline = SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    let schema = query(&mut inline).to_value();
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut property = property.clone();
            let description = property
                .as_object_mut()
                .and_then(|p| p.remove("description"))
                .unwrap_or_default();
            drop_null(&mut property);
            if property["type"] == "string" && property.get("pattern").is_none() {
                // Control characters are refused in every query string
                // (`crate::extract::QueryParams`).
                property["pattern"] = json!(NO_CONTROL_CHARACTERS);
            }
            json!({
                "name": name,
                "in": "query",
                "required": required.contains(name.as_str()),
                "description": description,
                "schema": property,
            })
        })
        .collect()
}

/// `{"type": ["string", "null"]}` → `{"type": "string"}`, and `null` out of
/// an `enum`.
fn drop_null(schema: &mut Value) {
    if let Some(types) = schema["type"].as_array() {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        schema["type"] = match kept.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(kept),
        };
    }
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        values.retain(|v| !v.is_null());
    }
    if let Some(any_of) = schema.get_mut("anyOf").and_then(Value::as_array_mut) {
        any_of.retain(|s| s["type"] != "null");
        if let [one] = any_of.as_slice() {
            *schema = one.clone();
        }
    }
}

fn content(media: Media, schema: schemars::Schema) -> Value {
    let schema = schema.to_value();
    match media {
        Media::Json => json!({"application/json": {"schema": schema}}),
        Media::JsonOrYaml => json!({
            "application/json": {"schema": schema},
            "application/yaml": {"schema": schema},
        }),
    }
}

fn responses(route: &Route, generator: &mut SchemaGenerator) -> Value {
    let mut responses = Map::new();
    for answer in route.answers {
        responses.insert(answer.status.to_string(), success(answer, generator));
    }
    for status in error_statuses(route) {
        responses.insert(status.to_string(), error(route, status, generator));
    }
    Value::Object(responses)
}

fn success(answer: &Answer, generator: &mut SchemaGenerator) -> Value {
    let description = match answer.status {
        201 => "created",
        202 => "held for approval: the change request it became",
        304 => "not modified (If-None-Match)",
        _ => "success",
    };
    match answer.body {
        Some((media, schema)) => {
            json!({"description": description, "content": content(media, schema(generator))})
        }
        None => json!({"description": description}),
    }
}

/// Every error status a route can answer, from its shape: a key is checked
/// (401, 403, 429), a body or query string is read (400; bodies also 408,
/// 413 and 422 for a document that fails validation), a path names a
/// resource (404, and 400 for a parameter that cannot be read), a write can meet a stale version or an existing
/// resource (409) and an environment's rules (403, 422); plus what the
/// route lists itself.
pub fn error_statuses(route: &Route) -> BTreeSet<u16> {
    let mut statuses: BTreeSet<u16> = route.errors.iter().copied().collect();
    if route.access != Access::Public {
        statuses.extend([401, 403, 429]);
        if path_parameters(route.path).next().is_some() {
            // 400: a parameter that is not UTF-8 once decoded, or not a number.
            statuses.extend([400, 404]);
        }
    }
    if route.query.is_some() {
        statuses.insert(400);
    }
    if route.body.is_some() {
        statuses.extend([400, 408, 413, 422]);
    }
    if route.method != "GET" && matches!(route.access, Access::Role(_)) {
        statuses.extend([409, 422]);
    }
    statuses
}

/// The error answer: OFREP's shape where OFREP answers the error itself
/// (its evaluation routes: 400, 403, 404), else the envelope.
fn error(route: &Route, status: u16, generator: &mut SchemaGenerator) -> Value {
    let ofrep = route.path.starts_with("/ofrep/v1/evaluate") && [400, 403, 404].contains(&status);
    let schema = if ofrep {
        generator.subschema_for::<OfrepError>()
    } else {
        generator.subschema_for::<ErrorBody>()
    };
    let description = match status {
        400 => "the request is malformed (body, query or path)",
        401 => "no key, or an unknown or revoked one",
        403 => "the key may not do this (role, environment, or an environment's rule)",
        404 => "no such resource",
        408 => "the body was not sent in time",
        409 => "a version check failed, or the resource exists (or is in use)",
        413 => "the body is larger than the service accepts",
        422 => {
            "validation failed (every problem with its JSON path), or an environment's rule refuses the write"
        }
        429 => "rate limited; see Retry-After (seconds)",
        503 => "the database is unavailable",
        _ => "error",
    };
    json!({"description": description, "content": {"application/json": {"schema": schema.to_value()}}})
}
