//! Rows as the database returns them, and their conversion to the domain
//! types. Everything here is backend-neutral: both schemas have the same
//! columns with the same Rust types (TEXT ↔ `String`, BIGINT ↔ `i64`,
//! BOOLEAN ↔ `bool`).

use serde_json::Value;
use time::OffsetDateTime;

use crate::{
    ApiKey, AuditEntry, ChangeRecord, EnvironmentRoles, EnvironmentSettings, FlagVersion, KeyKind,
    ResourceKind, Role, StoreError, StoredEnvironment, StoredFlag, StoredSegment, StoredWorkItem,
    User, WorkItem, WorkKind,
};

/// `SELECT <every column of FlagRow> FROM flags`, for `concat!`.
macro_rules! select_flags {
    () => {
        "SELECT flag_id, document, version, deleted, created_at, updated_at FROM flags"
    };
}
pub(crate) use select_flags;

/// A row of `flags`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FlagRow {
    pub flag_id: String,
    pub document: String,
    pub version: i64,
    pub deleted: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FlagRow {
    pub(crate) fn into_stored(self) -> Result<StoredFlag, StoreError> {
        let flag = serde_json::from_str(&self.document).map_err(|e| StoreError::Corrupt {
            kind: ResourceKind::Flag,
            key: self.flag_id.clone(),
            message: e.to_string(),
        })?;
        Ok(StoredFlag {
            flag,
            version: self.version,
            deleted: self.deleted,
            created_at: from_millis(self.created_at)?,
            updated_at: from_millis(self.updated_at)?,
        })
    }
}

/// `SELECT <every column of FlagVersionRow> FROM flag_versions`, for `concat!`.
macro_rules! select_flag_versions {
    () => {
        "SELECT flag_id, version, document, deleted, action, actor, at, reason, \
         deployment_id FROM flag_versions"
    };
}
pub(crate) use select_flag_versions;

/// A row of `flag_versions`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FlagVersionRow {
    pub flag_id: String,
    pub version: i64,
    pub document: String,
    pub deleted: bool,
    pub action: String,
    pub actor: String,
    pub at: i64,
    pub reason: Option<String>,
    pub deployment_id: Option<String>,
}

impl FlagVersionRow {
    pub(crate) fn into_version(self) -> Result<FlagVersion, StoreError> {
        let document = json(ResourceKind::Flag, &self.flag_id, &self.document)?;
        Ok(FlagVersion {
            flag_id: self.flag_id,
            version: self.version,
            document,
            deleted: self.deleted,
            action: self.action,
            actor: self.actor,
            at: from_millis(self.at)?,
            reason: self.reason,
            deployment_id: self.deployment_id,
        })
    }
}

/// `SELECT <every column of SegmentRow> FROM segments`, for `concat!`.
macro_rules! select_segments {
    () => {
        "SELECT segment_id, document, version, updated_at FROM segments"
    };
}
pub(crate) use select_segments;

/// A row of `segments`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SegmentRow {
    pub segment_id: String,
    pub document: String,
    pub version: i64,
    pub updated_at: i64,
}

impl SegmentRow {
    pub(crate) fn into_stored(self) -> Result<StoredSegment, StoreError> {
        let segment = serde_json::from_str(&self.document).map_err(|e| StoreError::Corrupt {
            kind: ResourceKind::Segment,
            key: self.segment_id.clone(),
            message: e.to_string(),
        })?;
        Ok(StoredSegment {
            segment,
            version: self.version,
            updated_at: from_millis(self.updated_at)?,
        })
    }
}

/// `SELECT <every column of EnvironmentRow> FROM environments`, for `concat!`.
macro_rules! select_environments {
    () => {
        "SELECT key, settings, version, updated_at FROM environments"
    };
}
pub(crate) use select_environments;

/// A row of `environments`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EnvironmentRow {
    pub key: String,
    pub settings: String,
    pub version: i64,
    pub updated_at: i64,
}

impl EnvironmentRow {
    pub(crate) fn into_stored(self) -> Result<StoredEnvironment, StoreError> {
        let environment: EnvironmentSettings =
            serde_json::from_str(&self.settings).map_err(|e| StoreError::Corrupt {
                kind: ResourceKind::Environment,
                key: self.key.clone(),
                message: e.to_string(),
            })?;
        Ok(StoredEnvironment {
            environment,
            version: self.version,
            updated_at: from_millis(self.updated_at)?,
        })
    }
}

/// `SELECT <every column of AuditRow> FROM audit`, for `concat!`.
macro_rules! select_audit {
    () => {
        "SELECT id, at, actor, action, resource_kind, resource_key, environment, \
         before, after, reason, request_id, deployment_id, prev_hash, hash FROM audit"
    };
}
pub(crate) use select_audit;

/// A row of `audit`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub resource_kind: String,
    pub resource_key: String,
    pub environment: Option<String>,
    pub before: String,
    pub after: String,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub deployment_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    pub(crate) fn into_entry(self) -> Result<AuditEntry, StoreError> {
        let kind = ResourceKind::from_name(&self.resource_kind).ok_or_else(|| {
            StoreError::Database(
                format!(
                    "audit entry {} names an unknown resource kind {:?}",
                    self.id, self.resource_kind
                )
                .into(),
            )
        })?;
        Ok(AuditEntry {
            id: self.id,
            at: from_millis(self.at)?,
            before: json(kind, &self.resource_key, &self.before)?,
            after: json(kind, &self.resource_key, &self.after)?,
            actor: self.actor,
            action: self.action,
            resource_kind: kind,
            resource_key: self.resource_key,
            environment: self.environment,
            reason: self.reason,
            request_id: self.request_id,
            deployment_id: self.deployment_id,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// `SELECT <every column of ChangeRow> FROM change_log`, for `concat!`.
macro_rules! select_changes {
    () => {
        "SELECT revision, kind, key, removed FROM change_log"
    };
}
pub(crate) use select_changes;

/// A row of `change_log`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ChangeRow {
    pub revision: i64,
    pub kind: String,
    pub key: String,
    pub removed: bool,
}

impl ChangeRow {
    pub(crate) fn into_record(self) -> Result<ChangeRecord, StoreError> {
        let kind = ResourceKind::from_name(&self.kind).ok_or_else(|| {
            StoreError::Database(
                format!(
                    "change log revision {} names an unknown resource kind {:?}",
                    self.revision, self.kind
                )
                .into(),
            )
        })?;
        Ok(ChangeRecord {
            revision: self.revision,
            kind,
            key: self.key,
            removed: self.removed,
        })
    }
}

/// `SELECT <every column of ApiKeyRow> FROM api_keys`, for `concat!`.
macro_rules! select_api_keys {
    () => {
        "SELECT id, name, kind, role, environment, environment_roles, prefix, secret_hash, \
         created_by, created_at, last_used_at, revoked_at FROM api_keys"
    };
}
pub(crate) use select_api_keys;

/// A row of `api_keys`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub role: Option<String>,
    pub environment: Option<String>,
    pub environment_roles: Option<String>,
    pub prefix: String,
    pub secret_hash: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ApiKeyRow {
    pub(crate) fn into_key(self) -> Result<ApiKey, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt {
            kind: ResourceKind::ApiKey,
            key: self.id.clone(),
            message,
        };
        let kind = key_kind_from_name(&self.kind)
            .ok_or_else(|| corrupt(format!("unknown key kind {:?}", self.kind)))?;
        let role = match &self.role {
            None => None,
            Some(name) => Some(
                role_from_name(name).ok_or_else(|| corrupt(format!("unknown role {name:?}")))?,
            ),
        };
        let environment_roles =
            environment_roles_from_text(self.environment_roles.as_deref()).map_err(corrupt)?;
        Ok(ApiKey {
            kind,
            role,
            environment_roles,
            created_at: from_millis(self.created_at)?,
            last_used_at: self.last_used_at.map(from_millis).transpose()?,
            revoked_at: self.revoked_at.map(from_millis).transpose()?,
            id: self.id,
            name: self.name,
            environment: self.environment,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            created_by: self.created_by,
        })
    }
}

/// `SELECT <every column of UserRow> FROM users`, for `concat!`.
macro_rules! select_users {
    () => {
        "SELECT id, email, display_name, role, environment_roles, password_hash, created_by, \
         created_at, updated_at, disabled_at FROM users"
    };
}
pub(crate) use select_users;

/// A row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub environment_roles: Option<String>,
    pub password_hash: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub disabled_at: Option<i64>,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        let role = role_from_name(&self.role).ok_or_else(|| StoreError::Corrupt {
            kind: ResourceKind::User,
            key: self.id.clone(),
            message: format!("unknown role {:?}", self.role),
        })?;
        let environment_roles = environment_roles_from_text(self.environment_roles.as_deref())
            .map_err(|message| StoreError::Corrupt {
                kind: ResourceKind::User,
                key: self.id.clone(),
                message,
            })?;
        Ok(User {
            role,
            environment_roles,
            created_at: from_millis(self.created_at)?,
            updated_at: from_millis(self.updated_at)?,
            disabled_at: self.disabled_at.map(from_millis).transpose()?,
            id: self.id,
            email: self.email,
            display_name: self.display_name,
            password_hash: self.password_hash,
            created_by: self.created_by,
        })
    }
}

/// Stored environment roles (JSON text), if any.
fn environment_roles_from_text(text: Option<&str>) -> Result<Option<EnvironmentRoles>, String> {
    text.map(|text| {
        serde_json::from_str(text).map_err(|e| format!("unreadable environment_roles: {e}"))
    })
    .transpose()
}

/// Environment roles as stored (JSON text), if any.
pub(crate) fn environment_roles_text(roles: Option<&EnvironmentRoles>) -> Option<String> {
    // A map of names to roles always serialises.
    roles.and_then(|roles| serde_json::to_string(roles).ok())
}

/// A stored time: Unix milliseconds (see [`crate::audit::unix_millis`]).
pub(crate) fn from_millis(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms).saturating_mul(1_000_000))
        .map_err(|e| StoreError::Database(format!("stored time {ms} is out of range: {e}").into()))
}

/// A stored JSON text of a resource, as a value.
fn json(kind: ResourceKind, key: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        kind,
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// The stored name of a key kind.
pub(crate) fn key_kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Admin => "admin",
        KeyKind::Server => "server",
        KeyKind::Client => "client",
    }
}

fn key_kind_from_name(name: &str) -> Option<KeyKind> {
    [KeyKind::Admin, KeyKind::Server, KeyKind::Client]
        .into_iter()
        .find(|k| key_kind_name(*k) == name)
}

fn role_from_name(name: &str) -> Option<Role> {
    [Role::Viewer, Role::Editor, Role::Approver, Role::Admin]
        .into_iter()
        .find(|r| r.name() == name)
}

/// `SELECT <every column of WorkItemRow> FROM work_items`, for `concat!`.
macro_rules! select_work_items {
    () => {
        "SELECT kind, id, status, flag_id, environment, due_at, document, version, \
         created_at, updated_at FROM work_items"
    };
}
pub(crate) use select_work_items;

/// A row of `work_items`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct WorkItemRow {
    pub kind: String,
    pub id: String,
    pub status: String,
    pub flag_id: Option<String>,
    pub environment: Option<String>,
    pub due_at: Option<i64>,
    pub document: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WorkItemRow {
    pub(crate) fn into_stored(self) -> Result<StoredWorkItem, StoreError> {
        let kind = WorkKind::from_name(&self.kind).ok_or_else(|| StoreError::Corrupt {
            kind: ResourceKind::ChangeRequest,
            key: self.id.clone(),
            message: format!("unknown work item kind \"{}\"", self.kind),
        })?;
        let document = json(kind.resource_kind(), &self.id, &self.document)?;
        Ok(StoredWorkItem {
            item: WorkItem {
                kind,
                id: self.id,
                status: self.status,
                flag_id: self.flag_id,
                environment: self.environment,
                due_at: self.due_at.map(from_millis).transpose()?,
                document,
            },
            version: self.version,
            created_at: from_millis(self.created_at)?,
            updated_at: from_millis(self.updated_at)?,
        })
    }
}
