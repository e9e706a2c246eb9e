//! Experiments (read here; written by commits in `commit.rs`), exposures,
//! tracked events, per-variant tallies, and named secrets.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{Backend, SqlStore, db_error};
use crate::audit::unix_millis;
use crate::{
    ExperimentRecord, Exposure, LogEntry, LogSwitch, StoreError, StoredExperiment, TrackedEvent,
    VariantTally,
};

/// `SELECT <every column of ExperimentRow> FROM experiments`, for `concat!`.
macro_rules! select_experiments {
    () => {
        "SELECT id, flag_id, environment, document, version, created_at, updated_at \
         FROM experiments"
    };
}
pub(crate) use select_experiments;

/// A row of `experiments`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ExperimentRow {
    pub id: String,
    pub flag_id: String,
    pub environment: String,
    pub document: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ExperimentRow {
    pub(crate) fn into_stored(self) -> Result<StoredExperiment, StoreError> {
        let document = serde_json::from_str(&self.document).map_err(|e| StoreError::Corrupt {
            kind: crate::ResourceKind::Experiment,
            key: self.id.clone(),
            message: e.to_string(),
        })?;
        Ok(StoredExperiment {
            version: self.version,
            created_at: super::rows::from_millis(self.created_at)?,
            updated_at: super::rows::from_millis(self.updated_at)?,
            experiment: ExperimentRecord {
                id: self.id,
                flag_id: self.flag_id,
                environment: self.environment,
                document,
            },
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct TallyRow {
    variant: String,
    exposed: i64,
    converted: i64,
    sum: f64,
    sum_sq: f64,
}

// See `mod.rs` for why these bounds are repeated here (and `f64` for the
// values of events).
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'a> Option<&'a str>: Encode<'a, DB>,
    i64: for<'a> Encode<'a, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    Option<i64>: for<'a> Encode<'a, DB>,
    f64: for<'a> Encode<'a, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    Option<f64>: for<'a> Encode<'a, DB>,
    bool: for<'a> Encode<'a, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'a> Encode<'a, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    pub(crate) async fn experiments(&self) -> Result<Vec<StoredExperiment>, StoreError> {
        sqlx::query_as::<DB, ExperimentRow>(concat!(select_experiments!(), " ORDER BY id"))
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(ExperimentRow::into_stored)
            .collect()
    }

    pub(crate) async fn experiment(
        &self,
        id: &str,
    ) -> Result<Option<StoredExperiment>, StoreError> {
        sqlx::query_as::<DB, ExperimentRow>(concat!(select_experiments!(), " WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .map(ExperimentRow::into_stored)
            .transpose()
    }

    /// The first exposure of a subject wins, whichever node flushes first.
    pub(crate) async fn record_exposures(&self, exposures: &[Exposure]) -> Result<(), StoreError> {
        if exposures.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await.map_err(db_error)?;
        for exposure in exposures {
            sqlx::query(
                "INSERT INTO exposures (experiment_id, subject, variant, first_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (experiment_id, subject) DO UPDATE SET \
                 variant = excluded.variant, first_at = excluded.first_at \
                 WHERE excluded.first_at < exposures.first_at",
            )
            .bind(exposure.experiment_id.as_str())
            .bind(exposure.subject.as_str())
            .bind(exposure.variant.as_str())
            .bind(unix_millis(exposure.at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    pub(crate) async fn record_events(&self, events: &[TrackedEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await.map_err(db_error)?;
        for event in events {
            sqlx::query(
                "INSERT INTO tracked_events (event, subject, value, at) VALUES ($1, $2, $3, $4)",
            )
            .bind(event.event.as_str())
            .bind(event.subject.as_str())
            .bind(event.value)
            .bind(unix_millis(event.at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    /// Only events at or after a subject's first exposure count.
    pub(crate) async fn variant_tallies(
        &self,
        experiment_id: &str,
        event: &str,
    ) -> Result<Vec<VariantTally>, StoreError> {
        let rows = sqlx::query_as::<DB, TallyRow>(
            "SELECT x.variant AS variant, COUNT(*) AS exposed, \
             SUM(CASE WHEN t.n IS NULL THEN 0 ELSE 1 END) AS converted, \
             SUM(COALESCE(t.total, 0.0)) AS sum, \
             SUM(COALESCE(t.total, 0.0) * COALESCE(t.total, 0.0)) AS sum_sq \
             FROM exposures x LEFT JOIN ( \
                 SELECT e.subject AS subject, COUNT(*) AS n, SUM(COALESCE(e.value, 0.0)) AS total \
                 FROM tracked_events e JOIN exposures f \
                   ON f.subject = e.subject AND f.experiment_id = $1 \
                 WHERE e.event = $2 AND e.at >= f.first_at \
                 GROUP BY e.subject \
             ) t ON t.subject = x.subject \
             WHERE x.experiment_id = $1 \
             GROUP BY x.variant ORDER BY x.variant",
        )
        .bind(experiment_id)
        .bind(event)
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| VariantTally {
                variant: row.variant,
                exposed: u64::try_from(row.exposed).unwrap_or_default(),
                converted: u64::try_from(row.converted).unwrap_or_default(),
                sum: row.sum,
                sum_of_squares: row.sum_sq,
            })
            .collect())
    }

    pub(crate) async fn subject_records(
        &self,
        subject: &str,
    ) -> Result<(Vec<Exposure>, Vec<TrackedEvent>), StoreError> {
        let exposures: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT experiment_id, subject, variant, first_at FROM exposures \
             WHERE subject = $1 ORDER BY first_at, experiment_id",
        )
        .bind(subject)
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        let events: Vec<(String, String, Option<f64>, i64)> = sqlx::query_as(
            "SELECT event, subject, value, at FROM tracked_events WHERE subject = $1 ORDER BY at, event",
        )
        .bind(subject)
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        let exposures = exposures
            .into_iter()
            .map(|(experiment_id, subject, variant, at)| {
                Ok(Exposure {
                    experiment_id,
                    subject,
                    variant,
                    at: super::rows::from_millis(at)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let events = events
            .into_iter()
            .map(|(event, subject, value, at)| {
                Ok(TrackedEvent {
                    event,
                    subject,
                    value,
                    at: super::rows::from_millis(at)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((exposures, events))
    }

    /// Counted inside the transaction that deletes them.
    pub(crate) async fn erase_subject(&self, subject: &str) -> Result<(u64, u64), StoreError> {
        let mut tx = self.write.begin().await.map_err(db_error)?;
        let mut counts = [0u64; 2];
        let statements = [
            (
                "SELECT COUNT(*) FROM exposures WHERE subject = $1",
                "DELETE FROM exposures WHERE subject = $1",
            ),
            (
                "SELECT COUNT(*) FROM tracked_events WHERE subject = $1",
                "DELETE FROM tracked_events WHERE subject = $1",
            ),
        ];
        for (slot, (count, delete)) in counts.iter_mut().zip(statements) {
            let count: i64 = sqlx::query_scalar(count)
                .bind(subject)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query(delete)
                .bind(subject)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            *slot = u64::try_from(count).unwrap_or_default();
        }
        tx.commit().await.map_err(db_error)?;
        Ok((counts[0], counts[1]))
    }

    pub(crate) async fn set_log_switch(
        &self,
        flag_id: &str,
        environment: &str,
        until: Option<(time::OffsetDateTime, bool)>,
    ) -> Result<(), StoreError> {
        let query = match until {
            Some((until, clear)) => sqlx::query(
                "INSERT INTO evaluation_log_switches (flag_id, environment, until, clear_context) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (flag_id, environment) \
                 DO UPDATE SET until = excluded.until, clear_context = excluded.clear_context",
            )
            .bind(flag_id)
            .bind(environment)
            .bind(unix_millis(until))
            .bind(clear),
            None => sqlx::query(
                "DELETE FROM evaluation_log_switches WHERE flag_id = $1 AND environment = $2",
            )
            .bind(flag_id)
            .bind(environment),
        };
        query
            .execute(&self.write)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    pub(crate) async fn log_switches(&self) -> Result<Vec<LogSwitch>, StoreError> {
        let rows: Vec<(String, String, i64, bool)> = sqlx::query_as(
            "SELECT flag_id, environment, until, clear_context FROM evaluation_log_switches ORDER BY flag_id, environment",
        )
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(flag_id, environment, until, clear_context)| {
                Ok(LogSwitch {
                    flag_id,
                    environment,
                    until: super::rows::from_millis(until)?,
                    clear_context,
                })
            })
            .collect()
    }

    pub(crate) async fn append_evaluation_log(
        &self,
        entries: &[LogEntry],
        keep_since: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await.map_err(db_error)?;
        for entry in entries {
            let text = serde_json::to_string(&entry.entry).map_err(|e| {
                StoreError::Database(format!("a log entry cannot be written: {e}").into())
            })?;
            sqlx::query("INSERT INTO evaluation_log (flag_id, environment, at, entry) VALUES ($1, $2, $3, $4)")
                .bind(entry.flag_id.as_str())
                .bind(entry.environment.as_str())
                .bind(unix_millis(entry.at))
                .bind(text.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        sqlx::query("DELETE FROM evaluation_log WHERE at < $1")
            .bind(unix_millis(keep_since))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    pub(crate) async fn evaluation_log(
        &self,
        flag_id: &str,
        environment: &str,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT at, entry FROM evaluation_log WHERE flag_id = $1 AND environment = $2 \
             ORDER BY at DESC LIMIT $3",
        )
        .bind(flag_id)
        .bind(environment)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(at, text)| {
                Ok(LogEntry {
                    flag_id: flag_id.to_owned(),
                    environment: environment.to_owned(),
                    at: super::rows::from_millis(at)?,
                    entry: serde_json::from_str(&text).map_err(|e| {
                        StoreError::Database(format!("a log entry is unreadable: {e}").into())
                    })?,
                })
            })
            .collect()
    }

    pub(crate) async fn secret(&self, name: &str, make: String) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(make.as_str())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        sqlx::query_scalar::<DB, String>("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.write)
            .await
            .map_err(db_error)
    }
}
