//! The HTTP routes, one file per resource; handlers are named `verb_noun`.
//!
//! Every route is declared once, in [`ROUTES`]'s table (its entries'
//! shape is `table`'s): the router is built from it and so is the OpenAPI
//! document (`crate::openapi`), so the two cannot disagree. Handlers
//! translate HTTP: the writes go through `crate::write` and `crate::work`.

pub mod api_keys;
pub mod audit;
pub mod bulk;
pub mod change_requests;
pub mod dependencies;
pub mod deployments;
pub mod emergency;
pub mod environments;
pub mod evaluate;
pub mod experiments;
pub mod flags;
pub mod health;
pub mod metrics;
pub mod ofrep;
pub mod overview;
pub mod rollout_plans;
pub mod schedules;
pub mod segments;
pub mod sessions;
pub mod stale;
pub mod stream;
pub mod subjects;
pub mod transfer;
pub mod users;

pub(crate) mod table;

use std::sync::OnceLock;

use axum::Router;
use axum::routing::{MethodFilter, on};
use ff_store::Role;

use crate::openapi;
use crate::state::AppState;
pub use table::{Access, Body, Route};

macro_rules! route {
    ($method:literal $path:literal => $module:ident :: $handler:ident, $tag:literal, $access:expr, $summary:literal
     $(, query = [$(($q:literal, $qd:literal)),* $(,)?])? $(, body = $body:expr)? $(,)?) => {
        Route {
            method: $method,
            path: $path,
            operation_id: stringify!($handler),
            tag: $tag,
            summary: $summary,
            access: $access,
            query: &[$($(($q, $qd)),*)?],
            body: route!(@body $($body)?),
            handler: || on(method_filter($method), $module::$handler),
        }
    };
    (@body) => { Body::None };
    (@body $body:expr) => { $body };
}

/// The filter of a method name used in [`ROUTES`].
fn method_filter(method: &str) -> MethodFilter {
    match method {
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

const VIEWER: Access = Access::Role(Role::Viewer);
const EDITOR: Access = Access::Role(Role::Editor);
const APPROVER: Access = Access::Role(Role::Approver);
const ADMIN: Access = Access::Role(Role::Admin);

/// Every route of the service.
pub const ROUTES: &[Route] = &[
    route!("GET" "/health/live" => health::live, "health", Access::Public, "The process answers."),
    route!("GET" "/health/ready" => health::ready, "health", Access::Public, "The database answers; reports the revision served."),
    route!("GET" "/api/v1/flags" => flags::list_flags, "flags", VIEWER, "List flags, filtered and paginated by flag id.",
        query = [("tag", "only flags with this tag"), ("owner", "only flags of this owner"), ("lifecycle", "only flags in this lifecycle stage"),
                 ("q", "text in the id, description, owner or tags"), ("deleted", "true: list soft-deleted flags"),
                 ("limit", "page size (default 100, at most 1000)"), ("cursor", "next_cursor of the previous page")]),
    route!("POST" "/api/v1/flags" => flags::create_flag, "flags", EDITOR, "Create a flag from its document.", body = Body::Json("Flag")),
    route!("POST" "/api/v1/flags/bulk" => bulk::bulk_flags, "flags", EDITOR, "Apply several flag changes in one transaction, all or nothing.", body = Body::Json("BulkRequest")),
    route!("GET" "/api/v1/overview" => overview::get_overview, "flags", VIEWER, "Every flag in every environment at a glance: enabled, value, rules, rollout percentage, inheritance (auto_sync) and pending change requests."),
    route!("GET" "/api/v1/flags/stale" => stale::list_stale_flags, "flags", VIEWER, "Cleanup candidates: flags not evaluated for N days, or serving one value everywhere unchanged for M days.",
        query = [("unused_days", "not evaluated for this many days (default 30)"), ("rollout_days", "constant everywhere and unchanged for this many days (default 14)")]),
    route!("GET" "/api/v1/flags/{flag_id}/dependents" => dependencies::list_dependents, "dependencies", VIEWER, "The flags that require this one (directly or not), and whether each requirement holds per environment."),
    route!("POST" "/api/v1/dependencies/check" => dependencies::check_dependencies, "dependencies", VIEWER, "Check the seed's flag-dependencies.yaml against an environment.",
        query = [("environment", "the environment to check in"), ("format", "json or yaml (default: from Content-Type)")],
        body = Body::JsonOrYaml("Dependencies")),
    route!("GET" "/api/v1/flags/{flag_id}" => flags::get_flag, "flags", VIEWER, "Get a flag (deleted ones too); ETag is its version."),
    route!("PUT" "/api/v1/flags/{flag_id}" => flags::replace_flag, "flags", EDITOR, "Replace a flag's document (If-Match or body version: 409 when stale).", body = Body::Json("Flag")),
    route!("PATCH" "/api/v1/flags/{flag_id}" => flags::patch_flag, "flags", EDITOR, "Change a flag with a JSON merge patch (RFC 7396).", body = Body::Json("MergePatch")),
    route!("DELETE" "/api/v1/flags/{flag_id}" => flags::delete_flag, "flags", EDITOR, "Soft-delete a flag (restorable)."),
    route!("POST" "/api/v1/flags/{flag_id}/restore" => flags::restore_flag, "flags", EDITOR, "Restore a soft-deleted flag."),
    route!("GET" "/api/v1/flags/{flag_id}/environments/{env}" => flags::get_flag_environment, "flags", VIEWER, "A flag's entry in one environment, where it is inherited from, and what is in effect."),
    route!("PUT" "/api/v1/flags/{flag_id}/environments/{env}" => flags::put_flag_environment, "flags", EDITOR, "Set a flag's entry in one environment (a value or {enabled, value, targeting_rules}).", body = Body::Json("EnvironmentEntry")),
    route!("DELETE" "/api/v1/flags/{flag_id}/environments/{env}" => flags::delete_flag_environment, "flags", EDITOR, "Remove a flag's entry in one environment, so that it inherits again."),
    route!("POST" "/api/v1/flags/{flag_id}/environments/{env}/actions" => flags::apply_flag_action, "flags", EDITOR, "Enable, disable, set the value or a rule's percentage of a flag in one environment, made by the server on the latest version (If-Match: 409 when stale; governed like PATCH).", body = Body::Json("FlagAction")),
    route!("GET" "/api/v1/flags/{flag_id}/versions" => flags::list_flag_versions, "history", VIEWER, "A flag's versions, newest first.",
        query = [("before", "versions below this one"), ("limit", "page size (default 50, at most 500)")]),
    route!("GET" "/api/v1/flags/{flag_id}/versions/{version}" => flags::get_flag_version, "history", VIEWER, "One version of a flag."),
    route!("GET" "/api/v1/flags/{flag_id}/diff" => flags::diff_flag_versions, "history", VIEWER, "What changed between two versions, path by path.",
        query = [("from", "the older version"), ("to", "the newer version (default: current)")]),
    route!("POST" "/api/v1/flags/{flag_id}/rollback" => flags::rollback_flag, "history", EDITOR, "Write a new version equal to an old one (or one environment of it).", body = Body::Json("RollbackRequest")),
    route!("GET" "/api/v1/environments" => environments::list_environments, "environments", VIEWER, "The environment tree, parents first."),
    route!("POST" "/api/v1/environments" => environments::create_environment, "environments", ADMIN, "Create an environment.", body = Body::Json("Environment")),
    route!("GET" "/api/v1/environments/diff" => environments::diff_environments, "environments", VIEWER, "The flags whose effective configuration differs between two environments, path by path.",
        query = [("from", "one environment"), ("to", "the other")]),
    route!("GET" "/api/v1/environments/{env}" => environments::get_environment, "environments", VIEWER, "One environment."),
    route!("PUT" "/api/v1/environments/{env}" => environments::replace_environment, "environments", ADMIN, "Replace an environment's settings.", body = Body::Json("Environment")),
    route!("DELETE" "/api/v1/environments/{env}" => environments::delete_environment, "environments", ADMIN, "Delete an environment nothing depends on."),
    route!("POST" "/api/v1/environments/{env}/promote" => environments::promote_environment, "environments", EDITOR, "Copy flags' configuration from the parent into this environment (flags, all, or changed_since), under its approval and window rules.", body = Body::Json("Promote")),
    route!("GET" "/api/v1/segments" => segments::list_segments, "segments", VIEWER, "All segments, with the flags using each."),
    route!("POST" "/api/v1/segments" => segments::create_segment, "segments", EDITOR, "Create a segment.", body = Body::Json("Segment")),
    route!("GET" "/api/v1/segments/{segment_id}" => segments::get_segment, "segments", VIEWER, "One segment."),
    route!("PUT" "/api/v1/segments/{segment_id}" => segments::replace_segment, "segments", EDITOR, "Replace a segment.", body = Body::Json("Segment")),
    route!("DELETE" "/api/v1/segments/{segment_id}" => segments::delete_segment, "segments", EDITOR, "Delete a segment no flag uses."),
    route!("POST" "/api/v1/evaluate" => evaluate::evaluate, "evaluation", Access::AnyKey, "Evaluate one, several or all flags for a context.", body = Body::Json("EvaluateRequest")),
    route!("POST" "/api/v1/emergency/disable" => emergency::emergency_disable, "emergency", EDITOR, "Kill switch: turn a flag off in an environment (or all). Never held by approvals.", body = Body::Json("EmergencyRequest")),
    route!("POST" "/api/v1/emergency/enable" => emergency::emergency_enable, "emergency", EDITOR, "Turn a flag back on where the kill switch turned it off.", body = Body::Json("EmergencyRequest")),
    route!("GET" "/api/v1/audit" => audit::list_audit, "audit", VIEWER, "Audit entries, newest first, filtered.",
        query = [("flag_id", "entries about this flag"), ("environment", "entries about this environment"), ("actor", "entries by this key id"),
                 ("action", "this action, e.g. flag.update"), ("deployment_id", "entries of this deployment"), ("since", "RFC 3339, inclusive"),
                 ("until", "RFC 3339, exclusive"), ("before_id", "next_cursor of the previous page"), ("limit", "page size (default 100, at most 1000)")]),
    route!("GET" "/api/v1/audit/verify" => audit::verify_audit, "audit", VIEWER, "Recompute the audit log's hash chain."),
    route!("GET" "/api/v1/change-requests" => change_requests::list_change_requests, "change-requests", VIEWER, "Writes held for approval, newest first.",
        query = [("status", "pending, applied or rejected"), ("environment", "requests needing this environment's approval"),
                 ("flag_id", "requests changing this flag"), ("limit", "at most this many (default 100, at most 1000)")]),
    route!("GET" "/api/v1/change-requests/{id}" => change_requests::get_change_request, "change-requests", VIEWER, "One change request, with the diff of each change."),
    route!("POST" "/api/v1/change-requests/{id}/approve" => change_requests::approve_change_request, "change-requests", APPROVER, "Approve (never your own); the last approval needed applies it (409 change_request_stale if a flag changed meanwhile).", body = Body::Json("ReviewBody")),
    route!("POST" "/api/v1/change-requests/{id}/reject" => change_requests::reject_change_request, "change-requests", APPROVER, "Reject, with a comment.", body = Body::Json("ReviewBody")),
    route!("POST" "/api/v1/change-requests/{id}/rebase" => change_requests::rebase_change_request, "change-requests", EDITOR, "Re-apply the request's changes onto the flags' latest versions; clears approvals.", body = Body::Json("ReviewBody")),
    route!("POST" "/api/v1/deployments/{id}/rollback" => deployments::rollback_deployment, "deployments", EDITOR, "Undo every flag change of a deployment (X-Deployment-Id), optionally in one environment, in one commit; never held.", body = Body::Json("DeploymentRollback")),
    route!("POST" "/api/v1/deployments/{id}/hooks" => deployments::run_deployment_hooks, "deployments", EDITOR, "Run a deployment phase's steps (enable_flag, disable_flag, verify_flags) all or nothing, tagged with the deployment id.", body = Body::Json("DeploymentHooks")),
    route!("POST" "/api/v1/schedules" => schedules::create_schedule, "schedules", EDITOR, "Schedule a change of a flag (enable, disable, set_value, percentage, set_environment, patch) for a time.", body = Body::Json("Schedule")),
    route!("GET" "/api/v1/schedules" => schedules::list_schedules, "schedules", VIEWER, "Scheduled changes, newest first.",
        query = [("status", "scheduled, applied, held, failed or cancelled"), ("flag_id", "about this flag"), ("environment", "in this environment"), ("limit", "at most this many")]),
    route!("POST" "/api/v1/schedules/run" => schedules::run_schedules, "schedules", ADMIN, "Apply every due schedule and rollout step now; answers what happened to each."),
    route!("GET" "/api/v1/schedules/{id}" => schedules::get_schedule, "schedules", VIEWER, "One scheduled change (with its error when it failed)."),
    route!("DELETE" "/api/v1/schedules/{id}" => schedules::cancel_schedule, "schedules", EDITOR, "Cancel a scheduled change that has not run."),
    route!("POST" "/api/v1/rollout-plans" => rollout_plans::create_rollout_plan, "rollout-plans", EDITOR, "A gradual rollout: a rule's percentage in steps ({percentage, at} or percentages every N hours).", body = Body::Json("RolloutPlan")),
    route!("GET" "/api/v1/rollout-plans" => rollout_plans::list_rollout_plans, "rollout-plans", VIEWER, "Rollout plans, newest first.",
        query = [("status", "active, paused, completed or failed"), ("flag_id", "about this flag"), ("environment", "in this environment"), ("limit", "at most this many")]),
    route!("GET" "/api/v1/rollout-plans/{id}" => rollout_plans::get_rollout_plan, "rollout-plans", VIEWER, "One rollout plan, with the steps applied so far."),
    route!("POST" "/api/v1/rollout-plans/{id}/pause" => rollout_plans::pause_rollout_plan, "rollout-plans", EDITOR, "Pause a plan (the kill switch pauses it too).", body = Body::Json("PauseBody")),
    route!("POST" "/api/v1/rollout-plans/{id}/resume" => rollout_plans::resume_rollout_plan, "rollout-plans", EDITOR, "Resume a paused plan.", body = Body::Json("PauseBody")),
    route!("GET" "/api/v1/api-keys" => api_keys::list_api_keys, "api-keys", ADMIN, "All API keys (never their secrets)."),
    route!("POST" "/api/v1/api-keys" => api_keys::create_api_key, "api-keys", ADMIN, "Create a key; its secret is answered once, under `key`.", body = Body::Json("CreateApiKeyRequest")),
    route!("DELETE" "/api/v1/api-keys/{id}" => api_keys::revoke_api_key, "api-keys", ADMIN, "Revoke a key at once."),
    route!("GET" "/metrics" => metrics::get_prometheus_metrics, "metrics", Access::Public, "Prometheus metrics (OpenMetrics text); needs the bearer token when --metrics-token is set."),
    route!("POST" "/api/v1/metrics" => metrics::report_metrics, "metrics", Access::AnyKey, "Report an SDK's local evaluations, counted per flag and outcome.", body = Body::Json("MetricsBatch")),
    route!("GET" "/api/v1/flags/{flag_id}/metrics" => metrics::get_flag_metrics, "metrics", VIEWER, "A flag's evaluations over time: per bucket and in total, by outcome, reason and environment.",
        query = [("environment", "only this environment"), ("granularity", "minute, hour (default) or day"),
                 ("since", "RFC 3339 start (default: 24 hours ago)"), ("until", "RFC 3339 end (default: now)")]),
    route!("POST" "/api/v1/experiments" => experiments::create_experiment, "experiments", EDITOR, "Start an A/B experiment on a flag's weighted split: control, primary and secondary metrics.", body = Body::Json("CreateExperimentRequest")),
    route!("GET" "/api/v1/experiments" => experiments::list_experiments, "experiments", VIEWER, "Every experiment."),
    route!("GET" "/api/v1/experiments/{id}" => experiments::get_experiment, "experiments", VIEWER, "One experiment."),
    route!("POST" "/api/v1/experiments/{id}/stop" => experiments::stop_experiment, "experiments", EDITOR, "Stop recording exposures; the results stay."),
    route!("GET" "/api/v1/experiments/{id}/results" => experiments::get_experiment_results, "experiments", VIEWER, "Per metric and variant: rates or means with intervals, lift, p-value, sample ratio check and a verdict."),
    route!("POST" "/api/v1/track" => experiments::track_events, "experiments", Access::AnyKey, "Track events (one, or a batch of up to 1 000) that experiments are measured by.", body = Body::Json("TrackRequest")),
    route!("GET" "/api/v1/subjects/{user_id}" => subjects::export_subject, "privacy", ADMIN, "Everything held about a person: exposures, tracked events, and the rules and segments naming their id."),
    route!("DELETE" "/api/v1/subjects/{user_id}" => subjects::erase_subject, "privacy", ADMIN, "Erase a person: exposures and events at once; their id out of rules and segments (approvals apply)."),
    route!("POST" "/api/v1/flags/{flag_id}/environments/{env}/evaluation-log" => metrics::start_evaluation_log, "metrics", EDITOR, "Log the flag's evaluations there for a while (1–60 minutes; context hashed unless clear_context), on every node.", body = Body::Json("EvaluationLogRequest")),
    route!("DELETE" "/api/v1/flags/{flag_id}/environments/{env}/evaluation-log" => metrics::stop_evaluation_log, "metrics", EDITOR, "Stop logging (what was logged stays a day)."),
    route!("GET" "/api/v1/flags/{flag_id}/environments/{env}/evaluation-log" => metrics::get_evaluation_log, "metrics", VIEWER, "The newest logged evaluations: context, value, variant, reason, rule."),
    route!("GET" "/api/v1/users" => users::list_users, "users", ADMIN, "All user accounts (never their passwords)."),
    route!("POST" "/api/v1/users" => users::create_user, "users", ADMIN, "Create an account for a person (email, display name, role, password).", body = Body::Json("CreateUserRequest")),
    route!("PATCH" "/api/v1/users/{id}" => users::update_user, "users", ADMIN, "Change an account's name, role or password, or disable it (ending its sessions).", body = Body::Json("UpdateUserRequest")),
    route!("POST" "/api/v1/sessions" => sessions::create_session, "sessions", Access::Public, "Sign in: sets the session cookie and answers the CSRF token.", body = Body::Json("SignInRequest")),
    route!("GET" "/api/v1/sessions/current" => sessions::get_current_session, "sessions", Access::AnyKey, "The signed-in person and the session's CSRF token."),
    route!("DELETE" "/api/v1/sessions/current" => sessions::delete_current_session, "sessions", Access::AnyKey, "Sign out: ends the session on every node."),
    route!("GET" "/api/v1/export" => transfer::export_configuration, "transfer", VIEWER, "Everything (flags, segments, environments) as JSON or YAML.",
        query = [("format", "json (default) or yaml")]),
    route!("POST" "/api/v1/import" => transfer::import_configuration, "transfer", EDITOR, "Apply an export document in one transaction.",
        query = [("dry_run", "true: report the changes, write nothing"), ("prune", "true: also delete flags and segments not in the document"),
                 ("format", "json or yaml (default: from Content-Type)")],
        body = Body::JsonOrYaml("Export")),
    route!("POST" "/ofrep/v1/evaluate/flags/{key}" => ofrep::evaluate_flag, "ofrep", Access::AnyKey, "OFREP: evaluate one flag (server-side OpenFeature providers).", body = Body::Json("OfrepRequest")),
    route!("POST" "/ofrep/v1/evaluate/flags" => ofrep::evaluate_flags, "ofrep", Access::AnyKey, "OFREP: evaluate every flag for one context; ETag / If-None-Match.", body = Body::Json("OfrepRequest")),
    route!("GET" "/api/v1/stream" => stream::stream_flags, "streams", Access::AnyKey, "SSE: the environment's rules (put, then patch/delete per change; Last-Event-ID resumes). Server keys, or admin keys with ?environment=.",
        query = [("environment", "for admin keys")]),
    route!("GET" "/ofrep/v1/stream" => stream::stream_ofrep, "ofrep", Access::AnyKey, "SSE: OFREP refetchEvaluation notifications on every change.",
        query = [("environment", "for admin keys")]),
    route!("GET" "/api/v1/openapi.json" => document::openapi_document, "meta", Access::Public, "This document."),
];

/// `GET /api/v1/openapi.json`, served from here: the document describes
/// [`ROUTES`], which lists this handler.
mod document {
    use axum::Json;
    use serde_json::Value;

    /// The OpenAPI document of [`super::ROUTES`] (built once).
    pub async fn openapi_document() -> Json<Value> {
        Json(super::openapi_json().clone())
    }
}

/// The OpenAPI document of [`ROUTES`], built on first use.
fn openapi_json() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| openapi::build(ROUTES))
}

/// The router of every route in [`ROUTES`].
pub fn router() -> Router<AppState> {
    ROUTES.iter().fold(Router::new(), |router, route| {
        router.route(route.path, (route.handler)())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;

    #[test]
    fn every_route_is_documented_once() {
        let document = openapi::build(ROUTES);
        let paths = document["paths"]
            .as_object()
            .map(Map::len)
            .unwrap_or_default();
        let distinct: std::collections::BTreeSet<&str> = ROUTES.iter().map(|r| r.path).collect();
        assert_eq!(paths, distinct.len());
        for route in ROUTES {
            let op = &document["paths"][route.path][route.method.to_lowercase()];
            assert_eq!(
                op["operationId"], route.operation_id,
                "{} {}",
                route.method, route.path
            );
            let parameters = op["parameters"]
                .as_array()
                .map(Vec::len)
                .unwrap_or_default();
            assert_eq!(
                parameters,
                openapi::path_parameters(route.path).count() + route.query.len()
            );
        }
        let unique: std::collections::BTreeSet<&str> =
            ROUTES.iter().map(|r| r.operation_id).collect();
        assert_eq!(unique.len(), ROUTES.len(), "operation ids must be unique");
    }
}
