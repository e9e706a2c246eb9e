//! The conformance suite: what every `FlagStore` must do, run against both
//! implementations. Each test is a function of a store (and of a handle for
//! reaching its database directly, to tamper with it); `conformance!` runs it
//! on SQLite (a temporary file) and on PostgreSQL (a scratch database created
//! for the test and dropped after it).
//!
//! PostgreSQL is expected at `postgres://postgres@127.0.0.1:5432` (override
//! the server part with `FF_TEST_POSTGRES_URL`). If it cannot be reached the
//! PostgreSQL tests fail, unless `FF_SKIP_POSTGRES=1`.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::any::Any;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use ff_engine::{Environment, Flag, Segment, parse_flag, parse_segment};
use ff_store::{
    AuditEntry, AuditQuery, AuditVerification, AuditedChange, Change, ChangeRecord, ChangeSet,
    ChangeWindow, Committed, Configuration, EnvironmentRoles, EnvironmentSettings, Expect,
    FlagStore, GENESIS_HASH, KeyKind, NewApiKey, NewUser, ResourceKind, Role, StoreError,
    UserUpdate, WorkItem, WorkKind, WorkQuery, entry_hash,
};
use serde_json::{Value, json};
use sqlx::Connection;
use time::{Duration, OffsetDateTime};
use tokio::task::JoinError;

// ---------------------------------------------------------------------------
// Harness

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Direct access to a test's database, behind the store's back.
#[derive(Debug, Clone)]
struct Raw {
    backend: Backend,
    /// A URL that `ff_store::connect` accepts.
    url: String,
}

impl Raw {
    /// Runs one statement on its own connection.
    async fn execute(&self, sql: &'static str) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", self.url))
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }
}

/// Scratch databases made by this process.
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The URL of database `name` on the test server: `FF_TEST_POSTGRES_URL`
/// (default `postgres://postgres@127.0.0.1:5432`) with its database name, if
/// any, replaced and its parameters kept.
fn postgres_url(name: &str) -> String {
    let url = std::env::var("FF_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let (main, params) = match url.split_once('?') {
        Some((main, params)) => (main, format!("?{params}")),
        None => (url.as_str(), String::new()),
    };
    let authority = main.find("://").map_or(0, |i| i + 3);
    let server = match main[authority..].find('/') {
        Some(slash) => &main[..authority + slash],
        None => main,
    };
    format!("{server}/{name}{params}")
}

/// Runs `test` on a fresh database of `backend`, then removes the database
/// (also when the test panics).
async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Arc<dyn FlagStore>, Raw) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path: PathBuf = dir.path().join("flags.db");
            let url = path.to_str().unwrap().to_owned();
            let store = ff_store::connect(&url).await.unwrap();
            let outcome = tokio::spawn(test(store, Raw { backend, url })).await;
            drop(dir);
            if let Err(error) = outcome {
                std::panic::resume_unwind(error.into_panic());
            }
        }
        Backend::Postgres => {
            if std::env::var("FF_SKIP_POSTGRES").as_deref() == Ok("1") {
                eprintln!("FF_SKIP_POSTGRES=1: not running this test on PostgreSQL");
                return;
            }
            let admin_url = postgres_url("postgres");
            let mut admin = sqlx::PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {admin_url} ({e}). Start it \
                         (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) \
                         or set FF_SKIP_POSTGRES=1"
                    )
                });
            let name = format!(
                "ff_test_{}_{}",
                std::process::id(),
                DATABASES.fetch_add(1, Ordering::Relaxed)
            );
            let drop_sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(drop_sql.clone()))
                .execute(&mut admin)
                .await
                .unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
            let url = postgres_url(&name);
            let outcome: Result<(), Box<dyn Any + Send>> = match ff_store::connect(&url).await {
                Ok(store) => tokio::spawn(test(store, Raw { backend, url }))
                    .await
                    .map_err(JoinError::into_panic),
                Err(error) => Err(Box::new(format!("cannot open {url}: {error}"))),
            };
            sqlx::raw_sql(sqlx::AssertSqlSafe(drop_sql))
                .execute(&mut admin)
                .await
                .unwrap();
            admin.close().await.unwrap();
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Declares each test once per backend: `sqlite::name` and `postgres::name`.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::run(crate::Backend::Sqlite, super::$test).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::run(crate::Backend::Postgres, super::$test).await;
                }
            )*
        }
    };
}

conformance!(
    load_of_an_empty_store,
    create_get_and_replace_with_versions,
    stale_version_conflicts_and_writes_nothing,
    failing_change_rolls_back_the_whole_commit,
    multi_change_commit_is_one_revision,
    soft_delete_and_restore,
    put_onto_a_deleted_flag_restores_it,
    delete_and_restore_of_absent_flags,
    versions_listing_and_paging,
    audit_filters,
    audit_chain_verifies_and_detects_tampering,
    changes_since_replays_in_order,
    segments_round_trip,
    environments_round_trip,
    api_keys_lifecycle,
    environment_roles_round_trip,
    concurrent_writers_never_fork,
    load_orders_by_key_and_reports_revision,
    reopening_sees_committed_data,
    work_items_round_trip_and_filter,
    deployment_versions_by_flag_and_version,
    flag_usage_keeps_the_latest_time,
    evaluation_totals_sum_every_environment_and_outcome_per_flag_and_bucket,
);

// ---------------------------------------------------------------------------
// Fixtures

/// A time with sub-millisecond digits, `minutes` after a fixed start.
fn at(minutes: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
        + Duration::minutes(minutes)
        + Duration::nanoseconds(123_456_789)
}

/// A time as stores keep it: truncated to the millisecond.
fn stored(t: OffsetDateTime) -> OffsetDateTime {
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap()
}

fn flag(id: &str, description: &str) -> Flag {
    parse_flag(&json!({
        "flag_id": id,
        "description": description,
        "default_value": false,
        "environments": {"production": true, "staging": {"enabled": false}},
        "targeting_rules": [{
            "name": "beta",
            "conditions": [{"attribute": "plan", "operator": "in", "value": ["pro", "team"]}],
            "value": true,
            "percentage": 12.5
        }]
    }))
    .unwrap()
}

fn segment(id: &str, countries: &[&str]) -> Segment {
    parse_segment(&json!({
        "segment_id": id,
        "description": "customers in some countries",
        "conditions": [{"attribute": "country", "operator": "in", "value": countries}]
    }))
    .unwrap()
}

fn environment(key: &str, parent: Option<&str>) -> EnvironmentSettings {
    EnvironmentSettings {
        tree: Environment::new(key, parent, parent.is_some()),
        description: Some(format!("the {key} environment")),
        approval_required: key == "production",
        required_approvals: 2,
        protected: key == "production",
        change_windows: vec![ChangeWindow {
            days: vec!["monday".to_owned(), "thursday".to_owned()],
            start: "09:00".to_owned(),
            end: "17:30".to_owned(),
            time_zone: "Europe/Rome".to_owned(),
        }],
        dependency_policy: Default::default(),
    }
}

fn new_key(id: &str, kind: KeyKind) -> NewApiKey {
    NewApiKey {
        id: id.to_owned(),
        name: format!("{id} for tests"),
        kind,
        role: (kind == KeyKind::Admin).then_some(Role::Editor),
        environment: (kind != KeyKind::Admin).then(|| "production".to_owned()),
        environment_roles: None,
        prefix: format!("ff_{id}"),
        secret_hash: format!("{:0>64}", id.len()) + id,
    }
}

fn audited(change: Change, action: &str) -> AuditedChange {
    AuditedChange {
        change,
        action: action.to_owned(),
        environment: None,
    }
}

fn put(flag: Flag, expect: Expect) -> AuditedChange {
    audited(Change::PutFlag(flag, expect), "flag.update")
}

fn delete_flag(id: &str, expect: Expect) -> AuditedChange {
    audited(Change::DeleteFlag(id.to_owned(), expect), "flag.delete")
}

fn restore_flag(id: &str, expect: Expect) -> AuditedChange {
    audited(Change::RestoreFlag(id.to_owned(), expect), "flag.restore")
}

fn put_segment(segment: Segment, expect: Expect) -> AuditedChange {
    audited(Change::PutSegment(segment, expect), "segment.update")
}

fn delete_segment(id: &str, expect: Expect) -> AuditedChange {
    audited(
        Change::DeleteSegment(id.to_owned(), expect),
        "segment.delete",
    )
}

fn put_environment(settings: EnvironmentSettings, expect: Expect) -> AuditedChange {
    audited(
        Change::PutEnvironment(settings, expect),
        "environment.update",
    )
}

fn delete_environment(key: &str, expect: Expect) -> AuditedChange {
    audited(
        Change::DeleteEnvironment(key.to_owned(), expect),
        "environment.delete",
    )
}

fn create_key(new: NewApiKey) -> AuditedChange {
    audited(Change::CreateApiKey(new), "api_key.create")
}

fn revoke_key(id: &str) -> AuditedChange {
    audited(Change::RevokeApiKey(id.to_owned()), "api_key.revoke")
}

/// A change set by `tester` at `at(minutes)`.
fn set(minutes: i64, changes: Vec<AuditedChange>) -> ChangeSet {
    ChangeSet {
        changes,
        actor: "tester".to_owned(),
        at: at(minutes),
        reason: None,
        request_id: None,
        deployment_id: None,
    }
}

async fn commit(store: &Arc<dyn FlagStore>, changes: Vec<AuditedChange>) -> Committed {
    store.commit(set(0, changes)).await.unwrap()
}

async fn all_audit(store: &Arc<dyn FlagStore>) -> Vec<AuditEntry> {
    store.audit(&AuditQuery::default()).await.unwrap()
}

fn ids(entries: &[AuditEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.id).collect()
}

/// Verifies the whole audit chain, two entries per page.
async fn verify(store: &Arc<dyn FlagStore>) -> AuditVerification {
    let mut verification = AuditVerification::start();
    let mut after = 0;
    loop {
        let page = store.audit_chain(after, 2).await.unwrap();
        let Some(last) = page.last() else {
            return verification;
        };
        after = last.id;
        verification.check_page(&page);
    }
}

fn assert_conflict(result: Result<Committed, StoreError>, key: &str, actual: Option<i64>) {
    match result {
        Err(StoreError::Conflict {
            key: k, actual: a, ..
        }) => {
            assert_eq!(
                (k.as_str(), a),
                (key, actual),
                "conflict on the wrong resource"
            );
        }
        other => panic!("expected a conflict on {key}, got {other:?}"),
    }
}

fn assert_not_found(result: Result<Committed, StoreError>, key: &str) {
    match result {
        Err(StoreError::NotFound { key: k, .. }) => assert_eq!(k, key),
        other => panic!("expected {key} not found, got {other:?}"),
    }
}

fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

// ---------------------------------------------------------------------------
// Tests

async fn load_of_an_empty_store(store: Arc<dyn FlagStore>, _raw: Raw) {
    store.ping().await.unwrap();
    assert_eq!(store.load().await.unwrap(), Configuration::default());
    assert!(store.deleted_flags().await.unwrap().is_empty());
    assert!(all_audit(&store).await.is_empty());
    assert!(store.changes_since(0, 10).await.unwrap().is_empty());
    assert!(store.api_keys().await.unwrap().is_empty());
    assert!(verify(&store).await.valid);

    // A commit of nothing writes nothing.
    let committed = commit(&store, vec![]).await;
    assert_eq!(committed.revision, 0);
    assert!(committed.versions.is_empty() && committed.audit_ids.is_empty());
    assert_eq!(store.load().await.unwrap().revision, 0);
}

async fn create_get_and_replace_with_versions(store: Arc<dyn FlagStore>, _raw: Raw) {
    let v1 = flag("checkout", "first");
    let committed = store
        .commit(set(0, vec![put(v1.clone(), Expect::Absent)]))
        .await
        .unwrap();
    assert_eq!(
        committed,
        Committed {
            revision: 1,
            versions: vec![1],
            audit_ids: vec![1],
        }
    );
    let got = store.flag("checkout").await.unwrap().unwrap();
    assert_eq!(got.flag, v1);
    assert_eq!((got.version, got.deleted), (1, false));
    assert_eq!(got.created_at, stored(at(0)));
    assert_eq!(got.updated_at, stored(at(0)));
    assert!(store.flag("nothing").await.unwrap().is_none());

    let v2 = flag("checkout", "second");
    let committed = store
        .commit(set(5, vec![put(v2.clone(), Expect::Version(1))]))
        .await
        .unwrap();
    assert_eq!((committed.revision, committed.versions), (2, vec![2]));
    let got = store.flag("checkout").await.unwrap().unwrap();
    assert_eq!((got.flag, got.version), (v2.clone(), 2));
    assert_eq!(got.created_at, stored(at(0)));
    assert_eq!(got.updated_at, stored(at(5)));

    // Every version keeps its document as it was written.
    let first = store.flag_version("checkout", 1).await.unwrap().unwrap();
    assert_eq!(first.document, json_of(&v1));
    assert_eq!(first.at, stored(at(0)));
    assert_eq!(
        store
            .flag_version("checkout", 2)
            .await
            .unwrap()
            .unwrap()
            .document,
        json_of(&v2)
    );

    // Expectations.
    assert_conflict(
        store
            .commit(set(6, vec![put(v1.clone(), Expect::Absent)]))
            .await,
        "checkout",
        Some(2),
    );
    assert_conflict(
        store
            .commit(set(6, vec![put(flag("other", "x"), Expect::Exists)]))
            .await,
        "other",
        None,
    );
    assert_conflict(
        store
            .commit(set(6, vec![put(flag("other", "x"), Expect::Version(1))]))
            .await,
        "other",
        None,
    );
    let committed = store
        .commit(set(7, vec![put(v1.clone(), Expect::Exists)]))
        .await
        .unwrap();
    assert_eq!(committed.versions, vec![3]);
    let committed = store
        .commit(set(8, vec![put(v2.clone(), Expect::Any)]))
        .await
        .unwrap();
    assert_eq!(committed.versions, vec![4]);
    let committed = store
        .commit(set(8, vec![put(flag("other", "x"), Expect::Any)]))
        .await
        .unwrap();
    assert_eq!(committed.versions, vec![1]);

    // The audit log has the documents before and after.
    let entries = all_audit(&store).await;
    assert_eq!(ids(&entries), vec![5, 4, 3, 2, 1]);
    let update = entries.iter().find(|e| e.id == 2).unwrap();
    assert_eq!(update.before, json_of(&v1));
    assert_eq!(update.after, json_of(&v2));
    assert_eq!(update.resource_kind, ResourceKind::Flag);
    assert_eq!(update.resource_key, "checkout");
    assert_eq!(update.at, stored(at(5)));
    let create = entries.iter().find(|e| e.id == 1).unwrap();
    assert_eq!(create.before, Value::Null);
    assert_eq!(create.prev_hash, GENESIS_HASH);
    assert_eq!(store.load().await.unwrap().revision, 5);
}

async fn stale_version_conflicts_and_writes_nothing(store: Arc<dyn FlagStore>, _raw: Raw) {
    commit(&store, vec![put(flag("checkout", "one"), Expect::Absent)]).await;
    commit(
        &store,
        vec![put(flag("checkout", "two"), Expect::Version(1))],
    )
    .await;
    let audit_before = all_audit(&store).await;
    let revision_before = store.load().await.unwrap().revision;

    let stale = store
        .commit(set(
            9,
            vec![put(flag("checkout", "three"), Expect::Version(1))],
        ))
        .await;
    match stale {
        Err(StoreError::Conflict {
            kind,
            key,
            expected,
            actual,
        }) => {
            assert_eq!(kind, ResourceKind::Flag);
            assert_eq!(key, "checkout");
            assert_eq!(expected, Expect::Version(1));
            assert_eq!(actual, Some(2));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    let got = store.flag("checkout").await.unwrap().unwrap();
    assert_eq!((got.version, got.flag), (2, flag("checkout", "two")));
    assert_eq!(
        store
            .flag_versions("checkout", None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(all_audit(&store).await, audit_before);
    assert_eq!(store.load().await.unwrap().revision, revision_before);
    assert!(
        store
            .changes_since(revision_before, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn failing_change_rolls_back_the_whole_commit(store: Arc<dyn FlagStore>, _raw: Raw) {
    commit(&store, vec![put(flag("existing", "one"), Expect::Absent)]).await;
    let before = store.load().await.unwrap();
    let audit_before = all_audit(&store).await;

    let result = store
        .commit(set(
            3,
            vec![
                put(flag("brand_new", "x"), Expect::Absent),
                put_segment(segment("beta", &["it"]), Expect::Absent),
                put(flag("existing", "stale"), Expect::Version(5)),
                put(flag("never_reached", "x"), Expect::Absent),
            ],
        ))
        .await;
    assert_conflict(result, "existing", Some(1));

    assert!(store.flag("brand_new").await.unwrap().is_none());
    assert!(
        store
            .flag_versions("brand_new", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.load().await.unwrap(), before);
    assert_eq!(all_audit(&store).await, audit_before);
    assert!(verify(&store).await.valid);
    assert!(
        store
            .changes_since(before.revision, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The same commit without the stale change goes through, and the chain
    // continues from where it was.
    let committed = commit(
        &store,
        vec![
            put(flag("brand_new", "x"), Expect::Absent),
            put_segment(segment("beta", &["it"]), Expect::Absent),
        ],
    )
    .await;
    assert_eq!(committed.audit_ids, vec![2, 3]);
    let verification = verify(&store).await;
    assert!(verification.valid);
    assert_eq!(verification.entries, 3);
}

async fn multi_change_commit_is_one_revision(store: Arc<dyn FlagStore>, _raw: Raw) {
    commit(&store, vec![put(flag("a", "one"), Expect::Absent)]).await;
    let mut changes = set(
        1,
        vec![
            put(flag("a", "two"), Expect::Version(1)),
            put(flag("b", "one"), Expect::Absent),
            put_environment(environment("production", None), Expect::Absent),
            delete_flag("a", Expect::Version(2)),
        ],
    );
    changes.reason = Some("release 42".to_owned());
    changes.request_id = Some("req-1".to_owned());
    changes.deployment_id = Some("dep-1".to_owned());
    let committed = store.commit(changes).await.unwrap();
    assert_eq!(
        committed,
        Committed {
            revision: 2,
            versions: vec![2, 1, 1, 3],
            audit_ids: vec![2, 3, 4, 5],
        }
    );
    let records = store.changes_since(1, 100).await.unwrap();
    let expected = [
        (ResourceKind::Flag, "a", false),
        (ResourceKind::Flag, "b", false),
        (ResourceKind::Environment, "production", false),
        (ResourceKind::Flag, "a", true),
    ];
    assert_eq!(
        records,
        expected
            .iter()
            .map(|(kind, key, removed)| ChangeRecord {
                revision: 2,
                kind: *kind,
                key: (*key).to_owned(),
                removed: *removed,
            })
            .collect::<Vec<_>>()
    );
    for entry in all_audit(&store).await.iter().filter(|e| e.id > 1) {
        assert_eq!(entry.reason.as_deref(), Some("release 42"));
        assert_eq!(entry.request_id.as_deref(), Some("req-1"));
        assert_eq!(entry.deployment_id.as_deref(), Some("dep-1"));
        assert_eq!(entry.at, stored(at(1)));
    }
    let version = store.flag_version("a", 2).await.unwrap().unwrap();
    assert_eq!(version.reason.as_deref(), Some("release 42"));
    assert_eq!(version.deployment_id.as_deref(), Some("dep-1"));
    assert_eq!(version.actor, "tester");
    assert_eq!(version.action, "flag.update");
    assert_eq!(store.load().await.unwrap().revision, 2);
}

async fn soft_delete_and_restore(store: Arc<dyn FlagStore>, _raw: Raw) {
    let doc = flag("checkout", "one");
    commit(&store, vec![put(doc.clone(), Expect::Absent)]).await;

    let committed = store
        .commit(set(1, vec![delete_flag("checkout", Expect::Version(1))]))
        .await
        .unwrap();
    assert_eq!(committed.versions, vec![2]);
    let deleted = store.flag("checkout").await.unwrap().unwrap();
    assert_eq!((deleted.version, deleted.deleted), (2, true));
    assert_eq!(deleted.flag, doc);
    assert!(store.load().await.unwrap().flags.is_empty());
    let listed = store.deleted_flags().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].flag.flag_id, "checkout");
    let version = store.flag_version("checkout", 2).await.unwrap().unwrap();
    assert!(version.deleted);
    assert_eq!(version.document, json_of(&doc));
    assert_eq!(version.action, "flag.delete");
    let entry = &all_audit(&store).await[0];
    assert_eq!(
        (&entry.before, &entry.after),
        (&json_of(&doc), &Value::Null)
    );
    assert_eq!(
        store.changes_since(1, 10).await.unwrap(),
        vec![ChangeRecord {
            revision: 2,
            kind: ResourceKind::Flag,
            key: "checkout".to_owned(),
            removed: true,
        }]
    );

    // Deleted is not absent: creating it again is a conflict (restore it).
    assert_conflict(
        store
            .commit(set(2, vec![put(doc.clone(), Expect::Absent)]))
            .await,
        "checkout",
        Some(2),
    );
    // Deleting it again finds nothing to delete.
    assert_not_found(
        store
            .commit(set(2, vec![delete_flag("checkout", Expect::Any)]))
            .await,
        "checkout",
    );

    let committed = store
        .commit(set(3, vec![restore_flag("checkout", Expect::Version(2))]))
        .await
        .unwrap();
    assert_eq!(committed.versions, vec![3]);
    let restored = store.flag("checkout").await.unwrap().unwrap();
    assert_eq!((restored.version, restored.deleted), (3, false));
    assert_eq!(restored.created_at, stored(at(0)));
    assert_eq!(restored.updated_at, stored(at(3)));
    assert!(store.deleted_flags().await.unwrap().is_empty());
    assert_eq!(store.load().await.unwrap().flags, vec![restored]);
    let entry = &all_audit(&store).await[0];
    assert_eq!(
        (&entry.before, &entry.after),
        (&Value::Null, &json_of(&doc))
    );
    assert!(
        !store
            .flag_version("checkout", 3)
            .await
            .unwrap()
            .unwrap()
            .deleted
    );

    // A live flag cannot be restored.
    assert_conflict(
        store
            .commit(set(4, vec![restore_flag("checkout", Expect::Any)]))
            .await,
        "checkout",
        Some(3),
    );
    assert_eq!(store.load().await.unwrap().revision, 3);
}

async fn put_onto_a_deleted_flag_restores_it(store: Arc<dyn FlagStore>, _raw: Raw) {
    commit(&store, vec![put(flag("checkout", "one"), Expect::Absent)]).await;
    commit(&store, vec![delete_flag("checkout", Expect::Exists)]).await;
    let replacement = flag("checkout", "two");
    let committed = store
        .commit(set(4, vec![put(replacement.clone(), Expect::Version(2))]))
        .await
        .unwrap();
    assert_eq!(committed.versions, vec![3]);
    let got = store.flag("checkout").await.unwrap().unwrap();
    assert_eq!((got.version, got.deleted), (3, false));
    assert_eq!(got.flag, replacement);
    assert_eq!(got.created_at, stored(at(0)));
    let entry = &all_audit(&store).await[0];
    assert_eq!(entry.before, Value::Null, "the flag was deleted before");
    assert_eq!(entry.after, json_of(&replacement));
    assert_eq!(store.load().await.unwrap().flags.len(), 1);
}

async fn delete_and_restore_of_absent_flags(store: Arc<dyn FlagStore>, _raw: Raw) {
    for expect in [Expect::Any, Expect::Exists] {
        for change in [
            Change::DeleteFlag("ghost".to_owned(), expect),
            Change::RestoreFlag("ghost".to_owned(), expect),
            Change::DeleteSegment("ghost".to_owned(), expect),
            Change::DeleteEnvironment("ghost".to_owned(), expect),
        ] {
            assert_not_found(
                store
                    .commit(set(0, vec![audited(change, "x.delete")]))
                    .await,
                "ghost",
            );
        }
    }
    assert_conflict(
        store
            .commit(set(0, vec![delete_flag("ghost", Expect::Version(1))]))
            .await,
        "ghost",
        None,
    );
    assert_not_found(
        store
            .commit(set(
                0,
                vec![audited(
                    Change::RevokeApiKey("ghost".to_owned()),
                    "key.revoke",
                )],
            ))
            .await,
        "ghost",
    );
    assert_eq!(store.load().await.unwrap().revision, 0);
    assert!(all_audit(&store).await.is_empty());
}

async fn versions_listing_and_paging(store: Arc<dyn FlagStore>, _raw: Raw) {
    commit(&store, vec![put(flag("paged", "v1"), Expect::Absent)]).await;
    for version in 2..=7 {
        let mut changes = set(
            version,
            vec![put(
                flag("paged", &format!("v{version}")),
                Expect::Version(version - 1),
            )],
        );
        changes.actor = format!("actor-{version}");
        changes.reason = Some(format!("reason {version}"));
        store.commit(changes).await.unwrap();
    }
    let numbers = |versions: Vec<ff_store::FlagVersion>| -> Vec<i64> {
        versions.iter().map(|v| v.version).collect()
    };
    assert_eq!(
        numbers(store.flag_versions("paged", None, 3).await.unwrap()),
        vec![7, 6, 5]
    );
    assert_eq!(
        numbers(store.flag_versions("paged", Some(5), 3).await.unwrap()),
        vec![4, 3, 2]
    );
    assert_eq!(
        numbers(store.flag_versions("paged", Some(2), 3).await.unwrap()),
        vec![1]
    );
    assert!(
        store
            .flag_versions("paged", Some(1), 3)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        numbers(store.flag_versions("paged", None, 100).await.unwrap()),
        (1..=7).rev().collect::<Vec<_>>()
    );
    assert!(
        store
            .flag_versions("unknown", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let v4 = store.flag_version("paged", 4).await.unwrap().unwrap();
    assert_eq!(v4.flag_id, "paged");
    assert_eq!(v4.document, json_of(&flag("paged", "v4")));
    assert_eq!(v4.actor, "actor-4");
    assert_eq!(v4.reason.as_deref(), Some("reason 4"));
    assert_eq!(v4.at, stored(at(4)));
    assert!(!v4.deleted);
    assert!(store.flag_version("paged", 99).await.unwrap().is_none());
    assert!(store.flag_version("unknown", 1).await.unwrap().is_none());
}

async fn audit_filters(store: Arc<dyn FlagStore>, _raw: Raw) {
    // 1: alice creates a (t+0)
    let mut c = set(
        0,
        vec![audited(
            Change::PutFlag(flag("a", "1"), Expect::Absent),
            "flag.create",
        )],
    );
    c.actor = "alice".to_owned();
    store.commit(c).await.unwrap();
    // 2: bob creates b (t+60)
    let mut c = set(
        60,
        vec![audited(
            Change::PutFlag(flag("b", "1"), Expect::Absent),
            "flag.create",
        )],
    );
    c.actor = "bob".to_owned();
    store.commit(c).await.unwrap();
    // 3: alice changes a in production, deployment dep-1 (t+120)
    let mut c = set(
        120,
        vec![AuditedChange {
            change: Change::PutFlag(flag("a", "2"), Expect::Version(1)),
            action: "flag.environment.update".to_owned(),
            environment: Some("production".to_owned()),
        }],
    );
    c.actor = "alice".to_owned();
    c.deployment_id = Some("dep-1".to_owned());
    store.commit(c).await.unwrap();
    // 4: bob creates the production environment (t+180)
    let mut c = set(
        180,
        vec![put_environment(
            environment("production", None),
            Expect::Absent,
        )],
    );
    c.actor = "bob".to_owned();
    store.commit(c).await.unwrap();
    // 5, 6: carol changes b and deletes a, deployment dep-2 (t+240)
    let mut c = set(
        240,
        vec![
            put(flag("b", "2"), Expect::Version(1)),
            delete_flag("a", Expect::Version(2)),
        ],
    );
    c.actor = "carol".to_owned();
    c.deployment_id = Some("dep-2".to_owned());
    store.commit(c).await.unwrap();

    let query = |q: AuditQuery| {
        let store = store.clone();
        async move { ids(&store.audit(&q).await.unwrap()) }
    };
    assert_eq!(query(AuditQuery::default()).await, vec![6, 5, 4, 3, 2, 1]);
    assert_eq!(
        query(AuditQuery {
            flag_id: Some("a".to_owned()),
            ..AuditQuery::default()
        })
        .await,
        vec![6, 3, 1]
    );
    assert_eq!(
        query(AuditQuery {
            environment: Some("production".to_owned()),
            ..AuditQuery::default()
        })
        .await,
        vec![4, 3],
        "entries in the environment and about it"
    );
    assert_eq!(
        query(AuditQuery {
            actor: Some("alice".to_owned()),
            ..AuditQuery::default()
        })
        .await,
        vec![3, 1]
    );
    assert_eq!(
        query(AuditQuery {
            action: Some("flag.create".to_owned()),
            ..AuditQuery::default()
        })
        .await,
        vec![2, 1]
    );
    assert_eq!(
        query(AuditQuery {
            deployment_id: Some("dep-2".to_owned()),
            ..AuditQuery::default()
        })
        .await,
        vec![6, 5]
    );
    assert_eq!(
        query(AuditQuery {
            since: Some(at(60)),
            until: Some(at(180)),
            ..AuditQuery::default()
        })
        .await,
        vec![3, 2],
        "since is inclusive, until exclusive"
    );
    assert_eq!(
        query(AuditQuery {
            limit: Some(2),
            ..AuditQuery::default()
        })
        .await,
        vec![6, 5]
    );
    assert_eq!(
        query(AuditQuery {
            before_id: Some(5),
            limit: Some(2),
            ..AuditQuery::default()
        })
        .await,
        vec![4, 3]
    );
    assert_eq!(
        query(AuditQuery {
            before_id: Some(2),
            limit: Some(2),
            ..AuditQuery::default()
        })
        .await,
        vec![1]
    );
    assert_eq!(
        query(AuditQuery {
            actor: Some("bob".to_owned()),
            flag_id: Some("b".to_owned()),
            ..AuditQuery::default()
        })
        .await,
        vec![2]
    );
    assert!(
        query(AuditQuery {
            actor: Some("nobody".to_owned()),
            ..AuditQuery::default()
        })
        .await
        .is_empty()
    );

    let entries = all_audit(&store).await;
    let third = entries.iter().find(|e| e.id == 3).unwrap();
    assert_eq!(third.environment.as_deref(), Some("production"));
    assert_eq!(third.deployment_id.as_deref(), Some("dep-1"));
    assert_eq!(third.action, "flag.environment.update");
    let fourth = entries.iter().find(|e| e.id == 4).unwrap();
    assert_eq!(fourth.resource_kind, ResourceKind::Environment);
    assert_eq!(fourth.after, json_of(&environment("production", None)));
}

async fn audit_chain_verifies_and_detects_tampering(store: Arc<dyn FlagStore>, raw: Raw) {
    commit(&store, vec![put(flag("a", "1"), Expect::Absent)]).await;
    commit(
        &store,
        vec![
            put(flag("a", "2"), Expect::Version(1)),
            put(flag("b", "1"), Expect::Absent),
        ],
    )
    .await;
    commit(&store, vec![create_key(new_key("key_ci", KeyKind::Server))]).await;
    commit(&store, vec![delete_flag("b", Expect::Any)]).await;

    let chain = store.audit_chain(0, 100).await.unwrap();
    assert_eq!(ids(&chain), vec![1, 2, 3, 4, 5]);
    assert_eq!(chain[0].prev_hash, GENESIS_HASH);
    for pair in chain.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    for entry in &chain {
        assert_eq!(entry.hash, entry_hash(&entry.prev_hash, entry));
    }
    assert_eq!(ids(&store.audit_chain(2, 2).await.unwrap()), vec![3, 4]);

    let verification = verify(&store).await;
    assert_eq!(
        verification,
        AuditVerification {
            valid: true,
            entries: 5,
            first_broken_id: None,
            head_hash: Some(chain[4].hash.clone()),
        }
    );

    raw.execute("UPDATE audit SET reason = 'nothing to see here' WHERE id = 3")
        .await;
    let verification = verify(&store).await;
    assert!(!verification.valid);
    assert_eq!(verification.first_broken_id, Some(3));
    assert_eq!(verification.entries, 5);
}

async fn changes_since_replays_in_order(store: Arc<dyn FlagStore>, _raw: Raw) {
    let steps = vec![
        vec![put(flag("a", "1"), Expect::Absent)],
        vec![
            put_segment(segment("beta", &["it"]), Expect::Absent),
            put(flag("b", "1"), Expect::Absent),
        ],
        vec![delete_flag("a", Expect::Version(1))],
        vec![put_environment(
            environment("staging", None),
            Expect::Absent,
        )],
        vec![create_key(new_key("key_1", KeyKind::Client))],
        vec![revoke_key("key_1")],
        vec![delete_segment("beta", Expect::Version(1))],
    ];
    for (i, changes) in steps.into_iter().enumerate() {
        let committed = commit(&store, changes).await;
        assert_eq!(committed.revision, i64::try_from(i).unwrap() + 1);
    }
    let record = |revision, kind, key: &str, removed| ChangeRecord {
        revision,
        kind,
        key: key.to_owned(),
        removed,
    };
    let all = vec![
        record(1, ResourceKind::Flag, "a", false),
        record(2, ResourceKind::Segment, "beta", false),
        record(2, ResourceKind::Flag, "b", false),
        record(3, ResourceKind::Flag, "a", true),
        record(4, ResourceKind::Environment, "staging", false),
        record(5, ResourceKind::ApiKey, "key_1", false),
        record(6, ResourceKind::ApiKey, "key_1", true),
        record(7, ResourceKind::Segment, "beta", true),
    ];
    assert_eq!(store.changes_since(0, 100).await.unwrap(), all);
    assert_eq!(store.changes_since(3, 100).await.unwrap(), all[4..]);
    assert_eq!(store.changes_since(0, 2).await.unwrap(), all[..2]);
    assert!(store.changes_since(7, 100).await.unwrap().is_empty());
    assert_eq!(store.load().await.unwrap().revision, 7);
}

async fn segments_round_trip(store: Arc<dyn FlagStore>, _raw: Raw) {
    let v1 = segment("beta", &["it", "fr"]);
    let committed = commit(&store, vec![put_segment(v1.clone(), Expect::Absent)]).await;
    assert_eq!(committed.versions, vec![1]);
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.segments.len(), 1);
    assert_eq!(loaded.segments[0].segment, v1);
    assert_eq!(loaded.segments[0].version, 1);
    assert_eq!(loaded.segments[0].updated_at, stored(at(0)));

    let v2 = segment("beta", &["de"]);
    let committed = store
        .commit(set(2, vec![put_segment(v2.clone(), Expect::Version(1))]))
        .await
        .unwrap();
    assert_eq!(committed.versions, vec![2]);
    let loaded = store.load().await.unwrap();
    assert_eq!(
        (&loaded.segments[0].segment, loaded.segments[0].version),
        (&v2, 2)
    );
    assert_eq!(loaded.segments[0].updated_at, stored(at(2)));
    let entry = &all_audit(&store).await[0];
    assert_eq!(
        (&entry.before, &entry.after),
        (&json_of(&v1), &json_of(&v2))
    );

    assert_conflict(
        store
            .commit(set(3, vec![put_segment(v1.clone(), Expect::Version(1))]))
            .await,
        "beta",
        Some(2),
    );
    assert_conflict(
        store
            .commit(set(3, vec![delete_segment("beta", Expect::Version(1))]))
            .await,
        "beta",
        Some(2),
    );
    commit(&store, vec![delete_segment("beta", Expect::Version(2))]).await;
    assert!(store.load().await.unwrap().segments.is_empty());
    let entry = &all_audit(&store).await[0];
    assert_eq!((&entry.before, &entry.after), (&json_of(&v2), &Value::Null));

    // Deleted segments are gone: creating one again starts over.
    let committed = commit(&store, vec![put_segment(v1.clone(), Expect::Absent)]).await;
    assert_eq!(committed.versions, vec![1]);
}

async fn environments_round_trip(store: Arc<dyn FlagStore>, _raw: Raw) {
    let production = environment("production", Some("staging"));
    let staging = environment("staging", None);
    commit(
        &store,
        vec![
            put_environment(staging.clone(), Expect::Absent),
            put_environment(production.clone(), Expect::Absent),
        ],
    )
    .await;
    let loaded = store.load().await.unwrap();
    let settings: Vec<_> = loaded
        .environments
        .iter()
        .map(|e| e.environment.clone())
        .collect();
    assert_eq!(settings, vec![production.clone(), staging.clone()]);
    assert_eq!(loaded.environments[0].version, 1);
    assert_eq!(
        loaded.environments[0].environment.change_windows[0].time_zone,
        "Europe/Rome"
    );

    let mut changed = production.clone();
    changed.change_windows.clear();
    changed.approval_required = false;
    changed.required_approvals = 1;
    let committed = commit(
        &store,
        vec![put_environment(changed.clone(), Expect::Version(1))],
    )
    .await;
    assert_eq!(committed.versions, vec![2]);
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.environments[0].environment, changed);
    assert_eq!(loaded.environments[0].version, 2);
    let entry = &all_audit(&store).await[0];
    assert_eq!(
        (&entry.before, &entry.after),
        (&json_of(&production), &json_of(&changed))
    );

    assert_conflict(
        store
            .commit(set(
                1,
                vec![put_environment(production.clone(), Expect::Version(1))],
            ))
            .await,
        "production",
        Some(2),
    );
    commit(
        &store,
        vec![delete_environment("production", Expect::Version(2))],
    )
    .await;
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.environments.len(), 1);
    assert_eq!(loaded.environments[0].environment, staging);
}

/// Roles scoped to environments (issue 17) come back as they were written,
/// for keys (listed and found by hash) and for people (read, changed,
/// unscoped again); unscoped ones come back unscoped.
async fn environment_roles_round_trip(store: Arc<dyn FlagStore>, _raw: Raw) {
    let roles = EnvironmentRoles::new(
        [
            ("development".to_owned(), Role::Editor),
            ("production".to_owned(), Role::Viewer),
        ]
        .into(),
    );
    let mut scoped = new_key("key_scoped", KeyKind::Admin);
    scoped.environment_roles = Some(roles.clone());
    let plain = new_key("key_plain", KeyKind::Admin);
    let user = NewUser {
        id: "user:ana@example.com".into(),
        email: "ana@example.com".into(),
        display_name: "Ana".into(),
        role: Role::Editor,
        environment_roles: Some(roles.clone()),
        password_hash: "$argon2id$stub".into(),
    };
    commit(
        &store,
        vec![
            create_key(scoped.clone()),
            create_key(plain),
            audited(Change::CreateUser(user), "user.create"),
        ],
    )
    .await;
    let keys = store.api_keys().await.unwrap();
    let by_id = |id: &str| keys.iter().find(|k| k.id == id).cloned().unwrap();
    assert_eq!(by_id("key_scoped").environment_roles, Some(roles.clone()));
    assert_eq!(by_id("key_plain").environment_roles, None);
    let found = store
        .api_key_by_hash(&scoped.secret_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.environment_roles.as_ref(), Some(&roles));
    assert_eq!(
        found
            .environment_roles
            .and_then(|r| r.role_in("production")),
        Some(Role::Viewer)
    );
    // The audit log shows the scope.
    let entries = all_audit(&store).await;
    assert!(entries.iter().any(|e| e.after["environment_roles"]
        == json!({"development": "editor", "production": "viewer"})));

    let stored = store.user("user:ana@example.com").await.unwrap().unwrap();
    assert_eq!(stored.environment_roles.as_ref(), Some(&roles));
    // Changing something else keeps the scope; a new scope replaces it;
    // `Some(None)` makes the account unscoped.
    let update = |environment_roles| UserUpdate {
        id: "user:ana@example.com".into(),
        display_name: Some("Ana B".into()),
        environment_roles,
        ..UserUpdate::default()
    };
    commit(
        &store,
        vec![audited(Change::UpdateUser(update(None)), "user.update")],
    )
    .await;
    let stored = store.user("user:ana@example.com").await.unwrap().unwrap();
    assert_eq!(stored.environment_roles.as_ref(), Some(&roles));
    let narrower = EnvironmentRoles::new([("staging".to_owned(), Role::Approver)].into());
    commit(
        &store,
        vec![audited(
            Change::UpdateUser(update(Some(Some(narrower.clone())))),
            "user.update",
        )],
    )
    .await;
    let stored = store.user("user:ana@example.com").await.unwrap().unwrap();
    assert_eq!(stored.environment_roles, Some(narrower));
    commit(
        &store,
        vec![audited(
            Change::UpdateUser(update(Some(None))),
            "user.update",
        )],
    )
    .await;
    let stored = store.user("user:ana@example.com").await.unwrap().unwrap();
    assert_eq!(stored.environment_roles, None);
}

async fn api_keys_lifecycle(store: Arc<dyn FlagStore>, _raw: Raw) {
    let admin = new_key("key_admin", KeyKind::Admin);
    let server = new_key("key_server", KeyKind::Server);
    store
        .commit(set(0, vec![create_key(admin.clone())]))
        .await
        .unwrap();
    let committed = store
        .commit(set(1, vec![create_key(server.clone())]))
        .await
        .unwrap();
    assert_eq!(committed.versions, vec![0]);

    let keys = store.api_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        vec!["key_admin", "key_server"]
    );
    let got = &keys[0];
    assert_eq!(got.name, admin.name);
    assert_eq!(got.kind, KeyKind::Admin);
    assert_eq!(got.role, Some(Role::Editor));
    assert_eq!(got.environment, None);
    assert_eq!(got.prefix, admin.prefix);
    assert_eq!(got.secret_hash, admin.secret_hash);
    assert_eq!(got.created_by, "tester");
    assert_eq!(got.created_at, stored(at(0)));
    assert_eq!((got.last_used_at, got.revoked_at), (None, None));
    assert_eq!(keys[1].kind, KeyKind::Server);
    assert_eq!(keys[1].role, None);
    assert_eq!(keys[1].environment.as_deref(), Some("production"));

    assert_eq!(
        store
            .api_key_by_hash(&server.secret_hash)
            .await
            .unwrap()
            .unwrap()
            .id,
        "key_server"
    );
    assert!(store.api_key_by_hash("0000").await.unwrap().is_none());

    // The audit log has the metadata, never the hash.
    let entry = &all_audit(&store).await[0];
    assert_eq!(entry.resource_kind, ResourceKind::ApiKey);
    assert_eq!(entry.before, Value::Null);
    assert_eq!(entry.after["prefix"], json!(server.prefix));
    assert_eq!(entry.after["kind"], json!("server"));
    let text = serde_json::to_string(&entry.after).unwrap();
    assert!(!text.contains("secret_hash") && !text.contains(&server.secret_hash));

    // Ids are unique.
    assert_conflict(
        store.commit(set(2, vec![create_key(admin.clone())])).await,
        "key_admin",
        Some(0),
    );

    // Last use is bookkeeping: it never goes back, is not audited and is not
    // a revision.
    let revision = store.load().await.unwrap().revision;
    let audited_before = all_audit(&store).await.len();
    store
        .touch_api_keys(&[
            ("key_admin".to_owned(), at(10)),
            ("key_unknown".to_owned(), at(10)),
        ])
        .await
        .unwrap();
    store
        .touch_api_keys(&[("key_admin".to_owned(), at(5))])
        .await
        .unwrap();
    store.touch_api_keys(&[]).await.unwrap();
    let got = store
        .api_key_by_hash(&admin.secret_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.last_used_at, Some(stored(at(10))));
    assert_eq!(store.load().await.unwrap().revision, revision);
    assert_eq!(all_audit(&store).await.len(), audited_before);

    // Revocation keeps the key (and its first revocation time).
    store
        .commit(set(20, vec![revoke_key("key_admin")]))
        .await
        .unwrap();
    store
        .commit(set(30, vec![revoke_key("key_admin")]))
        .await
        .unwrap();
    let got = store
        .api_key_by_hash(&admin.secret_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.revoked_at, Some(stored(at(20))));
    assert_eq!(store.api_keys().await.unwrap().len(), 2);
    let entries = all_audit(&store).await;
    assert_eq!(entries[1].before["revoked_at"], Value::Null);
    assert_eq!(entries[1].after["revoked_at"], json_of(&got)["revoked_at"]);
    assert!(verify(&store).await.valid);
}

async fn concurrent_writers_never_fork(store: Arc<dyn FlagStore>, _raw: Raw) {
    const WRITERS: usize = 50;
    commit(&store, vec![put(flag("race", "start"), Expect::Absent)]).await;

    // Everyone writes on top of version 1: exactly one wins.
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .commit(set(
                        1,
                        vec![put(flag("race", &format!("w{i}")), Expect::Version(1))],
                    ))
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(committed) => {
                winners += 1;
                assert_eq!(committed.versions, vec![2]);
            }
            Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, Some(2)),
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(winners, 1);

    // Everyone retries until their write lands: each version is won once.
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..10 * WRITERS {
                    let current = store.flag("race").await.unwrap().unwrap().version;
                    let changes = set(
                        2,
                        vec![put(
                            flag("race", &format!("r{i}")),
                            Expect::Version(current),
                        )],
                    );
                    match store.commit(changes).await {
                        Ok(committed) => return committed,
                        Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(other) => panic!("unexpected error {other}"),
                    }
                }
                panic!("writer {i} never got through");
            })
        })
        .collect();
    let mut versions = BTreeSet::new();
    let mut revisions = BTreeSet::new();
    for task in tasks {
        let committed = task.await.unwrap();
        assert!(
            versions.insert(committed.versions[0]),
            "a version was won twice"
        );
        assert!(
            revisions.insert(committed.revision),
            "a revision was used twice"
        );
    }
    let last = i64::try_from(WRITERS).unwrap() + 2;
    assert_eq!(versions, (3..=last).collect());

    // Versions, audit, change log and revision agree.
    assert_eq!(store.flag("race").await.unwrap().unwrap().version, last);
    let history = store.flag_versions("race", None, 1000).await.unwrap();
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        (1..=last).rev().collect::<Vec<_>>()
    );
    let verification = verify(&store).await;
    assert!(verification.valid);
    assert_eq!(verification.entries, u64::try_from(last).unwrap());
    let entries = all_audit(&store).await;
    assert_eq!(ids(&entries), (1..=last).rev().collect::<Vec<_>>());
    // Each audit entry's `after` is the version written by that commit.
    for (entry, version) in entries.iter().zip(&history) {
        assert_eq!(entry.after, version.document);
    }
    assert_eq!(store.load().await.unwrap().revision, last);
    let records = store.changes_since(0, 1000).await.unwrap();
    assert_eq!(
        records.iter().map(|r| r.revision).collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>()
    );
}

async fn load_orders_by_key_and_reports_revision(store: Arc<dyn FlagStore>, _raw: Raw) {
    commit(
        &store,
        ["zeta", "alpha", "m_b", "m-a", "m.c", "beta2", "beta10"]
            .into_iter()
            .map(|id| put(flag(id, "x"), Expect::Absent))
            .chain([
                put_segment(segment("zz", &["it"]), Expect::Absent),
                put_segment(segment("aa", &["it"]), Expect::Absent),
                put_environment(environment("staging", None), Expect::Absent),
                put_environment(environment("development", None), Expect::Absent),
            ])
            .collect(),
    )
    .await;
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.revision, 1);
    // Bytewise order, whatever the database's collation.
    assert_eq!(
        loaded
            .flags
            .iter()
            .map(|f| f.flag.flag_id.as_str())
            .collect::<Vec<_>>(),
        vec!["alpha", "beta10", "beta2", "m-a", "m.c", "m_b", "zeta"]
    );
    assert_eq!(
        loaded
            .segments
            .iter()
            .map(|s| s.segment.segment_id.as_str())
            .collect::<Vec<_>>(),
        vec!["aa", "zz"]
    );
    assert_eq!(
        loaded
            .environments
            .iter()
            .map(|e| e.environment.tree.key.as_str())
            .collect::<Vec<_>>(),
        vec!["development", "staging"]
    );

    commit(&store, vec![delete_flag("m.c", Expect::Any)]).await;
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.revision, 2);
    assert_eq!(loaded.flags.len(), 6);
    assert!(
        loaded
            .flags
            .iter()
            .all(|f| f.flag.flag_id != "m.c" && !f.deleted)
    );
}

async fn reopening_sees_committed_data(store: Arc<dyn FlagStore>, raw: Raw) {
    commit(
        &store,
        vec![
            put(flag("kept", "1"), Expect::Absent),
            create_key(new_key("key_kept", KeyKind::Admin)),
        ],
    )
    .await;
    let before = store.load().await.unwrap();
    // Connecting again runs the migrations again (a no-op) and sees it all.
    let again = ff_store::connect(&raw.url).await.unwrap();
    assert_eq!(again.load().await.unwrap(), before);
    assert_eq!(
        again.api_keys().await.unwrap(),
        store.api_keys().await.unwrap()
    );
    let committed = again
        .commit(set(1, vec![put(flag("kept", "2"), Expect::Version(1))]))
        .await
        .unwrap();
    assert_eq!(committed.revision, 2);
    assert_eq!(store.flag("kept").await.unwrap().unwrap().version, 2);
    assert!(verify(&store).await.valid);
}

// ---------------------------------------------------------------------------
// Backend-specific behaviour

/// Opening URLs: schemes, plain paths, in-memory databases.
#[tokio::test]
async fn connect_chooses_the_backend_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("created.db");
    assert!(!path.exists());
    let store = ff_store::connect(path.to_str().unwrap()).await.unwrap();
    assert!(
        path.exists(),
        "a plain path names an SQLite file, created if missing"
    );
    store.ping().await.unwrap();

    let url = format!("sqlite:{}", dir.path().join("url.db").display());
    let store = ff_store::connect(&url).await.unwrap();
    commit(&store, vec![put(flag("a", "1"), Expect::Absent)]).await;
    assert_eq!(store.load().await.unwrap().flags.len(), 1);

    let memory = ff_store::connect("sqlite::memory:").await.unwrap();
    commit(&memory, vec![put(flag("a", "1"), Expect::Absent)]).await;
    assert_eq!(memory.load().await.unwrap().flags.len(), 1);
    assert!(verify(&memory).await.valid);

    match ff_store::connect("mysql://localhost/flags").await {
        Err(StoreError::Database(cause)) => assert!(cause.to_string().contains("mysql")),
        other => panic!(
            "expected an unsupported scheme, got {:?}",
            other.map(|_| ())
        ),
    }
}

/// PostgreSQL announces each commit on `NOTIFY_CHANNEL`, when it commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commit_notifies_listeners() {
    run(
        Backend::Postgres,
        |store: Arc<dyn FlagStore>, raw: Raw| async move {
            let mut listener = sqlx::postgres::PgListener::connect(&raw.url).await.unwrap();
            listener.listen(ff_store::NOTIFY_CHANNEL).await.unwrap();

            // A failed commit says nothing.
            let stale = store
                .commit(set(0, vec![put(flag("a", "1"), Expect::Version(3))]))
                .await;
            assert!(stale.is_err());

            commit(
                &store,
                vec![
                    put(flag("a", "1"), Expect::Absent),
                    put_segment(segment("beta", &["it"]), Expect::Absent),
                ],
            )
            .await;
            let notification =
                tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
                    .await
                    .expect("a notification within 10 s")
                    .unwrap();
            let payload: Value = serde_json::from_str(notification.payload()).unwrap();
            assert_eq!(
                payload,
                json!({
                    "revision": 1,
                    "changes": [
                        {"kind": "flag", "key": "a", "removed": false},
                        {"kind": "segment", "key": "beta", "removed": false}
                    ]
                })
            );

            // Too many changes for one notification: only the revision.
            let many: Vec<_> = (0..300)
                .map(|i| put(flag(&format!("flag_number_{i:04}"), "x"), Expect::Absent))
                .collect();
            commit(&store, many).await;
            let notification =
                tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv())
                    .await
                    .expect("a notification within 10 s")
                    .unwrap();
            let payload: Value = serde_json::from_str(notification.payload()).unwrap();
            assert_eq!(payload, json!({"revision": 2}));
        },
    )
    .await;
}

fn work_item(kind: WorkKind, id: &str, status: &str, due: Option<i64>) -> WorkItem {
    WorkItem {
        kind,
        id: id.to_owned(),
        status: status.to_owned(),
        flag_id: Some("checkout".to_owned()),
        environment: Some("production".to_owned()),
        due_at: due.map(at),
        document: json!({"note": id}),
    }
}

async fn work_items_round_trip_and_filter(store: Arc<dyn FlagStore>, _raw: Raw) {
    let revision_before = store.load().await.unwrap().revision;
    let put =
        |item: WorkItem, expect: Expect| audited(Change::PutWorkItem(item, expect), "work.put");
    commit(
        &store,
        vec![
            put(
                work_item(WorkKind::ChangeRequest, "cr_1", "pending", None),
                Expect::Absent,
            ),
            put(
                work_item(WorkKind::Schedule, "sch_1", "scheduled", Some(10)),
                Expect::Absent,
            ),
            put(
                work_item(WorkKind::Schedule, "sch_2", "scheduled", Some(30)),
                Expect::Absent,
            ),
            put(
                work_item(WorkKind::RolloutPlan, "plan_1", "active", Some(20)),
                Expect::Absent,
            ),
        ],
    )
    .await;
    // Work items are audited but change nothing evaluated: no change log.
    assert!(
        store
            .changes_since(revision_before, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let audit = all_audit(&store).await;
    assert_eq!(audit[0].resource_kind, ResourceKind::RolloutPlan);
    assert_eq!(audit[3].resource_kind, ResourceKind::ChangeRequest);
    assert!(verify(&store).await.valid);

    let one = store
        .work_item(WorkKind::Schedule, "sch_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.version, 1);
    assert_eq!(one.item.due_at, Some(stored(at(10))));
    assert_eq!(one.item.document, json!({"note": "sch_1"}));
    assert!(
        store
            .work_item(WorkKind::ChangeRequest, "sch_1")
            .await
            .unwrap()
            .is_none(),
        "ids are per kind"
    );

    // Due items of every kind, earliest first; change requests are never due.
    let due = store
        .work_items(&WorkQuery {
            due_by: Some(at(25)),
            ..WorkQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<&str> = due.iter().map(|w| w.item.id.as_str()).collect();
    assert_eq!(ids, ["sch_1", "plan_1"]);
    let pending = store
        .work_items(&WorkQuery {
            kind: Some(WorkKind::ChangeRequest),
            statuses: vec!["pending".to_owned()],
            environment: Some("production".to_owned()),
            ..WorkQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);

    // Updates are version-checked: the scheduler's exactly-once rests on it.
    let mut applied = one.item.clone();
    applied.status = "applied".to_owned();
    applied.due_at = None;
    commit(&store, vec![put(applied.clone(), Expect::Version(1))]).await;
    let again = store
        .commit(set(1, vec![put(applied, Expect::Version(1))]))
        .await;
    assert_conflict(again, "sch_1", Some(2));
    let after = store
        .work_item(WorkKind::Schedule, "sch_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (after.item.status.as_str(), after.item.due_at, after.version),
        ("applied", None, 2)
    );
    let entry = &all_audit(&store).await[0];
    assert_eq!(entry.before["status"], "scheduled");
    assert_eq!(entry.after["status"], "applied");
}

async fn deployment_versions_by_flag_and_version(store: Arc<dyn FlagStore>, _raw: Raw) {
    let deployed = |changes: Vec<AuditedChange>| ChangeSet {
        deployment_id: Some("deploy-1".to_owned()),
        ..set(0, changes)
    };
    commit(
        &store,
        vec![
            put(flag("b", "one"), Expect::Absent),
            put(flag("a", "one"), Expect::Absent),
        ],
    )
    .await;
    store
        .commit(deployed(vec![put(flag("b", "two"), Expect::Version(1))]))
        .await
        .unwrap();
    store
        .commit(deployed(vec![put(flag("a", "two"), Expect::Version(1))]))
        .await
        .unwrap();
    store
        .commit(deployed(vec![put(flag("b", "three"), Expect::Version(2))]))
        .await
        .unwrap();
    commit(&store, vec![put(flag("b", "four"), Expect::Version(3))]).await;
    let versions = store.deployment_versions("deploy-1").await.unwrap();
    let found: Vec<(&str, i64)> = versions
        .iter()
        .map(|v| (v.flag_id.as_str(), v.version))
        .collect();
    assert_eq!(found, [("a", 2), ("b", 2), ("b", 3)]);
    assert!(store.deployment_versions("other").await.unwrap().is_empty());
}

async fn flag_usage_keeps_the_latest_time(store: Arc<dyn FlagStore>, _raw: Raw) {
    assert!(store.flag_usage().await.unwrap().is_empty());
    store
        .record_flag_usage(&[("a".to_owned(), at(10)), ("b".to_owned(), at(5))])
        .await
        .unwrap();
    // An older time (a node that flushes late) does not move it back.
    store
        .record_flag_usage(&[("a".to_owned(), at(3)), ("b".to_owned(), at(20))])
        .await
        .unwrap();
    let usage = store.flag_usage().await.unwrap();
    assert_eq!(usage.len(), 2);
    assert_eq!(usage["a"], stored(at(10)));
    assert_eq!(usage["b"], stored(at(20)));
    store.record_flag_usage(&[]).await.unwrap();
}

/// `evaluation_totals`: one row per flag and bucket of the granularity
/// asked for, every environment, outcome and reason added up; buckets
/// outside `[since, until)` and other granularities left out.
async fn evaluation_totals_sum_every_environment_and_outcome_per_flag_and_bucket(
    store: Arc<dyn FlagStore>,
    _raw: Raw,
) {
    let hour = ff_store::Granularity::Hour;
    let start = hour.bucket_of(at(0));
    let count =
        |minutes: i64, flag: &str, env: &str, label: &str, n: i64| ff_store::EvaluationCount {
            granularity: ff_store::Granularity::Minute,
            bucket_start: ff_store::Granularity::Minute
                .bucket_of(start + Duration::minutes(minutes)),
            flag_id: flag.to_owned(),
            environment: env.to_owned(),
            label: label.to_owned(),
            reason: "STATIC".to_owned(),
            error_code: String::new(),
            count: n,
        };
    store
        .add_evaluation_counts(&[
            count(1, "a", "production", "true", 3),
            count(2, "a", "staging", "false", 4),
            count(61, "a", "production", "true", 5),
            count(5, "b", "production", "true", 7),
            // Before the range asked for.
            count(-61, "a", "production", "true", 100),
        ])
        .await
        .unwrap();
    let totals = store
        .evaluation_totals(hour, start, start + Duration::hours(2))
        .await
        .unwrap();
    let rows: Vec<(String, i64, i64)> = totals
        .into_iter()
        .map(|t| (t.flag_id, (t.bucket_start - start).whole_hours(), t.count))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("a".to_owned(), 0, 7),
            ("a".to_owned(), 1, 5),
            ("b".to_owned(), 0, 7),
        ]
    );
}
