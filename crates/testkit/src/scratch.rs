//! Scratch databases and what one test started on them.

use std::sync::{Arc, Mutex, PoisonError};

use ff_store::testing::ScratchDatabase;
use tokio::task::JoinHandle;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A scratch PostgreSQL database.
    Postgres,
}

/// A scratch PostgreSQL database; `None` (and a line saying so) when
/// `FF_SKIP_POSTGRES=1`. Panics when PostgreSQL cannot be reached.
pub async fn scratch_postgres() -> Option<ScratchDatabase> {
    let database = ScratchDatabase::postgres()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if database.is_none() {
        eprintln!("FF_SKIP_POSTGRES=1: not running this test on PostgreSQL");
    }
    database
}

/// What one test started: its scratch databases and the servers that were
/// dropped without being stopped. [`Scope::finish`] waits for those servers
/// and then removes the databases.
#[derive(Clone, Default)]
pub struct Scope(Arc<Mutex<Started>>);

#[derive(Default)]
struct Started {
    databases: Vec<ScratchDatabase>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Scope {
    /// A new scratch database on `backend`, removed by [`Scope::finish`]:
    /// its URL. `None` when PostgreSQL is skipped.
    pub async fn database(&self, backend: Backend) -> Option<String> {
        let database = match backend {
            Backend::Sqlite => ScratchDatabase::sqlite()
                .unwrap_or_else(|e| panic!("a temporary SQLite database: {e}")),
            Backend::Postgres => scratch_postgres().await?,
        };
        let url = database.url().to_owned();
        self.lock().databases.push(database);
        Some(url)
    }

    /// Keeps a server that is stopping until [`Scope::finish`].
    pub(crate) fn keep(&self, server: JoinHandle<std::io::Result<()>>) {
        self.lock().servers.push(server);
    }

    /// Waits for the servers, then removes the databases: servers first, so
    /// that no connection holds a database being removed.
    pub async fn finish(&self) {
        let started = std::mem::take(&mut *self.lock());
        for server in started.servers {
            let _ = server.await;
        }
        for database in started.databases {
            database.remove().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Started> {
        // A test that panicked while holding it left nothing half-done.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
