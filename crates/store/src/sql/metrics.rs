//! Evaluation counts: added in one transaction per flush, read by flag and
//! time range, pruned per granularity.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{Backend, SqlStore, db_error};
use crate::{CountQuery, EvaluationCount, FlagBucketTotal, Granularity, StoreError};

/// A row of `evaluation_counts`.
#[derive(Debug, sqlx::FromRow)]
struct CountRow {
    granularity: String,
    bucket_start: i64,
    flag_id: String,
    environment: String,
    label: String,
    reason: String,
    error_code: String,
    count: i64,
}

impl CountRow {
    fn into_count(self) -> Result<EvaluationCount, StoreError> {
        let granularity = Granularity::from_name(&self.granularity).ok_or_else(|| {
            StoreError::Database(format!("unknown granularity {:?}", self.granularity).into())
        })?;
        let bucket_start = time::OffsetDateTime::from_unix_timestamp(self.bucket_start)
            .map_err(|e| StoreError::Database(format!("bucket time out of range: {e}").into()))?;
        Ok(EvaluationCount {
            granularity,
            bucket_start,
            flag_id: self.flag_id,
            environment: self.environment,
            label: self.label,
            reason: self.reason,
            error_code: self.error_code,
            count: self.count,
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
    /// Not a commit: counts are bookkeeping, so they skip the write lock.
    /// Each minute count is added to its minute, hour and day buckets, so
    /// the coarser buckets are exact roll-ups without a separate job.
    pub(crate) async fn add_evaluation_counts(
        &self,
        counts: &[EvaluationCount],
    ) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await.map_err(db_error)?;
        for count in counts {
            for granularity in Granularity::ALL {
                let bucket = granularity.bucket_of(count.bucket_start).unix_timestamp();
                sqlx::query(
                    "INSERT INTO evaluation_counts (granularity, bucket_start, flag_id, \
                     environment, label, reason, error_code, count) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (granularity, flag_id, environment, bucket_start, label, reason, \
                     error_code) DO UPDATE SET count = evaluation_counts.count + excluded.count",
                )
                .bind(granularity.as_str())
                .bind(bucket)
                .bind(count.flag_id.as_str())
                .bind(count.environment.as_str())
                .bind(count.label.as_str())
                .bind(count.reason.as_str())
                .bind(count.error_code.as_str())
                .bind(count.count)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
        }
        tx.commit().await.map_err(db_error)
    }

    pub(crate) async fn evaluation_counts(
        &self,
        query: &CountQuery,
    ) -> Result<Vec<EvaluationCount>, StoreError> {
        sqlx::query_as::<DB, CountRow>(
            "SELECT granularity, bucket_start, flag_id, environment, label, reason, error_code, \
             count FROM evaluation_counts \
             WHERE granularity = $1 AND flag_id = $2 AND ($3 IS NULL OR environment = $3) \
             AND bucket_start >= $4 AND bucket_start < $5 \
             ORDER BY bucket_start, environment, label, reason, error_code",
        )
        .bind(query.granularity.as_str())
        .bind(query.flag_id.as_str())
        .bind(query.environment.as_deref())
        .bind(query.since.unix_timestamp())
        .bind(query.until.unix_timestamp())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(CountRow::into_count)
        .collect()
    }

    /// One grouped read answered from the covering index
    /// `(granularity, bucket_start, flag_id, count)` (migration 0008). The
    /// sum is cast back to a 64-bit integer: PostgreSQL sums `BIGINT`s
    /// into `NUMERIC`.
    pub(crate) async fn evaluation_totals(
        &self,
        granularity: Granularity,
        since: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Result<Vec<FlagBucketTotal>, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT flag_id, bucket_start, CAST(SUM(count) AS BIGINT) FROM evaluation_counts \
             WHERE granularity = $1 AND bucket_start >= $2 AND bucket_start < $3 \
             GROUP BY flag_id, bucket_start ORDER BY flag_id, bucket_start",
        )
        .bind(granularity.as_str())
        .bind(since.unix_timestamp())
        .bind(until.unix_timestamp())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(flag_id, bucket_start, count)| {
                Ok(FlagBucketTotal {
                    flag_id,
                    bucket_start: time::OffsetDateTime::from_unix_timestamp(bucket_start).map_err(
                        |e| StoreError::Database(format!("bucket time out of range: {e}").into()),
                    )?,
                    count,
                })
            })
            .collect()
    }

    pub(crate) async fn prune_evaluation_counts(
        &self,
        granularity: Granularity,
        before: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM evaluation_counts WHERE granularity = $1 AND bucket_start < $2")
            .bind(granularity.as_str())
            .bind(before.unix_timestamp())
            .execute(&self.write)
            .await
            .map(|_| ())
            .map_err(db_error)
    }
}
