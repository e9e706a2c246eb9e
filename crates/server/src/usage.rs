//! When flags were last evaluated, for finding cleanup candidates
//! (`GET /api/v1/flags/stale`).
//!
//! The evaluation path must stay free of I/O and allocation, so a use is one
//! map lookup and, at most once a second per flag, one atomic store of the
//! time in whole seconds. A background task flushes what changed to the
//! store every few seconds. A bulk evaluation (every flag at once, as
//! client-side SDKs fetch them) is one mark for all flags, kept under the
//! key [`ALL_FLAGS`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;
use time::OffsetDateTime;

use crate::live::LiveConfig;

/// The store key of "every flag was evaluated at".
pub const ALL_FLAGS: &str = "*";

/// Last-evaluated times in memory, in Unix seconds (0: not since the last
/// flush).
#[derive(Default)]
pub struct FlagUsage {
    /// A persistent map, so that making room for a new flag on the write
    /// path costs a few nodes, not a copy of every flag's entry.
    by_flag: ArcSwap<imbl::HashMap<String, Arc<AtomicI64>>>,
    all: AtomicI64,
    /// Held from [`FlagUsage::take`] until what was taken is stored: a
    /// reader that flushes first (`/flags/stale`) then waits for a flush in
    /// flight instead of reading the store before it lands.
    pub flushing: tokio::sync::Mutex<()>,
}

impl FlagUsage {
    /// Records that `flag_id` was evaluated at `now` (unknown ids are
    /// ignored: they are not flags, or too new for the map yet).
    pub fn record(&self, flag_id: &str, now: OffsetDateTime) {
        if let Some(seen) = self.by_flag.load().get(flag_id) {
            bump(seen, now);
        }
    }

    /// Records that every flag was evaluated at `now`.
    pub fn record_all(&self, now: OffsetDateTime) {
        bump(&self.all, now);
    }

    /// Makes room for the flags of `live` (new flags since the last call).
    pub fn track(&self, live: &LiveConfig) {
        if live
            .flags
            .keys()
            .all(|id| self.by_flag.load().contains_key(id))
        {
            return;
        }
        self.rebuild(live);
    }

    /// Makes room for these flags of `live` if they are new (cheap when
    /// they are not: called on every write).
    pub fn track_written<'a>(&self, live: &LiveConfig, written: impl IntoIterator<Item = &'a str>) {
        let current = self.by_flag.load();
        let new: Vec<&str> = written
            .into_iter()
            .filter(|id| !current.contains_key(*id) && live.flags.contains_key(*id))
            .collect();
        if new.is_empty() {
            return;
        }
        self.by_flag.rcu(|map| {
            let mut next = (**map).clone();
            for id in &new {
                next.entry((*id).to_owned()).or_default();
            }
            next
        });
    }

    /// Room for every live flag and none other, keeping what was recorded.
    fn rebuild(&self, live: &LiveConfig) {
        self.by_flag.rcu(|current| {
            live.flags
                .keys()
                .map(|id| (id.clone(), current.get(id).cloned().unwrap_or_default()))
                .collect::<imbl::HashMap<_, _>>()
        });
    }

    /// The uses since the last call, to write to the store.
    pub fn take(&self) -> Vec<(String, OffsetDateTime)> {
        let mut used: Vec<(String, OffsetDateTime)> = self
            .by_flag
            .load()
            .iter()
            .filter_map(|(id, seen)| at(seen.swap(0, Ordering::Relaxed)).map(|t| (id.clone(), t)))
            .collect();
        if let Some(t) = at(self.all.swap(0, Ordering::Relaxed)) {
            used.push((ALL_FLAGS.to_owned(), t));
        }
        used
    }
}

fn bump(seen: &AtomicI64, now: OffsetDateTime) {
    let second = now.unix_timestamp();
    // Reads are cheap and shared; write only when the second changes.
    if seen.load(Ordering::Relaxed) != second {
        seen.store(second, Ordering::Relaxed);
    }
}

fn at(second: i64) -> Option<OffsetDateTime> {
    (second != 0)
        .then(|| OffsetDateTime::from_unix_timestamp(second).ok())
        .flatten()
}
