//! The store's domain types: what is kept, what a write asks for, and what
//! can go wrong.

use ff_engine::{Flag, Segment};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// A flag as stored: the document plus its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFlag {
    /// The document.
    pub flag: Flag,
    /// Starts at 1, +1 on every change (including delete and restore).
    pub version: i64,
    /// Soft-deleted flags are kept, restorable, and not evaluated.
    pub deleted: bool,
    /// When version 1 was written.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the current version was written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A segment as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSegment {
    /// The document.
    pub segment: Segment,
    /// Starts at 1, +1 on every change.
    pub version: i64,
    /// When the current version was written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An environment and its governance settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentSettings {
    /// Key, parent and `auto_sync`: what evaluation needs.
    #[serde(flatten)]
    pub tree: ff_engine::Environment,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Writes become change requests that someone else approves.
    #[serde(default)]
    pub approval_required: bool,
    /// How many approvals a change request needs (at least 1 when
    /// `approval_required`).
    #[serde(default = "one")]
    pub required_approvals: u32,
    /// Rollback protection: changes need a reason, destructive ones a
    /// confirmation.
    #[serde(default)]
    pub protected: bool,
    /// When writes are allowed; empty means always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub change_windows: Vec<ChangeWindow>,
    /// What a write that breaks a prerequisite here gets (enabling a flag
    /// whose prerequisite is off, turning off one that others require).
    #[serde(default)]
    pub dependency_policy: DependencyPolicy,
}

/// See [`EnvironmentSettings::dependency_policy`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyPolicy {
    /// The write happens; the answer carries a warning.
    #[default]
    Warn,
    /// The write is refused (409).
    Refuse,
}

fn one() -> u32 {
    1
}

/// A recurring period in which changes are allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeWindow {
    /// Days of the week (`monday` … `sunday`).
    pub days: Vec<String>,
    /// Local start time, `HH:MM`.
    pub start: String,
    /// Local end time, `HH:MM`.
    pub end: String,
    /// IANA time zone (`Europe/Rome`) or `UTC`.
    #[serde(default = "utc")]
    pub time_zone: String,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// An environment as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEnvironment {
    /// The settings.
    pub environment: EnvironmentSettings,
    /// Starts at 1, +1 on every change.
    pub version: i64,
    /// When the current version was written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The live configuration at one revision.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Configuration {
    /// The revision of the last commit (0 for an empty store).
    pub revision: i64,
    /// Live flags (not deleted), ordered by `flag_id`.
    pub flags: Vec<StoredFlag>,
    /// Segments, ordered by `segment_id`.
    pub segments: Vec<StoredSegment>,
    /// Environments, ordered by key.
    pub environments: Vec<StoredEnvironment>,
}

/// One historical version of a flag. The document is kept as JSON: history is
/// never rewritten, even if later versions of the engine read documents
/// differently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagVersion {
    /// The flag.
    pub flag_id: String,
    /// The version number.
    pub version: i64,
    /// The document as it was.
    pub document: Value,
    /// Whether this version is a deletion.
    pub deleted: bool,
    /// The audit action that produced it (`flag.update`, …).
    pub action: String,
    /// Who wrote it.
    pub actor: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The change's reason, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The deployment that made it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
}

/// What a write expects the current version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The resource must not exist (a deleted flag counts as existing: restore it).
    Absent,
    /// The resource must exist at exactly this version.
    Version(i64),
    /// The resource must exist, at any version.
    Exists,
    /// No check: create or overwrite (imports, seeding).
    Any,
}

/// One change of a [`ChangeSet`].
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Create or replace a flag (a replaced deleted flag is restored).
    PutFlag(Flag, Expect),
    /// Soft-delete a flag.
    DeleteFlag(String, Expect),
    /// Restore a soft-deleted flag.
    RestoreFlag(String, Expect),
    /// Create or replace a segment.
    PutSegment(Segment, Expect),
    /// Delete a segment (the caller checks nothing refers to it).
    DeleteSegment(String, Expect),
    /// Create or replace an environment.
    PutEnvironment(EnvironmentSettings, Expect),
    /// Delete an environment (the caller checks nothing refers to it).
    DeleteEnvironment(String, Expect),
    /// Create an API key.
    CreateApiKey(NewApiKey),
    /// Revoke an API key (idempotent).
    RevokeApiKey(String),
    /// Create or update a change request, schedule or rollout plan.
    PutWorkItem(WorkItem, Expect),
    /// Create or replace an experiment.
    PutExperiment(crate::ExperimentRecord, Expect),
    /// Create a user account (an existing email is a conflict).
    CreateUser(crate::NewUser),
    /// Change a user account; disabling it or changing its password ends
    /// its sessions in the same transaction.
    UpdateUser(crate::UserUpdate),
    /// Create or replace a webhook endpoint.
    PutWebhook(crate::WebhookRecord, Expect),
    /// Delete a webhook endpoint and its deliveries.
    DeleteWebhook(String, Expect),
}

/// One change and how the audit log names it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditedChange {
    /// The change.
    pub change: Change,
    /// The audit action, e.g. `flag.create`, `flag.environment.update`,
    /// `emergency.disable`.
    pub action: String,
    /// The environment the change is about, if it is about one.
    pub environment: Option<String>,
}

/// Changes applied together, all or nothing, with who made them and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeSet {
    /// The changes, applied in order.
    pub changes: Vec<AuditedChange>,
    /// Who (an API key id, or `system`).
    pub actor: String,
    /// When (passed in so that a controllable clock can drive schedules).
    pub at: OffsetDateTime,
    /// Why, if given.
    pub reason: Option<String>,
    /// The request that made the change, for correlating logs.
    pub request_id: Option<String>,
    /// The deployment the change belongs to, if any.
    pub deployment_id: Option<String>,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Committed {
    /// The new revision.
    pub revision: i64,
    /// The new version of each changed resource, in change order (0 for API
    /// keys).
    pub versions: Vec<i64>,
    /// The ids of the audit entries written, in change order.
    pub audit_ids: Vec<i64>,
}

/// The kind of resource a change or audit entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A flag.
    Flag,
    /// A segment.
    Segment,
    /// An environment.
    Environment,
    /// An API key.
    ApiKey,
    /// A change request waiting for approval.
    ChangeRequest,
    /// A scheduled change.
    Schedule,
    /// A gradual rollout plan.
    RolloutPlan,
    /// A person's account.
    User,
    /// An A/B experiment.
    Experiment,
    /// An outgoing webhook endpoint.
    Webhook,
}

impl ResourceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Flag => "flag",
            ResourceKind::Segment => "segment",
            ResourceKind::Environment => "environment",
            ResourceKind::ApiKey => "api_key",
            ResourceKind::ChangeRequest => "change_request",
            ResourceKind::Schedule => "schedule",
            ResourceKind::RolloutPlan => "rollout_plan",
            ResourceKind::User => "user",
            ResourceKind::Experiment => "experiment",
            ResourceKind::Webhook => "webhook",
        }
    }

    /// Reads a stored name.
    pub fn from_name(name: &str) -> Option<ResourceKind> {
        [
            ResourceKind::Flag,
            ResourceKind::Segment,
            ResourceKind::Environment,
            ResourceKind::ApiKey,
            ResourceKind::ChangeRequest,
            ResourceKind::Schedule,
            ResourceKind::RolloutPlan,
            ResourceKind::User,
            ResourceKind::Experiment,
            ResourceKind::Webhook,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// Whether changes of this kind alter what is evaluated (and so are
    /// recorded in the change log and streamed).
    pub fn is_configuration(self) -> bool {
        matches!(
            self,
            ResourceKind::Flag
                | ResourceKind::Segment
                | ResourceKind::Environment
                | ResourceKind::ApiKey
        )
    }
}

/// Work the service carries out over time; see [`WorkItem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkKind {
    /// A held write waiting for approval.
    ChangeRequest,
    /// A change to apply at a time.
    Schedule,
    /// Percentages to step through over time.
    RolloutPlan,
}

impl WorkKind {
    /// The resource kind of its audit entries (and its stored name).
    pub fn resource_kind(self) -> ResourceKind {
        match self {
            WorkKind::ChangeRequest => ResourceKind::ChangeRequest,
            WorkKind::Schedule => ResourceKind::Schedule,
            WorkKind::RolloutPlan => ResourceKind::RolloutPlan,
        }
    }

    /// Reads a stored name.
    pub fn from_name(name: &str) -> Option<WorkKind> {
        [
            WorkKind::ChangeRequest,
            WorkKind::Schedule,
            WorkKind::RolloutPlan,
        ]
        .into_iter()
        .find(|k| k.resource_kind().as_str() == name)
    }
}

/// A change request, schedule or rollout plan. The store keeps the few
/// fields it filters on beside an opaque JSON `document` that the service
/// defines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkItem {
    /// What it is.
    pub kind: WorkKind,
    /// Its id (`cr_…`, `sch_…`, `plan_…`).
    pub id: String,
    /// Its state, e.g. `pending`, `applied`, `failed`.
    pub status: String,
    /// The flag it is about, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_id: Option<String>,
    /// The environment it is about, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// When the scheduler should next act on it (`None`: never).
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_at: Option<OffsetDateTime>,
    /// The body.
    pub document: Value,
}

/// A work item as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredWorkItem {
    /// The item.
    #[serde(flatten)]
    pub item: WorkItem,
    /// Starts at 1, +1 on every change.
    pub version: i64,
    /// When version 1 was written.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the current version was written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A filter on work items; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkQuery {
    /// Only this kind.
    pub kind: Option<WorkKind>,
    /// Only these statuses (empty: any).
    pub statuses: Vec<String>,
    /// Only about this flag.
    pub flag_id: Option<String>,
    /// Only about this environment.
    pub environment: Option<String>,
    /// Only items due at or before this time.
    pub due_by: Option<OffsetDateTime>,
    /// At most this many (newest first; due items: earliest first).
    pub limit: Option<u32>,
}

/// One entry of the change log: a resource that changed at a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeRecord {
    /// The commit's revision.
    pub revision: i64,
    /// What kind of resource.
    pub kind: ResourceKind,
    /// Its key.
    pub key: String,
    /// Whether it was removed (deleted flag, segment, environment; revoked
    /// key) rather than put.
    pub removed: bool,
}

/// One audit entry. `hash` is `entry_hash(prev_hash, entry)`, so any edit or
/// removal of an entry breaks the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who (an API key id, or `system`).
    pub actor: String,
    /// What (`flag.update`, …).
    pub action: String,
    /// The kind of resource.
    pub resource_kind: ResourceKind,
    /// The resource's key.
    pub resource_key: String,
    /// The environment concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The resource before (null when created).
    pub before: Value,
    /// The resource after (null when deleted).
    pub after: Value,
    /// Why, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The deployment it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// The previous entry's hash (hex), or [`crate::GENESIS_HASH`].
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub hash: String,
}

/// A filter on the audit log. Every field narrows; all empty lists
/// everything. Read from query strings: an unknown (misspelled) filter is an
/// error, never silently ignored (which would list everything).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries about this flag.
    pub flag_id: Option<String>,
    /// Only entries about this environment.
    pub environment: Option<String>,
    /// Only entries by this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this deployment.
    pub deployment_id: Option<String>,
    /// At or after this time.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// Before this time.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
    /// Only entries with an id below this (the cursor for the next page).
    pub before_id: Option<i64>,
    /// At most this many (the caller bounds it).
    pub limit: Option<u32>,
}

/// The kinds of API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// People and tools managing flags; has a role.
    Admin,
    /// Server-side SDKs of one environment: may read its rules.
    Server,
    /// Client-side SDKs of one environment: may only evaluate.
    Client,
}

/// What an admin key may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also writes flags and segments.
    Editor,
    /// Also approves change requests.
    Approver,
    /// Also manages keys and environments.
    Admin,
}

impl Role {
    /// The role's name, as stored and as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

/// Roles scoped to environments: environment key → the role held there,
/// and no role anywhere else (issue 17). A key or person without them holds
/// its one `role` everywhere.
///
/// Looking a role up borrows the environment's name: the evaluation path
/// checks a scoped key without allocating.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnvironmentRoles(std::collections::BTreeMap<String, Role>);

impl EnvironmentRoles {
    /// The roles of these environments.
    pub fn new(roles: std::collections::BTreeMap<String, Role>) -> EnvironmentRoles {
        EnvironmentRoles(roles)
    }

    /// The role held in `environment`, if any.
    pub fn role_in(&self, environment: &str) -> Option<Role> {
        self.0.get(environment).copied()
    }

    /// The highest role held in any environment.
    pub fn highest(&self) -> Option<Role> {
        self.0.values().copied().max()
    }

    /// Each environment and its role, by environment.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Role)> {
        self.0.iter().map(|(env, role)| (env.as_str(), *role))
    }

    /// Whether no environment is named.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An API key as stored: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// Public identifier (`key_…`), used as the audit actor.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// Admin, server or client.
    pub kind: KeyKind,
    /// For admin keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// For server and client keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// For admin keys scoped to environments: their role in each, and none
    /// elsewhere (`role` is then the highest of them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_roles: Option<EnvironmentRoles>,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    /// SHA-256 of the secret, hex.
    #[serde(skip)]
    pub secret_hash: String,
    /// The key id that created it, or `system`.
    pub created_by: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was last used, roughly (updates are batched).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// A key to create. The caller generates the secret and hashes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Public identifier.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// Admin, server or client.
    pub kind: KeyKind,
    /// For admin keys.
    pub role: Option<Role>,
    /// For server and client keys.
    pub environment: Option<String>,
    /// For admin keys scoped to environments.
    pub environment_roles: Option<EnvironmentRoles>,
    /// The first characters of the secret.
    pub prefix: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A version check failed; nothing was written.
    #[error("{kind:?} \"{key}\" is at version {actual:?}, the change expected {expected:?}")]
    Conflict {
        /// What kind of resource.
        kind: ResourceKind,
        /// Its key.
        key: String,
        /// What the change expected.
        expected: Expect,
        /// The current version (`None`: absent).
        actual: Option<i64>,
    },
    /// A change named a resource that does not exist.
    #[error("{kind:?} \"{key}\" does not exist")]
    NotFound {
        /// What kind of resource.
        kind: ResourceKind,
        /// Its key.
        key: String,
    },
    /// A stored document no longer reads (a bug or a manual edit).
    #[error("stored {kind:?} \"{key}\" is unreadable: {message}")]
    Corrupt {
        /// What kind of resource.
        kind: ResourceKind,
        /// Its key.
        key: String,
        /// Why.
        message: String,
    },
    /// Text the store does not take (a NUL character, a control character
    /// in a name, an overlong reason): nothing was written.
    #[error("{field}: {message}")]
    Invalid {
        /// Where: a field (`reason`) or a path in a document
        /// (`flag[checkout].default_value`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The database failed or is unreachable, or what it holds cannot be
    /// read back. The cause is kept as the error's source (a `sqlx::Error`
    /// for database failures, else a message), so that logs show its chain;
    /// build it with `.into()` from either.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}
