//! The dashboard's "last 24 h" column: every flag's evaluations per hour
//! over the last day, read in one grouped query
//! (`FlagStore::evaluation_totals`), never one per flag, and drawn as a
//! number and a tiny SVG line.
//!
//! The query reads every hourly bucket of the day (with 1 000 flags in 3
//! environments, over a hundred thousand rows), too slow for every view of
//! a page that must render in milliseconds. So its answer is kept in
//! memory (`DayUsageCache`, kept in the service's state): a view uses the figure in hand and, when it
//! is more than [`FRESH_SECONDS`] old, has it read again in the background
//! (stale while revalidating; only the very first view waits). Counts reach
//! the store every 10 s anyway, so the column is at most about 20 s behind.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ff_store::Granularity;

use crate::error::ApiError;
pub use crate::metrics::day_usage::LastDay;
use crate::metrics::day_usage::{Figure, HOURS};
use crate::state::AppState;

/// How long a figure is used without being read again (seconds).
pub const FRESH_SECONDS: i64 = 10;

/// The figure to show now: the one in hand (read again in the background
/// when old), or, the first time, one read now.
pub async fn cached_last_day(state: &AppState) -> Result<Arc<LastDay>, ApiError> {
    let cache = &state.day_usage;
    let now = state.clock.now().unix_timestamp();
    if let Some(figure) = cache.figure.load_full() {
        if now.saturating_sub(figure.read_at) >= FRESH_SECONDS
            && !cache.refreshing.swap(true, Ordering::AcqRel)
        {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(error) = refresh(&state).await {
                    tracing::warn!(%error, "could not read the dashboard's evaluation counts");
                }
                state.day_usage.refreshing.store(false, Ordering::Release);
            });
        }
        return Ok(figure.last_day.clone());
    }
    refresh(state).await
}

async fn refresh(state: &AppState) -> Result<Arc<LastDay>, ApiError> {
    let read_at = state.clock.now().unix_timestamp();
    let last_day = Arc::new(last_day(state).await?);
    state.day_usage.figure.store(Some(Arc::new(Figure {
        read_at,
        last_day: last_day.clone(),
    })));
    Ok(last_day)
}

/// One flag's last day.
#[derive(Debug, Default)]
pub struct DayUsage {
    /// Evaluations in every environment.
    pub total: i64,
    /// The sparkline's points (empty without evaluations).
    pub points: String,
}

impl DayUsage {
    /// `950`, `12k`: the number shown (the exact one is in its title).
    pub fn short(&self) -> String {
        crate::ui::flag_usage::compact(self.total)
    }
}

/// Reads the last 24 hours (the current hour included) of every flag.
async fn last_day(state: &AppState) -> Result<LastDay, ApiError> {
    let hour = Granularity::Hour;
    let bucket = time::Duration::seconds(hour.seconds());
    let until = hour.bucket_of(state.clock.now()).saturating_add(bucket);
    let since = until.saturating_sub(bucket.saturating_mul(HOURS as i32));
    let mut by_flag: HashMap<String, [i64; HOURS]> = HashMap::new();
    for total in state.store.evaluation_totals(hour, since, until).await? {
        let index = total
            .bucket_start
            .unix_timestamp()
            .saturating_sub(since.unix_timestamp())
            .div_euclid(hour.seconds());
        if let Ok(index) = usize::try_from(index)
            && index < HOURS
        {
            let hours = by_flag.entry(total.flag_id).or_insert([0; HOURS]);
            if let Some(hour) = hours.get_mut(index) {
                *hour = hour.saturating_add(total.count);
            }
        }
    }
    Ok(LastDay(by_flag))
}

impl LastDay {
    /// The column of `flag_id`.
    pub fn of(&self, flag_id: &str) -> DayUsage {
        let Some(hours) = self.0.get(flag_id) else {
            return DayUsage::default();
        };
        let total = hours.iter().sum();
        let max = hours.iter().copied().max().unwrap_or(0).max(1);
        let mut points = String::new();
        if total > 0 {
            // Whole units: 24 points 2 apart, heights 1 to 15 (short markup
            // for 1 000 rows).
            for (i, count) in hours.iter().enumerate() {
                let y = 15_i64.saturating_sub(count.saturating_mul(14).div_euclid(max));
                let _ = write!(points, "{},{y} ", i.saturating_mul(2));
            }
        }
        DayUsage {
            total,
            points: points.trim_end().to_owned(),
        }
    }
}
