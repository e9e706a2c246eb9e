//! `/users`: the people who sign in, for admins only (anyone else gets a
//! 403 page, as `GET /api/v1/users` answers them). Accounts are created,
//! given another role, disabled and enabled through the API's own handlers
//! (`POST /api/v1/users`, `PATCH /api/v1/users/{id}`). A password is typed
//! once, or generated and shown once on the page that answers the form
//! (never in a URL, never cached).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use ff_api_types::{CreateUserRequest, UpdateUserRequest};
use ff_store::Role;
use rand::RngExt as _;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::routes::users;
use crate::state::AppState;
use crate::ui::actions::{
    CommonFields, Retry, api_message, check_csrf, confirm, outcome, write_headers,
};
use crate::ui::shell::{PageResult, Shell, UiError, format_time, redirect_with_flash, render};

/// The roles people can have, least first.
const ROLES: [&str; 4] = ["viewer", "editor", "approver", "admin"];

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    shell: Shell,
    users: Vec<UserRow>,
    roles: [&'static str; 4],
    created: Option<NewPerson>,
}

struct UserRow {
    id: String,
    email: String,
    name: String,
    role: &'static str,
    disabled: Option<String>,
    created: String,
    created_by: String,
    is_self: bool,
}

/// The account just created, and its password when it was generated.
struct NewPerson {
    email: String,
    name: String,
    password: Option<String>,
}

/// The principal of the users pages: an admin, else a 403 page that says so.
fn admin(principal: Result<Principal, ApiError>) -> Result<Principal, UiError> {
    let principal = principal?;
    if principal.require(Role::Admin).is_err() {
        let role = principal.role().map(Role::name).unwrap_or("none");
        return Err(UiError(ApiError::Forbidden(format!(
            "Only admins manage people; you are signed in as {role}. Ask an admin to create an account or change a role."
        ))));
    }
    Ok(principal)
}

/// `GET /users`.
pub async fn show_users(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = admin(principal)?;
    users_page(&state, &principal, &uri, None).await
}

async fn users_page(
    state: &AppState,
    principal: &Principal,
    uri: &Uri,
    created: Option<NewPerson>,
) -> PageResult {
    let live = state.live.current();
    let shell = Shell::new(state, &live, principal, "People", "users", uri).await;
    // As `GET /api/v1/users` reads them (admins only, checked above).
    let accounts = state.store.users().await.map_err(ApiError::from)?;
    let users = accounts
        .into_iter()
        .map(|user| UserRow {
            is_self: user.id == principal.key_id(),
            role: user.role.name(),
            disabled: user.disabled_at.map(format_time),
            created: format_time(user.created_at),
            created_by: user.created_by,
            email: user.email,
            name: user.display_name,
            id: user.id,
        })
        .collect();
    render(&UsersPage {
        shell,
        users,
        roles: ROLES,
        created,
    })
    .map(no_store)
}

/// The form of `POST /users`.
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    email: String,
    #[serde(default)]
    display_name: String,
    role: String,
    /// The password typed; empty: one is generated and shown once.
    #[serde(default)]
    password: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// `POST /users`: creates an account as `POST /api/v1/users` does.
pub async fn create_user(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CreateForm>,
) -> PageResult {
    let principal = admin(principal)?;
    check_csrf(&principal, &form.common)?;
    let generated = form.password.is_empty().then(generate_password);
    let password = generated.clone().unwrap_or_else(|| form.password.clone());
    let email = form.email.trim().to_owned();
    let display_name = match form.display_name.trim() {
        "" => email.split('@').next().unwrap_or_default().to_owned(),
        name => name.to_owned(),
    };
    let request = CreateUserRequest {
        email,
        display_name,
        role: form.role.clone(),
        password,
        environments: None,
        environment_roles: None,
    };
    let result = users::create_user(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, None),
        JsonBody(request),
    )
    .await;
    match result {
        Ok(response) => {
            let answer = crate::ui::actions::body_json(response).await;
            let created = NewPerson {
                email: answer["email"].as_str().unwrap_or_default().to_owned(),
                name: answer["display_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                password: generated,
            };
            let mut page = users_page(&state, &principal, &uri, Some(created)).await?;
            *page.status_mut() = StatusCode::CREATED;
            Ok(page)
        }
        Err(error) => Ok(redirect_with_flash(
            "/users",
            "error",
            &api_message(error).await,
        )),
    }
}

/// A password to hand over once: 20 letters and digits without the ones
/// people confuse (0/O, 1/l/I), about 115 bits.
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// The form of `POST /users/update`.
#[derive(Debug, Deserialize)]
pub struct UpdateForm {
    /// The account (`user:<email>`).
    id: String,
    /// `role`, `disable` or `enable`.
    action: String,
    #[serde(default)]
    role: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// `POST /users/update`: as `PATCH /api/v1/users/{id}`.
pub async fn update_user(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    Form(form): Form<UpdateForm>,
) -> PageResult {
    let principal = admin(principal)?;
    check_csrf(&principal, &form.common)?;
    let back = "/users";
    let email = form.id.strip_prefix("user:").unwrap_or(&form.id).to_owned();
    let (request, done) = match form.action.as_str() {
        "role" => (
            UpdateUserRequest {
                role: Some(form.role.clone()),
                ..UpdateUserRequest::default()
            },
            format!("{email} is now {}.", form.role),
        ),
        "disable" => (
            UpdateUserRequest {
                disabled: Some(true),
                ..UpdateUserRequest::default()
            },
            format!("{email} is disabled: they can no longer sign in, and their sessions ended."),
        ),
        "enable" => (
            UpdateUserRequest {
                disabled: Some(false),
                ..UpdateUserRequest::default()
            },
            format!("{email} can sign in again."),
        ),
        other => {
            return Err(UiError(ApiError::bad_request(
                "invalid_action",
                format!("unknown action \"{other}\"; expected role, disable or enable"),
            )));
        }
    };
    let retry = Retry {
        heading: format!("Disable {email}?"),
        action_url: "/users/update".to_owned(),
        hidden: vec![("id", form.id.clone()), ("action", form.action.clone())],
        button: "Disable".to_owned(),
        danger: true,
    };
    if form.action == "disable" && form.common.confirmed != "yes" {
        let note = format!(
            "{email} will be signed out everywhere at once and cannot sign in until an admin enables the account again."
        );
        return confirm(&state, &principal, &form.common, back, &retry, &note).await;
    }
    let result = users::update_user(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, None),
        Path(form.id.clone()),
        JsonBody(request),
    )
    .await
    .map(axum::response::IntoResponse::into_response);
    outcome(&state, &principal, &form.common, back, result, retry, &done).await
}

/// A page that shows a password is never stored by the browser or a proxy.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
