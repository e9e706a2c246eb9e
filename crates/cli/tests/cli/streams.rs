//! Our own SSE clients against the real binary: the rules stream
//! (`GET /api/v1/stream`) resumes with `Last-Event-ID`, ends when its key is
//! revoked and drops a stuck subscriber without slowing anyone else; the
//! OFREP stream (`GET /ofrep/v1/stream`) tells client-side providers to
//! refetch, and the bulk endpoint answers `If-None-Match` by the evaluated
//! result.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Server, free_port, start};

/// How long any single expected event may take (generous: CI machines are
/// slow; nothing here measures speed).
const WAIT: Duration = Duration::from_secs(20);

/// One server-sent event.
#[derive(Debug)]
struct SseEvent {
    event: String,
    data: String,
    id: Option<String>,
}

impl SseEvent {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }

    fn id(&self) -> Option<i64> {
        self.id.as_deref().map(|id| id.parse().unwrap())
    }
}

/// Reads server-sent events from a response body, one at a time; keep-alive
/// comments are skipped.
struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: Vec<u8>,
    /// How far `buffer` has been searched for the end of an event.
    scanned: usize,
}

impl SseReader {
    fn new(response: reqwest::Response) -> SseReader {
        assert_eq!(response.status(), 200, "the stream was refused");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseReader {
            body: response.bytes_stream().boxed(),
            buffer: Vec::new(),
            scanned: 0,
        }
    }

    /// The next event, or `None` when the server ended the stream. Panics if
    /// neither happens within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        tokio::time::timeout(wait, self.next_event())
            .await
            .unwrap_or_else(|_| panic!("no event and no end of the stream within {wait:?}"))
    }

    async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            while let Some(end) = self.buffer[self.scanned..]
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|at| self.scanned + at)
            {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                self.scanned = 0;
                if let Some(event) = parse_block(&String::from_utf8(block).unwrap()) {
                    return Some(event);
                }
            }
            self.scanned = self.buffer.len().saturating_sub(1);
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                // The server closed the stream (an error is a cut connection).
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Reads until the server ends the stream; every event on the way.
    async fn until_end(&mut self, wait: Duration) -> Vec<SseEvent> {
        let mut events = Vec::new();
        tokio::time::timeout(wait, async {
            while let Some(event) = self.next_event().await {
                events.push(event);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the stream did not end within {wait:?}"));
        events
    }
}

/// One SSE block (`event:`, `data:`, `id:` lines); `None` for a comment.
fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = None;
    let mut data: Vec<&str> = Vec::new();
    let mut id = None;
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value),
            "id" => id = Some(value.to_owned()),
            _ => {} // "" is a comment (keep-alive)
        }
    }
    if event.is_none() && data.is_empty() && id.is_none() {
        return None;
    }
    Some(SseEvent {
        event: event.unwrap_or_else(|| "message".to_owned()),
        data: data.join("\n"),
        id,
    })
}

/// A service on a scratch SQLite database and an HTTP client for it.
struct Service {
    server: Server,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Service {
    async fn start() -> Service {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("flags.db").display());
        let server = start(&database, free_port(), dir.path()).await;
        let _ = rustls::crypto::ring::default_provider().install_default();
        // No overall timeout: streams stay open for as long as a test reads.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let service = Service {
            server,
            http,
            _dir: dir,
        };
        // These tests are about streams: production's approvals and
        // protection (as first start seeds them) would hold their writes.
        service
            .admin(
                reqwest::Method::PUT,
                "/api/v1/environments/production",
                Some(json!({"key": "production", "parent": "staging"})),
            )
            .await;
        service
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    /// An admin API call that must succeed; its JSON answer.
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            // Protected environments want a reason for every change.
            .header("X-Change-Reason", "stream tests")
            .timeout(WAIT);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        serde_json::from_str(&answer).unwrap_or(Value::Null)
    }

    async fn create_flag(&self, document: Value) -> Value {
        self.admin(reqwest::Method::POST, "/api/v1/flags", Some(document))
            .await
    }

    async fn patch_flag(&self, flag_id: &str, patch: Value) -> Value {
        let path = format!("/api/v1/flags/{flag_id}");
        self.admin(reqwest::Method::PATCH, &path, Some(patch)).await
    }

    /// A new production key of `kind`: `(id, secret)`.
    async fn create_key(&self, kind: &str) -> (String, String) {
        let key = self
            .admin(
                reqwest::Method::POST,
                "/api/v1/api-keys",
                Some(json!({"name": format!("{kind} stream test"), "kind": kind,
                            "environment": "production"})),
            )
            .await;
        (
            key["id"].as_str().unwrap().to_owned(),
            key["key"].as_str().unwrap().to_owned(),
        )
    }

    /// The store revision the service serves.
    async fn revision(&self) -> i64 {
        let ready: Value = self
            .http
            .get(self.url("/health/ready"))
            .timeout(WAIT)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ready["revision"].as_i64().unwrap()
    }

    /// Opens an SSE stream with `key` (and `Last-Event-ID`, if given).
    async fn open(&self, path: &str, key: &str, last_event_id: Option<i64>) -> SseReader {
        let mut request = self.http.get(self.url(path)).header("X-API-Key", key);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        SseReader::new(request.send().await.unwrap())
    }
}

/// (a) A subscriber that reconnects with `Last-Event-ID` gets exactly the
/// changes it missed, once per resource, the last one carrying the current
/// revision; nothing stale follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_last_event_id_replays_only_what_was_missed() {
    let service = Service::start().await;
    for flag_id in ["resume_kept", "resume_patched", "resume_deleted"] {
        service
            .create_flag(json!({"flag_id": flag_id, "default_value": false}))
            .await;
    }
    let (_, server_key) = service.create_key("server").await;

    // Connect: the whole rule set first, with the revision as its id.
    let mut stream = service.open("/api/v1/stream", &server_key, None).await;
    let put = stream.next(WAIT).await.expect("a put event");
    assert_eq!(put.event, "put");
    let seen = put.id().expect("the put carries the revision");
    assert_eq!(seen, service.revision().await);
    let put = put.json();
    let flags: Vec<&str> = put["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag_id"].as_str().unwrap())
        .collect();
    assert_eq!(flags, ["resume_deleted", "resume_kept", "resume_patched"]);

    // Disconnect, and miss three changes: a patch, a creation, a deletion.
    drop(stream);
    service
        .patch_flag(
            "resume_patched",
            json!({"environments": {"production": true}}),
        )
        .await;
    service
        .create_flag(json!({"flag_id": "resume_created", "default_value": true}))
        .await;
    service
        .admin(
            reqwest::Method::DELETE,
            "/api/v1/flags/resume_deleted",
            None,
        )
        .await;
    let current = service.revision().await;
    assert_eq!(current, seen + 3, "one revision per change");

    // Reconnect where we left off: one event per changed flag (never the
    // untouched one, never a fresh put), the last with the current revision.
    let mut stream = service
        .open("/api/v1/stream", &server_key, Some(seen))
        .await;
    let mut replayed = Vec::new();
    while replayed.last().is_none_or(|e: &SseEvent| e.id.is_none()) {
        replayed.push(stream.next(WAIT).await.expect("the replay"));
    }
    let summary: Vec<(&str, String)> = replayed
        .iter()
        .map(|e| {
            (
                e.event.as_str(),
                e.json()["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("patch", "resume_created".to_owned()),
            ("delete", "resume_deleted".to_owned()),
            ("patch", "resume_patched".to_owned()),
        ]
    );
    assert_eq!(replayed.last().unwrap().id(), Some(current));
    assert!(replayed[..2].iter().all(|e| e.id.is_none()));
    let patched = replayed[2].json();
    assert_eq!(patched["kind"], "flag");
    assert_eq!(patched["revision"], current);
    assert_eq!(patched["document"]["environments"]["production"], true);
    assert_eq!(replayed[0].json()["document"]["default_value"], true);

    // Nothing stale is queued behind the replay: the next event is the next
    // change.
    service
        .patch_flag("resume_kept", json!({"default_value": true}))
        .await;
    let next = stream.next(WAIT).await.expect("the next change");
    assert_eq!(next.event, "patch");
    assert_eq!(next.json()["key"], "resume_kept");
    assert_eq!(next.id(), Some(current + 1));

    // Reconnecting at the current revision sends nothing until a change.
    drop(stream);
    let mut stream = service
        .open("/api/v1/stream", &server_key, Some(current + 1))
        .await;
    service
        .patch_flag("resume_kept", json!({"default_value": false}))
        .await;
    let next = stream.next(WAIT).await.expect("the next change");
    assert_eq!(
        (next.event.as_str(), next.id()),
        ("patch", Some(current + 2))
    );
    assert_eq!(next.json()["document"]["default_value"], false);
}

/// (b) Revoking a key ends the streams it opened, at once, and it cannot
/// open another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_key_ends_its_streams() {
    let service = Service::start().await;
    service
        .create_flag(json!({"flag_id": "revocation_probe", "default_value": false}))
        .await;
    let (key_id, server_key) = service.create_key("server").await;
    let (_, other_key) = service.create_key("server").await;

    let mut rules = service.open("/api/v1/stream", &server_key, None).await;
    assert_eq!(rules.next(WAIT).await.expect("a put").event, "put");
    let mut refetch = service.open("/ofrep/v1/stream", &server_key, None).await;
    let mut bystander = service.open("/api/v1/stream", &other_key, None).await;
    assert_eq!(bystander.next(WAIT).await.expect("a put").event, "put");

    service
        .admin(
            reqwest::Method::DELETE,
            &format!("/api/v1/api-keys/{key_id}"),
            None,
        )
        .await;

    // Both streams of the revoked key end, with nothing more sent.
    assert!(rules.until_end(WAIT).await.is_empty());
    assert!(refetch.until_end(WAIT).await.is_empty());
    let again = service
        .http
        .get(service.url("/api/v1/stream"))
        .header("X-API-Key", &server_key)
        .timeout(WAIT)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);

    // Another key's stream goes on.
    service
        .patch_flag("revocation_probe", json!({"default_value": true}))
        .await;
    let next = bystander.next(WAIT).await.expect("the bystander's stream");
    assert_eq!(next.event, "patch");
    assert_eq!(next.json()["key"], "revocation_probe");
}

/// (c) A stuck subscriber does not slow the writer or the other streams; it
/// is dropped once it falls `STREAM_BUFFER` (256) change batches behind, and
/// resumes with `Last-Event-ID`.
///
/// Each change to the flag below sends its whole document (~64 KiB, most of
/// it a long description) to every stream, so a subscriber that never reads
/// fills the socket buffers (about 5 MB here: ~80 events) within the first
/// hundred changes. After that the server cannot hand it more, its receiver
/// of change batches lags, and 400 changes put it past the 256 batches it
/// may fall behind (with room for socket buffers twice that size).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_subscriber_is_dropped_without_slowing_anyone() {
    const CHANGES: i64 = 400;
    const DOCUMENT_BYTES: usize = 64 * 1024;
    let service = Service::start().await;
    service
        .create_flag(json!({
            "flag_id": "slow_consumer_limit",
            "type": "number",
            "default_value": 0,
            "description": "x".repeat(DOCUMENT_BYTES),
        }))
        .await;
    let (_, server_key) = service.create_key("server").await;

    // The stuck one: opened, its first event read, then never read again.
    let mut stuck = service.open("/api/v1/stream", &server_key, None).await;
    let put = stuck.next(WAIT).await.expect("a put");
    let start = put.id().unwrap();

    // The reader: records (revision, default_value) of every patch as it
    // arrives.
    let mut reader = service.open("/api/v1/stream", &server_key, None).await;
    assert_eq!(reader.next(WAIT).await.expect("a put").id(), Some(start));
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let reading = tokio::spawn(async move {
        while let Some(event) = reader.next_event().await {
            if event.event == "patch" {
                let value = event.json()["document"]["default_value"].clone();
                if seen_tx.send((event.id().unwrap(), value)).is_err() {
                    break;
                }
            }
        }
    });

    // The writer: every change is acknowledged.
    for i in 1..=CHANGES {
        service
            .patch_flag("slow_consumer_limit", json!({"default_value": i}))
            .await;
    }
    let end = service.revision().await;
    assert_eq!(end, start + CHANGES);

    // The reader got every change, in order, each under its own revision.
    for i in 1..=CHANGES {
        let (revision, value) = tokio::time::timeout(WAIT, seen_rx.recv())
            .await
            .expect("the reading stream keeps up")
            .expect("the reading stream is open");
        assert_eq!((revision, value), (start + i, json!(i)));
    }
    drop(seen_rx);
    reading.abort();

    // The stuck one now reads what the socket buffers held, then the stream
    // ends: the server dropped it rather than keep an unbounded backlog.
    let backlog = stuck.until_end(WAIT).await;
    eprintln!(
        "stuck stream: {} events buffered before it ended",
        backlog.len()
    );
    let last = backlog
        .iter()
        .filter_map(SseEvent::id)
        .max()
        .unwrap_or(start);
    assert!(
        last < end,
        "the stuck stream was not dropped: it delivered all {} events up to revision {last}",
        backlog.len()
    );
    assert!(backlog.iter().all(|e| e.event == "patch"));

    // It resumes where it stopped: one patch with the latest document.
    let mut resumed = service
        .open("/api/v1/stream", &server_key, Some(last))
        .await;
    let patch = resumed.next(WAIT).await.expect("the catch-up");
    assert_eq!(patch.event, "patch");
    assert_eq!(patch.id(), Some(end));
    assert_eq!(patch.json()["document"]["default_value"], CHANGES);
}

/// (d) A client key's OFREP stream says `refetchEvaluation` (with an
/// `etag`, never values or rules) after a change; the bulk evaluation
/// answers `304` to an unchanged `If-None-Match`, and `200` with another
/// `ETag` after the change or for another context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ofrep_stream_and_bulk_etags() {
    let service = Service::start().await;
    service
        .create_flag(json!({
            "flag_id": "ofrep_express_checkout",
            "default_value": false,
            "targeting_rules": [{"name": "canada",
                "conditions": [{"attribute": "country", "operator": "equals", "value": "CA"}]}]
        }))
        .await;
    let (_, client_key) = service.create_key("client").await;

    // One bulk evaluation: status, ETag and the flags.
    let bulk = |context: Value, if_none_match: Option<String>| {
        let mut request = service
            .http
            .post(service.url("/ofrep/v1/evaluate/flags"))
            .header("X-API-Key", &client_key)
            .timeout(WAIT)
            .json(&json!({ "context": context }));
        if let Some(etag) = if_none_match {
            request = request.header("If-None-Match", etag);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let etag = response.headers()["etag"].to_str().unwrap().to_owned();
            let body = response.text().await.unwrap();
            let flags = match status {
                200 => serde_json::from_str::<Value>(&body).unwrap()["flags"].clone(),
                _ => {
                    assert!(body.is_empty(), "{status} with a body: {body}");
                    Value::Null
                }
            };
            (status, etag, flags)
        }
    };
    let canada = json!({"targetingKey": "user-1", "country": "CA"});
    let france = json!({"targetingKey": "user-1", "country": "FR"});

    let mut stream = service.open("/ofrep/v1/stream", &client_key, None).await;

    let (status, etag, flags) = bulk(canada.clone(), None).await;
    assert_eq!(status, 200);
    assert_eq!(flags[0]["key"], "ofrep_express_checkout");
    assert_eq!(flags[0]["value"], true);
    // Unchanged: 304, same ETag.
    assert_eq!(
        bulk(canada.clone(), Some(etag.clone())).await,
        (304, etag.clone(), Value::Null)
    );
    // Another context, another result: never a wrong 304.
    let (status, france_etag, flags) = bulk(france.clone(), Some(etag.clone())).await;
    assert_eq!(status, 200);
    assert_ne!(france_etag, etag);
    assert_eq!(flags[0]["value"], false);

    // A change: the kill switch.
    let disabled = service
        .admin(
            reqwest::Method::POST,
            "/api/v1/emergency/disable",
            Some(json!({"flag_id": "ofrep_express_checkout", "environment": "production"})),
        )
        .await;
    let event = stream.next(WAIT).await.expect("a refetch notification");
    assert_eq!(event.event, "message");
    let data = event.json();
    assert_eq!(data["type"], "refetchEvaluation");
    assert!(
        data["etag"].as_str().is_some_and(|e| !e.is_empty()),
        "{data}"
    );
    assert_eq!(
        data.as_object().unwrap().len(),
        2,
        "only type and etag, never values or rules: {data}"
    );
    assert_eq!(data["etag"], disabled["revision"].to_string());

    // The refetch: the old ETag no longer matches.
    let (status, new_etag, flags) = bulk(canada.clone(), Some(etag.clone())).await;
    assert_eq!(status, 200);
    assert_ne!(new_etag, etag);
    assert_eq!(flags[0]["value"], false);
    assert_eq!(flags[0]["reason"], "DISABLED");
    assert_eq!(
        bulk(canada, Some(new_etag.clone())).await,
        (304, new_etag, Value::Null)
    );
}

/// An `auto_sync` environment follows its parent live, streams included: a
/// change in `development` reaches a `staging` subscriber at once, as the
/// value staging now serves; a flag with an entry of its own in staging
/// does not follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_change_reaches_the_streams_of_an_auto_sync_child() {
    let service = Service::start().await;
    service
        .create_flag(
            json!({"flag_id": "inherited_banner", "default_value": false,
                             "environments": {"development": true}}),
        )
        .await;
    service
        .create_flag(json!({"flag_id": "pinned_banner", "default_value": false,
                             "environments": {"development": true, "staging": true}}))
        .await;
    let key = service
        .admin(
            reqwest::Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "staging sdk", "kind": "server", "environment": "staging"})),
        )
        .await;
    let mut stream = service
        .open("/api/v1/stream", key["key"].as_str().unwrap(), None)
        .await;
    let put = stream.next(WAIT).await.expect("a put event").json();
    let served = |flags: &Value, id: &str| {
        flags["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["flag_id"] == id)
            .map(|f| f["environments"]["staging"].clone())
    };
    assert_eq!(served(&put, "inherited_banner"), Some(json!(true)), "{put}");

    for flag in ["inherited_banner", "pinned_banner"] {
        service
            .patch_flag(flag, json!({"environments": {"development": false}}))
            .await;
    }
    let first = stream.next(WAIT).await.expect("a patch").json();
    assert_eq!(first["key"], "inherited_banner", "{first}");
    assert_eq!(
        first["document"]["environments"]["staging"],
        json!(false),
        "staging follows development: {first}"
    );
    let second = stream.next(WAIT).await.expect("a patch").json();
    assert_eq!(second["key"], "pinned_banner", "{second}");
    assert_eq!(
        second["document"]["environments"]["staging"],
        json!(true),
        "its own entry stays: {second}"
    );
}
