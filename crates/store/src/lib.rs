#![doc = include_str!("../README.md")]
// Requests, documents and contexts reach this crate's arithmetic: it must
// neither panic nor wrap unnoticed. Where an invariant keeps an operation in
// range, the function says which (`#[expect(..., reason = ...)]`).
#![cfg_attr(not(test), deny(clippy::panic, clippy::arithmetic_side_effects))]

mod audit;
mod experiments;
mod metrics;
mod people;
mod postgres;
mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
mod types;
mod webhooks;

pub use audit::{AuditVerification, GENESIS_HASH, entry_hash};
pub use experiments::{
    ExperimentRecord, Exposure, LogEntry, LogSwitch, StoredExperiment, TrackedEvent, VariantTally,
};
pub use metrics::{CountQuery, EvaluationCount, FlagBucketTotal, Granularity};
pub use people::{NewSession, NewUser, SessionUser, User, UserUpdate};
pub use postgres::{NOTIFY_CHANNEL, PostgresStore};
pub use sqlite::SqliteStore;
pub use types::*;
pub use webhooks::{
    AttemptOutcome, Delivery, DeliveryStatus, NewDelivery, StoredWebhook, WebhookRecord,
};

use std::sync::Arc;

use async_trait::async_trait;

/// Opens the store a URL names and migrates its schema: `postgres://…` or
/// `postgresql://…` is PostgreSQL; `sqlite:…` or a plain file path is SQLite
/// (the file is created if missing; `sqlite::memory:` or `:memory:` is a
/// database that lives as long as the store).
pub async fn connect(database_url: &str) -> Result<Arc<dyn FlagStore>, StoreError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(database_url).await?))
    } else if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(database_url).await?))
    } else if database_url == ":memory:" {
        Ok(Arc::new(SqliteStore::connect("sqlite::memory:").await?))
    } else if let Some((scheme, _)) = database_url.split_once("://") {
        Err(StoreError::Database(format!(
            "unsupported database URL scheme {scheme:?}: use postgres://, sqlite: or a file path"
        ).into()))
    } else {
        Ok(Arc::new(SqliteStore::open(database_url).await?))
    }
}

/// Everything the service keeps, behind one interface with a SQLite and a
/// PostgreSQL implementation.
///
/// Every mutation goes through [`FlagStore::commit`]: one transaction that
/// checks versions, writes the new documents and their versions, appends a
/// hash-chained audit entry per change and records the changes under a new
/// revision. Either all of a [`ChangeSet`] happens or none of it.
#[async_trait]
pub trait FlagStore: Send + Sync + 'static {
    /// Applies a change set atomically (see the trait documentation).
    /// A version mismatch is [`StoreError::Conflict`] and changes nothing.
    async fn commit(&self, changes: ChangeSet) -> Result<Committed, StoreError>;

    /// The live configuration (deleted flags excluded) and its revision.
    async fn load(&self) -> Result<Configuration, StoreError>;

    /// One flag, deleted or not.
    async fn flag(&self, flag_id: &str) -> Result<Option<StoredFlag>, StoreError>;

    /// Flags that are soft-deleted (restorable).
    async fn deleted_flags(&self) -> Result<Vec<StoredFlag>, StoreError>;

    /// The versions of a flag, newest first, `limit` from before `before`
    /// (a version number; `None` starts at the newest).
    async fn flag_versions(
        &self,
        flag_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<FlagVersion>, StoreError>;

    /// One version of a flag.
    async fn flag_version(
        &self,
        flag_id: &str,
        version: i64,
    ) -> Result<Option<FlagVersion>, StoreError>;

    /// Audit entries matching a query, newest first.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;

    /// Audit entries in chain order (oldest first) after entry `after_id`,
    /// for verification and export.
    async fn audit_chain(&self, after_id: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// The changes recorded after `revision`, oldest first, at most `limit`.
    /// Used to replay what a stream subscriber missed.
    async fn changes_since(
        &self,
        revision: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRecord>, StoreError>;

    /// All API keys, revoked ones included.
    async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// The key whose secret hashes to `secret_hash` (revoked or not).
    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError>;

    /// Records when keys were last used (batched by the caller; not audited).
    async fn touch_api_keys(
        &self,
        used: &[(String, time::OffsetDateTime)],
    ) -> Result<(), StoreError>;

    /// Change requests, schedules and rollout plans matching a query.
    async fn work_items(&self, query: &WorkQuery) -> Result<Vec<StoredWorkItem>, StoreError>;

    /// One work item.
    async fn work_item(
        &self,
        kind: WorkKind,
        id: &str,
    ) -> Result<Option<StoredWorkItem>, StoreError>;

    /// Every flag version written by a deployment (`ChangeSet::deployment_id`),
    /// by flag then version.
    async fn deployment_versions(
        &self,
        deployment_id: &str,
    ) -> Result<Vec<FlagVersion>, StoreError>;

    /// Records when flags were last evaluated (batched by the caller; a time
    /// older than the one stored is ignored; not audited).
    async fn record_flag_usage(
        &self,
        evaluated: &[(String, time::OffsetDateTime)],
    ) -> Result<(), StoreError>;

    /// When each flag was last evaluated, as recorded.
    async fn flag_usage(
        &self,
    ) -> Result<std::collections::HashMap<String, time::OffsetDateTime>, StoreError>;

    /// Adds counts of `Granularity::Minute` buckets to the minute, hour and
    /// day buckets that hold them (added to what is stored, so that nodes
    /// flushing the same bucket add up; not audited).
    async fn add_evaluation_counts(&self, counts: &[EvaluationCount]) -> Result<(), StoreError>;

    /// The counts of a flag in a time range, oldest bucket first.
    async fn evaluation_counts(
        &self,
        query: &CountQuery,
    ) -> Result<Vec<EvaluationCount>, StoreError>;

    /// Every flag's total per bucket of `granularity` in `[since, until)`,
    /// in one query (flags without evaluations are absent).
    async fn evaluation_totals(
        &self,
        granularity: Granularity,
        since: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Result<Vec<FlagBucketTotal>, StoreError>;

    /// Deletes the buckets of `granularity` that start before `before`.
    async fn prune_evaluation_counts(
        &self,
        granularity: Granularity,
        before: time::OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Every experiment, by id.
    async fn experiments(&self) -> Result<Vec<StoredExperiment>, StoreError>;

    /// One experiment.
    async fn experiment(&self, id: &str) -> Result<Option<StoredExperiment>, StoreError>;

    /// Records exposures; a subject's first exposure to an experiment is
    /// kept, later ones change nothing (not audited).
    async fn record_exposures(&self, exposures: &[Exposure]) -> Result<(), StoreError>;

    /// Records tracked events (not audited).
    async fn record_events(&self, events: &[TrackedEvent]) -> Result<(), StoreError>;

    /// Per variant of an experiment: exposed subjects and their `event`s
    /// after their first exposure.
    async fn variant_tallies(
        &self,
        experiment_id: &str,
        event: &str,
    ) -> Result<Vec<VariantTally>, StoreError>;

    /// Every exposure and event of a subject (a privacy export).
    async fn subject_records(
        &self,
        subject: &str,
    ) -> Result<(Vec<Exposure>, Vec<TrackedEvent>), StoreError>;

    /// Deletes every exposure and event of a subject; answers how many of
    /// each went.
    async fn erase_subject(&self, subject: &str) -> Result<(u64, u64), StoreError>;

    /// Switches an evaluation log on (until a time) or off (`None`).
    async fn set_log_switch(
        &self,
        flag_id: &str,
        environment: &str,
        until: Option<(time::OffsetDateTime, bool)>,
    ) -> Result<(), StoreError>;

    /// Every evaluation log switched on (expired ones included).
    async fn log_switches(&self) -> Result<Vec<LogSwitch>, StoreError>;

    /// Appends logged evaluations, and deletes those older than `keep_since`.
    async fn append_evaluation_log(
        &self,
        entries: &[LogEntry],
        keep_since: time::OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The newest `limit` logged evaluations of a flag in an environment.
    async fn evaluation_log(
        &self,
        flag_id: &str,
        environment: &str,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError>;

    /// The value of a named secret, made from `make` (and kept) the first
    /// time any node asks.
    async fn secret(&self, name: &str, make: String) -> Result<String, StoreError>;

    /// Every user account, disabled ones included, by email.
    async fn users(&self) -> Result<Vec<User>, StoreError>;

    /// One user account by id (`user:<email>`).
    async fn user(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// Records a session at sign-in (not a commit: not audited).
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;

    /// The session whose secret hashes to `secret_hash`, with its user, if
    /// it is neither revoked nor expired at `now` and its user is enabled.
    async fn session(
        &self,
        secret_hash: &str,
        now: time::OffsetDateTime,
    ) -> Result<Option<SessionUser>, StoreError>;

    /// Ends a session (sign-out); ending an ended one changes nothing.
    async fn revoke_session(
        &self,
        secret_hash: &str,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Every webhook endpoint, by id.
    async fn webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError>;

    /// One webhook endpoint.
    async fn webhook(&self, id: &str) -> Result<Option<StoredWebhook>, StoreError>;

    /// The last audit entry the webhook dispatcher has turned into
    /// deliveries.
    async fn webhook_cursor(&self) -> Result<i64, StoreError>;

    /// Inserts deliveries (one per endpoint and event: a duplicate is
    /// skipped) and, with `cursor = Some((from, to))`, moves the dispatch
    /// cursor from `from` to `to` in the same transaction. Answers `false`,
    /// inserting nothing, when the cursor was no longer at `from` (another
    /// node got there first).
    async fn enqueue_deliveries(
        &self,
        cursor: Option<(i64, i64)>,
        deliveries: &[NewDelivery],
    ) -> Result<bool, StoreError>;

    /// Pending deliveries due at `now` and not leased, oldest due first.
    async fn due_deliveries(
        &self,
        now: time::OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Leases a pending delivery to `owner` until `until`, if it is due
    /// and nobody holds an unexpired lease on it; `false` otherwise.
    async fn claim_delivery(
        &self,
        id: &str,
        owner: &str,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Records an attempt's outcome and releases the lease, if `owner`
    /// still holds it (`false` otherwise: nothing is written).
    async fn finish_delivery(
        &self,
        id: &str,
        owner: &str,
        outcome: &AttemptOutcome,
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// One delivery.
    async fn delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError>;

    /// An endpoint's newest `limit` deliveries, newest first.
    async fn webhook_deliveries(
        &self,
        webhook_id: &str,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Checks the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Listens for commits of every process sharing the database
    /// (PostgreSQL `LISTEN`). `Ok(None)` when the store has no such signal
    /// (SQLite: one process writes).
    async fn listen(&self) -> Result<Option<Box<dyn CommitListener>>, StoreError>;
}

/// Notifications of commits, from any process.
#[async_trait]
pub trait CommitListener: Send {
    /// Waits for the next commit and returns its revision. An error means
    /// the connection was lost: notifications may have been missed, so the
    /// caller should catch up from the change log and listen again.
    async fn next_commit(&mut self) -> Result<i64, StoreError>;
}
