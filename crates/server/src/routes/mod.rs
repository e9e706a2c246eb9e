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
pub mod webhooks;

pub(crate) mod table;

use std::sync::OnceLock;

use axum::Router;
use axum::routing::{MethodFilter, on};
use ff_store::Role;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::openapi;
use crate::state::AppState;
use table::schema_of;
pub use table::{Access, Answer, Body, Media, Route, SchemaFn};

use ff_api_types::*;

macro_rules! route {
    ($method:literal $path:literal => $module:ident :: $handler:ident, $tag:literal, $access:expr, $summary:literal
     $(, query = $query:ty)? $(, body = $media:ident $body:ty)?
     , ok = [$($status:literal $($answer_media:ident $answer:ty)?),+ $(,)?]
     $(, errors = [$($error:literal),* $(,)?])? $(,)?) => {
        Route {
            method: $method,
            path: $path,
            operation_id: stringify!($handler),
            tag: $tag,
            summary: $summary,
            access: $access,
            query: route!(@query $($query)?),
            body: route!(@body $($media $body)?),
            answers: &[$(route!(@answer $status $($answer_media $answer)?)),+],
            errors: &[$($($error),*)?],
            handler: || on(method_filter($method), $module::$handler),
        }
    };
    (@query) => { None };
    (@query $query:ty) => { Some(schema_of::<$query> as SchemaFn) };
    (@body) => { Body::None };
    (@body $media:ident $body:ty) => { Body::Some(route!(@media $media), schema_of::<$body> as SchemaFn) };
    (@answer $status:literal) => { Answer { status: $status, body: None } };
    (@answer $status:literal $media:ident $answer:ty) => {
        Answer { status: $status, body: Some((route!(@media $media), schema_of::<$answer> as SchemaFn)) }
    };
    (@media json) => { Media::Json };
    (@media json_or_yaml) => { Media::JsonOrYaml };
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

/// Every route of the service. Bodies, answers and query strings name
/// their `ff_api_types` type (`json` or `json_or_yaml`); a write that can be
/// held for approval also answers `202` with the change request ([`Held`]).
/// Error statuses follow from each route's shape
/// (`crate::openapi::error_statuses`), plus its own `errors`.
pub const ROUTES: &[Route] = &[
    route!("GET" "/health/live" => health::live, "health", Access::Public, "The process answers.", ok = [200 json Liveness]),
    route!("GET" "/health/ready" => health::ready, "health", Access::Public, "The database answers; reports the revision served.", ok = [200 json Readiness], errors = [503]),
    route!("GET" "/api/v1/flags" => flags::list_flags, "flags", VIEWER, "List flags, filtered and paginated by flag id.",
        query = ListFlagsQuery, ok = [200 json Page<Flag>]),
    route!("POST" "/api/v1/flags" => flags::create_flag, "flags", EDITOR, "Create a flag from its document.", body = json FlagDocument, ok = [201 json Flag]),
    route!("POST" "/api/v1/flags/bulk" => bulk::bulk_flags, "flags", EDITOR, "Apply several flag changes in one transaction, all or nothing.", body = json BulkRequest, ok = [200 json BulkResponse, 202 json Held]),
    route!("GET" "/api/v1/overview" => overview::get_overview, "flags", VIEWER, "Every flag in every environment at a glance: enabled, value, rules, rollout percentage, inheritance (auto_sync) and pending change requests.", ok = [200 json overview::Overview]),
    route!("GET" "/api/v1/flags/stale" => stale::list_stale_flags, "flags", VIEWER, "Cleanup candidates: flags not evaluated for N days, or serving one value everywhere unchanged for M days.",
        query = StaleQuery, ok = [200 json StaleFlags]),
    route!("GET" "/api/v1/flags/{flag_id}/dependents" => dependencies::list_dependents, "dependencies", VIEWER, "The flags that require this one (directly or not), and whether each requirement holds per environment.", ok = [200 json Dependents]),
    route!("POST" "/api/v1/dependencies/check" => dependencies::check_dependencies, "dependencies", VIEWER, "Check the seed's flag-dependencies.yaml against an environment.",
        query = CheckDependenciesQuery, body = json_or_yaml DependenciesDocument, ok = [200 json DependencyCheck], errors = [404]),
    route!("GET" "/api/v1/flags/{flag_id}" => flags::get_flag, "flags", VIEWER, "Get a flag (deleted ones too); ETag is its version.", ok = [200 json Flag]),
    route!("PUT" "/api/v1/flags/{flag_id}" => flags::replace_flag, "flags", EDITOR, "Replace a flag's document (If-Match or body version: 409 when stale).", body = json FlagReplacement, ok = [200 json Flag, 202 json Held]),
    route!("PATCH" "/api/v1/flags/{flag_id}" => flags::patch_flag, "flags", EDITOR, "Change a flag with a JSON merge patch (RFC 7396).", body = json MergePatch, ok = [200 json Flag, 202 json Held]),
    route!("DELETE" "/api/v1/flags/{flag_id}" => flags::delete_flag, "flags", EDITOR, "Soft-delete a flag (restorable).", ok = [200 json FlagDeleted, 202 json Held]),
    route!("POST" "/api/v1/flags/{flag_id}/restore" => flags::restore_flag, "flags", EDITOR, "Restore a soft-deleted flag.", ok = [200 json Flag, 202 json Held]),
    route!("GET" "/api/v1/flags/{flag_id}/environments/{env}" => flags::get_flag_environment, "flags", VIEWER, "A flag's entry in one environment, where it is inherited from, and what is in effect.", ok = [200 json FlagEnvironment]),
    route!("PUT" "/api/v1/flags/{flag_id}/environments/{env}" => flags::put_flag_environment, "flags", EDITOR, "Set a flag's entry in one environment (a value or {enabled, value, targeting_rules}).", body = json EnvironmentEntry, ok = [200 json Flag, 202 json Held]),
    route!("DELETE" "/api/v1/flags/{flag_id}/environments/{env}" => flags::delete_flag_environment, "flags", EDITOR, "Remove a flag's entry in one environment, so that it inherits again.", ok = [200 json Flag, 202 json Held]),
    route!("POST" "/api/v1/flags/{flag_id}/environments/{env}/actions" => flags::apply_flag_action, "flags", EDITOR, "Enable, disable, set the value or a rule's percentage of a flag in one environment, made by the server on the latest version (If-Match: 409 when stale; governed like PATCH).", body = json FlagAction, ok = [200 json Flag, 202 json Held]),
    route!("GET" "/api/v1/flags/{flag_id}/versions" => flags::list_flag_versions, "history", VIEWER, "A flag's versions, newest first.",
        query = VersionsQuery, ok = [200 json Page<FlagVersion>]),
    route!("GET" "/api/v1/flags/{flag_id}/versions/{version}" => flags::get_flag_version, "history", VIEWER, "One version of a flag.", ok = [200 json FlagVersion]),
    route!("GET" "/api/v1/flags/{flag_id}/diff" => flags::diff_flag_versions, "history", VIEWER, "What changed between two versions, path by path.",
        query = FlagDiffQuery, ok = [200 json FlagDiff]),
    route!("POST" "/api/v1/flags/{flag_id}/rollback" => flags::rollback_flag, "history", EDITOR, "Write a new version equal to an old one (or one environment of it).", body = json RollbackRequest, ok = [200 json Flag, 202 json Held]),
    route!("GET" "/api/v1/environments" => environments::list_environments, "environments", VIEWER, "The environment tree, parents first.", ok = [200 json Page<Environment>]),
    route!("POST" "/api/v1/environments" => environments::create_environment, "environments", ADMIN, "Create an environment.", body = json EnvironmentDocument, ok = [201 json Environment], errors = [404]),
    route!("GET" "/api/v1/environments/diff" => environments::diff_environments, "environments", VIEWER, "The flags whose effective configuration differs between two environments, path by path.",
        query = EnvironmentDiffQuery, ok = [200 json EnvironmentDiff], errors = [404]),
    route!("GET" "/api/v1/environments/{env}" => environments::get_environment, "environments", VIEWER, "One environment.", ok = [200 json Environment]),
    route!("PUT" "/api/v1/environments/{env}" => environments::replace_environment, "environments", ADMIN, "Replace an environment's settings.", body = json EnvironmentReplacement, ok = [200 json Environment]),
    route!("DELETE" "/api/v1/environments/{env}" => environments::delete_environment, "environments", ADMIN, "Delete an environment nothing depends on.", ok = [200 json EnvironmentDeleted]),
    route!("POST" "/api/v1/environments/{env}/promote" => environments::promote_environment, "environments", EDITOR, "Copy flags' configuration from the parent into this environment (flags, all, or changed_since), under its approval and window rules.", body = json PromoteRequest, ok = [200 json PromoteResponse, 202 json Held]),
    route!("GET" "/api/v1/segments" => segments::list_segments, "segments", VIEWER, "All segments, with the flags using each.", ok = [200 json Page<Segment>]),
    route!("POST" "/api/v1/segments" => segments::create_segment, "segments", EDITOR, "Create a segment.", body = json SegmentDocument, ok = [201 json Segment]),
    route!("GET" "/api/v1/segments/{segment_id}" => segments::get_segment, "segments", VIEWER, "One segment.", ok = [200 json Segment]),
    route!("PUT" "/api/v1/segments/{segment_id}" => segments::replace_segment, "segments", EDITOR, "Replace a segment.", body = json SegmentReplacement, ok = [200 json Segment]),
    route!("DELETE" "/api/v1/segments/{segment_id}" => segments::delete_segment, "segments", EDITOR, "Delete a segment no flag uses.", ok = [200 json SegmentDeleted]),
    route!("POST" "/api/v1/evaluate" => evaluate::evaluate, "evaluation", Access::AnyKey, "Evaluate one, several or all flags for a context.", body = json EvaluateRequest, ok = [200 json EvaluateResponse], errors = [404]),
    route!("POST" "/api/v1/emergency/disable" => emergency::emergency_disable, "emergency", EDITOR, "Kill switch: turn a flag off in an environment (or all). Never held by approvals.", body = json EmergencyRequest, ok = [200 json EmergencyResponse], errors = [404]),
    route!("POST" "/api/v1/emergency/enable" => emergency::emergency_enable, "emergency", EDITOR, "Turn a flag back on where the kill switch turned it off.", body = json EmergencyRequest, ok = [200 json EmergencyResponse, 202 json Held], errors = [404]),
    route!("GET" "/api/v1/audit" => audit::list_audit, "audit", VIEWER, "Audit entries, newest first, filtered.",
        query = AuditQuery, ok = [200 json Page<AuditEntry>]),
    route!("GET" "/api/v1/audit/verify" => audit::verify_audit, "audit", VIEWER, "Recompute the audit log's hash chain.", ok = [200 json AuditVerification]),
    route!("GET" "/api/v1/change-requests" => change_requests::list_change_requests, "change-requests", VIEWER, "Writes held for approval, newest first.",
        query = ChangeRequestsQuery, ok = [200 json Page<WorkItem>]),
    route!("GET" "/api/v1/change-requests/{id}" => change_requests::get_change_request, "change-requests", VIEWER, "One change request, with the diff of each change.", ok = [200 json WorkItem]),
    route!("POST" "/api/v1/change-requests/{id}/approve" => change_requests::approve_change_request, "change-requests", APPROVER, "Approve (never your own); the last approval needed applies it (409 change_request_stale if a flag changed meanwhile).", body = json ReviewRequest, ok = [200 json WorkItem]),
    route!("POST" "/api/v1/change-requests/{id}/reject" => change_requests::reject_change_request, "change-requests", APPROVER, "Reject, with a comment.", body = json ReviewRequest, ok = [200 json WorkItem]),
    route!("POST" "/api/v1/change-requests/{id}/rebase" => change_requests::rebase_change_request, "change-requests", EDITOR, "Re-apply the request's changes onto the flags' latest versions; clears approvals.", body = json ReviewRequest, ok = [200 json WorkItem]),
    route!("POST" "/api/v1/deployments/{id}/rollback" => deployments::rollback_deployment, "deployments", EDITOR, "Undo every flag change of a deployment (X-Deployment-Id), optionally in one environment, in one commit; never held.", body = json DeploymentRollbackRequest, ok = [200 json DeploymentRollback, 202 json Held]),
    route!("POST" "/api/v1/deployments/{id}/hooks" => deployments::run_deployment_hooks, "deployments", EDITOR, "Run a deployment phase's steps (enable_flag, disable_flag, verify_flags) all or nothing, tagged with the deployment id.", body = json DeploymentHooksRequest, ok = [200 json DeploymentHooks, 202 json Held]),
    route!("POST" "/api/v1/schedules" => schedules::create_schedule, "schedules", EDITOR, "Schedule a change of a flag (enable, disable, set_value, percentage, set_environment, patch) for a time.", body = json CreateScheduleRequest, ok = [201 json WorkItem], errors = [404]),
    route!("GET" "/api/v1/schedules" => schedules::list_schedules, "schedules", VIEWER, "Scheduled changes, newest first.",
        query = WorkItemsQuery, ok = [200 json Page<WorkItem>]),
    route!("POST" "/api/v1/schedules/run" => schedules::run_schedules, "schedules", ADMIN, "Apply every due schedule and rollout step now; answers what happened to each.", ok = [200 json RunOutcomes]),
    route!("GET" "/api/v1/schedules/{id}" => schedules::get_schedule, "schedules", VIEWER, "One scheduled change (with its error when it failed).", ok = [200 json WorkItem]),
    route!("DELETE" "/api/v1/schedules/{id}" => schedules::cancel_schedule, "schedules", EDITOR, "Cancel a scheduled change that has not run.", ok = [200 json WorkItem]),
    route!("POST" "/api/v1/rollout-plans" => rollout_plans::create_rollout_plan, "rollout-plans", EDITOR, "A gradual rollout: a rule's percentage in steps ({percentage, at} or percentages every N hours).", body = json CreateRolloutPlanRequest, ok = [201 json WorkItem], errors = [404]),
    route!("GET" "/api/v1/rollout-plans" => rollout_plans::list_rollout_plans, "rollout-plans", VIEWER, "Rollout plans, newest first.",
        query = WorkItemsQuery, ok = [200 json Page<WorkItem>]),
    route!("GET" "/api/v1/rollout-plans/{id}" => rollout_plans::get_rollout_plan, "rollout-plans", VIEWER, "One rollout plan, with the steps applied so far.", ok = [200 json WorkItem]),
    route!("POST" "/api/v1/rollout-plans/{id}/pause" => rollout_plans::pause_rollout_plan, "rollout-plans", EDITOR, "Pause a plan (the kill switch pauses it too).", body = json PauseRequest, ok = [200 json WorkItem]),
    route!("POST" "/api/v1/rollout-plans/{id}/resume" => rollout_plans::resume_rollout_plan, "rollout-plans", EDITOR, "Resume a paused plan.", body = json PauseRequest, ok = [200 json WorkItem]),
    route!("GET" "/api/v1/api-keys" => api_keys::list_api_keys, "api-keys", ADMIN, "All API keys (never their secrets).", ok = [200 json Page<ApiKey>]),
    route!("POST" "/api/v1/api-keys" => api_keys::create_api_key, "api-keys", ADMIN, "Create a key; its secret is answered once, under `key`.", body = json CreateApiKeyRequest, ok = [201 json ApiKey], errors = [404]),
    route!("DELETE" "/api/v1/api-keys/{id}" => api_keys::revoke_api_key, "api-keys", ADMIN, "Revoke a key at once.", ok = [200 json ApiKeyRevoked], errors = [400]),
    route!("GET" "/api/v1/webhooks" => webhooks::list_webhooks, "webhooks", ADMIN, "Outgoing webhook endpoints (never their secrets).", ok = [200 json Page<Webhook>]),
    route!("POST" "/api/v1/webhooks" => webhooks::create_webhook, "webhooks", ADMIN, "Register an endpoint for events (flag.changed, flag.killed, change_request.opened/decided, schedule.applied/failed), optionally per environment, as json or slack; its signing secret is answered once, under `secret`.", body = json CreateWebhookRequest, ok = [201 json Webhook]),
    route!("GET" "/api/v1/webhooks/{id}" => webhooks::get_webhook, "webhooks", ADMIN, "One endpoint.", ok = [200 json Webhook]),
    route!("PATCH" "/api/v1/webhooks/{id}" => webhooks::update_webhook, "webhooks", ADMIN, "Change an endpoint's URL, events, environments, format, description, or pause it (enabled: false).", body = json UpdateWebhookRequest, ok = [200 json Webhook]),
    route!("DELETE" "/api/v1/webhooks/{id}" => webhooks::delete_webhook, "webhooks", ADMIN, "Remove an endpoint and its deliveries.", ok = [200 json WebhookDeleted]),
    route!("GET" "/api/v1/webhooks/{id}/deliveries" => webhooks::list_webhook_deliveries, "webhooks", ADMIN, "An endpoint's newest deliveries: status, attempts, last status code and error, next attempt.", ok = [200 json Page<WebhookDelivery>]),
    route!("POST" "/api/v1/webhooks/{id}/test" => webhooks::test_webhook, "webhooks", ADMIN, "Send a signed `ping` to the endpoint now; answers the delivery after the attempt.", ok = [200 json WebhookDelivery]),
    route!("GET" "/api/v1/export" => transfer::export_configuration, "transfer", VIEWER, "Everything (flags, segments, environments) as JSON or YAML.",
        query = ExportQuery, ok = [200 json_or_yaml ExportDocument]),
    route!("POST" "/api/v1/import" => transfer::import_configuration, "transfer", EDITOR, "Apply an export document in one transaction.",
        query = ImportQuery, body = json_or_yaml ExportDocument, ok = [200 json ImportReport, 202 json Held]),
    route!("POST" "/ofrep/v1/evaluate/flags/{key}" => ofrep::evaluate_flag, "ofrep", Access::AnyKey, "OFREP: evaluate one flag (server-side OpenFeature providers).",
        query = OfrepQuery, body = json OfrepRequest, ok = [200 json OfrepFlag]),
    route!("POST" "/ofrep/v1/evaluate/flags" => ofrep::evaluate_flags, "ofrep", Access::AnyKey, "OFREP: evaluate every flag for one context; ETag / If-None-Match.",
        query = OfrepQuery, body = json OfrepRequest, ok = [200 json OfrepBulkEvaluation, 304]),
    route!("GET" "/api/v1/stream" => stream::stream_flags, "streams", Access::AnyKey, "SSE: the environment's rules (put, then patch/delete per change; Last-Event-ID resumes). Server keys, or admin keys with ?environment=. Payloads: PutEvent, ChangeEvent.",
        query = EnvironmentQuery, ok = [200]),
    route!("GET" "/ofrep/v1/stream" => stream::stream_ofrep, "ofrep", Access::AnyKey, "SSE: OFREP refetchEvaluation notifications on every change (payload: RefetchEvent). A key in a header, or the ?token= credential a bulk answer advertises (for browsers).",
        query = OfrepStreamQuery, ok = [200]),
    route!("GET" "/metrics" => metrics::get_prometheus_metrics, "metrics", Access::Public, "Prometheus metrics (OpenMetrics text); needs the bearer token when --metrics-token is set.", ok = [200], errors = [401]),
    route!("POST" "/api/v1/metrics" => metrics::report_metrics, "metrics", Access::AnyKey, "Report an SDK's local evaluations (counted per flag and outcome) and exposures.", body = json MetricsBatch, ok = [200 json MetricsAccepted], errors = [404]),
    route!("GET" "/api/v1/flags/{flag_id}/metrics" => metrics::get_flag_metrics, "metrics", VIEWER, "A flag's evaluations over time: per bucket and in total, by outcome, reason and environment.",
        query = FlagMetricsQuery, ok = [200 json FlagMetrics], errors = [422]),
    route!("POST" "/api/v1/flags/{flag_id}/environments/{env}/evaluation-log" => metrics::start_evaluation_log, "metrics", EDITOR, "Log the flag's evaluations there for a while (1–60 minutes; context hashed unless clear_context), on every node.", body = json EvaluationLogRequest, ok = [200 json EvaluationLogSwitch]),
    route!("DELETE" "/api/v1/flags/{flag_id}/environments/{env}/evaluation-log" => metrics::stop_evaluation_log, "metrics", EDITOR, "Stop logging (what was logged stays a day).", ok = [200 json EvaluationLogSwitch]),
    route!("GET" "/api/v1/flags/{flag_id}/environments/{env}/evaluation-log" => metrics::get_evaluation_log, "metrics", VIEWER, "The newest logged evaluations: context, value, variant, reason, rule.", ok = [200 json EvaluationLog]),
    route!("POST" "/api/v1/experiments" => experiments::create_experiment, "experiments", EDITOR, "Start an A/B experiment on a flag's weighted split: control, primary and secondary metrics.", body = json CreateExperimentRequest, ok = [201 json Experiment], errors = [404]),
    route!("GET" "/api/v1/experiments" => experiments::list_experiments, "experiments", VIEWER, "Every experiment.", ok = [200 json Page<Experiment>]),
    route!("GET" "/api/v1/experiments/{id}" => experiments::get_experiment, "experiments", VIEWER, "One experiment.", ok = [200 json Experiment]),
    route!("POST" "/api/v1/experiments/{id}/stop" => experiments::stop_experiment, "experiments", EDITOR, "Stop recording exposures; the results stay.", ok = [200 json Experiment]),
    route!("GET" "/api/v1/experiments/{id}/results" => experiments::get_experiment_results, "experiments", VIEWER, "Per metric and variant: rates or means with intervals, lift, p-value, sample ratio check and a verdict.", ok = [200 json ExperimentResults]),
    route!("POST" "/api/v1/track" => experiments::track_events, "experiments", Access::AnyKey, "Track events (one, or a batch of up to 1 000) that experiments are measured by.", body = json TrackRequest, ok = [200 json TrackAccepted]),
    route!("GET" "/api/v1/subjects/{user_id}" => subjects::export_subject, "privacy", ADMIN, "Everything held about a person: exposures, tracked events, and the rules and segments naming their id.", ok = [200 json SubjectExport]),
    route!("DELETE" "/api/v1/subjects/{user_id}" => subjects::erase_subject, "privacy", ADMIN, "Erase a person: exposures and events at once; their id out of rules and segments (approvals apply).", ok = [200 json SubjectErasure]),
    route!("GET" "/api/v1/users" => users::list_users, "users", ADMIN, "All user accounts (never their passwords).", ok = [200 json Page<UserAccount>]),
    route!("POST" "/api/v1/users" => users::create_user, "users", ADMIN, "Create an account for a person (email, display name, role, password).", body = json CreateUserRequest, ok = [201 json UserAccount]),
    route!("PATCH" "/api/v1/users/{id}" => users::update_user, "users", ADMIN, "Change an account's name, role or password, or disable it (ending its sessions).", body = json UpdateUserRequest, ok = [200 json UserAccount]),
    route!("POST" "/api/v1/sessions" => sessions::create_session, "sessions", Access::Public, "Sign in (Content-Type: application/json): sets the session cookie and answers the CSRF token.", body = json SignInRequest, ok = [201 json SessionInfo], errors = [401, 415, 429]),
    route!("GET" "/api/v1/sessions/current" => sessions::get_current_session, "sessions", Access::AnyKey, "The signed-in person and the session's CSRF token (404 for a key).", ok = [200 json SessionInfo], errors = [404]),
    route!("DELETE" "/api/v1/sessions/current" => sessions::delete_current_session, "sessions", Access::AnyKey, "Sign out: ends the session on every node.", ok = [204], errors = [404]),
    route!("GET" "/api/v1/openapi.json" => document::openapi_document, "meta", Access::Public, "This document.", ok = [200 json serde_json::Map<String, serde_json::Value>]),
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
pub fn openapi_json() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| openapi::build(ROUTES))
}

/// Routes whose answers grow with the configuration (every flag evaluated,
/// listed or exported; the audit log; the OpenAPI document; Prometheus'
/// text). They are gzipped, at the fastest level, for a client that asks
/// (`Accept-Encoding: gzip`) when the answer is over [`COMPRESS_ABOVE`]:
/// JSON of many flags shrinks about tenfold. The other routes answer a few
/// hundred bytes, and the evaluation hot paths are measured without it.
const COMPRESSED: &[&str] = &[
    "/api/v1/flags",
    "/api/v1/segments",
    "/api/v1/audit",
    "/api/v1/export",
    "/ofrep/v1/evaluate/flags",
    "/api/v1/openapi.json",
    "/metrics",
];

/// Answers smaller than this are sent as they are: below a few packets,
/// compressing costs more time than it saves.
pub const COMPRESS_ABOVE: u64 = 4 * 1024;

/// The router of every route in [`ROUTES`].
pub fn router() -> Router<AppState> {
    ROUTES.iter().fold(Router::new(), |router, route| {
        let handler = (route.handler)();
        if COMPRESSED.contains(&route.path) {
            router.route(route.path, handler.layer(compression()))
        } else {
            router.route(route.path, handler)
        }
    })
}

fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .gzip(true)
        .quality(CompressionLevel::Fastest)
        .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE)))
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
            assert!(
                parameters >= openapi::path_parameters(route.path).count(),
                "{} {}",
                route.method,
                route.path
            );
        }
        let unique: std::collections::BTreeSet<&str> =
            ROUTES.iter().map(|r| r.operation_id).collect();
        assert_eq!(unique.len(), ROUTES.len(), "operation ids must be unique");
    }

    /// The schema a route documents for its body or an answer, and every
    /// definition it refers to, are its type's, as `schemars` derives them
    /// from `ff_api_types` now: a type changed without the document (or the
    /// document's post-processing) would fail here.
    fn assert_documents(
        document: &serde_json::Value,
        documented: &serde_json::Value,
        schema: SchemaFn,
        what: &str,
    ) {
        let mut generator = openapi::generator();
        let expected = schema(&mut generator).to_value();
        assert_eq!(documented["application/json"]["schema"], expected, "{what}");
        for (name, definition) in generator.take_definitions(true) {
            assert_eq!(
                document["components"]["schemas"][&name], definition,
                "{what}: the definition of {name}"
            );
        }
    }

    #[test]
    fn the_document_is_the_types() {
        let document = openapi::build(ROUTES);
        for route in ROUTES {
            let what = format!("{} {}", route.method, route.path);
            let op = &document["paths"][route.path][route.method.to_lowercase()];
            if let Body::Some(_, schema) = route.body {
                assert_documents(&document, &op["requestBody"]["content"], schema, &what);
            }
            for answer in route.answers {
                let documented = &op["responses"][answer.status.to_string()];
                match answer.body {
                    Some((_, schema)) => {
                        assert_documents(&document, &documented["content"], schema, &what)
                    }
                    None => assert!(documented["content"].is_null(), "{what}"),
                }
            }
            // Every error status is documented with its envelope: OFREP's
            // own for what its evaluation routes answer themselves.
            for status in openapi::error_statuses(route) {
                let schema = &op["responses"][status.to_string()]["content"]["application/json"]["schema"]
                    ["$ref"];
                let ofrep = route.path.starts_with("/ofrep/v1/evaluate")
                    && [400, 403, 404].contains(&status);
                let expected = if ofrep { "OfrepError" } else { "Error" };
                assert_eq!(
                    schema,
                    &format!("#/components/schemas/{expected}"),
                    "{what} {status}"
                );
            }
        }
    }

    /// Two types with one schema name would be numbered apart (`Flag2`):
    /// names are part of the contract clients generate code from.
    #[test]
    fn schema_names_are_the_types_names() {
        let document = openapi::build(ROUTES);
        let schemas = document["components"]["schemas"]
            .as_object()
            .map(|s| s.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        for name in schemas {
            assert!(
                !name.ends_with(|c: char| c.is_ascii_digit()),
                "two types share the schema name of {name}"
            );
        }
    }

    /// The schemas documented are valid JSON Schema in the ways a client
    /// generator relies on: every `$ref` resolves.
    #[test]
    fn every_reference_resolves() {
        fn walk(document: &serde_json::Value, value: &serde_json::Value) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(reference)) = map.get("$ref") {
                        let name = reference.trim_start_matches("#/components/schemas/");
                        assert!(
                            document["components"]["schemas"].get(name).is_some(),
                            "{reference}"
                        );
                    }
                    map.values().for_each(|v| walk(document, v));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(document, v)),
                _ => {}
            }
        }
        let document = openapi::build(ROUTES);
        walk(&document, &document);
    }
}
