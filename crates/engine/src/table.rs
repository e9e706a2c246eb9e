//! [`FlagTable`]: an environment's compiled flags, shared between snapshots
//! so that a change copies what it touches, not the whole table.
//!
//! A configuration of 100 000 flags is changed one flag at a time: copying
//! a `Vec` of 100 000 pointers and a map of 100 000 keys for every write (per
//! environment) made each write cost in proportion to the configuration. Here
//! the flags sit in fixed-size chunks and the key index in shards, each
//! behind its own `Arc`: the next snapshot shares every chunk and shard, and
//! a change copies only the one chunk (and, when a key is added or removed,
//! the one shard) it writes. A lookup stays two hash-map probes' worth of
//! work: the shard's hash, the shard's map, one chunk index.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

/// What a table holds: anything with a key (compiled flags).
pub(crate) trait Keyed {
    fn key(&self) -> &str;
}

type Index = HashMap<Box<str>, usize, foldhash::fast::FixedState>;

/// Flags per chunk: what a replaced flag copies (pointers).
const CHUNK: usize = 1024;
/// Index shards: a new or removed key copies one 64th of the keys.
const SHARDS: usize = 64;
/// The shard hash's seed, distinct from the maps' own hashing so that the
/// keys of one shard still spread over their map's buckets.
const SHARD_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// Compiled flags in configuration order, with an index by key. Cloning it
/// copies about `len / 1024 + 64` pointers.
#[derive(Debug)]
pub(crate) struct FlagTable<T> {
    chunks: Vec<Arc<Vec<Arc<T>>>>,
    shards: Vec<Arc<Index>>,
    len: usize,
}

// Not derived: a derived `Clone` would ask `T: Clone`, and only pointers
// are copied.
impl<T> Clone for FlagTable<T> {
    fn clone(&self) -> FlagTable<T> {
        FlagTable {
            chunks: self.chunks.clone(),
            shards: self.shards.clone(),
            len: self.len,
        }
    }
}

impl<T> Default for FlagTable<T> {
    fn default() -> FlagTable<T> {
        FlagTable {
            chunks: Vec::new(),
            shards: (0..SHARDS).map(|_| Arc::default()).collect(),
            len: 0,
        }
    }
}

/// How far a 64-bit hash is shifted to keep the bits that pick a shard.
const SHARD_SHIFT: u32 = 64 - SHARDS.trailing_zeros();

fn shard_of(key: &str) -> usize {
    let hash = foldhash::fast::FixedState::with_seed(SHARD_SEED).hash_one(key);
    // The top bits: a multiply-mix's best.
    (hash >> SHARD_SHIFT) as usize
}

impl<T: Keyed> FlagTable<T> {
    /// A table of `flags` (in this order; keys are unique).
    pub(crate) fn of(flags: Vec<Arc<T>>) -> FlagTable<T> {
        let mut shards: Vec<Index> = (0..SHARDS)
            .map(|_| {
                Index::with_capacity_and_hasher(flags.len().div_ceil(SHARDS), Default::default())
            })
            .collect();
        for (position, flag) in flags.iter().enumerate() {
            shards[shard_of(flag.key())].insert(flag.key().into(), position);
        }
        let len = flags.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut flags = flags.into_iter();
        loop {
            let chunk: Vec<Arc<T>> = flags.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(Arc::new(chunk));
        }
        FlagTable {
            chunks,
            shards: shards.into_iter().map(Arc::new).collect(),
            len,
        }
    }

    /// The flag with this key.
    #[inline]
    pub(crate) fn get(&self, key: &str) -> Option<&T> {
        let &position = self.shards[shard_of(key)].get(key)?;
        self.at(position).map(|flag| &**flag)
    }

    #[inline]
    fn at(&self, position: usize) -> Option<&Arc<T>> {
        self.chunks.get(position / CHUNK)?.get(position % CHUNK)
    }

    fn set(&mut self, position: usize, flag: Arc<T>) {
        if let Some(chunk) = self.chunks.get_mut(position / CHUNK)
            && let Some(slot) = Arc::make_mut(chunk).get_mut(position % CHUNK)
        {
            *slot = flag;
        }
    }

    fn index_mut(&mut self, key: &str) -> &mut Index {
        Arc::make_mut(&mut self.shards[shard_of(key)])
    }

    /// Replaces the flag with the same key, or appends it.
    pub(crate) fn upsert(&mut self, flag: Arc<T>) {
        if let Some(&position) = self.shards[shard_of(flag.key())].get(flag.key()) {
            self.set(position, flag);
            return;
        }
        let position = self.len;
        self.index_mut(flag.key())
            .insert(flag.key().into(), position);
        if position.is_multiple_of(CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).push(flag);
        }
        self.len = self.len.saturating_add(1);
    }

    /// Removes the flag with this key (if any); the last flag takes its
    /// place.
    pub(crate) fn remove(&mut self, key: &str) {
        let Some(position) = self.index_mut(key).remove(key) else {
            return;
        };
        let Some(last) = self.pop() else {
            return;
        };
        if position < self.len {
            self.index_mut(last.key())
                .insert(last.key().into(), position);
            self.set(position, last);
        }
    }

    fn pop(&mut self) -> Option<Arc<T>> {
        let chunk = self.chunks.last_mut()?;
        let flag = Arc::make_mut(chunk).pop();
        if chunk.is_empty() {
            self.chunks.pop();
        }
        if flag.is_some() {
            self.len = self.len.saturating_sub(1);
        }
        flag
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The flags in configuration order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks
            .iter()
            .flat_map(|chunk| chunk.iter().map(|f| &**f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Entry {
        key: Box<str>,
        serving: u64,
    }

    impl Keyed for Entry {
        fn key(&self) -> &str {
            &self.key
        }
    }

    fn flag(key: &str, serving: u64) -> Arc<Entry> {
        Arc::new(Entry {
            key: key.into(),
            serving,
        })
    }

    fn serving(table: &FlagTable<Entry>, key: &str) -> Option<u64> {
        table.get(key).map(|f| f.serving)
    }

    /// The table against a plain list, over several chunks: appends,
    /// replacements, removals in the middle and at the end.
    #[test]
    fn behaves_as_a_list_with_an_index() {
        let n = CHUNK * 3 + 17;
        let mut table = FlagTable::of((0..n).map(|i| flag(&format!("f{i}"), i as u64)).collect());
        let mut model: Vec<(String, u64)> = (0..n).map(|i| (format!("f{i}"), i as u64)).collect();
        let before = table.clone();
        for i in (0..n).step_by(97) {
            table.upsert(flag(&format!("f{i}"), 1_000_000 + i as u64));
            model[i].1 = 1_000_000 + i as u64;
        }
        for i in [0, 5, CHUNK, n - 1, 2 * CHUNK + 3] {
            let key = format!("f{i}");
            table.remove(&key);
            let position = model.iter().position(|(k, _)| *k == key);
            if let Some(position) = position {
                model.swap_remove(position);
            }
        }
        for i in 0..CHUNK + 5 {
            table.upsert(flag(&format!("new{i}"), i as u64));
            model.push((format!("new{i}"), i as u64));
        }
        table.remove("absent");
        assert_eq!(table.len(), model.len());
        let listed: Vec<(String, u64)> = table
            .iter()
            .map(|f| (f.key.to_string(), f.serving))
            .collect();
        assert_eq!(listed, model);
        for (key, value) in &model {
            assert_eq!(serving(&table, key), Some(*value), "{key}");
        }
        assert_eq!(serving(&table, "f0"), None);
        // The table it was cloned from is unchanged.
        assert_eq!(before.len(), n);
        for i in 0..n {
            assert_eq!(serving(&before, &format!("f{i}")), Some(i as u64));
        }
    }

    /// A replaced flag copies its chunk only; a new key one index shard.
    #[test]
    fn a_change_shares_everything_it_does_not_touch() {
        let n = CHUNK * 4;
        let table = FlagTable::of((0..n).map(|i| flag(&format!("f{i}"), 0)).collect());
        let mut next = table.clone();
        next.upsert(flag("f5", 1));
        let shared_chunks = table
            .chunks
            .iter()
            .zip(&next.chunks)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(shared_chunks, 3);
        assert!(
            table
                .shards
                .iter()
                .zip(&next.shards)
                .all(|(a, b)| Arc::ptr_eq(a, b))
        );
        next.upsert(flag("brand_new", 1));
        let shared_shards = table
            .shards
            .iter()
            .zip(&next.shards)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(shared_shards, SHARDS - 1);
    }

    /// Keys spread over the shards (none is left empty or holds a tenth).
    #[test]
    fn keys_spread_over_the_shards() {
        let table = FlagTable::of(
            (0..SHARDS * 100)
                .map(|i| flag(&format!("flag_{i}"), 0))
                .collect(),
        );
        for shard in &table.shards {
            assert!((30..400).contains(&shard.len()), "{}", shard.len());
        }
    }
}
