//! The dashboard's "last 24 h" column: every flag's evaluations per hour
//! over the last day, read in one grouped query
//! (`FlagStore::evaluation_totals`), never one per flag, and drawn as a
//! number and a tiny SVG line.
//!
//! It reads what the store holds: counts reach it every 10 s (and whenever
//! a flag's metrics are read), so the column may be that much behind.

use std::collections::HashMap;
use std::fmt::Write as _;

use ff_store::Granularity;

use crate::error::ApiError;
use crate::state::AppState;

/// Hours in the column.
const HOURS: usize = 24;

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

/// Every flag's hourly counts over the last day.
pub struct LastDay(HashMap<String, [i64; HOURS]>);

/// Reads the last 24 hours (the current hour included) of every flag.
pub async fn last_day(state: &AppState) -> Result<LastDay, ApiError> {
    let hour = Granularity::Hour;
    let until =
        hour.bucket_of(state.clock.now()) + time::Duration::seconds(hour.seconds());
    let since = until - time::Duration::seconds(hour.seconds() * HOURS as i64);
    let mut by_flag: HashMap<String, [i64; HOURS]> = HashMap::new();
    for total in state.store.evaluation_totals(hour, since, until).await? {
        let index = (total.bucket_start - since).whole_seconds() / hour.seconds();
        if let Ok(index) = usize::try_from(index)
            && index < HOURS
        {
            by_flag.entry(total.flag_id).or_insert([0; HOURS])[index] += total.count;
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
            for (i, count) in hours.iter().enumerate() {
                let x = i as f64 * 48.0 / (HOURS - 1) as f64;
                let y = 15.0 - *count as f64 * 14.0 / max as f64;
                let _ = write!(points, "{x:.1},{y:.1} ");
            }
        }
        DayUsage {
            total,
            points: points.trim_end().to_owned(),
        }
    }
}
