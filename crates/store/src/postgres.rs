//! [`PostgresStore`]: for several nodes sharing one database.

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{Pool, Postgres, Transaction};

use crate::sql::{Backend, SqlStore, db_error, delegate_flag_store};
use crate::{ChangeRecord, StoreError};

/// The channel every commit is announced on, with a JSON payload
/// `{"revision": n, "changes": [{"kind", "key", "removed"}]}` (only
/// `{"revision": n}` when the changes would not fit in a notification: then
/// read them with [`crate::FlagStore::changes_since`]).
pub const NOTIFY_CHANNEL: &str = "feature_flags";

/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7999;

/// The key of the transaction-level advisory lock that every commit takes
/// first ("ff-store" in ASCII): commits from every node happen one after the
/// other, so the audit chain and the revision counter never fork.
const WRITE_LOCK: i64 = 0x6666_2d73_746f_7265;

/// Connections per node: evaluation never touches the database, so few are
/// needed.
const CONNECTIONS: u32 = 8;

/// How long to wait for a connection before a request fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The store on a PostgreSQL database, shareable by any number of nodes.
///
/// Each commit's transaction first takes `pg_advisory_xact_lock` on one
/// constant key, so commits are serialised across all nodes, and announces
/// itself with `pg_notify` on [`NOTIFY_CHANNEL`] (delivered when, and only
/// if, it commits).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    sql: SqlStore<Postgres>,
    pool: Pool<Postgres>,
}

impl PostgresStore {
    /// Connects to `postgres://…` and migrates the schema (sqlx's migrator
    /// takes its own advisory lock, so nodes starting together are safe).
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| {
                StoreError::Database(format!("migrating the PostgreSQL schema: {e}").into())
            })?;
        Ok(PostgresStore {
            sql: SqlStore::new(pool.clone(), pool.clone()),
            pool,
        })
    }

    /// A `LISTEN` on [`NOTIFY_CHANNEL`], on its own connection.
    async fn listen_for_commits(
        &self,
    ) -> Result<Option<Box<dyn crate::CommitListener>>, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(db_error)?;
        // A lost connection must surface as an error (the caller catches
        // up), not be silently re-established with notifications missed.
        listener.ignore_pool_close_event(false);
        listener.listen(NOTIFY_CHANNEL).await.map_err(db_error)?;
        Ok(Some(Box::new(PostgresListener { listener })))
    }

    /// Closes the pool, waiting for queries in flight.
    pub async fn close(&self) {
        self.sql.close().await;
    }
}

/// The notification for a commit: its revision and changes, or only its
/// revision when that would be too long for PostgreSQL.
fn notify_payload(revision: i64, changes: &[ChangeRecord]) -> String {
    let changes: Vec<_> = changes
        .iter()
        .map(|c| json!({"kind": c.kind, "key": c.key, "removed": c.removed}))
        .collect();
    let full = json!({"revision": revision, "changes": changes}).to_string();
    if full.len() <= MAX_PAYLOAD {
        full
    } else {
        json!({ "revision": revision }).to_string()
    }
}

impl Backend for Postgres {
    async fn begin_write(
        pool: &Pool<Postgres>,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    fn begin_snapshot(
        pool: &Pool<Postgres>,
    ) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send + '_ {
        // READ COMMITTED would give each statement its own snapshot.
        pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    }

    fn notify<'c>(
        conn: &'c mut PgConnection,
        revision: i64,
        changes: &'c [ChangeRecord],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'c {
        let payload = notify_payload(revision, changes);
        async move {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(NOTIFY_CHANNEL)
                .bind(payload)
                .execute(conn)
                .await
                .map(|_| ())
        }
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

delegate_flag_store!(PostgresStore);

/// Commit notifications from PostgreSQL.
struct PostgresListener {
    listener: sqlx::postgres::PgListener,
}

#[async_trait::async_trait]
impl crate::CommitListener for PostgresListener {
    async fn next_commit(&mut self) -> Result<i64, StoreError> {
        // `try_recv` answers `None` when the connection was lost (and will
        // be re-established on the next call): report it, so that the caller
        // catches up on what it missed.
        match self.listener.try_recv().await.map_err(db_error)? {
            Some(notification) => Ok(serde_json::from_str::<serde_json::Value>(
                notification.payload(),
            )
            .ok()
            .and_then(|payload| payload["revision"].as_i64())
            .unwrap_or_default()),
            None => Err(StoreError::Database(
                "the LISTEN connection was lost".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResourceKind;

    #[test]
    fn payload_lists_the_changes() {
        let changes = [ChangeRecord {
            revision: 7,
            kind: ResourceKind::Flag,
            key: "checkout".to_owned(),
            removed: false,
        }];
        assert_eq!(
            notify_payload(7, &changes),
            r#"{"revision":7,"changes":[{"kind":"flag","key":"checkout","removed":false}]}"#
        );
    }

    #[test]
    fn payload_too_long_carries_only_the_revision() {
        let changes: Vec<_> = (0..200)
            .map(|i| ChangeRecord {
                revision: 3,
                kind: ResourceKind::Flag,
                key: format!("flag_with_a_rather_long_name_{i}"),
                removed: true,
            })
            .collect();
        assert_eq!(notify_payload(3, &changes), r#"{"revision":3}"#);
    }
}
