//! Authentication and authorisation: API keys as an extractor.
//!
//! A request carries its key as `Authorization: Bearer <key>` or
//! `X-API-Key: <key>`. Keys are stored only as SHA-256 hashes (they are long
//! random strings, so a fast hash is enough) and looked up in memory by the
//! digest's bytes.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ff_store::{ApiKey, EnvironmentRoles, KeyKind, Role};
use governor::clock::{Clock as _, DefaultClock};
use rand::RngExt as _;

use crate::client_address;
use crate::error::ApiError;
pub use crate::live::{hash_secret, secret_digest};
use crate::people::session::{self, SignedIn};
use crate::state::AppState;

/// Who is calling: the key that authenticated the request (shared with the
/// live configuration, not copied), or a signed-in person, who acts as an
/// admin key with their role named `user:<email>`.
#[derive(Debug, Clone)]
pub struct Principal {
    key: Arc<ApiKey>,
    session: Option<Arc<SignedIn>>,
}

impl Principal {
    /// A signed-in person: an admin key in all but name, so that roles,
    /// approvals (the four-eyes rule compares actors), rate limits and the
    /// audit log treat people and keys alike.
    pub fn for_session(session: Arc<SignedIn>) -> Principal {
        let user = &session.user;
        let key = ApiKey {
            id: user.id.clone(),
            name: user.display_name.clone(),
            kind: KeyKind::Admin,
            role: Some(user.role),
            environment: None,
            environment_roles: user.environment_roles.clone(),
            prefix: String::new(),
            secret_hash: String::new(),
            created_by: user.created_by.clone(),
            created_at: user.created_at,
            last_used_at: None,
            revoked_at: None,
        };
        Principal {
            key: Arc::new(key),
            session: Some(session),
        }
    }

    /// The session, when a person (not a key) is calling.
    pub fn session(&self) -> Option<&SignedIn> {
        self.session.as_deref()
    }

    /// The key's id (the audit actor).
    pub fn key_id(&self) -> &str {
        &self.key.id
    }

    /// Admin, server or client.
    pub fn kind(&self) -> KeyKind {
        self.key.kind
    }

    /// The role, for admin keys.
    pub fn role(&self) -> Option<Role> {
        self.key.role
    }

    /// The roles of an admin key or person scoped to environments
    /// (`crate::scope`); `None` when its role holds everywhere.
    pub fn environment_roles(&self) -> Option<&EnvironmentRoles> {
        match self.key.kind {
            KeyKind::Admin => self.key.environment_roles.as_ref(),
            KeyKind::Server | KeyKind::Client => None,
        }
    }

    /// Refuses unless this is an admin key with at least `role`. A key
    /// scoped to environments passes when it has `role` in one of them
    /// (what it then touches is checked by `crate::scope`), except for the
    /// admin role: administering keys, people and webhooks needs an
    /// unscoped admin, and routes about one environment's settings ask
    /// [`Principal::require_in`] instead.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        match (self.key.kind, self.key.role, self.environment_roles()) {
            (KeyKind::Admin, _, Some(scoped)) if role == Role::Admin => {
                Err(ApiError::Forbidden(format!(
                    "this needs an admin whose role is not scoped to environments; \
                     this caller's roles are scoped ({})",
                    scoped
                        .iter()
                        .map(|(env, role)| format!("{} in {env}", role.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
            (KeyKind::Admin, _, Some(scoped)) if scoped.highest() >= Some(role) => Ok(()),
            (KeyKind::Admin, _, Some(_)) => Err(ApiError::Forbidden(format!(
                "this caller's roles do not allow that in any environment; it needs the {} role",
                role.name()
            ))),
            (KeyKind::Admin, Some(have), None) if have >= role => Ok(()),
            (KeyKind::Admin, _, None) => Err(ApiError::Forbidden(format!(
                "this key's role does not allow that; it needs the {} role",
                role.name()
            ))),
            (kind, _, _) => Err(ApiError::Forbidden(format!(
                "{} keys may only evaluate flags; this needs an admin key with the {} role",
                kind_name(kind),
                role.name()
            ))),
        }
    }

    /// Refuses unless this caller has at least `role` in each of
    /// `environments`: its one role when unscoped, its role in each when
    /// scoped (a 403 `out_of_scope` naming those out of its scope).
    pub fn require_in<'a>(
        &self,
        role: Role,
        environments: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ApiError> {
        match self.environment_roles() {
            None => self.require(role),
            // Without the role anywhere, the refusal is the role's (as for
            // an unscoped caller); with it somewhere, the scope's.
            Some(scoped) if scoped.highest() < Some(role) => self.require(role),
            Some(scoped) => {
                crate::scope::check(Some(scoped), environments.into_iter().map(|e| (e, role)))
            }
        }
    }

    /// The environment this key may evaluate in: its own for server and
    /// client keys (refusing another), the requested one for admin keys
    /// (one of its environments, when its roles are scoped).
    pub fn evaluation_environment<'a>(
        &'a self,
        requested: Option<&'a str>,
    ) -> Result<&'a str, ApiError> {
        match (self.key.environment.as_deref(), requested) {
            (Some(own), Some(asked)) if own != asked => Err(ApiError::Forbidden(format!(
                "this key belongs to environment \"{own}\", not \"{asked}\""
            ))),
            (Some(own), _) => Ok(own),
            (None, Some(asked)) => {
                // A borrowed look-up: the evaluation path does not allocate.
                crate::scope::check(self.environment_roles(), [(asked, Role::Viewer)])?;
                Ok(asked)
            }
            (None, None) => Err(ApiError::bad_request(
                "missing_environment",
                "environment is required with an admin key",
            )),
        }
    }
}

/// The document name of a key kind.
pub fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Admin => "admin",
        KeyKind::Server => "server",
        KeyKind::Client => "client",
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Principal, ApiError> {
        let Some(secret) = presented_key(parts) else {
            return session_principal(parts, state).await;
        };
        let digest = secret_digest(secret);
        let live = state.live.current();
        let key = match live.keys_by_hash.get(&digest) {
            Some(key) => key.clone(),
            None => state
                .unknown_keys
                .look_up(&state.live, &digest)
                .await
                .ok_or_else(|| ApiError::Unauthorized("unknown API key".into()))?,
        };
        if key.revoked_at.is_some() {
            return Err(ApiError::Unauthorized(
                "this API key has been revoked".into(),
            ));
        }
        check_rate(state, &key, client_address::of_request(parts, state))?;
        let now = state.clock.now();
        if let Ok(mut usage) = state.key_usage.lock() {
            // The id is copied once per key and flush, not per request.
            match usage.get_mut(&key.id) {
                Some(last) => *last = now,
                None => {
                    usage.insert(key.id.clone(), now);
                }
            }
        }
        Ok(Principal { key, session: None })
    }
}

impl Principal {
    /// The key a stream credential (`?token=` on `/ofrep/v1/stream`) was
    /// derived from, if the credential is genuine and unexpired and the key
    /// still exists, is not revoked and belongs to an environment. Only the
    /// OFREP stream accepts this.
    pub fn from_stream_token(
        state: &AppState,
        token: &str,
        address: Option<IpAddr>,
    ) -> Result<Principal, ApiError> {
        let refused = || {
            ApiError::Unauthorized(
                "this stream credential is not valid (expired, or its key was revoked);                  evaluate again for a new one"
                    .into(),
            )
        };
        let now = state.clock.now().unix_timestamp();
        let key_id = crate::stream_token::verify(state.stream_token_secret(), token, now)
            .ok_or_else(refused)?;
        let live = state.live.current();
        // A linear look-up: keys are few, and this is once per connect.
        let key = live
            .keys_by_hash
            .values()
            .find(|k| k.id == key_id)
            .cloned()
            .ok_or_else(refused)?;
        if key.revoked_at.is_some() || key.environment.is_none() {
            return Err(refused());
        }
        check_rate(state, &key, address)?;
        Ok(Principal { key, session: None })
    }

    /// A stream credential for this caller's key, when it is a key of one
    /// environment (client and server keys), for the bulk answer to
    /// advertise.
    pub fn stream_token(&self, state: &AppState) -> Option<String> {
        if self.session.is_some() || self.key.environment.is_none() {
            return None;
        }
        let now = state.clock.now().unix_timestamp();
        Some(crate::stream_token::issue(
            state.stream_token_secret(),
            &self.key.id,
            now,
        ))
    }
}

/// A request without a key: a signed-in person's session, whose
/// state-changing requests must echo its CSRF token in `X-CSRF-Token`
/// (forms are checked by `people::session::FormPost` instead).
async fn session_principal(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let session = session::find(state, &parts.headers).await?.ok_or_else(|| {
        ApiError::Unauthorized(
            "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>` \
             (or sign in)"
                .into(),
        )
    })?;
    // The pages' forms carry the token in a field, which the page checks
    // (`ui::actions::check_csrf`) once it has read the form; everything
    // else (the API, OFREP) must send it in the header.
    let page_form =
        !parts.uri.path().starts_with("/api/") && !parts.uri.path().starts_with("/ofrep/");
    if !parts.method.is_safe() && !page_form {
        let presented = parts
            .headers
            .get(session::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !session::csrf_matches(&session, presented) {
            return Err(session::csrf_refused());
        }
    }
    let principal = Principal::for_session(Arc::new(session));
    check_rate(state, &principal.key, None)?;
    Ok(principal)
}

fn presented_key(parts: &Parts) -> Option<&str> {
    let bearer = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    bearer
        .or_else(|| {
            parts
                .headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|k| !k.is_empty())
}

/// Counts a request against its budget: a client key's per device (key and
/// client address: every install of an app shares the key, so one device
/// must not use up the others' budget), any other key's per key.
fn check_rate(state: &AppState, key: &ApiKey, address: Option<IpAddr>) -> Result<(), ApiError> {
    let bucket = match (key.kind, address) {
        (KeyKind::Client, Some(address)) => Cow::Owned(format!("{}@{address}", key.id)),
        _ => Cow::Borrowed(&key.id),
    };
    match state.limiter.check_key(&bucket) {
        Ok(()) => Ok(()),
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Err(ApiError::RateLimited {
                retry_after: wait
                    .as_secs()
                    .saturating_add(u64::from(wait.subsec_nanos() > 0)),
            })
        }
    }
}

/// A new secret for a key of `kind`: `ff_<kind>_` and 40 random characters
/// (238 bits).
pub fn generate_secret(kind: KeyKind) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let random: String = (0..40)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("ff_{}_{random}", kind_name(kind))
}

/// A new public key id: `key_` and 16 hex characters.
pub fn generate_key_id() -> String {
    crate::ids::generate_id("key")
}

/// How many random characters of a generated secret are shown, after its
/// `ff_<kind>_` label, to recognise it (4 of 40: 24 of its 238 bits).
const SHOWN_RANDOM_CHARACTERS: usize = 4;

/// The part of a secret shown in listings and the audit log to recognise it:
/// the label and the first few random characters of a generated secret
/// (`ff_admin_Ab3x`), and nothing of any other secret. An operator's own
/// token (`FEATURE_FLAGS_ADMIN_TOKEN`) has no known shape, so no part of it
/// is safe to show.
pub fn secret_prefix(secret: &str) -> String {
    generated_label(secret)
        .and_then(|label| secret.get(..label.saturating_add(SHOWN_RANDOM_CHARACTERS)))
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The length of `ff_<kind>_` when `secret` has the shape of
/// [`generate_secret`]'s secrets.
fn generated_label(secret: &str) -> Option<usize> {
    let rest = secret.strip_prefix("ff_")?;
    let (kind, random) = rest.split_once('_')?;
    let known = ["admin", "server", "client"].contains(&kind);
    let random_shape = random.len() == 40 && random.bytes().all(|b| b.is_ascii_alphanumeric());
    // `ff_`, the kind and the `_` after it: the length of `secret` up to
    // the random part, which `strip_prefix` and `split_once` measured.
    (known && random_shape).then(|| secret.len().saturating_sub(random.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generated_secrets_show_a_prefix() {
        for kind in [KeyKind::Admin, KeyKind::Server, KeyKind::Client] {
            let secret = generate_secret(kind);
            let prefix = secret_prefix(&secret);
            assert!(secret.starts_with(&prefix), "{prefix} of {secret}");
            assert_eq!(
                prefix.len(),
                format!("ff_{}_", kind_name(kind)).len() + SHOWN_RANDOM_CHARACTERS
            );
        }
        for operator_token in [
            "short",
            "ff_admin_test_token_0123456789abcdefghijklmn",
            "ff_admin_0123456789012345678901234567890123456789x",
            "ff_robot_0123456789012345678901234567890123456789",
        ] {
            assert_eq!(secret_prefix(operator_token), "", "{operator_token}");
        }
    }
}
