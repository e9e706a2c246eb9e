//! The service's API tests: the real router over a real socket, on SQLite and
//! on PostgreSQL.
//!
//! Each test is an `async fn(TestApp)`; `api_tests!` runs it twice, as
//! `<module>::sqlite::<name>` on a temporary SQLite file and as
//! `<module>::postgres::<name>` on a scratch PostgreSQL database (dropped
//! afterwards). PostgreSQL is expected at `postgres://postgres@127.0.0.1:5432`
//! (`FF_TEST_POSTGRES_URL` overrides it); when it cannot be reached the
//! PostgreSQL tests fail, unless `FF_SKIP_POSTGRES=1`.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

/// Declares each test once per backend: `sqlite::name` and `postgres::name`.
macro_rules! api_tests {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::support::run(crate::support::Backend::Sqlite, super::$test).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::support::run(crate::support::Backend::Postgres, super::$test).await;
                }
            )*
        }
    };
}

/// Like `api_tests!`, with production as first start seeds it (approvals,
/// protection) and a clock the test controls (`support::run_governed`).
macro_rules! governed_api_tests {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::support::run_governed(crate::support::Backend::Sqlite, super::$test).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::support::run_governed(crate::support::Backend::Postgres, super::$test).await;
                }
            )*
        }
    };
}

mod admin_pages;
mod api_keys;
mod audit;
mod auth_matrix;
mod bulk;
mod concurrency;
mod contract;
mod dependencies;
mod deployments;
mod emergency;
mod environments;
mod errors;
mod evaluate;
mod evaluation_log;
mod experiments;
mod flag_actions;
mod flags;
mod governance;
mod hardening;
mod health;
mod history;
mod live_view;
mod metrics;
mod ofrep;
mod overview;
mod people;
mod promotion;
mod rate_limits;
mod schedules;
mod scoped_roles;
mod segments;
mod subjects;
mod support;
mod tls;
mod transfer;
mod webhooks;
