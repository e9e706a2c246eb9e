//! The live configuration: every flag, segment, environment and API key held
//! in memory with its compiled snapshot, swapped atomically on change.
//!
//! Reads (evaluation, listing, auth) never touch the database: they take the
//! current [`LiveConfig`] with one atomic load. After this node's own commit,
//! [`Live::advance`] builds the next `LiveConfig` from the documents it
//! wrote; after another node's (PostgreSQL), [`Live::refresh`] reads what
//! changed since the held revision. Either swaps the new `LiveConfig` in and
//! announces the change to the streams.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;
use ff_engine::{Environment, Flag, Segment, Snapshot};
use ff_store::{
    ApiKey, AuditedChange, Change, ChangeRecord, FlagStore, ResourceKind, StoreError,
    StoredEnvironment, StoredFlag, StoredSegment,
};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::error::ApiError;

/// The bytes of an API key secret's SHA-256: what keys are looked up by
/// (`crate::auth` computes it from a request's secret).
pub type SecretDigest = [u8; 32];

/// SHA-256 of a secret: what keys (and sessions) are looked up by.
pub fn secret_digest(secret: &str) -> SecretDigest {
    use sha2::Digest as _;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

/// SHA-256 of a secret, hex (as stored).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(secret_digest(secret))
}

/// One consistent view of the configuration.
#[derive(Debug, Default)]
pub struct LiveConfig {
    /// The store revision this view reflects.
    pub revision: i64,
    /// Live flags by id, in id order. A persistent map: the next view,
    /// which differs by a few flags, shares the rest (a write costs in
    /// proportion to what it changes, not to the number of flags).
    pub flags: imbl::OrdMap<String, Arc<StoredFlag>>,
    /// Segments by id.
    pub segments: BTreeMap<String, Arc<StoredSegment>>,
    /// Environments by key.
    pub environments: BTreeMap<String, Arc<StoredEnvironment>>,
    /// API keys by secret hash (revoked ones included, so that they can be
    /// told apart from unknown ones). Shared until a key changes.
    pub keys_by_hash: Arc<HashMap<SecretDigest, Arc<ApiKey>>>,
    /// The compiled flags per environment.
    pub snapshot: Snapshot,
    /// The `number` flags whose values are floats (OFREP sends them as
    /// floats, integers as integers).
    pub float_flags: imbl::OrdSet<String>,
    /// For each flag that is a prerequisite, the flags that name it in
    /// `depends_on`: dependency checks look them up instead of scanning
    /// every flag.
    pub dependents: imbl::OrdMap<String, imbl::OrdSet<String>>,
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

    /// The next view, at `revision`: the same resources (shared), to be
    /// changed and compiled.
    fn successor(&self, revision: i64) -> LiveConfig {
        LiveConfig {
            revision,
            flags: self.flags.clone(),
            segments: self.segments.clone(),
            environments: self.environments.clone(),
            keys_by_hash: self.keys_by_hash.clone(),
            snapshot: Snapshot::default(),
            float_flags: self.float_flags.clone(),
            dependents: self.dependents.clone(),
        }
    }

    /// The flags whose prerequisites name `flag_id`, in id order.
    pub fn dependents_of(&self, flag_id: &str) -> impl Iterator<Item = &StoredFlag> {
        self.dependents
            .get(flag_id)
            .into_iter()
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.flags.get(id.as_str()).map(|f| &**f))
    }

    /// Keeps [`LiveConfig::dependents`] right when `flag_id`'s prerequisites
    /// go from `before` to `after`.
    fn reindex_dependencies(&mut self, flag_id: &str, before: Option<&Flag>, after: Option<&Flag>) {
        for dependency in before.map(|f| f.depends_on.as_slice()).unwrap_or_default() {
            let emptied = match self.dependents.get_mut(dependency.flag.as_str()) {
                Some(ids) => {
                    ids.remove(flag_id);
                    ids.is_empty()
                }
                None => false,
            };
            if emptied {
                self.dependents.remove(dependency.flag.as_str());
            }
        }
        for dependency in after.map(|f| f.depends_on.as_slice()).unwrap_or_default() {
            self.dependents
                .entry(dependency.flag.clone())
                .or_default()
                .insert(flag_id.to_owned());
        }
    }

    /// Puts a live flag, or removes one (`None`: deleted).
    pub(crate) fn put_flag(&mut self, flag_id: &str, flag: Option<Arc<StoredFlag>>) {
        let before = self.flags.get(flag_id).cloned();
        let (before_deps, after_deps) = (
            before.as_deref().map(|f| &f.flag),
            flag.as_deref().map(|f| &f.flag),
        );
        if before_deps.is_some_and(|f| !f.depends_on.is_empty())
            || after_deps.is_some_and(|f| !f.depends_on.is_empty())
        {
            self.reindex_dependencies(flag_id, before_deps, after_deps);
        }
        match flag {
            Some(flag) => {
                if crate::flag_ops::is_float_flag(&flag.flag) {
                    self.float_flags.insert(flag_id.to_owned());
                } else {
                    self.float_flags.remove(flag_id);
                }
                self.flags.insert(flag_id.to_owned(), flag);
            }
            None => {
                self.float_flags.remove(flag_id);
                self.flags.remove(flag_id);
            }
        }
    }

    /// Puts an API key (a new one, or one revoked).
    fn put_key(&mut self, key: ApiKey) {
        if let Some((digest, key)) = key_by_hash(key) {
            Arc::make_mut(&mut self.keys_by_hash).insert(digest, key);
        }
    }

    fn compile(&mut self) {
        self.snapshot = Snapshot::build(
            &self.flag_documents(),
            &self.segment_documents(),
            &self.environment_tree(),
        );
    }
}

/// The live flag, or 404.
pub fn live_flag<'a>(live: &'a LiveConfig, flag_id: &str) -> Result<&'a StoredFlag, ApiError> {
    live.flags
        .get(flag_id)
        .map(|f| &**f)
        .ok_or_else(|| ApiError::not_found("flag", flag_id))
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
    /// The latest store revision this node knows of: the view's, or that of
    /// a later commit of this node's that changed nothing evaluated (work
    /// items are not in the view). Only moves forward.
    known: AtomicI64,
    /// Serialises refreshes so that revisions are applied in order.
    refreshing: Mutex<()>,
    /// Announces each applied batch to every stream; never blocks the writer.
    events: tokio::sync::broadcast::Sender<Arc<ChangeBatch>>,
}

/// A commit this node just made, as the write path hands it over: what it
/// wrote and what the store answered.
#[derive(Debug)]
pub struct OwnCommit<'a> {
    /// The revision the commit made.
    pub revision: i64,
    /// The new version of each change, in change order.
    pub versions: &'a [i64],
    /// The commit time, as stored (whole milliseconds, UTC).
    pub at: OffsetDateTime,
    /// Who committed (the creator of a new API key).
    pub actor: &'a str,
    /// The changes, in order.
    pub changes: &'a [AuditedChange],
}

impl Live {
    /// Loads everything from the store.
    pub async fn load(store: Arc<dyn FlagStore>) -> Result<Live, StoreError> {
        let config = load_all(store.as_ref()).await?;
        Ok(Live {
            store,
            known: AtomicI64::new(config.revision),
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

    /// How many streams follow the changes now (the admin interface's
    /// health panel).
    pub fn stream_count(&self) -> usize {
        self.events.receiver_count()
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

    /// The latest store revision this node knows of (at least the view's).
    pub fn known_revision(&self) -> i64 {
        self.known
            .load(Ordering::Acquire)
            .max(self.current().revision)
    }

    /// Brings the view up to the store's latest revision, reading only what
    /// changed. Returns the new revision.
    pub async fn refresh(&self) -> Result<i64, StoreError> {
        let _guard = self.refreshing.lock().await;
        self.refresh_locked().await
    }

    /// Moves the view on by a commit this node just made, planned when the
    /// store was at revision `planned_at`. When the commit's revision follows
    /// right after it, nothing else was committed in between (commits are
    /// serialised across nodes), so the view is advanced from the documents
    /// the commit wrote, without reading them back. Otherwise another node
    /// committed meanwhile, and what changed is read as [`Live::refresh`]
    /// does.
    pub async fn advance(&self, planned_at: i64, commit: &OwnCommit<'_>) -> Result<(), StoreError> {
        let _guard = self.refreshing.lock().await;
        let current = self.current();
        if commit.revision <= current.revision {
            // Already applied: a refresh on this commit's notification came
            // first.
            return Ok(());
        }
        if commit.revision == planned_at.saturating_add(1) {
            match own_changes(&current, commit) {
                Some((_, records)) if records.is_empty() => {
                    // Work items only: nothing evaluated changed.
                    self.known.fetch_max(commit.revision, Ordering::AcqRel);
                    return Ok(());
                }
                Some((next, records)) => {
                    let everything = records.iter().any(|r| {
                        matches!(r.kind, ResourceKind::Segment | ResourceKind::Environment)
                    });
                    self.install(&current, next, records, everything);
                    return Ok(());
                }
                // Something the commit's documents do not describe whole
                // (a restored flag's history): read it.
                None => {}
            }
        }
        self.refresh_locked().await.map(|_| ())
    }

    async fn refresh_locked(&self) -> Result<i64, StoreError> {
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
            self.known.fetch_max(revision, Ordering::AcqRel);
            self.announce(ChangeBatch {
                revision,
                changes: Vec::new(),
                reload: true,
            });
            return Ok(revision);
        }
        let mut next = current.successor(last.revision);
        let mut reload_segments_and_environments = false;
        let mut reload_keys = false;
        for change in &changes {
            match change.kind {
                ResourceKind::Flag => {
                    let flag = self.store.flag(&change.key).await?;
                    next.put_flag(&change.key, flag.filter(|f| !f.deleted).map(Arc::new));
                }
                ResourceKind::Segment | ResourceKind::Environment => {
                    reload_segments_and_environments = true;
                }
                ResourceKind::ApiKey => reload_keys = true,
                // Not in the change log; nothing evaluated depends on them.
                ResourceKind::ChangeRequest
                | ResourceKind::Schedule
                | ResourceKind::RolloutPlan
                | ResourceKind::User
                | ResourceKind::Experiment
                | ResourceKind::Webhook => {}
            }
        }
        if reload_segments_and_environments {
            let all = self.store.load().await?;
            next.segments = by_key(all.segments, |s| s.segment.segment_id.clone());
            next.environments = by_key(all.environments, |e| e.environment.tree.key.clone());
        }
        if reload_keys {
            next.keys_by_hash = Arc::new(keys_by_hash(self.store.api_keys().await?));
        }
        Ok(self.install(&current, next, changes, reload_segments_and_environments))
    }

    /// Compiles what `next` changed (see [`compile_changes`]), swaps it in
    /// and announces the batch. Returns its revision.
    fn install(
        &self,
        current: &LiveConfig,
        mut next: LiveConfig,
        changes: Vec<ChangeRecord>,
        segments_or_environments: bool,
    ) -> i64 {
        compile_changes(current, &mut next, &changes, segments_or_environments);
        let revision = next.revision;
        self.current.store(Arc::new(next));
        self.known.fetch_max(revision, Ordering::AcqRel);
        self.announce(ChangeBatch {
            revision,
            changes,
            reload: false,
        });
        revision
    }
}

/// Compiles `next` from `current` at the cost of what changed: the changed
/// flags; the segments (and, when a segment was created or deleted, the
/// flags that test membership) when segments changed; everything only when
/// the environment tree changed. An environment's other settings (approval,
/// windows) change nothing evaluated.
fn compile_changes(
    current: &LiveConfig,
    next: &mut LiveConfig,
    changes: &[ChangeRecord],
    segments_or_environments: bool,
) {
    let tree = next.environment_tree();
    if segments_or_environments && tree != current.environment_tree() {
        next.compile();
        return;
    }
    let segments_changed = changes.iter().any(|c| c.kind == ResourceKind::Segment);
    let base = if segments_changed {
        let segments = next.segment_documents();
        // Flags find a segment by its place: only a created or deleted
        // segment moves the others.
        let using: Vec<&Flag> = if current.segments.keys().eq(next.segments.keys()) {
            Vec::new()
        } else {
            next.flags
                .values()
                .map(|f| &f.flag)
                .filter(|f| f.uses_segments())
                .collect()
        };
        current
            .snapshot
            .with_segments_changed(&segments, &using, &tree)
    } else {
        current.snapshot.clone()
    };
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
    next.snapshot = if changed.is_empty() && removed.is_empty() {
        base
    } else {
        base.with_flags_changed(&changed, &removed, &tree)
    };
}

/// The view after this node's own commit, built from what it wrote, and the
/// change records it made (none: it changed work items only). `None` when a
/// change cannot be described from the commit alone: a flag restored from
/// deletion (its creation time is not in the view).
fn own_changes(
    current: &LiveConfig,
    commit: &OwnCommit<'_>,
) -> Option<(LiveConfig, Vec<ChangeRecord>)> {
    let mut next = current.successor(commit.revision);
    let mut records = Vec::new();
    let at = commit.at;
    for (audited, &version) in commit.changes.iter().zip(commit.versions) {
        let (kind, key, removed) = match &audited.change {
            Change::PutFlag(flag, _) => {
                let created_at = match current.flags.get(&flag.flag_id) {
                    Some(live) => live.created_at,
                    None if version == 1 => at,
                    None => return None,
                };
                let stored = StoredFlag {
                    flag: flag.clone(),
                    version,
                    deleted: false,
                    created_at,
                    updated_at: at,
                };
                next.put_flag(&flag.flag_id, Some(Arc::new(stored)));
                (ResourceKind::Flag, flag.flag_id.clone(), false)
            }
            Change::DeleteFlag(flag_id, _) => {
                next.put_flag(flag_id, None);
                (ResourceKind::Flag, flag_id.clone(), true)
            }
            Change::RestoreFlag(..) => return None,
            Change::PutSegment(segment, _) => {
                let stored = StoredSegment {
                    segment: segment.clone(),
                    version,
                    updated_at: at,
                };
                let id = segment.segment_id.clone();
                next.segments.insert(id.clone(), Arc::new(stored));
                (ResourceKind::Segment, id, false)
            }
            Change::DeleteSegment(id, _) => {
                next.segments.remove(id);
                (ResourceKind::Segment, id.clone(), true)
            }
            Change::PutEnvironment(settings, _) => {
                let stored = StoredEnvironment {
                    environment: settings.clone(),
                    version,
                    updated_at: at,
                };
                let key = settings.tree.key.clone();
                next.environments.insert(key.clone(), Arc::new(stored));
                (ResourceKind::Environment, key, false)
            }
            Change::DeleteEnvironment(key, _) => {
                next.environments.remove(key);
                (ResourceKind::Environment, key.clone(), true)
            }
            Change::CreateApiKey(new) => {
                next.put_key(ApiKey {
                    id: new.id.clone(),
                    name: new.name.clone(),
                    kind: new.kind,
                    role: new.role,
                    environment: new.environment.clone(),
                    environment_roles: new.environment_roles.clone(),
                    prefix: new.prefix.clone(),
                    secret_hash: new.secret_hash.clone(),
                    created_by: commit.actor.to_owned(),
                    created_at: at,
                    last_used_at: None,
                    revoked_at: None,
                });
                (ResourceKind::ApiKey, new.id.clone(), false)
            }
            Change::RevokeApiKey(id) => {
                let mut key = (**next.keys_by_hash.values().find(|k| &k.id == id)?).clone();
                // Revoking a revoked key keeps its first revocation time.
                key.revoked_at.get_or_insert(at);
                next.put_key(key);
                (ResourceKind::ApiKey, id.clone(), true)
            }
            // Work items and people are not part of the view, nor of the
            // change log.
            Change::PutWorkItem(..)
            | Change::PutExperiment(..)
            | Change::CreateUser(_)
            | Change::UpdateUser(_)
            | Change::PutWebhook(..)
            | Change::DeleteWebhook(..) => continue,
        };
        records.push(ChangeRecord {
            revision: commit.revision,
            kind,
            key,
            removed,
        });
    }
    Some((next, records))
}

async fn load_all(store: &dyn FlagStore) -> Result<LiveConfig, StoreError> {
    let all = store.load().await?;
    let mut config = LiveConfig {
        revision: all.revision,
        flags: all
            .flags
            .into_iter()
            .map(|f| (f.flag.flag_id.clone(), Arc::new(f)))
            .collect(),
        segments: by_key(all.segments, |s| s.segment.segment_id.clone()),
        environments: by_key(all.environments, |e| e.environment.tree.key.clone()),
        keys_by_hash: Arc::new(keys_by_hash(store.api_keys().await?)),
        snapshot: Snapshot::default(),
        float_flags: Default::default(),
        dependents: Default::default(),
    };
    let flags: Vec<Arc<StoredFlag>> = config.flags.values().cloned().collect();
    for flag in flags.iter().filter(|f| !f.flag.depends_on.is_empty()) {
        config.reindex_dependencies(&flag.flag.flag_id, None, Some(&flag.flag));
    }
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
    keys.into_iter().filter_map(key_by_hash).collect()
}

/// A key under the digest it is looked up by.
fn key_by_hash(key: ApiKey) -> Option<(SecretDigest, Arc<ApiKey>)> {
    let mut digest = SecretDigest::default();
    match hex::decode_to_slice(&key.secret_hash, &mut digest) {
        Ok(()) => Some((digest, Arc::new(key))),
        Err(_) => {
            // Only this service writes keys; a malformed hash can match no
            // secret, so the key cannot authenticate.
            tracing::warn!(key = %key.id, "an API key's stored hash is malformed; ignored");
            None
        }
    }
}
