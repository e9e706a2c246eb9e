//! Scratch databases for tests of this crate's users (the server's API tests,
//! the CLI's end-to-end tests): a temporary SQLite file, or a PostgreSQL
//! database created for the test and dropped after it.
//!
//! PostgreSQL is expected at `postgres://postgres@127.0.0.1:5432` (override
//! with `FF_TEST_POSTGRES_URL`). When it cannot be reached, tests fail with a
//! message saying how to start it, unless `FF_SKIP_POSTGRES=1`.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

/// A database that exists for one test.
#[derive(Debug)]
pub struct ScratchDatabase {
    url: String,
    postgres_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl ScratchDatabase {
    /// A fresh SQLite file in a temporary directory.
    pub fn sqlite() -> std::io::Result<ScratchDatabase> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("flags.db").display());
        Ok(ScratchDatabase {
            url,
            postgres_name: None,
            _dir: Some(dir),
        })
    }

    /// A fresh PostgreSQL database; `Ok(None)` when `FF_SKIP_POSTGRES=1`.
    pub async fn postgres() -> Result<Option<ScratchDatabase>, String> {
        if std::env::var("FF_SKIP_POSTGRES").as_deref() == Ok("1") {
            return Ok(None);
        }
        let name = format!(
            "ff_scratch_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin_url = postgres_url("postgres");
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.map_err(|e| {
            format!(
                "PostgreSQL is not reachable at {admin_url} ({e}); start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                 or set FF_SKIP_POSTGRES=1"
            )
        })?;
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
        }
        let _ = admin.close().await;
        Ok(Some(ScratchDatabase {
            url: postgres_url(&name),
            postgres_name: Some(name),
            _dir: None,
        }))
    }

    /// The URL to give `connect` or `DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Removes the database (a SQLite directory goes when this is dropped).
    pub async fn remove(self) {
        if let Some(name) = &self.postgres_name
            && let Ok(mut admin) = sqlx::PgConnection::connect(&postgres_url("postgres")).await
        {
            let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await;
            let _ = admin.close().await;
        }
    }
}

/// The test server's URL with its database name replaced by `name`.
fn postgres_url(name: &str) -> String {
    let base = std::env::var("FF_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let (main, params) = match base.split_once('?') {
        Some((main, params)) => (main.to_owned(), format!("?{params}")),
        None => (base.clone(), String::new()),
    };
    let authority = main.find("://").map_or(0, |i| i.saturating_add(3));
    let server = match main[authority..].find('/') {
        Some(slash) => &main[..authority.saturating_add(slash)],
        None => main.as_str(),
    };
    format!("{server}/{name}{params}")
}
