//! The OpenAPI 3.1 document (`GET /api/v1/openapi.json`), generated from
//! the route table (`crate::routes::ROUTES`) that also builds the router, so
//! every documented route exists and every route is documented.

use serde_json::{Map, Value, json};

use crate::auth::role_name;
use crate::routes::table::{Access, Body, Route};

/// Builds the document of a route table.
pub fn build(routes: &[Route]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(route.method.to_lowercase(), operation(route));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Feature flags",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Admin REST API of the feature flag service. Errors are always \
                `{\"error\": {\"code\", \"message\", \"details\"}}`. Authenticate with \
                `Authorization: Bearer <key>` or `X-API-Key: <key>`. Writes accept \
                `X-Change-Reason` and `X-Deployment-Id` headers, recorded in the audit log."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            },
            "schemas": schemas(),
        },
    })
}

fn operation(route: &Route) -> Value {
    let mut parameters: Vec<Value> = path_parameters(route.path)
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(route.query.iter().map(|(name, description)| {
        json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
    }));
    let mut op = json!({
        "operationId": route.operation_id,
        "tags": [route.tag],
        "summary": route.summary,
        "parameters": parameters,
        "responses": responses(route),
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
                role_name(role)
            ));
        }
    }
    let schema_ref = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    match route.body {
        Body::None => {}
        Body::Json(name) => {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema_ref(name)}}});
        }
        Body::JsonOrYaml(name) => {
            op["requestBody"] = json!({"required": true, "content": {
                "application/json": {"schema": schema_ref(name)},
                "application/yaml": {"schema": schema_ref(name)}
            }});
        }
    }
    op
}

/// The `{name}` parameters of a path, in order.
pub fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn responses(route: &Route) -> Value {
    let error = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut responses = json!({
        "200": {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}},
        "400": error.clone(),
        "404": error.clone(),
    });
    if route.method == "POST" && route.summary.starts_with("Create") {
        responses["201"] = json!({"description": "created"});
    }
    if route.access != Access::Public {
        responses["401"] = error.clone();
        responses["403"] = error.clone();
        responses["429"] = json!({"description": "rate limited; see Retry-After (seconds)"});
    }
    if route.body != Body::None {
        responses["409"] = error.clone();
        responses["413"] = error.clone();
        responses["422"] = json!({"description": "validation failed: every problem with its JSON path",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    }
    responses
}

/// The request bodies' schemas: the shapes the handlers read.
fn schemas() -> Value {
    let rule = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "conditions": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}},
            "value": {},
            "variant": {"type": "string"},
            "variants": {"type": "array", "items": {"type": "object", "properties": {"variant": {"type": "string"}, "weight": {"type": "number"}}}},
            "percentage": {"type": "number", "minimum": 0, "maximum": 100},
            "bucket_by": {"type": "string"}
        }
    });
    let operators: Vec<&str> = ff_engine::Operator::ALL
        .iter()
        .map(|op| op.as_str())
        .collect();
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
            "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}},
        "Condition": {"type": "object", "properties": {
            "attribute": {"type": "string"}, "operator": {"enum": operators}, "value": {}}},
        "Rule": rule,
        "Flag": {"type": "object", "required": ["flag_id"], "description": "The flag document (see crates/engine/README.md).", "properties": {
            "flag_id": {"type": "string", "pattern": "^[a-z][a-z0-9_.-]{0,127}$"},
            "type": {"enum": ["boolean", "string", "number", "json"]},
            "description": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
            "owner": {"type": "string"},
            "lifecycle": {"enum": ff_engine::Lifecycle::ALL.map(ff_engine::Lifecycle::as_str)},
            "default_value": {}, "variants": {"type": "object"},
            "targeting_rules": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}},
            "environments": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/EnvironmentEntry"}},
            "depends_on": {"type": "array", "items": {"type": "object", "properties": {
                "flag": {"type": "string"}, "required_value": {}, "repository": {"type": "string"}}}},
            "version": {"type": "integer", "description": "the version the document was read at (optional)"}}},
        "EnvironmentEntry": {"description": "A bare value, or {enabled, value, targeting_rules}.", "oneOf": [{}, {"type": "object", "properties": {
            "enabled": {"type": "boolean"}, "value": {}, "targeting_rules": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}}}}]},
        "MergePatch": {"type": "object", "description": "RFC 7396: objects merge, null removes."},
        "Segment": {"type": "object", "required": ["segment_id", "conditions"], "properties": {
            "segment_id": {"type": "string"}, "description": {"type": "string"},
            "conditions": {"type": "array", "items": {"$ref": "#/components/schemas/Condition"}}}},
        "Environment": {"type": "object", "required": ["key"], "properties": {
            "key": {"type": "string"}, "parent": {"type": "string"}, "auto_sync": {"type": "boolean"},
            "description": {"type": "string"}, "approval_required": {"type": "boolean"},
            "required_approvals": {"type": "integer", "minimum": 1}, "protected": {"type": "boolean"},
            "change_windows": {"type": "array", "items": {"type": "object", "properties": {
                "days": {"type": "array", "items": {"type": "string"}}, "start": {"type": "string"},
                "end": {"type": "string"}, "time_zone": {"type": "string"}}}}}},
        "EvaluateRequest": {"type": "object", "properties": {
            "flag_id": {"type": "string"}, "flag_ids": {"type": "array", "items": {"type": "string"}},
            "environment": {"type": "string"}, "context": {"type": "object"}}},
        "OfrepRequest": {"type": "object", "properties": {"context": {"type": "object",
            "description": "targetingKey (or user_id) and any attributes"}}},
        "EmergencyRequest": {"type": "object", "required": ["flag_id"], "properties": {
            "flag_id": {"type": "string"}, "environment": {"type": "string"}, "reason": {"type": "string"}}},
        "RollbackRequest": {"type": "object", "required": ["to_version"], "properties": {
            "to_version": {"oneOf": [{"type": "integer"}, {"type": "string", "description": "a deployment id: the flag's last version written by it"}]}, "environment": {"type": "string"}, "reason": {"type": "string"}}},
        "Action": {"type": "object", "required": ["type"], "properties": {
            "type": {"enum": ["enable", "disable", "set_value", "percentage", "set_environment", "patch"]},
            "value": {}, "percentage": {"type": "number"}, "rule": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "entry": {}, "patch": {"type": "object"}}},
        "FlagAction": {"type": "object", "required": ["action"], "description": "One edit, made by the server to the flag's latest version in the environment: enable, disable, set_value (value), set_percentage (percentage, optional rule: its name or index; default the first rule with a percentage, or the only rule).", "properties": {
            "action": {"enum": ["enable", "disable", "set_value", "set_percentage"]},
            "value": {}, "percentage": {"type": "number", "minimum": 0, "maximum": 100}, "rule": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}},
        "Schedule": {"type": "object", "required": ["flag_id", "at", "action"], "properties": {
            "flag_id": {"type": "string"}, "environment": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
            "action": {"$ref": "#/components/schemas/Action"}, "reason": {"type": "string"}, "deployment_id": {"type": "string"}}},
        "RolloutPlan": {"type": "object", "required": ["flag_id", "environment"], "properties": {
            "flag_id": {"type": "string"}, "environment": {"type": "string"}, "rule": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "steps": {"type": "array", "items": {"type": "object", "required": ["percentage", "at"], "properties": {
                "percentage": {"type": "number"}, "at": {"type": "string", "format": "date-time"}}}},
            "percentages": {"type": "array", "items": {"type": "number"}}, "start_at": {"type": "string", "format": "date-time"},
            "every_hours": {"type": "number"}, "reason": {"type": "string"}}},
        "PauseBody": {"type": "object", "properties": {"reason": {"type": "string"}}},
        "DeploymentRollback": {"type": "object", "properties": {"environment": {"type": "string"}, "reason": {"type": "string"}}},
        "DeploymentHooks": {"type": "object", "required": ["environment", "phase", "deployment"], "properties": {
            "environment": {"type": "string"}, "phase": {"enum": ["pre_deploy", "post_deploy"]}, "reason": {"type": "string"},
            "deployment": {"type": "object", "description": "the seed's deployment document: pre_deploy / post_deploy lists of {enable_flag}, {disable_flag}, {verify_flags}"}}},
        "Promote": {"type": "object", "properties": {"flags": {"type": "array", "items": {"type": "string"}},
            "all": {"type": "boolean"}, "changed_since": {"type": "string", "format": "date-time"}, "reason": {"type": "string"}}},
        "Dependencies": {"type": "object", "required": ["dependencies"], "properties": {
            "dependencies": {"type": "array", "items": {"type": "object", "required": ["flag", "depends_on"], "properties": {
                "flag": {"type": "string"},
                "depends_on": {"type": "array", "items": {"type": "object", "required": ["flag"], "properties": {
                    "repository": {"type": "string"}, "flag": {"type": "string"}, "required_value": {}}}}}}}}},
        "ReviewBody": {"type": "object", "properties": {"comment": {"type": "string"}}},
        "CreateApiKeyRequest": {"type": "object", "required": ["name", "kind"], "properties": {
            "name": {"type": "string"}, "kind": {"enum": ["admin", "server", "client"]},
            "role": {"enum": ["viewer", "editor", "approver", "admin"]}, "environment": {"type": "string"}}},
        "MetricsBatch": {"type": "object", "required": ["evaluations"], "additionalProperties": false, "properties": {
            "sdk": {"type": "string"}, "environment": {"type": "string"}, "window_end": {"type": "string", "format": "date-time"},
            "evaluations": {"type": "array", "maxItems": 10000, "items": {"type": "object", "required": ["flag_id", "reason", "count"],
                "additionalProperties": false, "properties": {
                "flag_id": {"type": "string"}, "label": {"type": "string", "maxLength": 64}, "variant": {"type": "string", "maxLength": 64}, "value": {},
                "reason": {"enum": ["STATIC", "DEFAULT", "TARGETING_MATCH", "SPLIT", "DISABLED", "PREREQUISITE_FAILED", "ERROR"]},
                "error_code": {"enum": ["FLAG_NOT_FOUND", "TYPE_MISMATCH", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "PARSE_ERROR", "GENERAL"]},
                "count": {"type": "integer", "minimum": 0, "maximum": 1000000000}}}}}},
        "CreateExperimentRequest": {"type": "object", "required": ["id", "flag_id", "environment", "control", "primary_metric"], "additionalProperties": false, "properties": {
            "id": {"type": "string"}, "description": {"type": "string"}, "flag_id": {"type": "string"}, "environment": {"type": "string"},
            "control": {"type": "string"}, "primary_metric": {"$ref": "#/components/schemas/MetricRequest"},
            "secondary_metrics": {"type": "array", "items": {"$ref": "#/components/schemas/MetricRequest"}}}},
        "MetricRequest": {"type": "object", "required": ["event", "kind"], "additionalProperties": false, "properties": {
            "event": {"type": "string", "minLength": 1, "maxLength": 128}, "kind": {"enum": ["conversion", "numeric"]}}},
        "TrackRequest": {"type": "object", "additionalProperties": false, "properties": {
            "event": {"type": "string"}, "user_id": {"type": "string"}, "value": {"type": "number"}, "timestamp": {"type": "string", "format": "date-time"},
            "events": {"type": "array", "maxItems": 1000, "items": {"type": "object", "required": ["event", "user_id"], "additionalProperties": false, "properties": {
                "event": {"type": "string"}, "user_id": {"type": "string"}, "value": {"type": "number"}, "timestamp": {"type": "string", "format": "date-time"}}}}}},
        "EvaluationLogRequest": {"type": "object", "additionalProperties": false, "properties": {
            "minutes": {"type": "integer", "minimum": 1, "maximum": 60}, "clear_context": {"type": "boolean"}}},
        "CreateUserRequest": {"type": "object", "required": ["email", "display_name", "role", "password"], "additionalProperties": false, "properties": {
            "email": {"type": "string"}, "display_name": {"type": "string"},
            "role": {"enum": ["viewer", "editor", "approver", "admin"]}, "password": {"type": "string", "minLength": 10, "maxLength": 256}}},
        "UpdateUserRequest": {"type": "object", "additionalProperties": false, "properties": {
            "display_name": {"type": "string"}, "role": {"enum": ["viewer", "editor", "approver", "admin"]},
            "password": {"type": "string", "minLength": 10, "maxLength": 256}, "disabled": {"type": "boolean"}}},
        "SignInRequest": {"type": "object", "required": ["email", "password"], "additionalProperties": false, "properties": {
            "email": {"type": "string"}, "password": {"type": "string"}}},
        "BulkRequest": {"type": "object", "required": ["operations"], "properties": {
            "operations": {"type": "array", "items": {"type": "object", "required": ["op"], "properties": {
                "op": {"enum": ["create", "replace", "patch", "delete", "enable", "disable", "set_value"]}}}},
            "reason": {"type": "string"}, "deployment_id": {"type": "string"}}},
        "Export": {"type": "object", "properties": {
            "flags": {"type": "array", "items": {"$ref": "#/components/schemas/Flag"}},
            "segments": {"type": "array", "items": {"$ref": "#/components/schemas/Segment"}},
            "environments": {"type": "array", "items": {"$ref": "#/components/schemas/Environment"}}}},
    })
}
