//! Users and sessions: the reads, and the session bookkeeping that is not
//! a commit (user accounts themselves change in `commit.rs`).

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::rows::{UserRow, select_users};
use super::{Backend, SqlStore, db_error};
use crate::audit::unix_millis;
use crate::{NewSession, SessionUser, StoreError, User};

/// A session row joined with its user's row.
#[derive(Debug, sqlx::FromRow)]
struct SessionRow {
    csrf_token: String,
    expires_at: i64,
    #[sqlx(flatten)]
    user: UserRow,
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
    pub(crate) async fn users(&self) -> Result<Vec<User>, StoreError> {
        sqlx::query_as::<DB, UserRow>(concat!(select_users!(), " ORDER BY email"))
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(UserRow::into_user)
            .collect()
    }

    pub(crate) async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        sqlx::query_as::<DB, UserRow>(concat!(select_users!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .map(UserRow::into_user)
            .transpose()
    }

    /// Not a commit: signing in changes no configuration and is not
    /// audited, so it skips the write lock's queue of commits.
    pub(crate) async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (secret_hash, user_id, csrf_token, created_at, expires_at, \
             revoked_at) VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(session.secret_hash.as_str())
        .bind(session.user_id.as_str())
        .bind(session.csrf_token.as_str())
        .bind(unix_millis(session.created_at))
        .bind(unix_millis(session.expires_at))
        .execute(&self.write)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    /// One indexed read per request that presents a session: a disabled
    /// user or a revoked session is refused on every node at once.
    pub(crate) async fn session(
        &self,
        secret_hash: &str,
        now: time::OffsetDateTime,
    ) -> Result<Option<SessionUser>, StoreError> {
        let row = sqlx::query_as::<DB, SessionRow>(
            "SELECT s.csrf_token, s.expires_at, u.id, u.email, u.display_name, u.role, \
             u.environment_roles, u.password_hash, u.created_by, u.created_at, u.updated_at, u.disabled_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.secret_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
             AND u.disabled_at IS NULL",
        )
        .bind(secret_hash)
        .bind(unix_millis(now))
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(SessionUser {
            csrf_token: row.csrf_token,
            expires_at: super::rows::from_millis(row.expires_at)?,
            user: row.user.into_user()?,
        }))
    }

    pub(crate) async fn revoke_session(
        &self,
        secret_hash: &str,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE secret_hash = $1 AND revoked_at IS NULL",
        )
        .bind(secret_hash)
        .bind(unix_millis(at))
        .execute(&self.write)
        .await
        .map(|_| ())
        .map_err(db_error)
    }
}
