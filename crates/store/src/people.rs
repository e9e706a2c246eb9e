//! People who sign in to the admin interface, and their sessions.
//!
//! Users change through commits ([`crate::Change::CreateUser`],
//! [`crate::Change::UpdateUser`]), so every change is audited like an API
//! key's. Sessions are bookkeeping: created at sign-in, revoked at
//! sign-out, when the user is disabled or their password changes, and
//! found by the hash of the cookie's secret (never the secret).

use serde::Serialize;
use time::OffsetDateTime;

use crate::{EnvironmentRoles, Role};

/// A person's account. Its id is the audit actor of what they do
/// (`user:<email>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// `user:<email>`: stable, readable in the audit log.
    pub id: String,
    /// The sign-in name, lower case.
    pub email: String,
    /// How the interface names them.
    pub display_name: String,
    /// The same roles as admin keys.
    pub role: Role,
    /// Roles scoped to environments (none elsewhere); `None`: `role`
    /// everywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_roles: Option<EnvironmentRoles>,
    /// The argon2id hash (PHC string); never serialised.
    #[serde(skip)]
    pub password_hash: String,
    /// Who created the account (a key id, a user id or `system`).
    pub created_by: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When it was disabled: it can no longer sign in and its sessions end.
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
}

/// An account to create. The caller hashes the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// `user:<email>`.
    pub id: String,
    /// The sign-in name, lower case.
    pub email: String,
    /// How the interface names them.
    pub display_name: String,
    /// Their role.
    pub role: Role,
    /// Roles scoped to environments.
    pub environment_roles: Option<EnvironmentRoles>,
    /// The argon2id hash (PHC string).
    pub password_hash: String,
}

/// A change to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// The account.
    pub id: String,
    /// A new display name.
    pub display_name: Option<String>,
    /// A new role.
    pub role: Option<Role>,
    /// New environment roles: `Some(None)` makes the account unscoped.
    pub environment_roles: Option<Option<EnvironmentRoles>>,
    /// A new password hash: ends every session of the user.
    pub password_hash: Option<String>,
    /// `Some(true)` disables (ending every session), `Some(false)` enables.
    pub disabled: Option<bool>,
}

/// A session to record at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the cookie's secret, hex.
    pub secret_hash: String,
    /// Whose.
    pub user_id: String,
    /// What this session's forms and script requests must echo.
    pub csrf_token: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it ends, whatever happens.
    pub expires_at: OffsetDateTime,
}

/// A live session and its user, as a request presenting it sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// What this session's forms and script requests must echo.
    pub csrf_token: String,
    /// When it ends.
    pub expires_at: OffsetDateTime,
    /// The user, as stored now (role changes apply at once).
    pub user: User,
}
