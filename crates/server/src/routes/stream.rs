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
//! Events are written once and shared, never copied per subscriber: a
//! batch's events are built once per environment (see
//! [`shared_batch_events`]), and the opening `put` once per revision and
//! environment (see [`shared_put`]), as reference-counted bytes that every
//! stream hands to the connection as they are. With thousands of
//! subscribers, projecting and serialising per subscriber would cost more
//! than sending, a connect would cost in proportion to the configuration,
//! and a subscriber that never reads would hold its own copy of the whole
//! rule set.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use ff_api_types::{
    ChangeEvent, EnvironmentQuery, OfrepStreamQuery, PutEvent, event as stream_event,
};
use futures::Stream;
use serde_json::Value;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Principal;
use crate::client_address::ClientAddress;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::live::{ChangeBatch, Live, LiveConfig};
use crate::metrics::prometheus::OpenStream;
use crate::state::AppState;

/// How often an idle stream sends a comment, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One server-sent event, already in wire form (`event:`, `data:`, `id:`
/// lines and the blank line that ends it), shared by reference count.
type Event = Bytes;

/// A streaming response of events.
type EventStream = Response;

/// `GET /api/v1/stream`: the environment's rules for server-side SDKs.
pub async fn stream_flags(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    QueryParams(query): QueryParams<EnvironmentQuery>,
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
                None => pending.push_back(shared_put(&live, &environment)),
            }
        }
        _ => pending.push_back(shared_put(&live, &environment)),
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
    Ok(sse(
        &state,
        futures::stream::unfold(rules, |mut s| async move {
            let event = s.next_event().await?;
            Some((Ok(event), s))
        }),
    ))
}

/// `GET /ofrep/v1/stream`: `refetchEvaluation` on every change. The key
/// comes in a header, or (for browsers, whose `EventSource` sends no
/// headers) as the stream credential a bulk answer advertised.
pub async fn stream_ofrep(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    ClientAddress(address): ClientAddress,
    QueryParams(query): QueryParams<OfrepStreamQuery>,
) -> ApiResult<EventStream> {
    let principal = match (principal, query.token.as_deref()) {
        (Ok(principal), _) => principal,
        (Err(_), Some(token)) => Principal::from_stream_token(&state, token, address)?,
        (Err(error), None) => return Err(error),
    };
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
    Ok(sse(
        &state,
        futures::stream::unfold(notifications, |mut s| async move {
            let event = s.next_event().await?;
            Some((Ok(event), s))
        }),
    ))
}

/// The response for a stream of events: `text/event-stream`, a comment
/// whenever nothing was sent for [`KEEP_ALIVE`] (so that proxies keep it
/// open), each event handed to the connection as shared bytes.
fn sse(
    state: &AppState,
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
) -> EventStream {
    let events = Box::pin(events);
    // Counted as open for as long as the response body lives.
    let open = OpenStream::new(&state.metrics);
    let with_keep_alive =
        futures::stream::unfold((events, open), |(mut events, open)| async move {
            use futures::StreamExt as _;
            match tokio::time::timeout(KEEP_ALIVE, events.next()).await {
                Ok(Some(event)) => Some((event, (events, open))),
                Ok(None) => None,
                Err(_) => Some((Ok(Bytes::from_static(b":\n\n")), (events, open))),
            }
        });
    let mut response = Response::new(Body::from_stream(with_keep_alive));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// An event in wire form. `data` is compact JSON (one line) or plain text;
/// each of its lines becomes a `data:` line, as the format requires.
fn event(name: &str, data: &str, id: Option<i64>) -> Event {
    let mut wire = String::with_capacity(data.len().saturating_add(name.len()).saturating_add(32));
    wire.push_str("event: ");
    wire.push_str(name);
    wire.push('\n');
    for line in data.split('\n') {
        wire.push_str("data: ");
        wire.push_str(line);
        wire.push('\n');
    }
    if let Some(id) = id {
        wire.push_str("id: ");
        wire.push_str(itoa::Buffer::new().format(id));
        wire.push('\n');
    }
    wire.push('\n');
    Bytes::from(wire)
}

/// The same event with `id: <revision>` (the last of a revision's events).
fn with_id(event: &Event, revision: i64) -> Event {
    let mut wire = Vec::with_capacity(event.len().saturating_add(24));
    // Before the blank line that ends the event.
    wire.extend_from_slice(&event[..event.len().saturating_sub(1)]);
    wire.extend_from_slice(b"id: ");
    wire.extend_from_slice(itoa::Buffer::new().format(revision).as_bytes());
    wire.extend_from_slice(b"\n\n");
    Bytes::from(wire)
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
    // Written directly (`ff_api_types::RefetchEvent`'s JSON): this is sent
    // to every OFREP subscriber on every change.
    match revision {
        Some(revision) => event(
            "message",
            &format!(r#"{{"type":"refetchEvaluation","etag":"{revision}"}}"#),
            Some(revision),
        ),
        None => event("message", r#"{"type":"refetchEvaluation"}"#, None),
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
        vec![put_event(live, environment, false)]
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
        events.push(with_id(&last, batch.revision));
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
    let document = document.and_then(Result::ok);
    let name = if document.is_some() {
        stream_event::PATCH
    } else {
        stream_event::DELETE
    };
    let change = ChangeEvent {
        revision: live.revision,
        kind: kind.to_owned(),
        key: key.to_owned(),
        document,
    };
    event(name, &to_json(&change), None)
}

/// The whole rule set of an environment; `id` adds the revision as its id.
fn put_event(live: &LiveConfig, environment: &str, id: bool) -> Event {
    let tree = live.environment_tree();
    let flags: Vec<Value> = live
        .flags
        .values()
        .filter_map(|f| {
            serde_json::to_value(ff_engine::project_flag(&f.flag, environment, &tree)).ok()
        })
        .collect();
    let segments: Vec<Value> = live
        .segments
        .values()
        .filter_map(|s| serde_json::to_value(&s.segment).ok())
        .collect();
    let put = PutEvent {
        revision: live.revision,
        environment: environment.to_owned(),
        flags,
        segments,
    };
    event(
        stream_event::PUT,
        &to_json(&put),
        id.then_some(live.revision),
    )
}

/// An event's data: its JSON on one line.
fn to_json(data: &impl serde::Serialize) -> String {
    serde_json::to_string(data).unwrap_or_default()
}

/// The latest `put` of each environment, built by the first subscriber of a
/// revision and shared by the others.
static PUTS: Mutex<Vec<CachedPut>> = Mutex::new(Vec::new());

struct CachedPut {
    revision: i64,
    environment: String,
    event: Event,
}

/// [`put_event`] of `live`, built once per revision and environment: a
/// connect costs a lookup, not a projection of every flag, and every
/// subscriber shares the same bytes.
fn shared_put(live: &LiveConfig, environment: &str) -> Event {
    let mut puts = PUTS.lock().unwrap_or_else(PoisonError::into_inner);
    match puts.iter_mut().find(|p| p.environment == environment) {
        Some(cached) if cached.revision == live.revision => cached.event.clone(),
        Some(cached) => {
            let event = put_event(live, environment, true);
            // An older view (a request that read the configuration just
            // before a change) must not replace a newer put.
            if live.revision > cached.revision {
                cached.revision = live.revision;
                cached.event = event.clone();
            }
            event
        }
        None => {
            let event = put_event(live, environment, true);
            puts.push(CachedPut {
                revision: live.revision,
                environment: environment.to_owned(),
                event: event.clone(),
            });
            event
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_in_wire_form() {
        assert_eq!(
            event("patch", r#"{"a":1}"#, None),
            Bytes::from_static(b"event: patch\ndata: {\"a\":1}\n\n")
        );
        assert_eq!(
            event("message", "two\nlines", Some(7)),
            Bytes::from_static(b"event: message\ndata: two\ndata: lines\nid: 7\n\n")
        );
        assert_eq!(
            with_id(&event("delete", "{}", None), 12),
            Bytes::from_static(b"event: delete\ndata: {}\nid: 12\n\n")
        );
    }

    #[test]
    fn subscribers_of_a_revision_share_one_put() {
        // An environment name no other test uses: the cache is process-wide.
        let environment = "shared_put_test";
        let at = |revision| LiveConfig {
            revision,
            ..LiveConfig::default()
        };
        let first = shared_put(&at(5), environment);
        let second = shared_put(&at(5), environment);
        assert_eq!(
            first.as_ptr(),
            second.as_ptr(),
            "the same bytes, not a copy"
        );
        let newer = shared_put(&at(6), environment);
        assert_ne!(first, newer);
        assert!(newer.ends_with(b"id: 6\n\n"));
        // A request that read an older view gets its own put, and does not
        // replace the newer one.
        let older = shared_put(&at(5), environment);
        assert!(older.ends_with(b"id: 5\n\n"));
        assert_eq!(shared_put(&at(6), environment).as_ptr(), newer.as_ptr());
    }
}
