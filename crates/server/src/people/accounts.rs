//! What a valid account is. Checked before anything is hashed or written,
//! each problem named by its field.

use ff_store::Role;

use crate::error::ApiError;

/// The shortest password accepted (NIST SP 800-63B asks for at least 8;
/// people managing production switches get a little more).
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The longest password accepted: argon2 hashes any length, but a
/// megabyte-long password would be a cheap way to burn CPU.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The audit actor and id of the account with this email.
pub fn user_id(email: &str) -> String {
    format!("user:{email}")
}

/// An email as accounts keep it: trimmed, lower case, one `@` with text
/// on both sides and no spaces or control characters.
pub fn normalise_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(ApiError::unprocessable(
            "invalid_email",
            "email: give an address like name@example.com",
        ))
    }
}

/// A display name: trimmed, 1 to 100 characters, no control characters.
pub fn check_display_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_display_name",
            "display_name: give a name of 1 to 100 characters",
        ));
    }
    Ok(name.to_owned())
}

/// A password long enough to resist guessing and short enough to hash cheaply.
pub fn check_password(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(ApiError::unprocessable(
            "weak_password",
            format!("password: use at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(ApiError::unprocessable(
            "invalid_password",
            format!("password: use at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// A role by its document name.
pub fn parse_role(name: &str) -> Result<Role, ApiError> {
    match name {
        "viewer" => Ok(Role::Viewer),
        "editor" => Ok(Role::Editor),
        "approver" => Ok(Role::Approver),
        "admin" => Ok(Role::Admin),
        other => Err(ApiError::unprocessable(
            "invalid_role",
            format!("role: unknown role \"{other}\"; expected viewer, editor, approver or admin"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        let cases = [
            (" Alice@Example.COM ", Some("alice@example.com")),
            ("bob@x", Some("bob@x")),
            ("no-at-sign", None),
            ("@example.com", None),
            ("alice@", None),
            ("a@b@c", None),
            ("a b@example.com", None),
            ("a\u{0}@example.com", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalise_email(input).ok().as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn passwords_and_names_are_bounded() {
        assert!(check_password("123456789").is_err());
        assert!(check_password("1234567890").is_ok());
        assert!(check_password(&"x".repeat(257)).is_err());
        assert!(check_display_name("  ").is_err());
        assert!(
            check_display_name("Ada\n").is_ok(),
            "trailing newline is trimmed"
        );
        assert!(check_display_name("A\u{7}da").is_err());
        assert_eq!(
            check_display_name(" Ada Lovelace ").ok().as_deref(),
            Some("Ada Lovelace")
        );
    }
}
