//! Stream credentials for browsers: a browser's `EventSource` cannot send
//! an `Authorization` header, so the OFREP bulk answer advertises its event
//! stream with a credential in the URL (`/ofrep/v1/stream?token=…`), as the
//! OFREP specification allows.
//!
//! The credential is derived from the caller's key, not the key itself: it
//! names the key's id and an expiry, signed with HMAC-SHA256 under a secret
//! of the installation (kept in the store, shared by every node). It opens
//! the OFREP event stream of that key's environment and nothing else (no
//! evaluation, no admin API), stops working when the key is revoked, and
//! expires after at most [`LIFETIME_SECONDS`]: a provider whose stream closes for good
//! fetches the bulk evaluation again, which brings a fresh one. A stream
//! already open is not cut when its credential expires.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How long a credential opens streams, at most.
pub const LIFETIME_SECONDS: i64 = 15 * 60;

/// Credentials are issued per window of this many seconds: every bulk
/// answer within a window advertises the same URL, and each credential
/// still opens streams for at least `LIFETIME_SECONDS - WINDOW_SECONDS`.
/// The web provider keeps its open stream only while the advertised URL is
/// unchanged: with a credential per second it closed and reopened the
/// stream after nearly every re-fetch, and a change committed in between
/// would not have reached it.
pub const WINDOW_SECONDS: i64 = 5 * 60;

/// The store's name of the signing secret.
pub const SECRET_NAME: &str = "stream_token_key";

/// Credentials this server writes start with this (a version, should the
/// format change).
const PREFIX: &str = "s1";

/// A new random signing secret (hex).
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The credential for `key_id` in the window of `now_unix`: valid until
/// the window's start plus `LIFETIME_SECONDS`.
pub fn issue(secret: &str, key_id: &str, now_unix: i64) -> String {
    let window_start = now_unix.saturating_sub(now_unix.rem_euclid(WINDOW_SECONDS));
    let expires = window_start.saturating_add(LIFETIME_SECONDS);
    let payload = format!("{PREFIX}.{key_id}.{expires}");
    format!("{payload}.{}", hex::encode(signature(secret, &payload)))
}

/// The key id a credential names, if it is well formed, signed by this
/// installation and not expired at `now_unix`.
pub fn verify(secret: &str, token: &str, now_unix: i64) -> Option<String> {
    let (payload, mac_hex) = token.rsplit_once('.')?;
    let mut parts = payload.splitn(3, '.');
    let (prefix, key_id, expires) = (parts.next()?, parts.next()?, parts.next()?);
    if prefix != PREFIX || key_id.is_empty() {
        return None;
    }
    let expires: i64 = expires.parse().ok()?;
    let mac = hex::decode(mac_hex).ok()?;
    let mut check = mac_for(secret);
    check.update(payload.as_bytes());
    // Constant-time comparison (the `hmac` crate's).
    check.verify_slice(&mac).ok()?;
    (now_unix < expires).then(|| key_id.to_owned())
}

fn signature(secret: &str, payload: &str) -> Vec<u8> {
    let mut mac = mac_for(secret);
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn mac_for(secret: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_names_its_key_until_it_expires() {
        let window = 10 * WINDOW_SECONDS;
        for issued in [window, window + 1, window + WINDOW_SECONDS - 1] {
            let token = issue("secret", "key_abc", issued);
            assert_eq!(verify("secret", &token, issued).as_deref(), Some("key_abc"));
            assert_eq!(
                verify("secret", &token, window + LIFETIME_SECONDS - 1).as_deref(),
                Some("key_abc")
            );
            assert_eq!(verify("secret", &token, window + LIFETIME_SECONDS), None);
        }
    }

    #[test]
    fn one_window_advertises_one_credential() {
        let window = 10 * WINDOW_SECONDS;
        let first = issue("secret", "key_abc", window);
        assert_eq!(
            issue("secret", "key_abc", window + WINDOW_SECONDS - 1),
            first
        );
        assert_ne!(issue("secret", "key_abc", window + WINDOW_SECONDS), first);
        assert_ne!(issue("secret", "key_xyz", window), first);
    }

    #[test]
    fn forged_or_altered_credentials_are_refused() {
        let token = issue("secret", "key_abc", 1_200);
        assert_eq!(verify("secret", &token, 1_200).as_deref(), Some("key_abc"));
        assert_eq!(verify("another secret", &token, 1_000), None);
        let altered = token.replace("key_abc", "key_abd");
        assert_eq!(verify("secret", &altered, 1_000), None);
        let later = token.replacen(&(1_200 + LIFETIME_SECONDS).to_string(), "9999999999", 1);
        assert_eq!(verify("secret", &later, 1_000), None);
        for junk in [
            "",
            "s1",
            "s1.key",
            "s1.key.12",
            "s1..12.00",
            "s2.key_abc.99.zz",
            "x.y.z.w",
        ] {
            assert_eq!(verify("secret", junk, 0), None, "{junk}");
        }
    }
}
