//! Webhook endpoints (read here; written by commits in `commit.rs`) and
//! their deliveries: the outbox, its cursor and its leases (see
//! `crate::webhooks` for the guarantees).

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::rows::from_millis;
use super::{Backend, SqlStore, db_error, limit};
use crate::audit::unix_millis;
use crate::{
    AttemptOutcome, Delivery, DeliveryStatus, NewDelivery, ResourceKind, StoreError, StoredWebhook,
};

/// `SELECT <every column of WebhookRow> FROM webhooks`, for `concat!`.
macro_rules! select_webhooks {
    () => {
        "SELECT id, url, document, secret, version, created_at, updated_at FROM webhooks"
    };
}
pub(crate) use select_webhooks;

/// `SELECT <every column of DeliveryRow> FROM webhook_deliveries`.
macro_rules! select_deliveries {
    () => {
        "SELECT id, webhook_id, event_id, audit_id, event, payload, status, attempts, next_attempt_at, \
         last_status, last_error, created_at, updated_at FROM webhook_deliveries"
    };
}

/// A row of `webhooks`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct WebhookRow {
    pub id: String,
    pub url: String,
    pub document: String,
    pub secret: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WebhookRow {
    pub(crate) fn into_stored(self) -> Result<StoredWebhook, StoreError> {
        let document = serde_json::from_str(&self.document).map_err(|e| StoreError::Corrupt {
            kind: ResourceKind::Webhook,
            key: self.id.clone(),
            message: e.to_string(),
        })?;
        Ok(StoredWebhook {
            id: self.id,
            url: self.url,
            document,
            secret: self.secret,
            version: self.version,
            created_at: from_millis(self.created_at)?,
            updated_at: from_millis(self.updated_at)?,
        })
    }
}

/// A row of `webhook_deliveries`.
#[derive(Debug, sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    webhook_id: String,
    event_id: String,
    audit_id: Option<i64>,
    event: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl DeliveryRow {
    fn into_delivery(self) -> Result<Delivery, StoreError> {
        let status =
            DeliveryStatus::from_name(&self.status).ok_or_else(|| StoreError::Corrupt {
                kind: ResourceKind::Webhook,
                key: self.webhook_id.clone(),
                message: format!("delivery {} has status {:?}", self.id, self.status),
            })?;
        Ok(Delivery {
            id: self.id,
            webhook_id: self.webhook_id,
            event_id: self.event_id,
            audit_id: self.audit_id,
            event: self.event,
            payload: self.payload,
            status,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.map(from_millis).transpose()?,
            last_status: self.last_status,
            last_error: self.last_error,
            created_at: from_millis(self.created_at)?,
            updated_at: from_millis(self.updated_at)?,
        })
    }
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
    pub(crate) async fn webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError> {
        sqlx::query_as::<DB, WebhookRow>(concat!(select_webhooks!(), " ORDER BY id"))
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(WebhookRow::into_stored)
            .collect()
    }

    pub(crate) async fn webhook(&self, id: &str) -> Result<Option<StoredWebhook>, StoreError> {
        sqlx::query_as::<DB, WebhookRow>(concat!(select_webhooks!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .map(WebhookRow::into_stored)
            .transpose()
    }

    pub(crate) async fn webhook_cursor(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar::<DB, i64>("SELECT audit_id FROM webhook_cursor WHERE id = 1")
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)
            .map(Option::unwrap_or_default)
    }

    /// The cursor moves by compare-and-set, and the deliveries go in with
    /// it: either both happen or neither, and of two nodes reading the same
    /// entries only the first inserts anything.
    pub(crate) async fn enqueue_deliveries(
        &self,
        cursor: Option<(i64, i64)>,
        deliveries: &[NewDelivery],
    ) -> Result<bool, StoreError> {
        if cursor.is_none() && deliveries.is_empty() {
            return Ok(true);
        }
        // Outside the commit lock: the outbox never waits for, nor holds
        // up, a flag write longer than its own short statements.
        let mut tx = self.write.begin().await.map_err(db_error)?;
        if let Some((from, to)) = cursor {
            let moved = sqlx::query(
                "UPDATE webhook_cursor SET audit_id = $1 WHERE id = 1 AND audit_id = $2",
            )
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            if DB::rows_affected(&moved) != 1 {
                let _ = tx.rollback().await;
                return Ok(false);
            }
        }
        for delivery in deliveries {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, payload, \
                 status, attempts, next_attempt_at, lease_owner, lease_until, last_status, \
                 last_error, created_at, updated_at, audit_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, NULL, NULL, NULL, NULL, $8, $8, $9) \
                 ON CONFLICT (webhook_id, event_id) DO NOTHING",
            )
            .bind(delivery.id.as_str())
            .bind(delivery.webhook_id.as_str())
            .bind(delivery.event_id.as_str())
            .bind(delivery.event.as_str())
            .bind(delivery.payload.as_str())
            .bind(DeliveryStatus::Pending.as_str())
            .bind(unix_millis(delivery.next_attempt_at))
            .bind(unix_millis(delivery.created_at))
            .bind(delivery.audit_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    pub(crate) async fn due_deliveries(
        &self,
        now: time::OffsetDateTime,
        count: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let now = unix_millis(now);
        sqlx::query_as::<DB, DeliveryRow>(concat!(
            select_deliveries!(),
            " WHERE status = $1 AND next_attempt_at <= $2 \
             AND (lease_until IS NULL OR lease_until <= $2) \
             ORDER BY next_attempt_at, COALESCE(audit_id, 0), id LIMIT $3"
        ))
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now)
        .bind(limit(count))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(DeliveryRow::into_delivery)
        .collect()
    }

    /// The claim is one `UPDATE` whose `WHERE` holds only for a free row:
    /// of two nodes racing for it, the database lets exactly one match.
    pub(crate) async fn claim_delivery(
        &self,
        id: &str,
        owner: &str,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = unix_millis(now);
        let claimed = sqlx::query(
            "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 \
             WHERE id = $3 AND status = $4 AND next_attempt_at <= $5 \
             AND (lease_until IS NULL OR lease_until <= $5)",
        )
        .bind(owner)
        .bind(unix_millis(until))
        .bind(id)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(DB::rows_affected(&claimed) == 1)
    }

    pub(crate) async fn finish_delivery(
        &self,
        id: &str,
        owner: &str,
        outcome: &AttemptOutcome,
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (status, code, error, next) = match outcome {
            AttemptOutcome::Delivered { status } => {
                (DeliveryStatus::Delivered, Some(*status), None, None)
            }
            AttemptOutcome::Failed {
                status,
                error,
                retry_at: Some(at),
            } => (
                DeliveryStatus::Pending,
                *status,
                Some(error.as_str()),
                Some(unix_millis(*at)),
            ),
            AttemptOutcome::Failed {
                status,
                error,
                retry_at: None,
            } => (DeliveryStatus::Failed, *status, Some(error.as_str()), None),
        };
        let finished = sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
             next_attempt_at = $2, last_status = $3, last_error = $4, lease_owner = NULL, \
             lease_until = NULL, updated_at = $5 WHERE id = $6 AND lease_owner = $7",
        )
        .bind(status.as_str())
        .bind(next)
        .bind(code.map(i64::from))
        .bind(error)
        .bind(unix_millis(now))
        .bind(id)
        .bind(owner)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(DB::rows_affected(&finished) == 1)
    }

    pub(crate) async fn delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        sqlx::query_as::<DB, DeliveryRow>(concat!(select_deliveries!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .map(DeliveryRow::into_delivery)
            .transpose()
    }

    pub(crate) async fn webhook_deliveries(
        &self,
        webhook_id: &str,
        count: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        sqlx::query_as::<DB, DeliveryRow>(concat!(
            select_deliveries!(),
            " WHERE webhook_id = $1 \
             ORDER BY created_at DESC, COALESCE(audit_id, 0) DESC, id DESC LIMIT $2"
        ))
        .bind(webhook_id)
        .bind(limit(count))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(DeliveryRow::into_delivery)
        .collect()
    }
}
