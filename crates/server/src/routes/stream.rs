//! Server-sent event streams: changes reach SDKs the moment they are applied.
//!
//! - `GET /api/v1/stream` (server keys, or admin keys with `?environment=`):
//!   the environment's rules. First a `put` (every flag, projected to the
//!   environment, and every segment), then `patch` / `delete` per changed
//!   flag or segment, and a fresh `put` when the environment tree changes.
//!   The last event of each revision carries `id: <revision>`; reconnecting
//!   with `Last-Event-ID` replays what was missed from the change log.
//! - `GET /ofrep/v1/stream` (any key): OFREP's `refetchEvaluation`
//!   notifications, never rules or values.
//!
//! Each stream holds a bounded receiver of the live configuration's change
//! batches: a stuck subscriber never slows the writer or the others; one that
//! falls [`crate::live::STREAM_BUFFER`] batches behind is dropped and catches
//! up on reconnect. A stream ends when its key is revoked.
//!
//! A batch's events are built once per environment and shared by every
//! subscriber of that environment (see [`shared_batch_events`]): with
//! thousands of subscribers, projecting and serialising the changed documents
//! for each of them would cost more than sending them.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::live::{ChangeBatch, Live, LiveConfig};
use crate::state::AppState;

/// How often an idle stream sends a comment, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `?environment=` for admin keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    environment: Option<String>,
}

type BoxedEvents = std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>>;
type EventStream = Sse<axum::response::sse::KeepAliveStream<BoxedEvents>>;

/// `GET /api/v1/stream`: the environment's rules for server-side SDKs.
pub async fn stream_flags(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    QueryParams(query): QueryParams<StreamQuery>,
) -> ApiResult<EventStream> {
    if principal.kind() == ff_store::KeyKind::Client {
        return Err(ApiError::Forbidden(
            "client keys may not read rules; use the OFREP stream (/ofrep/v1/stream)".into(),
        ));
    }
    if principal.kind() == ff_store::KeyKind::Admin {
        principal.require(ff_store::Role::Viewer)?;
    }
    let environment = principal
        .evaluation_environment(query.environment.as_deref())?
        .to_owned();
    // Subscribe before reading the configuration: nothing falls in between.
    let receiver = state.live.subscribe();
    let live = state.live.current();
    if !live.environments.contains_key(&environment) {
        return Err(ApiError::not_found("environment", &environment));
    }
    let mut pending = VecDeque::new();
    // Whatever happens below brings the subscriber to this revision.
    let seen = live.revision;
    match last_event_id(&headers) {
        Some(seen) if seen == live.revision => {}
        Some(seen) if seen < live.revision => {
            match catch_up(&state, &live, &environment, seen).await {
                Some(events) => pending.extend(events),
                None => pending.push_back(put(&live, &environment)),
            }
        }
        _ => pending.push_back(put(&live, &environment)),
    }
    let rules = RulesStream {
        live: state.live.clone(),
        stopping: state.stopping.subscribe(),
        environment,
        key_id: principal.key_id().to_owned(),
        receiver,
        pending,
        seen,
    };
    Ok(sse(futures::stream::unfold(rules, |mut s| async move {
        let event = s.next_event().await?;
        Some((Ok(event), s))
    })))
}

/// `GET /ofrep/v1/stream`: `refetchEvaluation` on every change.
pub async fn stream_ofrep(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<StreamQuery>,
) -> ApiResult<EventStream> {
    let environment = principal
        .evaluation_environment(query.environment.as_deref())?
        .to_owned();
    let receiver = state.live.subscribe();
    if !state.live.current().environments.contains_key(&environment) {
        return Err(ApiError::not_found("environment", &environment));
    }
    let notifications = RefetchStream {
        live: state.live.clone(),
        stopping: state.stopping.subscribe(),
        key_id: principal.key_id().to_owned(),
        receiver,
    };
    Ok(sse(futures::stream::unfold(
        notifications,
        |mut s| async move {
            let event = s.next_event().await?;
            Some((Ok(event), s))
        },
    )))
}

fn sse(stream: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> EventStream {
    let boxed: BoxedEvents = Box::pin(stream);
    Sse::new(boxed).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The state of one rules stream.
struct RulesStream {
    live: Arc<Live>,
    stopping: tokio::sync::watch::Receiver<bool>,
    environment: String,
    key_id: String,
    receiver: Receiver<Arc<ChangeBatch>>,
    pending: VecDeque<Event>,
    /// The revision the events sent so far bring the subscriber to: batches
    /// up to it are already included (the stream subscribes before it reads
    /// the configuration its first events describe).
    seen: i64,
}

impl RulesStream {
    /// The next event to send; `None` ends the stream.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let received = tokio::select! {
                received = self.receiver.recv() => received,
                _ = self.stopping.wait_for(|stopping| *stopping) => return None,
            };
            let batch = match received {
                Ok(batch) => batch,
                // Too far behind, or the service is stopping: end; the client
                // reconnects with Last-Event-ID.
                Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
            };
            if batch.revision <= self.seen {
                continue;
            }
            // Batches are announced after the swap: the current
            // configuration includes this one.
            let live = self.live.current();
            if key_revoked(&live, &self.key_id) {
                return None;
            }
            self.seen = batch.revision;
            self.pending.extend(
                shared_batch_events(&live, &self.environment, &batch)
                    .iter()
                    .cloned(),
            );
        }
    }
}

/// The state of one OFREP notification stream.
struct RefetchStream {
    live: Arc<Live>,
    stopping: tokio::sync::watch::Receiver<bool>,
    key_id: String,
    receiver: Receiver<Arc<ChangeBatch>>,
}

impl RefetchStream {
    async fn next_event(&mut self) -> Option<Event> {
        let received = tokio::select! {
            received = self.receiver.recv() => received,
            _ = self.stopping.wait_for(|stopping| *stopping) => return None,
        };
        let batch = match received {
            Ok(batch) => batch,
            // A lagging client loses nothing by refetching now.
            Err(RecvError::Lagged(_)) => {
                return Some(refetch(None));
            }
            Err(RecvError::Closed) => return None,
        };
        if key_revoked(&self.live.current(), &self.key_id) {
            return None;
        }
        Some(refetch(Some(batch.revision)))
    }
}

fn refetch(revision: Option<i64>) -> Event {
    // Written directly: this is sent to every OFREP subscriber on every change.
    match revision {
        Some(revision) => Event::default()
            .event("message")
            .data(format!(
                r#"{{"type":"refetchEvaluation","etag":"{revision}"}}"#
            ))
            .id(revision.to_string()),
        None => Event::default()
            .event("message")
            .data(r#"{"type":"refetchEvaluation"}"#),
    }
}

fn key_revoked(live: &LiveConfig, key_id: &str) -> bool {
    live.keys_by_hash
        .values()
        .find(|k| k.id == key_id)
        .is_none_or(|k| k.revoked_at.is_some())
}

/// The events of recent batches per environment, built by the first
/// subscriber that needs them and cloned by the others.
static BATCH_EVENTS: Mutex<Vec<CachedEvents>> = Mutex::new(Vec::new());

/// How many (batch, environment) entries [`BATCH_EVENTS`] keeps at most.
const CACHED_BATCHES: usize = 64;

struct CachedEvents {
    /// Identifies the batch by its address; the weak reference keeps the
    /// allocation, so no other batch can have that address meanwhile.
    batch: Weak<ChangeBatch>,
    environment: String,
    events: Arc<[Event]>,
}

/// [`batch_events`], built once per batch and environment. The first
/// subscriber builds them from the configuration current then, which
/// includes the batch (as it would for each subscriber on its own).
fn shared_batch_events(
    live: &LiveConfig,
    environment: &str,
    batch: &Arc<ChangeBatch>,
) -> Arc<[Event]> {
    let mut cache = BATCH_EVENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(hit) = cache.iter().find(|c| {
        std::ptr::eq(c.batch.as_ptr(), Arc::as_ptr(batch)) && c.environment == environment
    }) {
        return hit.events.clone();
    }
    let events: Arc<[Event]> = batch_events(live, environment, batch).into();
    // Batches every stream has consumed are gone: forget their events.
    cache.retain(|c| c.batch.strong_count() > 0);
    if cache.len() >= CACHED_BATCHES {
        cache.remove(0);
    }
    cache.push(CachedEvents {
        batch: Arc::downgrade(batch),
        environment: environment.to_owned(),
        events: events.clone(),
    });
    events
}

/// The events for one batch: a `put` when the environment tree changed or
/// everything was reloaded, else a `patch` or `delete` per changed flag and
/// segment. The last carries the revision as its id.
fn batch_events(live: &LiveConfig, environment: &str, batch: &ChangeBatch) -> Vec<Event> {
    let tree_changed = batch
        .changes
        .iter()
        .any(|c| c.kind == ff_store::ResourceKind::Environment);
    let mut events = if batch.reload || tree_changed {
        vec![put_event(live, environment)]
    } else {
        // One event per resource, however often it changed in the batch.
        let changed: BTreeMap<(&str, &str), ()> = batch
            .changes
            .iter()
            .filter_map(|c| match c.kind {
                ff_store::ResourceKind::Flag => Some((("flag", c.key.as_str()), ())),
                ff_store::ResourceKind::Segment => Some((("segment", c.key.as_str()), ())),
                _ => None,
            })
            .collect();
        changed
            .keys()
            .map(|(kind, key)| resource_event(live, environment, kind, key))
            .collect()
    };
    if let Some(last) = events.pop() {
        events.push(last.id(batch.revision.to_string()));
    }
    events
}

fn resource_event(live: &LiveConfig, environment: &str, kind: &str, key: &str) -> Event {
    let document = match kind {
        "flag" => live.flags.get(key).map(|f| {
            serde_json::to_value(ff_engine::project_flag(
                &f.flag,
                environment,
                &live.environment_tree(),
            ))
        }),
        _ => live
            .segments
            .get(key)
            .map(|s| serde_json::to_value(&s.segment)),
    };
    match document {
        Some(Ok(document)) => Event::default().event("patch").data(
            json!({ "revision": live.revision, "kind": kind, "key": key, "document": document })
                .to_string(),
        ),
        _ => Event::default()
            .event("delete")
            .data(json!({ "revision": live.revision, "kind": kind, "key": key }).to_string()),
    }
}

/// The whole rule set of an environment.
fn put_event(live: &LiveConfig, environment: &str) -> Event {
    let tree = live.environment_tree();
    let flags: Vec<Value> = live
        .flags
        .values()
        .filter_map(|f| {
            serde_json::to_value(ff_engine::project_flag(&f.flag, environment, &tree)).ok()
        })
        .collect();
    let segments: Vec<&ff_engine::Segment> = live.segments.values().map(|s| &s.segment).collect();
    let data = json!({
        "revision": live.revision,
        "environment": environment,
        "flags": flags,
        "segments": segments,
    });
    Event::default().event("put").data(data.to_string())
}

fn put(live: &LiveConfig, environment: &str) -> Event {
    put_event(live, environment).id(live.revision.to_string())
}

/// The events that bring a subscriber from revision `seen` to the current
/// one, from the change log; `None` when the log cannot (then a `put`).
async fn catch_up(
    state: &AppState,
    live: &LiveConfig,
    environment: &str,
    seen: i64,
) -> Option<Vec<Event>> {
    const LIMIT: u32 = 10_000;
    let changes = state.store.changes_since(seen, LIMIT).await.ok()?;
    if changes.len() >= LIMIT as usize {
        return None;
    }
    let changes: Vec<_> = changes
        .into_iter()
        .filter(|c| c.revision <= live.revision)
        .collect();
    let batch = ChangeBatch {
        revision: live.revision,
        changes,
        reload: false,
    };
    Some(batch_events(live, environment, &batch))
}
