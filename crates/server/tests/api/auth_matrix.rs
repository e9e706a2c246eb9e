//! The authorisation matrix: every route × every kind of caller.
//!
//! Callers: no key, an unknown key, a revoked key (all 401); admin keys with
//! each role; a server and a client key of `production`. Viewers read;
//! editors (and approvers) also write flags, segments, the kill switch, bulk
//! changes and imports; admins also manage keys, environments and webhooks
//! (webhooks are admin-only even to read); server and
//! client keys may only evaluate, in their own environment (server keys may
//! also stream its rules).
//!
//! Every route of the service's route table (`ff_server::ROUTES`)
//! must have a row here, and agree with the access the table documents.

use std::collections::{BTreeSet, HashMap};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Reply, TestApp, assert_envelope};

api_tests!(every_route_for_every_caller, every_route_for_scoped_callers);

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, with or without a key.
    Public,
    /// Any valid key (evaluation in the key's own environment).
    AnyKey,
    /// Admin keys of any role (evaluation in another environment than the
    /// server and client keys').
    AdminKeys,
    /// Admin keys with at least this role (0 viewer … 3 admin).
    Role(u8),
    /// Admin keys (viewer and up) and server keys: an environment's rules.
    Rules,
}

const VIEWER: Access = Access::Role(0);
const EDITOR: Access = Access::Role(1);
const APPROVER: Access = Access::Role(2);
const ADMIN: Access = Access::Role(3);

/// A kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No key, an unknown key or a revoked key.
    Rejected,
    /// An admin key with a role level.
    Admin(u8),
    /// A server key of production.
    Server,
    /// A client key of production.
    Client,
}

struct Caller {
    /// Unique, used to name what the caller creates and deletes.
    name: &'static str,
    secret: Option<String>,
    kind: Kind,
}

/// What the routes need: the ids of keys each caller may revoke.
struct Context {
    revocable: HashMap<&'static str, String>,
    /// Pending change requests by (what the caller does to it, caller).
    change_requests: HashMap<(&'static str, &'static str), String>,
    /// A webhook endpoint every caller reads, changes and pings.
    webhook: String,
    /// Webhook endpoints each caller may delete.
    webhooks: HashMap<&'static str, String>,
}

impl Context {
    fn change_request(&self, purpose: &'static str, who: &str) -> &str {
        self.change_requests
            .iter()
            .find(|((p, w), _)| *p == purpose && *w == who)
            .map(|(_, id)| id.as_str())
            .unwrap_or("cr_missing")
    }
}

type Build = fn(&Context, &str) -> (Method, String, Option<Value>);

struct Route {
    access: Access,
    build: Build,
}

fn matrix_flag(description: &str) -> Value {
    json!({
        "flag_id": "matrix_flag",
        "description": description,
        "default_value": false,
        "environments": {"development": true, "production": true}
    })
}

fn routes() -> Vec<Route> {
    let route = |access: Access, build: Build| Route { access, build };
    vec![
        route(Access::Public, |_, _| {
            (Method::GET, "/health/live".into(), None)
        }),
        route(Access::Public, |_, _| {
            (Method::GET, "/health/ready".into(), None)
        }),
        // Flags.
        route(VIEWER, |_, _| (Method::GET, "/api/v1/flags".into(), None)),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/flags?deleted=true".into(), None)
        }),
        route(EDITOR, |_, who| {
            let mut doc = matrix_flag(who);
            doc["flag_id"] = json!(format!("created_by_{who}"));
            (Method::POST, "/api/v1/flags".into(), Some(doc))
        }),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/flags/matrix_flag".into(), None)
        }),
        route(EDITOR, |_, who| {
            (
                Method::PUT,
                "/api/v1/flags/matrix_flag".into(),
                Some(matrix_flag(who)),
            )
        }),
        route(EDITOR, |_, who| {
            (
                Method::PATCH,
                "/api/v1/flags/matrix_flag".into(),
                Some(json!({"owner": who})),
            )
        }),
        route(EDITOR, |_, who| {
            (Method::DELETE, format!("/api/v1/flags/delete_{who}"), None)
        }),
        route(EDITOR, |_, who| {
            (
                Method::POST,
                format!("/api/v1/flags/restore_{who}/restore"),
                None,
            )
        }),
        route(VIEWER, |_, _| {
            (
                Method::GET,
                "/api/v1/flags/matrix_flag/environments/staging".into(),
                None,
            )
        }),
        route(EDITOR, |_, _| {
            (
                Method::PUT,
                "/api/v1/flags/matrix_flag/environments/staging".into(),
                Some(json!(true)),
            )
        }),
        route(EDITOR, |_, _| {
            (
                Method::DELETE,
                "/api/v1/flags/matrix_flag/environments/staging".into(),
                None,
            )
        }),
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/flags/matrix_flag/environments/staging/actions".into(),
                Some(json!({"action": "disable"})),
            )
        }),
        route(VIEWER, |_, _| {
            (
                Method::GET,
                "/api/v1/flags/matrix_flag/versions".into(),
                None,
            )
        }),
        route(VIEWER, |_, _| {
            (
                Method::GET,
                "/api/v1/flags/matrix_flag/versions/1".into(),
                None,
            )
        }),
        route(VIEWER, |_, _| {
            (
                Method::GET,
                "/api/v1/flags/matrix_flag/diff?from=1".into(),
                None,
            )
        }),
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/flags/matrix_flag/rollback".into(),
                Some(json!({"to_version": 1})),
            )
        }),
        route(EDITOR, |_, who| {
            (
                Method::POST,
                "/api/v1/flags/bulk".into(),
                Some(json!({"operations": [
                    {"op": "patch", "flag_id": "matrix_flag", "patch": {"description": who}}
                ]})),
            )
        }),
        // Environments.
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/environments".into(), None)
        }),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/environments/production".into(), None)
        }),
        route(ADMIN, |_, who| {
            (
                Method::POST,
                "/api/v1/environments".into(),
                Some(json!({"key": format!("env_{who}"), "parent": "development"})),
            )
        }),
        route(ADMIN, |_, who| {
            (
                Method::PUT,
                "/api/v1/environments/matrix_env".into(),
                Some(json!({"parent": "development", "description": who})),
            )
        }),
        route(ADMIN, |_, who| {
            (
                Method::DELETE,
                format!("/api/v1/environments/delete_{who}"),
                None,
            )
        }),
        // Segments.
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/segments".into(), None)
        }),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/segments/matrix_segment".into(), None)
        }),
        route(EDITOR, |_, who| {
            (
                Method::POST,
                "/api/v1/segments".into(),
                Some(json!({"segment_id": format!("segment_{who}"), "conditions": []})),
            )
        }),
        route(EDITOR, |_, who| {
            (
                Method::PUT,
                "/api/v1/segments/matrix_segment".into(),
                Some(json!({"description": who, "conditions": []})),
            )
        }),
        route(EDITOR, |_, who| {
            (
                Method::DELETE,
                format!("/api/v1/segments/delete_{who}"),
                None,
            )
        }),
        // Evaluation: in the SDK keys' environment, and in another.
        route(Access::AnyKey, |_, _| {
            (
                Method::POST,
                "/api/v1/evaluate".into(),
                Some(
                    json!({"flag_id": "matrix_flag", "environment": "production", "context": {"user_id": "u"}}),
                ),
            )
        }),
        route(Access::AnyKey, |_, _| {
            (
                Method::POST,
                "/api/v1/evaluate".into(),
                Some(json!({"environment": "production"})),
            )
        }),
        route(Access::AdminKeys, |_, _| {
            (
                Method::POST,
                "/api/v1/evaluate".into(),
                Some(json!({"flag_id": "matrix_flag", "environment": "staging"})),
            )
        }),
        // Kill switch.
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/emergency/disable".into(),
                Some(json!({"flag_id": "matrix_flag", "environment": "production"})),
            )
        }),
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/emergency/enable".into(),
                Some(json!({"flag_id": "matrix_flag", "environment": "production"})),
            )
        }),
        // Change requests (made by the admin token's key, so that every
        // other caller may approve).
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/change-requests".into(), None)
        }),
        route(VIEWER, |context, who| {
            let id = context.change_request("approve", who);
            (Method::GET, format!("/api/v1/change-requests/{id}"), None)
        }),
        route(APPROVER, |context, who| {
            let id = context.change_request("approve", who);
            (
                Method::POST,
                format!("/api/v1/change-requests/{id}/approve"),
                Some(json!({"comment": "looks right"})),
            )
        }),
        route(APPROVER, |context, who| {
            let id = context.change_request("reject", who);
            (
                Method::POST,
                format!("/api/v1/change-requests/{id}/reject"),
                Some(json!({})),
            )
        }),
        route(EDITOR, |context, who| {
            let id = context.change_request("rebase", who);
            (
                Method::POST,
                format!("/api/v1/change-requests/{id}/rebase"),
                None,
            )
        }),
        // Dependencies, cleanup, environment diff.
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/overview".into(), None)
        }),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/flags/stale".into(), None)
        }),
        route(VIEWER, |_, _| {
            (
                Method::GET,
                "/api/v1/flags/matrix_flag/dependents".into(),
                None,
            )
        }),
        route(VIEWER, |_, _| {
            (
                Method::POST,
                "/api/v1/dependencies/check?environment=production".into(),
                Some(
                    json!({"dependencies": [{"flag": "matrix_flag", "depends_on": [{"flag": "matrix_rollout"}]}]}),
                ),
            )
        }),
        route(VIEWER, |_, _| {
            (
                Method::GET,
                "/api/v1/environments/diff?from=development&to=production".into(),
                None,
            )
        }),
        // Deployments and promotion.
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/deployments/matrix-deploy/rollback".into(),
                Some(json!({"environment": "development"})),
            )
        }),
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/deployments/matrix-deploy/hooks".into(),
                Some(json!({"environment": "development", "phase": "pre_deploy",
                            "deployment": {"pre_deploy": [{"enable_flag": "matrix_rollout"}]}})),
            )
        }),
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/environments/matrix_env/promote".into(),
                Some(json!({"all": true})),
            )
        }),
        // Schedules and rollout plans (made for each caller beforehand).
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/schedules".into(),
                Some(
                    json!({"flag_id": "matrix_flag", "environment": "development",
                            "at": "2099-01-01T00:00:00Z", "action": {"type": "disable"}}),
                ),
            )
        }),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/schedules".into(), None)
        }),
        route(ADMIN, |_, _| {
            (Method::POST, "/api/v1/schedules/run".into(), None)
        }),
        route(VIEWER, |context, who| {
            let id = context.change_request("schedule", who);
            (Method::GET, format!("/api/v1/schedules/{id}"), None)
        }),
        route(EDITOR, |context, who| {
            let id = context.change_request("schedule", who);
            (Method::DELETE, format!("/api/v1/schedules/{id}"), None)
        }),
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/rollout-plans".into(),
                Some(
                    json!({"flag_id": "matrix_rollout", "environment": "development",
                            "steps": [{"percentage": 10, "at": "2099-01-01T00:00:00Z"}]}),
                ),
            )
        }),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/rollout-plans".into(), None)
        }),
        route(VIEWER, |context, who| {
            let id = context.change_request("pause", who);
            (Method::GET, format!("/api/v1/rollout-plans/{id}"), None)
        }),
        route(EDITOR, |context, who| {
            let id = context.change_request("pause", who);
            (
                Method::POST,
                format!("/api/v1/rollout-plans/{id}/pause"),
                None,
            )
        }),
        route(EDITOR, |context, who| {
            let id = context.change_request("resume", who);
            (
                Method::POST,
                format!("/api/v1/rollout-plans/{id}/resume"),
                None,
            )
        }),
        // Audit.
        route(VIEWER, |_, _| (Method::GET, "/api/v1/audit".into(), None)),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/audit/verify".into(), None)
        }),
        // API keys.
        route(ADMIN, |_, _| (Method::GET, "/api/v1/api-keys".into(), None)),
        route(ADMIN, |_, who| {
            (
                Method::POST,
                "/api/v1/api-keys".into(),
                Some(json!({"name": format!("made by {who}"), "kind": "admin", "role": "viewer"})),
            )
        }),
        route(ADMIN, |context, who| {
            let id = context.revocable.get(who).cloned().unwrap_or_default();
            (Method::DELETE, format!("/api/v1/api-keys/{id}"), None)
        }),
        // Webhooks: admins only, reads included (a URL may be a credential).
        route(ADMIN, |_, _| (Method::GET, "/api/v1/webhooks".into(), None)),
        route(ADMIN, |_, who| {
            (
                Method::POST,
                "/api/v1/webhooks".into(),
                Some(
                    json!({"url": format!("http://127.0.0.1:9/{who}"), "events": ["schedule.failed"]}),
                ),
            )
        }),
        route(ADMIN, |context, _| {
            (
                Method::GET,
                format!("/api/v1/webhooks/{}", context.webhook),
                None,
            )
        }),
        route(ADMIN, |context, who| {
            (
                Method::PATCH,
                format!("/api/v1/webhooks/{}", context.webhook),
                Some(json!({"description": format!("changed by {who}")})),
            )
        }),
        route(ADMIN, |context, who| {
            let id = context.webhooks.get(who).cloned().unwrap_or_default();
            (Method::DELETE, format!("/api/v1/webhooks/{id}"), None)
        }),
        route(ADMIN, |context, _| {
            (
                Method::GET,
                format!("/api/v1/webhooks/{}/deliveries", context.webhook),
                None,
            )
        }),
        route(ADMIN, |context, _| {
            (
                Method::POST,
                format!("/api/v1/webhooks/{}/test", context.webhook),
                None,
            )
        }),
        // Experiments and tracked events.
        route(EDITOR, |_, who| {
            (
                Method::POST,
                "/api/v1/experiments".into(),
                Some(
                    json!({"id": format!("exp_{who}"), "flag_id": "matrix_split", "environment": "production",
                            "control": "a", "primary_metric": {"event": "done", "kind": "conversion"}}),
                ),
            )
        }),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/experiments".into(), None)
        }),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/experiments/matrix_exp".into(), None)
        }),
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/experiments/matrix_exp/stop".into(),
                None,
            )
        }),
        route(VIEWER, |_, _| {
            (
                Method::GET,
                "/api/v1/experiments/matrix_exp/results".into(),
                None,
            )
        }),
        route(Access::AnyKey, |_, _| {
            (
                Method::POST,
                "/api/v1/track".into(),
                Some(json!({"event": "done", "user_id": "u1"})),
            )
        }),
        // Evaluation logs.
        route(EDITOR, |_, _| {
            (
                Method::POST,
                "/api/v1/flags/matrix_flag/environments/production/evaluation-log".into(),
                Some(json!({"minutes": 1})),
            )
        }),
        route(EDITOR, |_, _| {
            (
                Method::DELETE,
                "/api/v1/flags/matrix_flag/environments/production/evaluation-log".into(),
                None,
            )
        }),
        route(VIEWER, |_, _| {
            (
                Method::GET,
                "/api/v1/flags/matrix_flag/environments/production/evaluation-log".into(),
                None,
            )
        }),
        // Privacy requests.
        route(ADMIN, |_, _| {
            (Method::GET, "/api/v1/subjects/nobody".into(), None)
        }),
        route(ADMIN, |_, _| {
            (Method::DELETE, "/api/v1/subjects/nobody".into(), None)
        }),
        // Evaluation metrics and Prometheus.
        route(Access::Public, |_, _| {
            (Method::GET, "/metrics".into(), None)
        }),
        route(Access::AnyKey, |_, _| {
            (
                Method::POST,
                "/api/v1/metrics".into(),
                Some(json!({"environment": "production", "evaluations": []})),
            )
        }),
        route(VIEWER, |_, _| {
            (
                Method::GET,
                "/api/v1/flags/matrix_flag/metrics".into(),
                None,
            )
        }),
        // People's accounts.
        route(ADMIN, |_, _| (Method::GET, "/api/v1/users".into(), None)),
        route(ADMIN, |_, who| {
            (
                Method::POST,
                "/api/v1/users".into(),
                Some(
                    json!({"email": format!("{who}@example.com"), "display_name": who,
                            "role": "viewer", "password": "correct horse battery"}),
                ),
            )
        }),
        route(ADMIN, |_, who| {
            (
                Method::PATCH,
                "/api/v1/users/user:matrix@example.com".into(),
                Some(json!({"display_name": format!("renamed by {who}")})),
            )
        }),
        // Import and export.
        route(VIEWER, |_, _| (Method::GET, "/api/v1/export".into(), None)),
        route(VIEWER, |_, _| {
            (Method::GET, "/api/v1/export?format=yaml".into(), None)
        }),
        route(EDITOR, |_, who| {
            let mut doc = matrix_flag(who);
            doc["flag_id"] = json!(format!("imported_by_{who}"));
            (
                Method::POST,
                "/api/v1/import".into(),
                Some(json!({"flags": [doc]})),
            )
        }),
        route(ADMIN, |_, who| {
            (
                Method::POST,
                "/api/v1/import".into(),
                Some(
                    json!({"environments": [{"key": format!("imported_{who}"), "parent": "staging"}]}),
                ),
            )
        }),
        // OFREP and the streams, in production (`?environment=` is what
        // admin keys need; it names the SDK keys' own environment).
        route(Access::AnyKey, |_, _| {
            (
                Method::POST,
                "/ofrep/v1/evaluate/flags/matrix_flag?environment=production".into(),
                Some(json!({"context": {"targetingKey": "u"}})),
            )
        }),
        route(Access::AnyKey, |_, _| {
            (
                Method::POST,
                "/ofrep/v1/evaluate/flags?environment=production".into(),
                Some(json!({"context": {"targetingKey": "u"}})),
            )
        }),
        route(Access::Rules, |_, _| {
            (
                Method::GET,
                "/api/v1/stream?environment=production".into(),
                None,
            )
        }),
        route(Access::AnyKey, |_, _| {
            (
                Method::GET,
                "/ofrep/v1/stream?environment=production".into(),
                None,
            )
        }),
        route(Access::Public, |_, _| {
            (Method::GET, "/api/v1/openapi.json".into(), None)
        }),
    ]
}

/// The route table's entry that serves `method path`: the one whose
/// template matches with the most literal segments.
fn served_by(method: &Method, path: &str) -> Option<&'static ff_server::Route> {
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    ff_server::ROUTES
        .iter()
        .filter(|route| route.method == method.as_str())
        .filter_map(|route| {
            let template: Vec<&str> = route.path.split('/').collect();
            let matches = template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s);
            matches.then(|| {
                (
                    template.iter().filter(|t| !t.starts_with('{')).count(),
                    route,
                )
            })
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, route)| route)
}

/// Whether the route table documents the access this test expects.
fn documented(expected: Access, table: ff_server::Access) -> bool {
    use ff_server::Access as Table;
    match (expected, table) {
        (Access::Public, Table::Public) => true,
        (Access::AnyKey | Access::AdminKeys | Access::Rules, Table::AnyKey) => true,
        (Access::Role(level), Table::Role(role)) => {
            let documented = match role {
                ff_store::Role::Viewer => 0,
                ff_store::Role::Editor => 1,
                ff_store::Role::Approver => 2,
                ff_store::Role::Admin => 3,
            };
            // The table names the least role; a body may need more (an
            // import with environments needs the admin role).
            level >= documented
        }
        _ => false,
    }
}

/// The statuses a caller may get from a route.
fn allowed(access: Access, kind: Kind) -> bool {
    match (access, kind) {
        (Access::Public, _) => true,
        (_, Kind::Rejected) => false,
        (Access::AnyKey, _) => true,
        (Access::AdminKeys, Kind::Admin(_)) => true,
        (Access::Role(needed), Kind::Admin(level)) => level >= needed,
        (Access::Rules, Kind::Admin(_) | Kind::Server) => true,
        (Access::AdminKeys | Access::Role(_), Kind::Server | Kind::Client)
        | (Access::Rules, Kind::Client) => false,
    }
}

/// Creates what the routes act on, for every caller.
async fn prepare(app: &TestApp, callers: &[&'static str]) -> Context {
    app.create_flag(&matrix_flag("start")).await;
    app.post(
        "/api/v1/users",
        ADMIN_TOKEN,
        &json!({"email": "matrix@example.com", "display_name": "Matrix", "role": "viewer",
                "password": "correct horse battery"}),
    )
    .await
    .expect_status(201);
    app.create_flag(&json!({
        "flag_id": "matrix_split", "type": "string", "default_value": "a",
        "variants": {"a": "a", "b": "b"},
        "targeting_rules": [{"conditions": [], "variants": [{"variant": "a", "weight": 50}, {"variant": "b", "weight": 50}]}],
        "environments": {"production": "a"}
    }))
    .await;
    app.post(
        "/api/v1/experiments",
        ADMIN_TOKEN,
        &json!({"id": "matrix_exp", "flag_id": "matrix_split", "environment": "production",
                "control": "a", "primary_metric": {"event": "done", "kind": "conversion"}}),
    )
    .await
    .expect_status(201);
    app.post(
        "/api/v1/segments",
        ADMIN_TOKEN,
        &json!({"segment_id": "matrix_segment", "conditions": []}),
    )
    .await
    .expect_status(201);
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "matrix_env", "parent": "development"}),
    )
    .await
    .expect_status(201);
    let mut revocable = HashMap::new();
    for who in callers {
        app.create_flag(&json!({"flag_id": format!("delete_{who}"), "default_value": 1}))
            .await;
        app.create_flag(&json!({"flag_id": format!("restore_{who}"), "default_value": 1}))
            .await;
        app.delete(&format!("/api/v1/flags/restore_{who}"), ADMIN_TOKEN)
            .await
            .expect_status(200);
        app.post(
            "/api/v1/environments",
            ADMIN_TOKEN,
            &json!({"key": format!("delete_{who}"), "parent": "production"}),
        )
        .await
        .expect_status(201);
        app.post(
            "/api/v1/segments",
            ADMIN_TOKEN,
            &json!({"segment_id": format!("delete_{who}"), "conditions": []}),
        )
        .await
        .expect_status(201);
        let (id, _) = app
            .create_key(
                json!({"name": format!("revocable by {who}"), "kind": "admin", "role": "viewer"}),
            )
            .await;
        revocable.insert(*who, id);
    }
    // Created last: deleting a flag that exists in an approval environment
    // would be held too.
    app.post(
        "/api/v1/environments",
        ADMIN_TOKEN,
        &json!({"key": "matrix_approval", "parent": "development", "approval_required": true}),
    )
    .await
    .expect_status(201);
    let mut change_requests = HashMap::new();
    for who in callers {
        for purpose in ["approve", "reject", "rebase"] {
            let flag_id = format!("cr_{purpose}_{who}");
            app.create_flag(&json!({"flag_id": flag_id, "default_value": false}))
                .await;
            let reply = app
                .put(
                    &format!("/api/v1/flags/{flag_id}/environments/matrix_approval"),
                    ADMIN_TOKEN,
                    &json!(true),
                )
                .await
                .expect_status(202);
            let id = reply.body["change_request"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            change_requests.insert((purpose, *who), id);
        }
    }
    app.create_flag(&json!({
        "flag_id": "matrix_rollout",
        "default_value": false,
        "targeting_rules": [{"name": "all", "conditions": [], "value": true, "percentage": 0}]
    }))
    .await;
    app.send(
        app.request(
            Method::PUT,
            "/api/v1/flags/matrix_rollout/environments/development",
            Some(ADMIN_TOKEN),
        )
        .header("X-Deployment-Id", "matrix-deploy")
        .json(&json!(true)),
    )
    .await
    .expect_status(200);
    for who in callers {
        let schedule = app
            .post(
                "/api/v1/schedules",
                ADMIN_TOKEN,
                &json!({"flag_id": "matrix_flag", "environment": "development",
                        "at": "2099-01-01T00:00:00Z", "action": {"type": "disable"}}),
            )
            .await
            .expect_status(201);
        change_requests.insert(
            ("schedule", *who),
            schedule.body["id"].as_str().unwrap().to_owned(),
        );
        for purpose in ["pause", "resume"] {
            let plan = app
                .post(
                    "/api/v1/rollout-plans",
                    ADMIN_TOKEN,
                    &json!({"flag_id": "matrix_rollout", "environment": "development",
                            "steps": [{"percentage": 10, "at": "2099-01-01T00:00:00Z"}]}),
                )
                .await
                .expect_status(201);
            let id = plan.body["id"].as_str().unwrap().to_owned();
            if purpose == "resume" {
                app.post(
                    &format!("/api/v1/rollout-plans/{id}/pause"),
                    ADMIN_TOKEN,
                    &json!({}),
                )
                .await
                .expect_status(200);
            }
            change_requests.insert((purpose, *who), id);
        }
    }
    // Port 9 (discard): nothing listens, so pings fail at once.
    let webhook = |who: &str| json!({"url": format!("http://127.0.0.1:9/{who}"), "events": ["schedule.failed"]});
    let created = app
        .post("/api/v1/webhooks", ADMIN_TOKEN, &webhook("matrix"))
        .await
        .expect_status(201);
    let matrix_webhook = created.body["id"].as_str().unwrap().to_owned();
    let mut webhooks = HashMap::new();
    for who in callers {
        let created = app
            .post("/api/v1/webhooks", ADMIN_TOKEN, &webhook(who))
            .await
            .expect_status(201);
        webhooks.insert(*who, created.body["id"].as_str().unwrap().to_owned());
    }
    Context {
        revocable,
        change_requests,
        webhook: matrix_webhook,
        webhooks,
    }
}

async fn callers(app: &TestApp) -> Vec<Caller> {
    let key = |body: Value| async move { Some(app.create_key(body).await.1) };
    let (revoked_id, revoked) = app
        .create_key(json!({"name": "revoked", "kind": "admin", "role": "admin"}))
        .await;
    app.delete(&format!("/api/v1/api-keys/{revoked_id}"), ADMIN_TOKEN)
        .await
        .expect_status(200);
    let admin = |name: &'static str, role: &str, level: u8| {
        let body = json!({"name": name, "kind": "admin", "role": role});
        async move {
            Caller {
                name,
                secret: key(body).await,
                kind: Kind::Admin(level),
            }
        }
    };
    vec![
        Caller {
            name: "no_key",
            secret: None,
            kind: Kind::Rejected,
        },
        Caller {
            name: "unknown_key",
            secret: Some("ff_admin_NotAKeyThatExists0123456789abcdef".into()),
            kind: Kind::Rejected,
        },
        Caller {
            name: "revoked_key",
            secret: Some(revoked),
            kind: Kind::Rejected,
        },
        admin("viewer", "viewer", 0).await,
        admin("editor", "editor", 1).await,
        admin("approver", "approver", 2).await,
        admin("admin", "admin", 3).await,
        Caller {
            name: "server",
            secret: key(json!({"name": "server", "kind": "server", "environment": "production"}))
                .await,
            kind: Kind::Server,
        },
        Caller {
            name: "client",
            secret: key(json!({"name": "client", "kind": "client", "environment": "production"}))
                .await,
            kind: Kind::Client,
        },
    ]
}

/// The answer's status (and its body, unless it succeeded: a stream's body
/// never ends).
async fn status_of(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("the server answers");
    if response.status().is_success() {
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: Value::Null,
        }
    } else {
        Reply::read(response).await
    }
}

/// Why `reply` is not what `access` × `kind` should answer, if it is not.
fn mismatch(reply: &Reply, access: Access, kind: Kind) -> Option<String> {
    let expected = if allowed(access, kind) {
        "2xx"
    } else if kind == Kind::Rejected {
        "401"
    } else {
        "403"
    };
    let fine = match expected {
        "2xx" => (200..300).contains(&reply.status),
        "401" => reply.status == 401 && reply.body["error"]["code"] == "unauthorized",
        _ => reply.status == 403 && reply.body["error"]["code"] == "forbidden",
    };
    if !fine {
        return Some(format!("expected {expected}, got {reply}"));
    }
    if expected != "2xx" {
        assert_envelope(&reply.body, &reply.to_string());
    }
    None
}

/// Signing in and out is about sessions, not keys: a key has no session to
/// show or end. `people.rs` tests these routes with and without one.
const SESSION_ROUTES: [&str; 2] = ["/api/v1/sessions", "/api/v1/sessions/current"];

async fn every_route_for_every_caller(app: TestApp) {
    let callers = callers(&app).await;
    let names: Vec<&'static str> = callers.iter().map(|c| c.name).collect();
    let context = prepare(&app, &names).await;
    let routes = routes();
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    let mut checked = 0;
    for route in &routes {
        for caller in &callers {
            let (method, path, body) = (route.build)(&context, caller.name);
            match served_by(&method, &path) {
                Some(table) if documented(route.access, table.access) => {
                    covered.insert((table.method, table.path));
                }
                Some(table) => failures.push(format!(
                    "{method} {path}: the route table documents {:?}, this test expects {:?}",
                    table.access, route.access
                )),
                None => failures.push(format!("{method} {path}: not in the route table")),
            }
            let mut request = app.request(method.clone(), &path, caller.secret.as_deref());
            if let Some(body) = &body {
                request = request.json(body);
            }
            let reply = status_of(request).await;
            if let Some(why) = mismatch(&reply, route.access, caller.kind) {
                failures.push(format!("{method} {path} as {}: {why}", caller.name));
            }
            checked += 1;
        }
    }
    for route in ff_server::ROUTES {
        if !covered.contains(&(route.method, route.path)) && !SESSION_ROUTES.contains(&route.path) {
            failures.push(format!(
                "{} {} has no row in this matrix: add one to routes()",
                route.method, route.path
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} combinations wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, routes.len() * callers.len());
    // Refused writes wrote nothing: only the allowed callers' resources exist.
    for caller in &callers {
        let created = app
            .get(
                &format!("/api/v1/flags/created_by_{}", caller.name),
                ADMIN_TOKEN,
            )
            .await;
        let may_write = allowed(EDITOR, caller.kind);
        assert_eq!(
            created.status == 200,
            may_write,
            "{}: {created}",
            caller.name
        );
        let environment = app
            .get(
                &format!("/api/v1/environments/env_{}", caller.name),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(
            environment.status == 200,
            allowed(ADMIN, caller.kind),
            "{}",
            caller.name
        );
    }
    let verify = app.get("/api/v1/audit/verify", ADMIN_TOKEN).await;
    assert_eq!(verify.body["valid"], true);
}

// ---------------------------------------------------------------------------
// Roles scoped to environments (issue 17).

/// A caller whose roles are scoped to environments.
struct ScopedCaller {
    name: &'static str,
    secret: String,
    level: u8,
    /// In scope everywhere (every environment there is, at `level`), or
    /// only in `matrix_env`, which the routes' writes do not touch.
    everywhere: bool,
}

/// Administering keys, people, webhooks, subjects, the environment set, the
/// scheduler and imports of environments needs an unscoped admin; an
/// environment's own settings need the admin role there.
fn global_admin(access: Access, method: &Method, path: &str) -> bool {
    let own_environment = path.starts_with("/api/v1/environments/")
        && (*method == Method::PUT || *method == Method::DELETE);
    access == ADMIN && !own_environment
}

/// Every route × scoped callers. In scope everywhere, a scoped caller gets
/// what an unscoped one of its role gets, except what needs an unscoped
/// admin (403 `forbidden`). Scoped to an environment no route writes, it
/// reads everything, and every write, approval, evaluation or stream that
/// touches another environment is a 403 `out_of_scope` naming it, with
/// nothing written.
async fn every_route_for_scoped_callers(app: TestApp) {
    // Out of scope first, so that each route meets them before an
    // allowed caller has made its write a no-op (which touches nothing).
    const NAMES: [(&str, u8, bool); 6] = [
        ("elsewhere_editor", 1, false),
        ("elsewhere_approver", 2, false),
        ("scoped_viewer", 0, true),
        ("scoped_editor", 1, true),
        ("scoped_approver", 2, true),
        ("scoped_admin", 3, true),
    ];
    let names: Vec<&'static str> = NAMES.iter().map(|(n, _, _)| *n).collect();
    let context = prepare(&app, &names).await;
    let environments: Vec<String> = app
        .get("/api/v1/environments", ADMIN_TOKEN)
        .await
        .expect_status(200)
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    let role_names = ["viewer", "editor", "approver", "admin"];
    let mut callers = Vec::new();
    for (name, level, everywhere) in NAMES {
        let role = role_names[usize::from(level)];
        let roles: serde_json::Map<String, Value> = if everywhere {
            environments
                .iter()
                .map(|e| (e.clone(), json!(role)))
                .collect()
        } else {
            [("matrix_env".to_owned(), json!(role))]
                .into_iter()
                .collect()
        };
        let (_, secret) = app
            .create_key(json!({"name": name, "kind": "admin", "environment_roles": roles}))
            .await;
        callers.push(ScopedCaller {
            name,
            secret,
            level,
            everywhere,
        });
    }
    let mut failures = Vec::new();
    let mut out_of_scope: BTreeSet<(&'static str, String)> = BTreeSet::new();
    let mut checked = 0;
    for route in &routes() {
        for caller in &callers {
            let (method, path, body) = (route.build)(&context, caller.name);
            let mut request = app.request(method.clone(), &path, Some(&caller.secret));
            if let Some(body) = &body {
                request = request.json(body);
            }
            let reply = status_of(request).await;
            checked += 1;
            let code = reply.body["error"]["code"].as_str().unwrap_or_default();
            let global = global_admin(route.access, &method, &path);
            let why = if caller.everywhere {
                let expected = if global {
                    "403 forbidden"
                } else if allowed(route.access, Kind::Admin(caller.level)) {
                    "2xx"
                } else {
                    "403 forbidden"
                };
                let fine = match expected {
                    "2xx" => (200..300).contains(&reply.status),
                    _ => reply.status == 403 && code == "forbidden",
                };
                (!fine).then(|| format!("expected {expected}, got {reply}"))
            } else if route.access == VIEWER {
                (!(200..300).contains(&reply.status)).then(|| format!("a read: got {reply}"))
            } else if (200..300).contains(&reply.status) {
                // Allowed: it must touch no environment out of scope, and
                // need no more than the caller's role.
                (global || !allowed(route.access, Kind::Admin(caller.level)))
                    .then(|| format!("expected a 403, got {reply}"))
            } else if reply.status == 403 && path.starts_with("/ofrep/v1/evaluate") {
                // OFREP's own envelope: the reason is in `errorDetails`.
                out_of_scope.insert((caller.name, format!("{method} {path}")));
                let details = reply.body["errorDetails"].as_str().unwrap_or_default();
                (!details.contains("out of scope") || !details.contains("\"production\""))
                    .then(|| format!("the refusal must name the environment: {reply}"))
            } else if reply.status == 403 && code == "out_of_scope" {
                let named = reply.body["error"]["details"]["environments"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let message = reply.body["error"]["message"].as_str().unwrap_or_default();
                assert_envelope(&reply.body, &reply.to_string());
                out_of_scope.insert((caller.name, format!("{method} {path}")));
                let named_well = !named.is_empty()
                    && named.iter().all(|e| {
                        e.as_str()
                            .is_some_and(|e| message.contains(&format!("\"{e}\"")))
                    });
                (!named_well).then(|| format!("the refusal must name the environments: {reply}"))
            } else if reply.status == 403 && code == "forbidden" {
                // The role itself is not enough (anywhere), or an unscoped
                // admin is needed.
                (allowed(route.access, Kind::Admin(caller.level)) && !global)
                    .then(|| format!("expected out_of_scope or 2xx, got {reply}"))
            } else {
                Some(format!("unexpected {reply}"))
            };
            if let Some(why) = why {
                failures.push(format!("{method} {path} as {}: {why}", caller.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} combinations wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // What touches production, staging or development is out of scope for
    // a caller scoped to `matrix_env`: writes of one and of several
    // environments, approvals, evaluation and streams. (The matrix's bulk
    // change edits a description and its deployment hook enables a flag
    // already on, which touch no environment:
    // `scoped_roles.rs` tests bulk changes that do.)
    for route in [
        "POST /api/v1/flags",
        "PUT /api/v1/flags/matrix_flag/environments/staging",
        "POST /api/v1/flags/matrix_flag/environments/staging/actions",
        "POST /api/v1/emergency/disable",
        "POST /api/v1/deployments/matrix-deploy/rollback",
        "POST /api/v1/schedules",
        "POST /api/v1/evaluate",
        "GET /api/v1/stream?environment=production",
        "POST /api/v1/flags/matrix_flag/environments/production/evaluation-log",
    ] {
        for caller in ["elsewhere_editor", "elsewhere_approver"] {
            assert!(
                out_of_scope
                    .iter()
                    .any(|(c, r)| *c == caller && r.starts_with(route)),
                "{route} as {caller} should be out of scope; out of scope were {out_of_scope:?}"
            );
        }
    }
    for purpose in ["approve", "reject"] {
        let id = context.change_request(purpose, "elsewhere_approver");
        assert!(
            out_of_scope.contains(&(
                "elsewhere_approver",
                format!("POST /api/v1/change-requests/{id}/{purpose}")
            )),
            "{purpose} out of scope"
        );
    }
    // Refused writes wrote nothing; in scope, they are written.
    for caller in &callers {
        let created = app
            .get(
                &format!("/api/v1/flags/created_by_{}", caller.name),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(
            created.status == 200,
            caller.everywhere && caller.level >= 1,
            "{}: {created}",
            caller.name
        );
        let environment = app
            .get(
                &format!("/api/v1/environments/env_{}", caller.name),
                ADMIN_TOKEN,
            )
            .await;
        assert_eq!(environment.status, 404, "{}", caller.name);
    }
    let verify = app.get("/api/v1/audit/verify", ADMIN_TOKEN).await;
    assert_eq!(verify.body["valid"], true);
}
