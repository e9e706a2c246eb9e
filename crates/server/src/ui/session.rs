//! The signed-in person, as the pages need them: a placeholder until
//! sessions exist (the sign-in work replaces this file). Today the person
//! is the API key that authenticated the request.

use crate::auth::Principal;

/// The CSRF token every form carries (`<input name="csrf">`). Empty until
/// sessions exist: a bearer key is not sent by a browser on its own, so a
/// forged form cannot use it.
pub fn csrf_token(_: &Principal) -> String {
    String::new()
}

/// The name shown in the top bar.
pub fn display_name(p: &Principal) -> String {
    p.key_id().to_owned()
}
