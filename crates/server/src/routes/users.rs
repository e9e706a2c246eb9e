//! `/api/v1/users`: accounts for people who sign in to the admin
//! interface. Managing them needs the admin role; every change is audited.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_api_types::{CreateUserRequest, UpdateUserRequest};
use ff_store::{Change, Role, User, UserUpdate};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Path};
use crate::governance::{WriteMeta, WriteMode};
use crate::people::{accounts, password};
use crate::state::AppState;
use crate::write::{apply, change};

/// `GET /api/v1/users`: every account (never a password), by email.
pub async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Admin)?;
    let users = state.store.users().await?;
    Ok(Json(json!({ "items": users })))
}

/// `POST /api/v1/users`: creates an account.
pub async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Admin)?;
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    let user = accounts::create_user(&state, meta, request).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// `PATCH /api/v1/users/{id}`: changes an account. Nobody can disable or
/// demote their own account, so that nobody locks themselves out.
pub async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<UpdateUserRequest>,
) -> ApiResult<Json<User>> {
    principal.require(Role::Admin)?;
    let role = request
        .role
        .as_deref()
        .map(accounts::parse_role)
        .transpose()?;
    if id == principal.key_id()
        && (request.disabled == Some(true) || role.is_some_and(|r| r < Role::Admin))
    {
        return Err(ApiError::bad_request(
            "changing_self",
            "you cannot disable or demote your own account; ask another admin",
        ));
    }
    let display_name = request
        .display_name
        .as_deref()
        .map(accounts::check_display_name)
        .transpose()?;
    let password_hash = match request.password {
        Some(password) => {
            accounts::check_password(&password)?;
            Some(password::hash(password).await?)
        }
        None => None,
    };
    let update = UserUpdate {
        id: id.clone(),
        display_name,
        role,
        password_hash,
        disabled: request.disabled,
    };
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    apply(&state, meta, |_| {
        Ok(vec![change(
            Change::UpdateUser(update),
            "user.update",
            None,
        )])
    })
    .await?
    .into_commit()?;
    Ok(Json(accounts::stored_user(&state, &id).await?))
}
