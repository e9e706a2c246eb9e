//! Password hashing with argon2id (the `argon2` crate's defaults: 19 MiB,
//! two passes, one lane, as OWASP recommends). Hashing costs tens of
//! milliseconds of CPU on purpose, so it runs on the blocking pool, never
//! on the async workers that answer other requests.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::ApiError;

/// Hashes a password to a PHC string (`$argon2id$v=19$…`) with a random salt.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing stopped: {e}")))?
}

fn hash_now(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(format!("cannot hash a password: {e}")))
}

/// Whether `password` matches `stored` (a PHC string). `None` checks
/// against a hash of nothing in particular and answers `false`: an unknown
/// email then takes as long as a wrong password, so response times do not
/// tell which accounts exist.
pub async fn verify(stored: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.as_deref().unwrap_or(DECOY.as_str());
        let matches = PasswordHash::new(stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        });
        known && matches
    })
    .await
    .unwrap_or(false)
}

/// A hash no password is meant to match, computed once.
static DECOY: LazyLock<String> =
    LazyLock::new(|| hash_now("no account has this password").unwrap_or_default());

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = super::hash("correct horse battery".into()).await;
        let Ok(hash) = hash else {
            panic!("hashing failed: {hash:?}");
        };
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(super::verify(Some(hash.clone()), "correct horse battery".into()).await);
        assert!(!super::verify(Some(hash), "correct horse battery!".into()).await);
        assert!(!super::verify(None, "no account has this password".into()).await);
        assert!(!super::verify(Some("not a hash".into()), "x".into()).await);
    }
}
