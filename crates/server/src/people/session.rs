//! Sessions: a random secret in an `HttpOnly`, `SameSite=Strict` cookie
//! (`Secure` when the service's public URL is https), stored only as its
//! SHA-256, with an absolute expiry. Each session has a CSRF token that
//! every state-changing request must echo: script requests in the
//! `X-CSRF-Token` header, forms in a `csrf` field ([`FormPost`]).
//!
//! A request presenting a session costs one indexed read, so a sign-out, a
//! disabled user or a changed role takes effect on every node at once.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, header};
use ff_store::{NewSession, User};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use super::password;
use crate::error::ApiError;
use crate::live::hash_secret;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "ff_session";

/// The header script requests echo the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A live session, as a request presenting it sees it.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The person, as stored now.
    pub user: User,
    /// What this session's state-changing requests must echo.
    pub csrf_token: String,
    /// SHA-256 of the cookie's secret: what signing out revokes.
    pub secret_hash: String,
    /// When the session ends.
    pub expires_at: OffsetDateTime,
}

/// The session cookie's secret, if the request has one.
pub fn cookie_secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, secret)| secret.trim())
        .filter(|secret| !secret.is_empty())
}

/// The live session a request presents: `Ok(None)` when it presents none,
/// an error when the one it presents is unknown, revoked, expired or its
/// user is disabled.
pub async fn find(state: &AppState, headers: &HeaderMap) -> Result<Option<SignedIn>, ApiError> {
    let Some(secret) = cookie_secret(headers) else {
        return Ok(None);
    };
    let secret_hash = hash_secret(secret);
    let found = state
        .store
        .session(&secret_hash, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::Unauthorized("your session has ended; sign in again".into()))?;
    Ok(Some(SignedIn {
        user: found.user,
        csrf_token: found.csrf_token,
        secret_hash,
        expires_at: found.expires_at,
    }))
}

/// Whether a presented CSRF token is the session's (in constant time).
pub fn csrf_matches(session: &SignedIn, presented: &str) -> bool {
    !presented.is_empty() && bool::from(session.csrf_token.as_bytes().ct_eq(presented.as_bytes()))
}

/// The error for a state-changing request without its session's token.
pub fn csrf_refused() -> ApiError {
    ApiError::Refused {
        status: axum::http::StatusCode::FORBIDDEN,
        code: "csrf_failed",
        message: "this request must carry the session's CSRF token (the `X-CSRF-Token` header \
                  or a form's `csrf` field); reload the page and try again"
            .into(),
        details: serde_json::Value::Null,
    }
}

/// Signs a person in: checks the throttle, the password and the account,
/// then records a new session. Answers the cookie's secret (to set, never
/// stored) and the session.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password: String,
    address: Option<IpAddr>,
) -> Result<(String, SignedIn), ApiError> {
    let email = email.trim().to_lowercase();
    let started = std::time::Instant::now();
    if let Err(retry_after) = state.sign_in_throttle.check(&email, address, started) {
        return Err(ApiError::RateLimited { retry_after });
    }
    // No account has such an email (accounts are checked when made), and
    // PostgreSQL cannot even compare with a NUL: the same answer as for any
    // unknown account, without asking the store.
    if email.is_empty() || email.len() > 254 || email.chars().any(char::is_control) {
        state.sign_in_throttle.failed(&email, address, started);
        return Err(ApiError::Unauthorized(
            "the email or the password is wrong".into(),
        ));
    }
    let user = state
        .store
        .user(&super::accounts::user_id(&email))
        .await?
        .filter(|u| u.disabled_at.is_none());
    let matches = password::verify(user.as_ref().map(|u| u.password_hash.clone()), password).await;
    let Some(user) = user.filter(|_| matches) else {
        state.sign_in_throttle.failed(&email, address, started);
        // One message for both: which emails have accounts is not told.
        return Err(ApiError::Unauthorized(
            "the email or the password is wrong".into(),
        ));
    };
    state.sign_in_throttle.succeeded(&email);
    let secret = new_secret();
    let now = state.clock.now();
    let session = NewSession {
        secret_hash: hash_secret(&secret),
        user_id: user.id.clone(),
        csrf_token: new_secret(),
        created_at: now,
        expires_at: now.saturating_add(time::Duration::hours(i64::from(
            state.config.session_hours.max(1),
        ))),
    };
    state.store.create_session(&session).await?;
    Ok((
        secret,
        SignedIn {
            user,
            csrf_token: session.csrf_token,
            secret_hash: session.secret_hash,
            expires_at: session.expires_at,
        },
    ))
}

/// 32 random bytes, hex: a session secret or a CSRF token.
fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The `Set-Cookie` value that stores a session's secret.
pub fn set_cookie(state: &AppState, secret: &str) -> HeaderValue {
    let max_age = u64::from(state.config.session_hours.max(1)) * 3600;
    cookie_header(state, secret, max_age)
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    cookie_header(state, "", 0)
}

fn cookie_header(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.config.serves_https() {
        "; Secure"
    } else {
        ""
    };
    let text =
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    // Hex and fixed text only: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("ff_session=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; ff_session=abc123"),
        );
        assert_eq!(cookie_secret(&headers), Some("abc123"));
        let mut other = HeaderMap::new();
        other.append(
            header::COOKIE,
            HeaderValue::from_static("ff_sessionx=1; a=b"),
        );
        assert_eq!(cookie_secret(&other), None);
    }
}
