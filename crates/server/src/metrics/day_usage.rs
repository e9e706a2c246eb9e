//! What the dashboard's "last 24 h" column keeps in memory between reads
//! (`ui::day_usage` reads and draws it). Apart from the page code so that
//! the service's state can hold it without depending on the interface.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use arc_swap::ArcSwapOption;

/// Hours in the column.
pub const HOURS: usize = 24;

/// The last figure read, and whether a read is under way.
#[derive(Default)]
pub struct DayUsageCache {
    pub(crate) figure: ArcSwapOption<Figure>,
    pub(crate) refreshing: AtomicBool,
}

impl std::fmt::Debug for DayUsageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DayUsageCache").finish_non_exhaustive()
    }
}

/// A figure and when it was read (Unix seconds).
pub struct Figure {
    pub(crate) read_at: i64,
    pub(crate) last_day: Arc<LastDay>,
}

/// Every flag's hourly counts over the last day.
pub struct LastDay(pub(crate) HashMap<String, [i64; HOURS]>);
