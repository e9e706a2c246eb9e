//! The write path: [`crate::FlagStore::commit`].
//!
//! One transaction, begun with the backend's write lock held
//! ([`Backend::begin_write`]), so that no two commits interleave: each reads
//! the last audit hash and the revision, checks every change's [`Expect`]
//! against the current version, writes documents, flag versions, one chained
//! audit entry and one change-log row per change, bumps the revision once and
//! notifies other nodes. Any error rolls all of it back.

use serde_json::Value;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::experiments::{ExperimentRow, select_experiments};
use super::rows::{
    ApiKeyRow, EnvironmentRow, FlagRow, SegmentRow, UserRow, WorkItemRow, environment_roles_text,
    from_millis, key_kind_name, select_api_keys, select_environments, select_flags,
    select_segments, select_users, select_work_items,
};
use super::webhooks::{WebhookRow, select_webhooks};
use super::{Backend, SqlStore, db_error};
use crate::audit::unix_millis;
use crate::{
    ApiKey, AuditEntry, AuditedChange, Change, ChangeRecord, ChangeSet, Committed, Expect,
    ExperimentRecord, GENESIS_HASH, NewApiKey, NewUser, ResourceKind, StoreError, User, UserUpdate,
    WebhookRecord, WorkItem, entry_hash,
};

/// What applying one change did, for its audit entry and change-log row.
struct Applied {
    kind: ResourceKind,
    key: String,
    /// The new version: 0 for API keys, which have none; for a deleted
    /// segment or environment, the version its deletion would have had.
    version: i64,
    /// Whether the resource went away (deleted, revoked).
    removed: bool,
    /// The resource before, `null` when it did not exist (or was deleted).
    before: Value,
    /// The resource after, `null` when it no longer exists (or is deleted).
    after: Value,
}

/// The fields of a change set that every change of it shares.
struct Context<'s> {
    set: &'s ChangeSet,
    /// `set.at` truncated to what is stored.
    at_ms: i64,
}

/// Checks a change's expectation against the current version (`None`:
/// absent).
/// The number after a version, revision or audit id. These count writes, so
/// i64 is not exhausted by them (at 1 000 writes a second it would take
/// 3 * 10^8 years); saturating keeps a manually edited value from wrapping
/// to a negative one.
fn successor(counter: i64) -> i64 {
    counter.saturating_add(1)
}

fn check(
    kind: ResourceKind,
    key: &str,
    expected: Expect,
    actual: Option<i64>,
) -> Result<(), StoreError> {
    let holds = match (expected, actual) {
        (Expect::Any, _) | (Expect::Absent, None) | (Expect::Exists, Some(_)) => true,
        (Expect::Version(want), Some(have)) => want == have,
        _ => false,
    };
    if holds {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            kind,
            key: key.to_owned(),
            expected,
            actual,
        })
    }
}

/// The error for a delete or restore of something that does not exist: a
/// conflict if the change expected a version, otherwise "not found".
fn missing(kind: ResourceKind, key: &str, expected: Expect) -> StoreError {
    match expected {
        Expect::Version(_) => StoreError::Conflict {
            kind,
            key: key.to_owned(),
            expected,
            actual: None,
        },
        Expect::Absent | Expect::Exists | Expect::Any => StoreError::NotFound {
            kind,
            key: key.to_owned(),
        },
    }
}

/// A stored JSON text as a value (for audit `before`).
fn stored_json(kind: ResourceKind, key: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        kind,
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// A document as a JSON value and as the text that is stored (the same
/// bytes the value serializes to).
fn document<T: serde::Serialize>(
    kind: ResourceKind,
    key: &str,
    value: &T,
) -> Result<(Value, String), StoreError> {
    let fail = |e: serde_json::Error| StoreError::Corrupt {
        kind,
        key: key.to_owned(),
        message: format!("cannot serialize: {e}"),
    };
    let json = serde_json::to_value(value).map_err(fail)?;
    crate::text::check_document(&format!("{}[{key}]", kind.as_str()), &json)?;
    let text = serde_json::to_string(&json).map_err(fail)?;
    Ok((json, text))
}

/// An API key's audit view: its metadata, never the hash (which
/// `ApiKey`'s `Serialize` skips).
fn key_json(key: &ApiKey) -> Result<Value, StoreError> {
    document(ResourceKind::ApiKey, &key.id, key).map(|(json, _)| json)
}

/// A user as the audit log shows it (without the password hash, which
/// `User`'s `Serialize` skips).
fn user_json(user: &User) -> Result<Value, StoreError> {
    document(ResourceKind::User, &user.id, user).map(|(json, _)| json)
}

// See `mod.rs` for why these bounds are repeated here.
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
    pub(crate) async fn commit(&self, set: ChangeSet) -> Result<Committed, StoreError> {
        crate::text::check_change_set(&set)?;
        let mut tx = DB::begin_write(self.write_pool()).await.map_err(db_error)?;
        match Self::apply_all(&mut tx, &set).await {
            Ok(committed) => {
                tx.commit().await.map_err(db_error)?;
                Ok(committed)
            }
            Err(error) => {
                // Dropping the transaction would roll it back too, but only
                // when the connection is next used: release the lock now. A
                // failed rollback leaves nothing written either.
                let _ = tx.rollback().await;
                Err(error)
            }
        }
    }

    /// Everything a commit writes, inside its transaction.
    async fn apply_all(
        conn: &mut DB::Connection,
        set: &ChangeSet,
    ) -> Result<Committed, StoreError> {
        let revision: i64 = sqlx::query_scalar("SELECT revision FROM meta WHERE id = 1")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error)?;
        if set.changes.is_empty() {
            return Ok(Committed {
                revision,
                versions: Vec::new(),
                audit_ids: Vec::new(),
            });
        }
        let revision = successor(revision);
        let (mut last_id, mut prev_hash): (i64, String) =
            sqlx::query_as("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error)?
                .unwrap_or_else(|| (0, GENESIS_HASH.to_owned()));

        let at_ms = unix_millis(set.at);
        let at = from_millis(at_ms)?;
        let context = Context { set, at_ms };
        let mut committed = Committed {
            revision,
            versions: Vec::with_capacity(set.changes.len()),
            audit_ids: Vec::with_capacity(set.changes.len()),
        };
        let mut records = Vec::with_capacity(set.changes.len());

        for (seq, audited) in set.changes.iter().enumerate() {
            let applied = Self::apply(conn, &context, audited).await?;
            let mut entry = AuditEntry {
                id: successor(last_id),
                at,
                actor: set.actor.clone(),
                action: audited.action.clone(),
                resource_kind: applied.kind,
                resource_key: applied.key.clone(),
                environment: audited.environment.clone(),
                before: applied.before,
                after: applied.after,
                reason: set.reason.clone(),
                request_id: set.request_id.clone(),
                deployment_id: set.deployment_id.clone(),
                prev_hash,
                hash: String::new(),
            };
            entry.hash = entry_hash(&entry.prev_hash, &entry);
            Self::insert_audit(conn, &entry, at_ms).await?;

            committed.versions.push(applied.version);
            committed.audit_ids.push(entry.id);
            last_id = entry.id;
            prev_hash = entry.hash;
            if !applied.kind.is_configuration() {
                // Work items change nothing that is evaluated or streamed.
                continue;
            }
            let seq = i64::try_from(seq).unwrap_or(i64::MAX);
            sqlx::query(
                "INSERT INTO change_log (revision, seq, kind, key, removed) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(revision)
            .bind(seq)
            .bind(applied.kind.as_str())
            .bind(applied.key.as_str())
            .bind(applied.removed)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;

            records.push(ChangeRecord {
                revision,
                kind: applied.kind,
                key: applied.key,
                removed: applied.removed,
            });
        }

        sqlx::query("UPDATE meta SET revision = $1 WHERE id = 1")
            .bind(revision)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
        DB::notify(conn, revision, &records)
            .await
            .map_err(db_error)?;
        Ok(committed)
    }

    /// Applies one change: checks its expectation and writes the resource.
    async fn apply(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        audited: &AuditedChange,
    ) -> Result<Applied, StoreError> {
        match &audited.change {
            Change::PutFlag(flag, expected) => {
                Self::put_flag(conn, context, &audited.action, flag, *expected).await
            }
            Change::DeleteFlag(flag_id, expected) => {
                Self::delete_or_restore_flag(
                    conn,
                    context,
                    &audited.action,
                    flag_id,
                    *expected,
                    true,
                )
                .await
            }
            Change::RestoreFlag(flag_id, expected) => {
                Self::delete_or_restore_flag(
                    conn,
                    context,
                    &audited.action,
                    flag_id,
                    *expected,
                    false,
                )
                .await
            }
            Change::PutSegment(segment, expected) => {
                Self::put_segment(conn, context, segment, *expected).await
            }
            Change::DeleteSegment(segment_id, expected) => {
                Self::delete_segment(conn, segment_id, *expected).await
            }
            Change::PutEnvironment(settings, expected) => {
                Self::put_environment(conn, context, settings, *expected).await
            }
            Change::DeleteEnvironment(key, expected) => {
                Self::delete_environment(conn, key, *expected).await
            }
            Change::CreateApiKey(new) => Self::create_api_key(conn, context, new).await,
            Change::RevokeApiKey(id) => Self::revoke_api_key(conn, context, id).await,
            Change::PutWorkItem(item, expected) => {
                Self::put_work_item(conn, context, item, *expected).await
            }
            Change::PutExperiment(experiment, expected) => {
                Self::put_experiment(conn, context, experiment, *expected).await
            }
            Change::CreateUser(new) => Self::create_user(conn, context, new).await,
            Change::UpdateUser(update) => Self::update_user(conn, context, update).await,
            Change::PutWebhook(webhook, expected) => {
                Self::put_webhook(conn, context, webhook, *expected).await
            }
            Change::DeleteWebhook(id, expected) => Self::delete_webhook(conn, id, *expected).await,
        }
    }

    /// Creates or updates a change request, schedule or rollout plan.
    async fn put_work_item(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        item: &WorkItem,
        expected: Expect,
    ) -> Result<Applied, StoreError> {
        let kind = item.kind.resource_kind();
        let key = item.id.as_str();
        let current = sqlx::query_as::<DB, WorkItemRow>(concat!(
            select_work_items!(),
            " WHERE kind = $1 AND id = $2"
        ))
        .bind(kind.as_str())
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
        check(kind, key, expected, current.as_ref().map(|row| row.version))?;
        let (_, text) = document(kind, key, &item.document)?;
        let (after, _) = document(kind, key, item)?;
        let due_at = item.due_at.map(unix_millis);
        let (version, before) = match current {
            None => {
                sqlx::query(
                    "INSERT INTO work_items (kind, id, status, flag_id, environment, due_at, \
                     document, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)",
                )
                .bind(kind.as_str())
                .bind(key)
                .bind(item.status.as_str())
                .bind(item.flag_id.as_deref())
                .bind(item.environment.as_deref())
                .bind(due_at)
                .bind(text.as_str())
                .bind(context.at_ms)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
                (1, Value::Null)
            }
            Some(row) => {
                let version = successor(row.version);
                sqlx::query(
                    "UPDATE work_items SET status = $3, flag_id = $4, environment = $5, \
                     due_at = $6, document = $7, version = $8, updated_at = $9 \
                     WHERE kind = $1 AND id = $2",
                )
                .bind(kind.as_str())
                .bind(key)
                .bind(item.status.as_str())
                .bind(item.flag_id.as_deref())
                .bind(item.environment.as_deref())
                .bind(due_at)
                .bind(text.as_str())
                .bind(version)
                .bind(context.at_ms)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
                let before = document(kind, key, &row.into_stored()?.item)?.0;
                (version, before)
            }
        };
        Ok(Applied {
            kind,
            key: key.to_owned(),
            version,
            removed: false,
            before,
            after,
        })
    }

    async fn current_flag(
        conn: &mut DB::Connection,
        flag_id: &str,
    ) -> Result<Option<FlagRow>, StoreError> {
        sqlx::query_as::<DB, FlagRow>(concat!(select_flags!(), " WHERE flag_id = $1"))
            .bind(flag_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)
    }

    /// Creates or replaces a flag; replacing a deleted flag restores it.
    async fn put_flag(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        action: &str,
        flag: &ff_engine::Flag,
        expected: Expect,
    ) -> Result<Applied, StoreError> {
        let key = flag.flag_id.as_str();
        let current = Self::current_flag(conn, key).await?;
        check(
            ResourceKind::Flag,
            key,
            expected,
            current.as_ref().map(|row| row.version),
        )?;
        let (after, text) = document(ResourceKind::Flag, key, flag)?;
        let (version, before) = match &current {
            None => {
                sqlx::query(
                    "INSERT INTO flags (flag_id, document, version, deleted, created_at, updated_at) \
                     VALUES ($1, $2, 1, $3, $4, $4)",
                )
                .bind(key)
                .bind(text.as_str())
                .bind(false)
                .bind(context.at_ms)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
                (1, Value::Null)
            }
            Some(row) => {
                let version = successor(row.version);
                Self::update_flag(conn, key, &text, version, false, context.at_ms).await?;
                let before = if row.deleted {
                    Value::Null
                } else {
                    stored_json(ResourceKind::Flag, key, &row.document)?
                };
                (version, before)
            }
        };
        Self::insert_flag_version(conn, context, action, key, version, &text, false).await?;
        Ok(Applied {
            kind: ResourceKind::Flag,
            key: key.to_owned(),
            version,
            removed: false,
            before,
            after,
        })
    }

    /// Soft-deletes (`delete`) or restores a flag: a new version with the
    /// same document. Deleting a deleted flag is "not found"; restoring a
    /// live one is a conflict.
    async fn delete_or_restore_flag(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        action: &str,
        key: &str,
        expected: Expect,
        delete: bool,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::Flag;
        let Some(row) = Self::current_flag(conn, key).await? else {
            return Err(missing(kind, key, expected));
        };
        check(kind, key, expected, Some(row.version))?;
        if delete && row.deleted {
            return Err(StoreError::NotFound {
                kind,
                key: key.to_owned(),
            });
        }
        if !delete && !row.deleted {
            return Err(StoreError::Conflict {
                kind,
                key: key.to_owned(),
                expected,
                actual: Some(row.version),
            });
        }
        let version = successor(row.version);
        Self::update_flag(conn, key, &row.document, version, delete, context.at_ms).await?;
        Self::insert_flag_version(conn, context, action, key, version, &row.document, delete)
            .await?;
        let document = stored_json(kind, key, &row.document)?;
        let (before, after) = if delete {
            (document, Value::Null)
        } else {
            (Value::Null, document)
        };
        Ok(Applied {
            kind,
            key: key.to_owned(),
            version,
            removed: delete,
            before,
            after,
        })
    }

    async fn update_flag(
        conn: &mut DB::Connection,
        key: &str,
        text: &str,
        version: i64,
        deleted: bool,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE flags SET document = $2, version = $3, deleted = $4, updated_at = $5 \
             WHERE flag_id = $1",
        )
        .bind(key)
        .bind(text)
        .bind(version)
        .bind(deleted)
        .bind(at_ms)
        .execute(&mut *conn)
        .await
        .map_err(db_error)
        .map(|_| ())
    }

    async fn insert_flag_version(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        action: &str,
        key: &str,
        version: i64,
        text: &str,
        deleted: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO flag_versions \
             (flag_id, version, document, deleted, action, actor, at, reason, deployment_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(key)
        .bind(version)
        .bind(text)
        .bind(deleted)
        .bind(action)
        .bind(context.set.actor.as_str())
        .bind(context.at_ms)
        .bind(context.set.reason.as_deref())
        .bind(context.set.deployment_id.as_deref())
        .execute(&mut *conn)
        .await
        .map_err(db_error)
        .map(|_| ())
    }

    async fn current_segment(
        conn: &mut DB::Connection,
        key: &str,
    ) -> Result<Option<SegmentRow>, StoreError> {
        sqlx::query_as::<DB, SegmentRow>(concat!(select_segments!(), " WHERE segment_id = $1"))
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)
    }

    async fn put_segment(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        segment: &ff_engine::Segment,
        expected: Expect,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::Segment;
        let key = segment.segment_id.as_str();
        let current = Self::current_segment(conn, key).await?;
        check(kind, key, expected, current.as_ref().map(|row| row.version))?;
        let (after, text) = document(kind, key, segment)?;
        let before = match &current {
            Some(row) => stored_json(kind, key, &row.document)?,
            None => Value::Null,
        };
        let version = current.map_or(1, |row| successor(row.version));
        sqlx::query(
            "INSERT INTO segments (segment_id, document, version, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (segment_id) DO UPDATE SET document = excluded.document, \
             version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(text.as_str())
        .bind(version)
        .bind(context.at_ms)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        Ok(Applied {
            kind,
            key: key.to_owned(),
            version,
            removed: false,
            before,
            after,
        })
    }

    async fn delete_segment(
        conn: &mut DB::Connection,
        key: &str,
        expected: Expect,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::Segment;
        let Some(row) = Self::current_segment(conn, key).await? else {
            return Err(missing(kind, key, expected));
        };
        check(kind, key, expected, Some(row.version))?;
        sqlx::query("DELETE FROM segments WHERE segment_id = $1")
            .bind(key)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
        Ok(Applied {
            kind,
            key: key.to_owned(),
            version: successor(row.version),
            removed: true,
            before: stored_json(kind, key, &row.document)?,
            after: Value::Null,
        })
    }

    async fn current_environment(
        conn: &mut DB::Connection,
        key: &str,
    ) -> Result<Option<EnvironmentRow>, StoreError> {
        sqlx::query_as::<DB, EnvironmentRow>(concat!(select_environments!(), " WHERE key = $1"))
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)
    }

    async fn put_environment(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        settings: &crate::EnvironmentSettings,
        expected: Expect,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::Environment;
        let key = settings.tree.key.as_str();
        let current = Self::current_environment(conn, key).await?;
        check(kind, key, expected, current.as_ref().map(|row| row.version))?;
        let (after, text) = document(kind, key, settings)?;
        let before = match &current {
            Some(row) => stored_json(kind, key, &row.settings)?,
            None => Value::Null,
        };
        let version = current.map_or(1, |row| successor(row.version));
        sqlx::query(
            "INSERT INTO environments (key, settings, version, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET settings = excluded.settings, \
             version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(text.as_str())
        .bind(version)
        .bind(context.at_ms)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        Ok(Applied {
            kind,
            key: key.to_owned(),
            version,
            removed: false,
            before,
            after,
        })
    }

    async fn delete_environment(
        conn: &mut DB::Connection,
        key: &str,
        expected: Expect,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::Environment;
        let Some(row) = Self::current_environment(conn, key).await? else {
            return Err(missing(kind, key, expected));
        };
        check(kind, key, expected, Some(row.version))?;
        sqlx::query("DELETE FROM environments WHERE key = $1")
            .bind(key)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
        Ok(Applied {
            kind,
            key: key.to_owned(),
            version: successor(row.version),
            removed: true,
            before: stored_json(kind, key, &row.settings)?,
            after: Value::Null,
        })
    }

    async fn current_api_key(
        conn: &mut DB::Connection,
        id: &str,
    ) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query_as::<DB, ApiKeyRow>(concat!(select_api_keys!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?
            .map(ApiKeyRow::into_key)
            .transpose()
    }

    /// Creates a key; an existing id is a conflict (keys have no versions:
    /// the "version" reported is 0).
    async fn create_api_key(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        new: &NewApiKey,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::ApiKey;
        crate::text::check_name("name", &new.name, crate::text::MAX_ID_CHARS)?;
        if Self::current_api_key(conn, &new.id).await?.is_some() {
            return Err(StoreError::Conflict {
                kind,
                key: new.id.clone(),
                expected: Expect::Absent,
                actual: Some(0),
            });
        }
        sqlx::query(
            "INSERT INTO api_keys (id, name, kind, role, environment, prefix, secret_hash, \
             created_by, created_at, last_used_at, revoked_at, environment_roles) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, $10)",
        )
        .bind(new.id.as_str())
        .bind(new.name.as_str())
        .bind(key_kind_name(new.kind))
        .bind(new.role.map(crate::Role::name))
        .bind(new.environment.as_deref())
        .bind(new.prefix.as_str())
        .bind(new.secret_hash.as_str())
        .bind(context.set.actor.as_str())
        .bind(context.at_ms)
        .bind(environment_roles_text(new.environment_roles.as_ref()).as_deref())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        let created = ApiKey {
            id: new.id.clone(),
            name: new.name.clone(),
            kind: new.kind,
            role: new.role,
            environment: new.environment.clone(),
            environment_roles: new.environment_roles.clone(),
            prefix: new.prefix.clone(),
            secret_hash: new.secret_hash.clone(),
            created_by: context.set.actor.clone(),
            created_at: from_millis(context.at_ms)?,
            last_used_at: None,
            revoked_at: None,
        };
        Ok(Applied {
            kind,
            key: new.id.clone(),
            version: 0,
            removed: false,
            before: Value::Null,
            after: key_json(&created)?,
        })
    }

    /// Revokes a key. Revoking a revoked key keeps its first revocation time
    /// (and is still audited: someone asked for it).
    async fn revoke_api_key(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        id: &str,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::ApiKey;
        let Some(key) = Self::current_api_key(conn, id).await? else {
            return Err(StoreError::NotFound {
                kind,
                key: id.to_owned(),
            });
        };
        let before = key_json(&key)?;
        let mut revoked = key;
        if revoked.revoked_at.is_none() {
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1")
                .bind(id)
                .bind(context.at_ms)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
            revoked.revoked_at = Some(from_millis(context.at_ms)?);
        }
        Ok(Applied {
            kind,
            key: id.to_owned(),
            version: 0,
            removed: true,
            before,
            after: key_json(&revoked)?,
        })
    }

    /// Creates or replaces an experiment (versioned like segments).
    async fn put_experiment(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        experiment: &ExperimentRecord,
        expected: Expect,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::Experiment;
        let key = experiment.id.as_str();
        let current =
            sqlx::query_as::<DB, ExperimentRow>(concat!(select_experiments!(), " WHERE id = $1"))
                .bind(key)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error)?;
        check(kind, key, expected, current.as_ref().map(|row| row.version))?;
        let (after, text) = document(kind, key, &experiment.document)?;
        let before = match &current {
            Some(row) => stored_json(kind, key, &row.document)?,
            None => Value::Null,
        };
        let version = current.map_or(1, |row| successor(row.version));
        sqlx::query(
            "INSERT INTO experiments (id, flag_id, environment, document, version, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (id) DO UPDATE SET document = excluded.document, \
             version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(experiment.flag_id.as_str())
        .bind(experiment.environment.as_str())
        .bind(text.as_str())
        .bind(version)
        .bind(context.at_ms)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        Ok(Applied {
            kind,
            key: key.to_owned(),
            version,
            removed: false,
            before,
            after,
        })
    }

    async fn current_webhook(
        conn: &mut DB::Connection,
        id: &str,
    ) -> Result<Option<WebhookRow>, StoreError> {
        sqlx::query_as::<DB, WebhookRow>(concat!(select_webhooks!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)
    }

    /// Creates or replaces an endpoint. The audit shows its document; the
    /// secret is its own column, never in `before` or `after`.
    async fn put_webhook(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        webhook: &WebhookRecord,
        expected: Expect,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::Webhook;
        let key = webhook.id.as_str();
        crate::text::check_name("id", key, crate::text::MAX_ID_CHARS)?;
        let current = Self::current_webhook(conn, key).await?;
        check(kind, key, expected, current.as_ref().map(|row| row.version))?;
        let (after, text) = document(kind, key, &webhook.document)?;
        let (before, version, secret) = match &current {
            Some(row) => (
                stored_json(kind, key, &row.document)?,
                successor(row.version),
                webhook.secret.clone().unwrap_or_else(|| row.secret.clone()),
            ),
            None => {
                let Some(secret) = webhook.secret.clone() else {
                    return Err(StoreError::Invalid {
                        field: "secret".into(),
                        message: "a new webhook needs a signing secret".into(),
                    });
                };
                (Value::Null, 1, secret)
            }
        };
        sqlx::query(
            "INSERT INTO webhooks (id, url, document, secret, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (id) DO UPDATE SET url = excluded.url, document = excluded.document, \
             secret = excluded.secret, version = excluded.version, \
             updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(webhook.url.as_str())
        .bind(text.as_str())
        .bind(secret.as_str())
        .bind(version)
        .bind(context.at_ms)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        Ok(Applied {
            kind,
            key: key.to_owned(),
            version,
            removed: false,
            before,
            after,
        })
    }

    /// Deletes an endpoint and its deliveries (pending ones are never
    /// sent).
    async fn delete_webhook(
        conn: &mut DB::Connection,
        key: &str,
        expected: Expect,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::Webhook;
        let Some(row) = Self::current_webhook(conn, key).await? else {
            return Err(missing(kind, key, expected));
        };
        check(kind, key, expected, Some(row.version))?;
        for statement in [
            "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
            "DELETE FROM webhooks WHERE id = $1",
        ] {
            sqlx::query(statement)
                .bind(key)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
        }
        Ok(Applied {
            kind,
            key: key.to_owned(),
            version: successor(row.version),
            removed: true,
            before: stored_json(kind, key, &row.document)?,
            after: Value::Null,
        })
    }

    async fn current_user(conn: &mut DB::Connection, id: &str) -> Result<Option<User>, StoreError> {
        sqlx::query_as::<DB, UserRow>(concat!(select_users!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?
            .map(UserRow::into_user)
            .transpose()
    }

    /// Creates an account; an existing id (email) is a conflict. Users have
    /// no versions, like keys: the "version" reported is 0.
    async fn create_user(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        new: &NewUser,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::User;
        crate::text::check_name("email", &new.email, crate::text::MAX_ID_CHARS)?;
        crate::text::check_name("display_name", &new.display_name, crate::text::MAX_ID_CHARS)?;
        if Self::current_user(conn, &new.id).await?.is_some() {
            return Err(StoreError::Conflict {
                kind,
                key: new.id.clone(),
                expected: Expect::Absent,
                actual: Some(0),
            });
        }
        sqlx::query(
            "INSERT INTO users (id, email, display_name, role, password_hash, created_by, \
             created_at, updated_at, disabled_at, environment_roles) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, NULL, $8)",
        )
        .bind(new.id.as_str())
        .bind(new.email.as_str())
        .bind(new.display_name.as_str())
        .bind(new.role.name())
        .bind(new.password_hash.as_str())
        .bind(context.set.actor.as_str())
        .bind(context.at_ms)
        .bind(environment_roles_text(new.environment_roles.as_ref()).as_deref())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        let created = Self::current_user(conn, &new.id)
            .await?
            .ok_or_else(|| StoreError::Database("a user just written is missing".into()))?;
        Ok(Applied {
            kind,
            key: new.id.clone(),
            version: 0,
            removed: false,
            before: Value::Null,
            after: user_json(&created)?,
        })
    }

    /// Changes an account. Disabling it or changing its password ends its
    /// sessions in the same transaction, so no node accepts them after the
    /// commit.
    async fn update_user(
        conn: &mut DB::Connection,
        context: &Context<'_>,
        update: &UserUpdate,
    ) -> Result<Applied, StoreError> {
        let kind = ResourceKind::User;
        let Some(before) = Self::current_user(conn, &update.id).await? else {
            return Err(StoreError::NotFound {
                kind,
                key: update.id.clone(),
            });
        };
        if let Some(name) = &update.display_name {
            crate::text::check_name("display_name", name, crate::text::MAX_ID_CHARS)?;
        }
        let disabled_at = match update.disabled {
            Some(true) => before.disabled_at.map(unix_millis).or(Some(context.at_ms)),
            Some(false) => None,
            None => before.disabled_at.map(unix_millis),
        };
        sqlx::query(
            "UPDATE users SET display_name = $2, role = $3, password_hash = $4, \
             updated_at = $5, disabled_at = $6, environment_roles = $7 WHERE id = $1",
        )
        .bind(update.id.as_str())
        .bind(
            update
                .display_name
                .as_deref()
                .unwrap_or(&before.display_name),
        )
        .bind(update.role.unwrap_or(before.role).name())
        .bind(
            update
                .password_hash
                .as_deref()
                .unwrap_or(&before.password_hash),
        )
        .bind(context.at_ms)
        .bind(disabled_at)
        .bind(
            environment_roles_text(match &update.environment_roles {
                Some(roles) => roles.as_ref(),
                None => before.environment_roles.as_ref(),
            })
            .as_deref(),
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        if update.disabled == Some(true) || update.password_hash.is_some() {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(update.id.as_str())
            .bind(context.at_ms)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
        }
        let after = Self::current_user(conn, &update.id)
            .await?
            .ok_or_else(|| StoreError::Database("a user just written is missing".into()))?;
        Ok(Applied {
            kind,
            key: update.id.clone(),
            version: 0,
            removed: after.disabled_at.is_some(),
            before: user_json(&before)?,
            after: user_json(&after)?,
        })
    }

    async fn insert_audit(
        conn: &mut DB::Connection,
        entry: &AuditEntry,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let before = serde_json::to_string(&entry.before).map_err(|e| {
            StoreError::Database(format!("cannot serialize an audit entry: {e}").into())
        })?;
        let after = serde_json::to_string(&entry.after).map_err(|e| {
            StoreError::Database(format!("cannot serialize an audit entry: {e}").into())
        })?;
        sqlx::query(
            "INSERT INTO audit (id, at, actor, action, resource_kind, resource_key, environment, \
             before, after, reason, request_id, deployment_id, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(entry.id)
        .bind(at_ms)
        .bind(entry.actor.as_str())
        .bind(entry.action.as_str())
        .bind(entry.resource_kind.as_str())
        .bind(entry.resource_key.as_str())
        .bind(entry.environment.as_deref())
        .bind(before.as_str())
        .bind(after.as_str())
        .bind(entry.reason.as_deref())
        .bind(entry.request_id.as_deref())
        .bind(entry.deployment_id.as_deref())
        .bind(entry.prev_hash.as_str())
        .bind(entry.hash.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db_error)
        .map(|_| ())
    }
}
