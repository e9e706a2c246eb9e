//! `/api/v1/users`: accounts for people who sign in to the admin
//! interface. Managing them needs the admin role; every change is audited.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_api_types::{CreateUserRequest, UpdateUserRequest};
use ff_store::{Change, EnvironmentRoles, NewUser, Role, User, UserUpdate};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Path};
use crate::governance::{WriteMeta, WriteMode};
use crate::people::{accounts, password};
use crate::scope;
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
    let user = create_user_as(&state, meta, request).await?;
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
    if id.contains('\0') {
        return Err(ApiError::not_found("user", &id));
    }
    let role = request
        .role
        .as_deref()
        .map(accounts::parse_role)
        .transpose()?;
    let rescoped = request.environments.is_some() || request.environment_roles.is_some();
    let environment_roles = if rescoped || role.is_some() {
        let current = stored_user(&state, &id).await?;
        let role = role.unwrap_or(current.role);
        if rescoped {
            Some(scope::requested(
                Some(role),
                request.environments.as_deref(),
                request.environment_roles.as_ref(),
            )?)
        } else {
            // A new role alone keeps the account's environments.
            current.environment_roles.as_ref().map(|roles| {
                let each = roles.iter().map(|(env, _)| (env.to_owned(), role));
                Some(EnvironmentRoles::new(each.collect()))
            })
        }
    } else {
        None
    };
    // A scoped account's role is the highest it holds anywhere.
    let role = match &environment_roles {
        Some(Some(roles)) => roles.highest().or(role),
        _ => role,
    };
    if id == principal.key_id()
        && (request.disabled == Some(true)
            || role.is_some_and(|r| r < Role::Admin)
            || matches!(environment_roles, Some(Some(_))))
    {
        return Err(ApiError::unprocessable(
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
        environment_roles: environment_roles.clone(),
        password_hash,
        disabled: request.disabled,
    };
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    apply(&state, meta, |live| {
        scope::check_known(live, environment_roles.as_ref().and_then(Option::as_ref))?;
        Ok(vec![change(
            Change::UpdateUser(update),
            "user.update",
            None,
        )])
    })
    .await?
    .into_commit()?;
    Ok(Json(stored_user(&state, &id).await?))
}

/// Checks and creates an account (also used to seed the first admin).
pub async fn create_user_as(
    state: &AppState,
    meta: WriteMeta,
    request: CreateUserRequest,
) -> Result<User, ApiError> {
    let email = accounts::normalise_email(&request.email)?;
    let display_name = accounts::check_display_name(&request.display_name)?;
    let role = accounts::parse_role(&request.role)?;
    let environment_roles = scope::requested(
        Some(role),
        request.environments.as_deref(),
        request.environment_roles.as_ref(),
    )?;
    // A scoped account's role is the highest it holds anywhere.
    let role = environment_roles
        .as_ref()
        .and_then(EnvironmentRoles::highest)
        .unwrap_or(role);
    accounts::check_password(&request.password)?;
    let id = accounts::user_id(&email);
    let new_user = NewUser {
        id: id.clone(),
        email,
        display_name,
        role,
        environment_roles: environment_roles.clone(),
        password_hash: password::hash(request.password).await?,
    };
    apply(state, meta, |live| {
        scope::check_known(live, environment_roles.as_ref())?;
        Ok(vec![change(
            Change::CreateUser(new_user),
            "user.create",
            None,
        )])
    })
    .await?
    .into_commit()?;
    stored_user(state, &id).await
}

/// An account as stored now.
pub async fn stored_user(state: &AppState, id: &str) -> Result<User, ApiError> {
    // No account id holds a NUL (emails are checked), and PostgreSQL cannot
    // even compare with one.
    if id.contains('\0') {
        return Err(ApiError::not_found("user", id));
    }
    state
        .store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", id))
}

/// Creates the `--admin-email` admin at start, unless an account has that
/// email already (its password is then left as it is).
pub async fn seed_admin(state: &AppState, email: &str, password: &str) -> Result<(), ApiError> {
    let email = accounts::normalise_email(email)?;
    if state
        .store
        .user(&accounts::user_id(&email))
        .await?
        .is_some()
    {
        return Ok(());
    }
    let meta = WriteMeta {
        actor: "system".into(),
        mode: WriteMode::Administrative,
        reason: Some("FEATURE_FLAGS_ADMIN_EMAIL".into()),
        ..WriteMeta::default()
    };
    let request = CreateUserRequest {
        display_name: email.split('@').next().unwrap_or("admin").to_owned(),
        email,
        role: "admin".into(),
        password: password.to_owned(),
        environments: None,
        environment_roles: None,
    };
    create_user_as(state, meta, request).await.map(|_| ())
}
