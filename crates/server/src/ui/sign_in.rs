//! `/sign-in` and `/sign-out`: people sign in to the admin interface with
//! the same sessions as `POST /api/v1/sessions`. The sign-in form has no
//! session yet; it is protected by checking that the browser says it comes
//! from this site (`Origin`), as a forged form from another site cannot.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::Principal;
use crate::client_address::ClientAddress;
use crate::error::ApiError;
use crate::people::session::{self as sessions};
use crate::state::AppState;
use crate::ui::shell::{Shell, local_path};

/// The sign-in page.
#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    shell: Shell,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SignInQuery {
    #[serde(default)]
    next: String,
}

/// `GET /sign-in`.
pub async fn show_sign_in(Query(query): Query<SignInQuery>) -> Response {
    page(String::new(), &query.next, None, StatusCode::OK)
}

fn page(email: String, next: &str, error: Option<String>, status: StatusCode) -> Response {
    let page = SignInPage {
        shell: Shell::bare("Sign in"),
        email,
        next: local_path(Some(next)).unwrap_or_else(|| "/".to_owned()),
        error,
    };
    match page.render() {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be drawn",
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /sign-in`: the same sign-in as `POST /api/v1/sessions`.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if !same_origin(&headers) {
        return page(
            form.email,
            &form.next,
            Some("This form must be sent from this site.".into()),
            StatusCode::FORBIDDEN,
        );
    }
    match sessions::sign_in(&state, &form.email, form.password, address).await {
        Ok((secret, _)) => {
            let target = local_path(Some(&form.next)).unwrap_or_else(|| "/".to_owned());
            let mut response = Redirect::to(&target).into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, sessions::set_cookie(&state, &secret));
            response
        }
        Err(ApiError::RateLimited { retry_after }) => page(
            form.email,
            &form.next,
            Some(format!(
                "Too many failed attempts. Try again in {} minutes.",
                retry_after.div_ceil(60)
            )),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(ApiError::Unauthorized(_)) => page(
            form.email,
            &form.next,
            Some("The email or the password is wrong.".into()),
            StatusCode::UNAUTHORIZED,
        ),
        Err(_) => page(
            form.email,
            &form.next,
            Some("Signing in failed on our side; try again in a moment.".into()),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    }
}

#[derive(Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /sign-out`: ends the session (on every node) and forgets the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    Form(form): Form<SignOutForm>,
) -> Response {
    if let Ok(principal) = &principal
        && let Some(session) = principal.session()
        && sessions::csrf_matches(session, &form.csrf)
    {
        let _ = state
            .store
            .revoke_session(&session.secret_hash, state.clock.now())
            .await;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, sessions::clear_cookie(&state));
    response
}

/// Whether the browser says the form comes from this site: `Origin` (sent
/// with every form post by current browsers) names the host the request
/// was sent to. No `Origin` at all is a non-browser client: allowed.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest.trim_end_matches('/') == host)
}

/// Where a page sends someone who is not signed in.
pub fn to_sign_in(path: &str) -> Response {
    let next = crate::ui::shell::percent_encode(path);
    let mut response = Redirect::to(&format!("/sign-in?next={next}")).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
