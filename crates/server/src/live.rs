//! The live configuration: every flag, segment, environment and API key held
//! in memory with its compiled snapshot, swapped atomically on change.
//!
//! Reads (evaluation, listing, auth) never touch the database: they take the
//! current [`LiveConfig`] with one atomic load. After a commit — this node's
//! or, with PostgreSQL, another node's — [`Live::refresh`] reads what changed
//! since the held revision and swaps in a new `LiveConfig`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use ff_engine::{Environment, Flag, Segment, Snapshot};
use ff_store::{
    ApiKey, FlagStore, ResourceKind, StoreError, StoredEnvironment, StoredFlag, StoredSegment,
};
use tokio::sync::Mutex;

use crate::auth::SecretDigest;

/// One consistent view of the configuration.
#[derive(Debug, Default)]
pub struct LiveConfig {
    /// The store revision this view reflects.
    pub revision: i64,
    /// Live flags by id. Shared (`Arc`) so that the next view, which differs
    /// by a few flags, copies pointers rather than documents.
    pub flags: BTreeMap<String, Arc<StoredFlag>>,
    /// Segments by id.
    pub segments: BTreeMap<String, Arc<StoredSegment>>,
    /// Environments by key.
    pub environments: BTreeMap<String, Arc<StoredEnvironment>>,
    /// API keys by secret hash (revoked ones included, so that they can be
    /// told apart from unknown ones).
    pub keys_by_hash: HashMap<SecretDigest, Arc<ApiKey>>,
    /// The compiled flags per environment.
    pub snapshot: Snapshot,
    /// The `number` flags whose values are floats (OFREP sends them as
    /// floats, integers as integers).
    pub float_flags: std::collections::HashSet<String>,
}

impl LiveConfig {
    /// The flag documents, in id order.
    pub fn flag_documents(&self) -> Vec<&Flag> {
        self.flags.values().map(|f| &f.flag).collect()
    }

    /// The segment documents, in id order (few: copied).
    pub fn segment_documents(&self) -> Vec<Segment> {
        self.segments.values().map(|s| s.segment.clone()).collect()
    }

    /// The environment tree, in key order.
    pub fn environment_tree(&self) -> Vec<Environment> {
        self.environments
            .values()
            .map(|e| e.environment.tree.clone())
            .collect()
    }

    fn compile(&mut self) {
        self.snapshot = Snapshot::build(
            &self.flag_documents(),
            &self.segment_documents(),
            &self.environment_tree(),
        );
    }
}

/// What changed between two revisions, announced to streams after the new
/// configuration is in place.
#[derive(Debug, Clone)]
pub struct ChangeBatch {
    /// The revision now served.
    pub revision: i64,
    /// The resources that changed, in commit order; empty with `reload`.
    pub changes: Vec<ff_store::ChangeRecord>,
    /// Everything was reloaded (too far behind to list the changes).
    pub reload: bool,
}

/// How many batches a stream may fall behind before it is dropped (it then
/// reconnects with `Last-Event-ID` and catches up from the change log).
pub const STREAM_BUFFER: usize = 256;

/// The holder of the current [`LiveConfig`].
pub struct Live {
    store: Arc<dyn FlagStore>,
    current: ArcSwap<LiveConfig>,
    /// Serialises refreshes so that revisions are applied in order.
    refreshing: Mutex<()>,
    /// Announces each applied batch to every stream; never blocks the writer.
    events: tokio::sync::broadcast::Sender<Arc<ChangeBatch>>,
}

impl Live {
    /// Loads everything from the store.
    pub async fn load(store: Arc<dyn FlagStore>) -> Result<Live, StoreError> {
        let config = load_all(store.as_ref()).await?;
        Ok(Live {
            store,
            current: ArcSwap::from_pointee(config),
            refreshing: Mutex::new(()),
            events: tokio::sync::broadcast::channel(STREAM_BUFFER).0,
        })
    }

    /// A receiver of every batch applied from now on. Subscribe before
    /// reading [`Live::current`], so that nothing falls between the two.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<ChangeBatch>> {
        self.events.subscribe()
    }

    /// The store this configuration is loaded from.
    pub fn store(&self) -> &Arc<dyn FlagStore> {
        &self.store
    }

    fn announce(&self, batch: ChangeBatch) {
        // No subscribers is not an error.
        let _ = self.events.send(Arc::new(batch));
    }

    /// The current view (one atomic load; no lock, no I/O).
    pub fn current(&self) -> Arc<LiveConfig> {
        self.current.load_full()
    }

    /// Brings the view up to the store's latest revision, reading only what
    /// changed. Returns the new revision.
    pub async fn refresh(&self) -> Result<i64, StoreError> {
        let _guard = self.refreshing.lock().await;
        let current = self.current();
        let changes = self.store.changes_since(current.revision, 10_000).await?;
        let Some(last) = changes.last() else {
            return Ok(current.revision);
        };
        if changes.len() >= 500 {
            // Many changes (an import, or too far behind): one full load
            // beats hundreds of single reads.
            let config = load_all(self.store.as_ref()).await?;
            let revision = config.revision;
            self.current.store(Arc::new(config));
            self.announce(ChangeBatch {
                revision,
                changes: Vec::new(),
                reload: true,
            });
            return Ok(revision);
        }
        let mut next = LiveConfig {
            revision: last.revision,
            flags: current.flags.clone(),
            segments: current.segments.clone(),
            environments: current.environments.clone(),
            keys_by_hash: current.keys_by_hash.clone(),
            snapshot: Snapshot::default(),
            float_flags: current.float_flags.clone(),
        };
        let mut reload_segments_and_environments = false;
        let mut reload_keys = false;
        for change in &changes {
            match change.kind {
                ResourceKind::Flag => match self.store.flag(&change.key).await? {
                    Some(flag) if !flag.deleted => {
                        if crate::flag_ops::is_float_flag(&flag.flag) {
                            next.float_flags.insert(change.key.clone());
                        } else {
                            next.float_flags.remove(&change.key);
                        }
                        next.flags.insert(change.key.clone(), Arc::new(flag));
                    }
                    _ => {
                        next.float_flags.remove(&change.key);
                        next.flags.remove(&change.key);
                    }
                },
                ResourceKind::Segment | ResourceKind::Environment => {
                    reload_segments_and_environments = true;
                }
                ResourceKind::ApiKey => reload_keys = true,
                // Not in the change log; nothing evaluated depends on them.
                ResourceKind::ChangeRequest
                | ResourceKind::Schedule
                | ResourceKind::RolloutPlan => {}
            }
        }
        if reload_segments_and_environments {
            let all = self.store.load().await?;
            next.segments = by_key(all.segments, |s| s.segment.segment_id.clone());
            next.environments = by_key(all.environments, |e| e.environment.tree.key.clone());
        }
        if reload_keys {
            next.keys_by_hash = keys_by_hash(self.store.api_keys().await?);
        }
        if reload_segments_and_environments {
            next.compile();
        } else {
            // Only flags changed: recompile just those.
            let mut touched: Vec<&str> = changes
                .iter()
                .filter(|c| c.kind == ResourceKind::Flag)
                .map(|c| c.key.as_str())
                .collect();
            touched.sort_unstable();
            touched.dedup();
            let (present, removed): (Vec<&str>, Vec<&str>) = touched
                .into_iter()
                .partition(|id| next.flags.contains_key(*id));
            let changed: Vec<&Flag> = present
                .iter()
                .filter_map(|id| next.flags.get(*id))
                .map(|f| &f.flag)
                .collect();
            next.snapshot =
                current
                    .snapshot
                    .with_flags_changed(&changed, &removed, &next.environment_tree());
        }
        let revision = next.revision;
        self.current.store(Arc::new(next));
        self.announce(ChangeBatch {
            revision,
            changes,
            reload: false,
        });
        Ok(revision)
    }
}

async fn load_all(store: &dyn FlagStore) -> Result<LiveConfig, StoreError> {
    let all = store.load().await?;
    let mut config = LiveConfig {
        revision: all.revision,
        flags: by_key(all.flags, |f| f.flag.flag_id.clone()),
        segments: by_key(all.segments, |s| s.segment.segment_id.clone()),
        environments: by_key(all.environments, |e| e.environment.tree.key.clone()),
        keys_by_hash: keys_by_hash(store.api_keys().await?),
        snapshot: Snapshot::default(),
        float_flags: Default::default(),
    };
    config.float_flags = config
        .flags
        .values()
        .filter(|f| crate::flag_ops::is_float_flag(&f.flag))
        .map(|f| f.flag.flag_id.clone())
        .collect();
    config.compile();
    Ok(config)
}

fn by_key<T>(items: Vec<T>, key: impl Fn(&T) -> String) -> BTreeMap<String, Arc<T>> {
    items
        .into_iter()
        .map(|item| (key(&item), Arc::new(item)))
        .collect()
}

fn keys_by_hash(keys: Vec<ApiKey>) -> HashMap<SecretDigest, Arc<ApiKey>> {
    keys.into_iter()
        .filter_map(|key| {
            let mut digest = SecretDigest::default();
            match hex::decode_to_slice(&key.secret_hash, &mut digest) {
                Ok(()) => Some((digest, Arc::new(key))),
                Err(_) => {
                    // Only this service writes keys; a malformed hash can
                    // match no secret, so the key cannot authenticate.
                    tracing::warn!(key = %key.id, "an API key's stored hash is malformed; ignored");
                    None
                }
            }
        })
        .collect()
}
