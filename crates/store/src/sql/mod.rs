//! The SQL shared by both backends.
//!
//! The two schemas have the same tables and columns, and every query here is
//! portable SQL (`$n` parameters, which SQLite also accepts), so the store is
//! written once, generic over the sqlx [`Database`], and instantiated for
//! SQLite and PostgreSQL. What differs — how a writer takes the write lock,
//! how a reader gets a consistent snapshot, how other nodes hear of a
//! commit — is the [`Backend`] trait, implemented in `sqlite.rs` and
//! `postgres.rs`.

mod commit;
mod experiments;
mod metrics;
mod people;
pub(crate) mod rows;
mod webhooks;

use std::future::Future;

use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, QueryBuilder,
    Transaction, Type,
};

use crate::{
    ApiKey, AuditEntry, AuditQuery, ChangeRecord, Configuration, FlagVersion, ResourceKind,
    StoreError, StoredFlag, StoredWorkItem, WorkKind, WorkQuery, audit::unix_millis,
};
use rows::{
    ApiKeyRow, AuditRow, ChangeRow, EnvironmentRow, FlagRow, FlagVersionRow, SegmentRow,
    WorkItemRow, select_api_keys, select_audit, select_changes, select_environments,
    select_flag_versions, select_flags, select_segments, select_work_items,
};

/// What differs between the backends.
pub(crate) trait Backend: Database {
    /// Begins the transaction of a commit, holding the one write lock until
    /// it ends, so that commits (and with them the audit chain and the
    /// revision counter) happen one after the other.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send + '_;

    /// Begins a read-only transaction that sees one consistent snapshot.
    fn begin_snapshot(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send + '_;

    /// Tells other nodes what a commit changed, from inside its transaction
    /// (so that they hear of it exactly when it commits).
    fn notify<'c>(
        conn: &'c mut Self::Connection,
        revision: i64,
        changes: &'c [ChangeRecord],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'c;

    /// How many rows a statement changed (claims and compare-and-set
    /// updates are checked by it).
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

/// The store over one database: a pool for reads and one for commits (the
/// same pool on PostgreSQL; a single connection on SQLite, which has one
/// writer anyway).
#[derive(Debug)]
pub(crate) struct SqlStore<DB: Database> {
    read: Pool<DB>,
    write: Pool<DB>,
}

// Not derived: that would ask for `DB: Clone`.
impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            read: self.read.clone(),
            write: self.write.clone(),
        }
    }
}

/// A database failure, as the store reports it.
pub(crate) fn db_error(error: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(error))
}

/// A `u32` limit as SQL takes it.
fn limit(limit: u32) -> i64 {
    i64::from(limit)
}

// The bounds below say "this sqlx database speaks the column types of our
// schema". They are repeated on the impl block in `commit.rs`: Rust does not
// imply where-clauses from a trait, so they cannot live on `Backend`.
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'a> Option<&'a str>: Encode<'a, DB>,
    i64: for<'a> Encode<'a, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    Option<i64>: for<'a> Encode<'a, DB>,
    bool: for<'a> Encode<'a, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'a> Encode<'a, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// A store over `read` and `write`, whose schema is migrated.
    pub(crate) fn new(read: Pool<DB>, write: Pool<DB>) -> SqlStore<DB> {
        SqlStore { read, write }
    }

    /// The pool commits go through.
    pub(crate) fn write_pool(&self) -> &Pool<DB> {
        &self.write
    }

    pub(crate) async fn load(&self) -> Result<Configuration, StoreError> {
        let mut tx = DB::begin_snapshot(&self.read).await.map_err(db_error)?;
        let revision = sqlx::query_scalar::<DB, i64>("SELECT revision FROM meta WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let flags = sqlx::query_as::<DB, FlagRow>(concat!(
            select_flags!(),
            " WHERE NOT deleted ORDER BY flag_id"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let segments =
            sqlx::query_as::<DB, SegmentRow>(concat!(select_segments!(), " ORDER BY segment_id"))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
        let environments =
            sqlx::query_as::<DB, EnvironmentRow>(concat!(select_environments!(), " ORDER BY key"))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Configuration {
            revision,
            flags: flags
                .into_iter()
                .map(FlagRow::into_stored)
                .collect::<Result<_, _>>()?,
            segments: segments
                .into_iter()
                .map(SegmentRow::into_stored)
                .collect::<Result<_, _>>()?,
            environments: environments
                .into_iter()
                .map(EnvironmentRow::into_stored)
                .collect::<Result<_, _>>()?,
        })
    }

    pub(crate) async fn flag(&self, flag_id: &str) -> Result<Option<StoredFlag>, StoreError> {
        sqlx::query_as::<DB, FlagRow>(concat!(select_flags!(), " WHERE flag_id = $1"))
            .bind(flag_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .map(FlagRow::into_stored)
            .transpose()
    }

    pub(crate) async fn deleted_flags(&self) -> Result<Vec<StoredFlag>, StoreError> {
        sqlx::query_as::<DB, FlagRow>(concat!(select_flags!(), " WHERE deleted ORDER BY flag_id"))
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(FlagRow::into_stored)
            .collect()
    }

    pub(crate) async fn flag_versions(
        &self,
        flag_id: &str,
        before: Option<i64>,
        count: u32,
    ) -> Result<Vec<FlagVersion>, StoreError> {
        sqlx::query_as::<DB, FlagVersionRow>(concat!(
            select_flag_versions!(),
            " WHERE flag_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3"
        ))
        .bind(flag_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit(count))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(FlagVersionRow::into_version)
        .collect()
    }

    pub(crate) async fn flag_version(
        &self,
        flag_id: &str,
        version: i64,
    ) -> Result<Option<FlagVersion>, StoreError> {
        sqlx::query_as::<DB, FlagVersionRow>(concat!(
            select_flag_versions!(),
            " WHERE flag_id = $1 AND version = $2"
        ))
        .bind(flag_id)
        .bind(version)
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?
        .map(FlagVersionRow::into_version)
        .transpose()
    }

    pub(crate) async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new(concat!(select_audit!(), " WHERE 1 = 1"));
        if let Some(flag_id) = &query.flag_id {
            sql.push(" AND resource_kind = ")
                .push_bind(ResourceKind::Flag.as_str())
                .push(" AND resource_key = ")
                .push_bind(flag_id.as_str());
        }
        if let Some(environment) = &query.environment {
            // Entries about something in the environment, and entries about
            // the environment itself.
            sql.push(" AND (environment = ")
                .push_bind(environment.as_str())
                .push(" OR (resource_kind = ")
                .push_bind(ResourceKind::Environment.as_str())
                .push(" AND resource_key = ")
                .push_bind(environment.as_str())
                .push("))");
        }
        if let Some(actor) = &query.actor {
            sql.push(" AND actor = ").push_bind(actor.as_str());
        }
        if let Some(action) = &query.action {
            sql.push(" AND action = ").push_bind(action.as_str());
        }
        if let Some(deployment_id) = &query.deployment_id {
            sql.push(" AND deployment_id = ")
                .push_bind(deployment_id.as_str());
        }
        if let Some(since) = query.since {
            sql.push(" AND at >= ").push_bind(unix_millis(since));
        }
        if let Some(until) = query.until {
            sql.push(" AND at < ").push_bind(unix_millis(until));
        }
        if let Some(before_id) = query.before_id {
            sql.push(" AND id < ").push_bind(before_id);
        }
        sql.push(" ORDER BY id DESC");
        if let Some(count) = query.limit {
            sql.push(" LIMIT ").push_bind(limit(count));
        }
        sql.build_query_as::<AuditRow>()
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(AuditRow::into_entry)
            .collect()
    }

    pub(crate) async fn audit_chain(
        &self,
        after_id: i64,
        count: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        sqlx::query_as::<DB, AuditRow>(concat!(
            select_audit!(),
            " WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after_id)
        .bind(limit(count))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(AuditRow::into_entry)
        .collect()
    }

    pub(crate) async fn changes_since(
        &self,
        revision: i64,
        count: u32,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        sqlx::query_as::<DB, ChangeRow>(concat!(
            select_changes!(),
            " WHERE revision > $1 ORDER BY revision, seq LIMIT $2"
        ))
        .bind(revision)
        .bind(limit(count))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(ChangeRow::into_record)
        .collect()
    }

    pub(crate) async fn work_items(
        &self,
        query: &WorkQuery,
    ) -> Result<Vec<StoredWorkItem>, StoreError> {
        let mut sql = QueryBuilder::<DB>::new(concat!(select_work_items!(), " WHERE 1 = 1"));
        if let Some(kind) = query.kind {
            sql.push(" AND kind = ")
                .push_bind(kind.resource_kind().as_str());
        }
        if !query.statuses.is_empty() {
            sql.push(" AND status IN (");
            let mut list = sql.separated(", ");
            for status in &query.statuses {
                list.push_bind(status.as_str());
            }
            sql.push(")");
        }
        if let Some(flag_id) = &query.flag_id {
            sql.push(" AND flag_id = ").push_bind(flag_id.as_str());
        }
        if let Some(environment) = &query.environment {
            sql.push(" AND environment = ")
                .push_bind(environment.as_str());
        }
        if let Some(due_by) = query.due_by {
            sql.push(" AND due_at <= ")
                .push_bind(unix_millis(due_by))
                .push(" ORDER BY due_at, id");
        } else {
            sql.push(" ORDER BY created_at DESC, id DESC");
        }
        if let Some(count) = query.limit {
            sql.push(" LIMIT ").push_bind(limit(count));
        }
        sql.build_query_as::<WorkItemRow>()
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(WorkItemRow::into_stored)
            .collect()
    }

    pub(crate) async fn work_item(
        &self,
        kind: WorkKind,
        id: &str,
    ) -> Result<Option<StoredWorkItem>, StoreError> {
        sqlx::query_as::<DB, WorkItemRow>(concat!(
            select_work_items!(),
            " WHERE kind = $1 AND id = $2"
        ))
        .bind(kind.resource_kind().as_str())
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?
        .map(WorkItemRow::into_stored)
        .transpose()
    }

    pub(crate) async fn deployment_versions(
        &self,
        deployment_id: &str,
    ) -> Result<Vec<FlagVersion>, StoreError> {
        sqlx::query_as::<DB, FlagVersionRow>(concat!(
            select_flag_versions!(),
            " WHERE deployment_id = $1 ORDER BY flag_id, version"
        ))
        .bind(deployment_id)
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(FlagVersionRow::into_version)
        .collect()
    }

    pub(crate) async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        sqlx::query_as::<DB, ApiKeyRow>(concat!(select_api_keys!(), " ORDER BY created_at, id"))
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(ApiKeyRow::into_key)
            .collect()
    }

    pub(crate) async fn api_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query_as::<DB, ApiKeyRow>(concat!(select_api_keys!(), " WHERE secret_hash = $1"))
            .bind(secret_hash)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .map(ApiKeyRow::into_key)
            .transpose()
    }

    /// Not a commit: last-use times are bookkeeping, neither audited nor
    /// versioned, so they skip the write lock. A time never moves backwards.
    pub(crate) async fn touch_api_keys(
        &self,
        used: &[(String, time::OffsetDateTime)],
    ) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await.map_err(db_error)?;
        for (id, at) in used {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(unix_millis(*at))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    pub(crate) async fn record_flag_usage(
        &self,
        evaluated: &[(String, time::OffsetDateTime)],
    ) -> Result<(), StoreError> {
        if evaluated.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await.map_err(db_error)?;
        for (flag_id, at) in evaluated {
            sqlx::query(
                "INSERT INTO flag_usage (flag_id, last_evaluated_at) VALUES ($1, $2) \
                 ON CONFLICT (flag_id) DO UPDATE SET last_evaluated_at = excluded.last_evaluated_at \
                 WHERE flag_usage.last_evaluated_at < excluded.last_evaluated_at",
            )
            .bind(flag_id.as_str())
            .bind(unix_millis(*at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    pub(crate) async fn flag_usage(
        &self,
    ) -> Result<std::collections::HashMap<String, time::OffsetDateTime>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT flag_id, last_evaluated_at FROM flag_usage")
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
        rows.into_iter()
            .map(|(flag_id, at)| Ok((flag_id, rows::from_millis(at)?)))
            .collect()
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub(crate) async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// Implements [`crate::FlagStore`] for a backend's store type, whose field
/// `sql` is its [`SqlStore`].
macro_rules! delegate_flag_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::FlagStore for $store {
            async fn commit(
                &self,
                changes: $crate::ChangeSet,
            ) -> Result<$crate::Committed, $crate::StoreError> {
                self.sql.commit(changes).await
            }

            async fn load(&self) -> Result<$crate::Configuration, $crate::StoreError> {
                self.sql.load().await
            }

            async fn flag(
                &self,
                flag_id: &str,
            ) -> Result<Option<$crate::StoredFlag>, $crate::StoreError> {
                self.sql.flag(flag_id).await
            }

            async fn deleted_flags(&self) -> Result<Vec<$crate::StoredFlag>, $crate::StoreError> {
                self.sql.deleted_flags().await
            }

            async fn flag_versions(
                &self,
                flag_id: &str,
                before: Option<i64>,
                limit: u32,
            ) -> Result<Vec<$crate::FlagVersion>, $crate::StoreError> {
                self.sql.flag_versions(flag_id, before, limit).await
            }

            async fn flag_version(
                &self,
                flag_id: &str,
                version: i64,
            ) -> Result<Option<$crate::FlagVersion>, $crate::StoreError> {
                self.sql.flag_version(flag_id, version).await
            }

            async fn audit(
                &self,
                query: &$crate::AuditQuery,
            ) -> Result<Vec<$crate::AuditEntry>, $crate::StoreError> {
                self.sql.audit(query).await
            }

            async fn audit_chain(
                &self,
                after_id: i64,
                limit: u32,
            ) -> Result<Vec<$crate::AuditEntry>, $crate::StoreError> {
                self.sql.audit_chain(after_id, limit).await
            }

            async fn changes_since(
                &self,
                revision: i64,
                limit: u32,
            ) -> Result<Vec<$crate::ChangeRecord>, $crate::StoreError> {
                self.sql.changes_since(revision, limit).await
            }

            async fn api_keys(&self) -> Result<Vec<$crate::ApiKey>, $crate::StoreError> {
                self.sql.api_keys().await
            }

            async fn api_key_by_hash(
                &self,
                secret_hash: &str,
            ) -> Result<Option<$crate::ApiKey>, $crate::StoreError> {
                self.sql.api_key_by_hash(secret_hash).await
            }

            async fn touch_api_keys(
                &self,
                used: &[(String, time::OffsetDateTime)],
            ) -> Result<(), $crate::StoreError> {
                self.sql.touch_api_keys(used).await
            }

            async fn work_items(
                &self,
                query: &$crate::WorkQuery,
            ) -> Result<Vec<$crate::StoredWorkItem>, $crate::StoreError> {
                self.sql.work_items(query).await
            }

            async fn work_item(
                &self,
                kind: $crate::WorkKind,
                id: &str,
            ) -> Result<Option<$crate::StoredWorkItem>, $crate::StoreError> {
                self.sql.work_item(kind, id).await
            }

            async fn deployment_versions(
                &self,
                deployment_id: &str,
            ) -> Result<Vec<$crate::FlagVersion>, $crate::StoreError> {
                self.sql.deployment_versions(deployment_id).await
            }

            async fn record_flag_usage(
                &self,
                evaluated: &[(String, time::OffsetDateTime)],
            ) -> Result<(), $crate::StoreError> {
                self.sql.record_flag_usage(evaluated).await
            }

            async fn flag_usage(
                &self,
            ) -> Result<std::collections::HashMap<String, time::OffsetDateTime>, $crate::StoreError>
            {
                self.sql.flag_usage().await
            }

            async fn add_evaluation_counts(
                &self,
                counts: &[$crate::EvaluationCount],
            ) -> Result<(), $crate::StoreError> {
                self.sql.add_evaluation_counts(counts).await
            }

            async fn evaluation_counts(
                &self,
                query: &$crate::CountQuery,
            ) -> Result<Vec<$crate::EvaluationCount>, $crate::StoreError> {
                self.sql.evaluation_counts(query).await
            }

            async fn evaluation_totals(
                &self,
                granularity: $crate::Granularity,
                since: time::OffsetDateTime,
                until: time::OffsetDateTime,
            ) -> Result<Vec<$crate::FlagBucketTotal>, $crate::StoreError> {
                self.sql.evaluation_totals(granularity, since, until).await
            }

            async fn prune_evaluation_counts(
                &self,
                granularity: $crate::Granularity,
                before: time::OffsetDateTime,
            ) -> Result<(), $crate::StoreError> {
                self.sql.prune_evaluation_counts(granularity, before).await
            }

            async fn experiments(
                &self,
            ) -> Result<Vec<$crate::StoredExperiment>, $crate::StoreError> {
                self.sql.experiments().await
            }

            async fn experiment(
                &self,
                id: &str,
            ) -> Result<Option<$crate::StoredExperiment>, $crate::StoreError> {
                self.sql.experiment(id).await
            }

            async fn record_exposures(
                &self,
                exposures: &[$crate::Exposure],
            ) -> Result<(), $crate::StoreError> {
                self.sql.record_exposures(exposures).await
            }

            async fn record_events(
                &self,
                events: &[$crate::TrackedEvent],
            ) -> Result<(), $crate::StoreError> {
                self.sql.record_events(events).await
            }

            async fn variant_tallies(
                &self,
                experiment_id: &str,
                event: &str,
            ) -> Result<Vec<$crate::VariantTally>, $crate::StoreError> {
                self.sql.variant_tallies(experiment_id, event).await
            }

            async fn subject_records(
                &self,
                subject: &str,
            ) -> Result<(Vec<$crate::Exposure>, Vec<$crate::TrackedEvent>), $crate::StoreError>
            {
                self.sql.subject_records(subject).await
            }

            async fn erase_subject(&self, subject: &str) -> Result<(u64, u64), $crate::StoreError> {
                self.sql.erase_subject(subject).await
            }

            async fn set_log_switch(
                &self,
                flag_id: &str,
                environment: &str,
                until: Option<(time::OffsetDateTime, bool)>,
            ) -> Result<(), $crate::StoreError> {
                self.sql.set_log_switch(flag_id, environment, until).await
            }

            async fn log_switches(&self) -> Result<Vec<$crate::LogSwitch>, $crate::StoreError> {
                self.sql.log_switches().await
            }

            async fn append_evaluation_log(
                &self,
                entries: &[$crate::LogEntry],
                keep_since: time::OffsetDateTime,
            ) -> Result<(), $crate::StoreError> {
                self.sql.append_evaluation_log(entries, keep_since).await
            }

            async fn evaluation_log(
                &self,
                flag_id: &str,
                environment: &str,
                limit: u32,
            ) -> Result<Vec<$crate::LogEntry>, $crate::StoreError> {
                self.sql.evaluation_log(flag_id, environment, limit).await
            }

            async fn secret(&self, name: &str, make: String) -> Result<String, $crate::StoreError> {
                self.sql.secret(name, make).await
            }

            async fn users(&self) -> Result<Vec<$crate::User>, $crate::StoreError> {
                self.sql.users().await
            }

            async fn user(&self, id: &str) -> Result<Option<$crate::User>, $crate::StoreError> {
                self.sql.user(id).await
            }

            async fn create_session(
                &self,
                session: &$crate::NewSession,
            ) -> Result<(), $crate::StoreError> {
                self.sql.create_session(session).await
            }

            async fn session(
                &self,
                secret_hash: &str,
                now: time::OffsetDateTime,
            ) -> Result<Option<$crate::SessionUser>, $crate::StoreError> {
                self.sql.session(secret_hash, now).await
            }

            async fn revoke_session(
                &self,
                secret_hash: &str,
                at: time::OffsetDateTime,
            ) -> Result<(), $crate::StoreError> {
                self.sql.revoke_session(secret_hash, at).await
            }

            async fn webhooks(&self) -> Result<Vec<$crate::StoredWebhook>, $crate::StoreError> {
                self.sql.webhooks().await
            }

            async fn webhook(
                &self,
                id: &str,
            ) -> Result<Option<$crate::StoredWebhook>, $crate::StoreError> {
                self.sql.webhook(id).await
            }

            async fn webhook_cursor(&self) -> Result<i64, $crate::StoreError> {
                self.sql.webhook_cursor().await
            }

            async fn enqueue_deliveries(
                &self,
                cursor: Option<(i64, i64)>,
                deliveries: &[$crate::NewDelivery],
            ) -> Result<bool, $crate::StoreError> {
                self.sql.enqueue_deliveries(cursor, deliveries).await
            }

            async fn due_deliveries(
                &self,
                now: time::OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<$crate::Delivery>, $crate::StoreError> {
                self.sql.due_deliveries(now, limit).await
            }

            async fn claim_delivery(
                &self,
                id: &str,
                owner: &str,
                now: time::OffsetDateTime,
                until: time::OffsetDateTime,
            ) -> Result<bool, $crate::StoreError> {
                self.sql.claim_delivery(id, owner, now, until).await
            }

            async fn finish_delivery(
                &self,
                id: &str,
                owner: &str,
                outcome: &$crate::AttemptOutcome,
                now: time::OffsetDateTime,
            ) -> Result<bool, $crate::StoreError> {
                self.sql.finish_delivery(id, owner, outcome, now).await
            }

            async fn delivery(
                &self,
                id: &str,
            ) -> Result<Option<$crate::Delivery>, $crate::StoreError> {
                self.sql.delivery(id).await
            }

            async fn webhook_deliveries(
                &self,
                webhook_id: &str,
                limit: u32,
            ) -> Result<Vec<$crate::Delivery>, $crate::StoreError> {
                self.sql.webhook_deliveries(webhook_id, limit).await
            }

            async fn ping(&self) -> Result<(), $crate::StoreError> {
                self.sql.ping().await
            }

            async fn listen(
                &self,
            ) -> Result<Option<Box<dyn $crate::CommitListener>>, $crate::StoreError> {
                self.listen_for_commits().await
            }
        }
    };
}
pub(crate) use delegate_flag_store;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    #[test]
    fn database_errors_keep_their_cause() {
        let error = super::db_error(sqlx::Error::PoolClosed);
        // The text is what it was when the cause was kept as a string…
        assert_eq!(
            error.to_string(),
            format!("database error: {}", sqlx::Error::PoolClosed)
        );
        // …and the cause itself is the source, for logs to follow.
        let source = error.source().and_then(|s| s.downcast_ref::<sqlx::Error>());
        assert!(
            matches!(source, Some(sqlx::Error::PoolClosed)),
            "{source:?}"
        );
    }
}
