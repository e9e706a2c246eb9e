//! [`SqliteStore`]: the embedded default.

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Pool, Sqlite, Transaction};

use crate::sql::{Backend, SqlStore, db_error, delegate_flag_store};
use crate::{ChangeRecord, StoreError};

/// How long a connection waits for another process's write lock before the
/// statement fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Readers run side by side under WAL; a few are plenty for one process.
const READERS: u32 = 4;

/// The store on an SQLite file, in WAL mode.
///
/// Commits go through one connection (SQLite has one writer at a time
/// anyway: queueing in the pool is cheaper than spinning on `SQLITE_BUSY`),
/// and each begins with `BEGIN`, which takes the database's write
/// lock at once, so even another process sharing the file cannot interleave
/// with a commit. `synchronous = FULL`: an acknowledged commit survives a
/// crash or power loss.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    sql: SqlStore<Sqlite>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database named by a URL
    /// (`sqlite:path/to/file.db`, `sqlite://file.db?mode=rwc`,
    /// `sqlite::memory:`) and migrates its schema.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(db_error)?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        SqliteStore::open_with(options, in_memory).await
    }

    /// Opens (creating it if missing) the database file at `path` and
    /// migrates its schema.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new().filename(path);
        SqliteStore::open_with(options, false).await
    }

    async fn open_with(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<SqliteStore, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let write = if in_memory {
            // An in-memory database lives as long as its one connection.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(1)
        }
        .connect_with(options.clone())
        .await
        .map_err(db_error)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&write)
            .await
            .map_err(|e| {
                StoreError::Database(format!("migrating the SQLite schema: {e}").into())
            })?;
        let read = if in_memory {
            write.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READERS)
                .connect_with(options)
                .await
                .map_err(db_error)?
        };
        Ok(SqliteStore {
            sql: SqlStore::new(read, write),
        })
    }

    /// Closes the database, waiting for queries in flight.
    pub async fn close(&self) {
        self.sql.close().await;
    }
}

impl Backend for Sqlite {
    fn begin_write(
        pool: &Pool<Sqlite>,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send + '_ {
        pool.begin_with("BEGIN IMMEDIATE")
    }

    fn begin_snapshot(
        pool: &Pool<Sqlite>,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send + '_ {
        // A deferred transaction reads one snapshot from its first read on.
        pool.begin()
    }

    fn notify<'c>(
        _conn: &'c mut SqliteConnection,
        _revision: i64,
        _changes: &'c [ChangeRecord],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'c {
        // One process owns an SQLite file: there is no one else to tell.
        std::future::ready(Ok(()))
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

impl SqliteStore {
    /// SQLite has no commit notifications: one process writes.
    async fn listen_for_commits(
        &self,
    ) -> Result<Option<Box<dyn crate::CommitListener>>, StoreError> {
        Ok(None)
    }
}

delegate_flag_store!(SqliteStore);
