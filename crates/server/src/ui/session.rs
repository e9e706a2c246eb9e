//! The signed-in person as the pages show them, and the CSRF token of
//! their forms.
//!
//! The session itself (cookie, expiry, revocation, throttling) is
//! `crate::people::session`'s. Pages are forms: each carries the session's
//! CSRF token in a hidden `csrf` field, which every page handler checks
//! (`actions::check_csrf`) before acting.

use crate::auth::Principal;
use crate::people::session as sessions;

/// The CSRF token every form carries (`<input name="csrf">`): the
/// session's; empty for a key (a browser never sends a bearer key by
/// itself, so a forged form cannot use one).
pub fn csrf_token(principal: &Principal) -> String {
    principal
        .session()
        .map(|session| session.csrf_token.clone())
        .unwrap_or_default()
}

/// Whether a form's token is the session's (in constant time); keys need none.
pub fn form_token_matches(principal: &Principal, presented: &str) -> bool {
    match principal.session() {
        Some(session) => sessions::csrf_matches(session, presented),
        None => presented.is_empty(),
    }
}

/// The name shown in the top bar: the person's, or the key's id.
pub fn display_name(principal: &Principal) -> String {
    match principal.session() {
        Some(session) => session.user.display_name.clone(),
        None => principal.key_id().to_owned(),
    }
}
