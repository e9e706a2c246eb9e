//! `/api/v1/api-keys`: keys are random, shown once, stored as hashes,
//! revocable. Managing them needs the admin role.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_api_types::{ApiKey, ApiKeyRevoked, CreateApiKeyRequest, Page};
use ff_store::{Change, EnvironmentRoles, KeyKind, NewApiKey, Role};

use crate::auth::{Principal, generate_key_id, generate_secret, hash_secret, secret_prefix};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Path};
use crate::governance::{WriteMeta, WriteMode};
use crate::scope;
use crate::state::AppState;
use crate::wire::api_key;
use crate::write::{apply, change};

/// `GET /api/v1/api-keys`: every key (never a secret), revoked ones included.
pub async fn list_api_keys(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Page<ApiKey>>> {
    principal.require(Role::Admin)?;
    let mut keys = state.store.api_keys().await?;
    keys.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(Json(Page::all(keys.iter().map(api_key).collect())))
}

/// `POST /api/v1/api-keys`: answers the secret once, under `key`.
pub async fn create_api_key(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateApiKeyRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Admin)?;
    let kind = match request.kind.as_str() {
        "admin" => KeyKind::Admin,
        "server" => KeyKind::Server,
        "client" => KeyKind::Client,
        other => {
            return Err(ApiError::bad_request(
                "invalid_kind",
                format!("kind: unknown key kind \"{other}\"; expected admin, server or client"),
            ));
        }
    };
    let role = match (kind, request.role.as_deref()) {
        (KeyKind::Admin, Some(name)) => Some(parse_role(name)?),
        (KeyKind::Admin, None) => None,
        (_, Some(_)) => {
            return Err(ApiError::bad_request(
                "unexpected_role",
                "role: only admin keys have a role; server and client keys belong to an environment",
            ));
        }
        (_, None) => None,
    };
    if kind != KeyKind::Admin
        && (request.environments.is_some() || request.environment_roles.is_some())
    {
        return Err(ApiError::bad_request(
            "unexpected_environments",
            "environments: only admin keys are scoped to environments; server and client keys \
             belong to one `environment`",
        ));
    }
    let environment_roles = scope::requested(
        role,
        request.environments.as_deref(),
        request.environment_roles.as_ref(),
    )?;
    // A scoped key's role is the highest it holds anywhere.
    let role = environment_roles
        .as_ref()
        .and_then(EnvironmentRoles::highest)
        .or(role);
    if kind == KeyKind::Admin && role.is_none() {
        return Err(ApiError::unprocessable(
            "missing_role",
            "role: admin keys need a role (viewer, editor, approver or admin), or \
             environment_roles naming one per environment",
        ));
    }
    let environment = match (kind, request.environment) {
        (KeyKind::Admin, Some(_)) => {
            return Err(ApiError::bad_request(
                "unexpected_environment",
                "environment: admin keys are not tied to an environment",
            ));
        }
        (KeyKind::Admin, None) => None,
        (_, None) => {
            return Err(ApiError::bad_request(
                "missing_environment",
                "environment: server and client keys belong to one environment",
            ));
        }
        (_, Some(env)) => Some(env),
    };
    if request.name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "missing_name",
            "name: give the key a name",
        ));
    }
    let secret = generate_secret(kind);
    let id = generate_key_id();
    let new_key = NewApiKey {
        id: id.clone(),
        name: request.name,
        kind,
        role,
        environment: environment.clone(),
        environment_roles: environment_roles.clone(),
        prefix: secret_prefix(&secret),
        secret_hash: hash_secret(&secret),
    };
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    let live = apply(&state, meta, |live| {
        if let Some(env) = &environment
            && !live.environments.contains_key(env)
        {
            return Err(ApiError::not_found("environment", env));
        }
        scope::check_known(live, environment_roles.as_ref())?;
        Ok(vec![change(
            Change::CreateApiKey(new_key),
            "api_key.create",
            environment.as_deref(),
        )])
    })
    .await?
    .into_commit()?
    .live;
    let created = live
        .keys_by_hash
        .values()
        .find(|k| k.id == id)
        .ok_or_else(|| ApiError::Internal("created key missing".into()))?;
    let mut body = api_key(created);
    body.key = Some(secret);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE /api/v1/api-keys/{id}`: revokes a key at once (idempotent). A key
/// cannot revoke itself, so that nobody locks themselves out by accident.
pub async fn revoke_api_key(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKeyRevoked>> {
    principal.require(Role::Admin)?;
    if id == principal.key_id() {
        return Err(ApiError::bad_request(
            "revoking_self",
            "a key cannot revoke itself; use another admin key",
        ));
    }
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    let committed = apply(&state, meta, |live| {
        let key = live
            .keys_by_hash
            .values()
            .find(|k| k.id == id)
            .ok_or_else(|| ApiError::not_found("API key", &id))?;
        Ok(vec![change(
            Change::RevokeApiKey(id.clone()),
            "api_key.revoke",
            key.environment.as_deref(),
        )])
    })
    .await?
    .into_commit()?;
    Ok(Json(ApiKeyRevoked {
        id,
        revoked: true,
        revision: committed.revision,
    }))
}

fn parse_role(name: &str) -> Result<Role, ApiError> {
    match name {
        "viewer" => Ok(Role::Viewer),
        "editor" => Ok(Role::Editor),
        "approver" => Ok(Role::Approver),
        "admin" => Ok(Role::Admin),
        other => Err(ApiError::bad_request(
            "invalid_role",
            format!("role: unknown role \"{other}\"; expected viewer, editor, approver or admin"),
        )),
    }
}
