//! `/api/v1/sessions`: people sign in and out. A session is a cookie
//! (see `crate::people::session`); its CSRF token is answered here, for
//! script requests to echo in `X-CSRF-Token`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ff_api_types::SignInRequest;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::client_address::ClientAddress;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::people::session::{self, SignedIn};
use crate::state::AppState;

/// `POST /api/v1/sessions`: signs in with an email and a password; sets
/// the session cookie and answers the session.
///
/// Only JSON is taken here (`Content-Type: application/json`), so that
/// another site cannot sign a browser in to an account of its choosing with
/// a plain form post: a cross-site request with that content type needs the
/// CORS preflight, which does not allow credentials.
pub async fn create_session(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(sign_in): JsonBody<SignInRequest>,
) -> ApiResult<Response> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return Err(ApiError::Refused {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: "sign in with a JSON body and `Content-Type: application/json`".into(),
            details: Value::Null,
        });
    }
    let (secret, signed_in) =
        session::sign_in(&state, &sign_in.email, sign_in.password, address).await?;
    let mut response = (StatusCode::CREATED, Json(session_body(&signed_in))).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(&state, &secret));
    Ok(response)
}

/// `GET /api/v1/sessions/current`: who is signed in, and the CSRF token.
pub async fn get_current_session(principal: Principal) -> ApiResult<Json<Value>> {
    let session = signed_in(&principal)?;
    Ok(Json(session_body(session)))
}

/// `DELETE /api/v1/sessions/current`: signs out (the session ends on every
/// node at once) and removes the cookie.
pub async fn delete_current_session(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Response> {
    let session = signed_in(&principal)?;
    state
        .store
        .revoke_session(&session.secret_hash, state.clock.now())
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(&state));
    Ok(response)
}

fn signed_in(principal: &Principal) -> Result<&SignedIn, ApiError> {
    principal.session().ok_or_else(|| {
        ApiError::NotFound("this request authenticated with an API key: it has no session".into())
    })
}

fn session_body(session: &SignedIn) -> Value {
    json!({
        "user": session.user,
        "csrf_token": session.csrf_token,
        "expires_at": crate::flag_ops::rfc3339(session.expires_at),
    })
}
