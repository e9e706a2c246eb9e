//! People: accounts and sign-in.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `POST /api/v1/users`: an account for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// The sign-in name (kept in lower case).
    pub email: String,
    /// How the interface names them.
    pub display_name: String,
    /// `viewer`, `editor`, `approver` or `admin`.
    #[schemars(extend("enum" = ["viewer", "editor", "approver", "admin"]))]
    pub role: String,
    /// At least 10 characters.
    #[schemars(length(min = 10, max = 256))]
    pub password: String,
    /// Scopes `role` to these environments (no role elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    /// A role per environment (no role elsewhere); with `environments`,
    /// these take precedence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("additionalProperties" = {"enum": ["viewer", "editor", "approver", "admin"]}))]
    pub environment_roles: Option<std::collections::BTreeMap<String, String>>,
}

/// `PATCH /api/v1/users/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// A new display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A new role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["viewer", "editor", "approver", "admin"]))]
    pub role: Option<String>,
    /// A new password (ends the user's sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 10, max = 256))]
    pub password: Option<String>,
    /// `true` disables the account (ending its sessions), `false` enables it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// A new scope: the role in these environments only. An empty list
    /// removes the scope (the role then holds everywhere). A new `role`
    /// alone keeps the environments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environments: Option<Vec<String>>,
    /// A new scope as a role per environment; an empty object removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("additionalProperties" = {"enum": ["viewer", "editor", "approver", "admin"]}))]
    pub environment_roles: Option<std::collections::BTreeMap<String, String>>,
}

/// `POST /api/v1/sessions`: sign in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// The account's email.
    pub email: String,
    /// Its password.
    pub password: String,
}

/// A person's account, as the API shows it (never the password).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserAccount {
    /// `user:<email>`: the audit actor of what they do.
    pub id: String,
    /// The sign-in name.
    pub email: String,
    /// How the interface names them.
    pub display_name: String,
    /// `viewer`, `editor`, `approver` or `admin` (when scoped: the highest
    /// of `environment_roles`).
    pub role: String,
    /// For accounts scoped to environments: the role in each (none
    /// elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_roles: Option<std::collections::BTreeMap<String, String>>,
    /// Who created the account.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// When it was disabled (null: enabled).
    pub disabled_at: Option<String>,
}

/// A signed-in session: who, the CSRF token its state-changing requests
/// echo (`X-CSRF-Token`), and when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    /// The person.
    pub user: UserAccount,
    /// What every state-changing request of the session must send.
    pub csrf_token: String,
    /// When the session ends (RFC 3339).
    pub expires_at: String,
}
