//! What a valid account is. Checked before anything is hashed or written,
//! each problem named by its field.

use ff_api_types::CreateUserRequest;
use ff_store::{Change, NewUser, Role, User};

use crate::error::ApiError;
use crate::governance::{WriteMeta, WriteMode};
use crate::state::AppState;
use crate::write::{apply, change};

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
        Err(ApiError::bad_request(
            "invalid_email",
            "email: give an address like name@example.com",
        ))
    }
}

/// A display name: trimmed, 1 to 100 characters, no control characters.
pub fn check_display_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
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
        return Err(ApiError::bad_request(
            "weak_password",
            format!("password: use at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(ApiError::bad_request(
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
        other => Err(ApiError::bad_request(
            "invalid_role",
            format!("role: unknown role \"{other}\"; expected viewer, editor, approver or admin"),
        )),
    }
}

/// Checks and creates an account (also used to seed the first admin).
pub async fn create_user(
    state: &AppState,
    meta: WriteMeta,
    request: CreateUserRequest,
) -> Result<User, ApiError> {
    let email = normalise_email(&request.email)?;
    let display_name = check_display_name(&request.display_name)?;
    let role = parse_role(&request.role)?;
    check_password(&request.password)?;
    let id = user_id(&email);
    let new_user = NewUser {
        id: id.clone(),
        email,
        display_name,
        role,
        password_hash: super::password::hash(request.password).await?,
    };
    apply(state, meta, |_| {
        Ok(vec![change(
            Change::CreateUser(new_user),
            "user.create",
            None,
        )])
    })
    .await?
    .into_commit()?;
    stored_user(state, &id).await
}

/// An account as stored now.
pub async fn stored_user(state: &AppState, id: &str) -> Result<User, ApiError> {
    state
        .store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", id))
}

/// Creates the `--admin-email` admin at start, unless an account has that
/// email already (its password is then left as it is).
pub async fn seed_admin(state: &AppState, email: &str, password: &str) -> Result<(), ApiError> {
    let email = normalise_email(email)?;
    if state.store.user(&user_id(&email)).await?.is_some() {
        return Ok(());
    }
    let meta = WriteMeta {
        actor: "system".into(),
        mode: WriteMode::Administrative,
        reason: Some("FEATURE_FLAGS_ADMIN_EMAIL".into()),
        ..WriteMeta::default()
    };
    let request = CreateUserRequest {
        display_name: email.split('@').next().unwrap_or("admin").to_owned(),
        email,
        role: "admin".into(),
        password: password.to_owned(),
    };
    create_user(state, meta, request).await.map(|_| ())
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
