//! `fanout`: the floor for `propagation`, a minimal axum server that streams
//! one pre-built SSE event to every subscriber on each write.
//!
//! It answers just what `ff-loadtest propagation` calls (create the flag,
//! create a key, toggle the kill switch, subscribe) with no store, no auth
//! and no per-subscriber work but the write itself: each toggle builds its
//! event once, as bytes, and a broadcast channel hands the same bytes to
//! every stream. The distance between this and the service, measured in the
//! same run on the same machine, is what the service's own fan-out costs;
//! what remains is the price of the kernel and of hyper on these cores.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt as _;
use serde_json::json;
use tokio::sync::broadcast;

use crate::stats::parse_duration;

/// Options of `ff-loadtest fanout`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on.
    #[arg(long, default_value_t = 8003)]
    port: u16,
    /// Stops by itself after this long.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    max_duration: Duration,
}

#[derive(Clone)]
struct Floor {
    events: broadcast::Sender<Bytes>,
    revision: Arc<AtomicI64>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if !args.bind.is_loopback() {
        anyhow::bail!("the floor server listens on loopback addresses only");
    }
    let floor = Floor {
        // As many batches as the service buffers per subscriber.
        events: broadcast::channel(256).0,
        revision: Arc::new(AtomicI64::new(1)),
    };
    let app = Router::new()
        .route("/api/v1/stream", get(stream))
        .route("/api/v1/flags", post(created))
        .route("/api/v1/api-keys", post(key))
        .route("/api/v1/emergency/enable", post(toggle))
        .route("/api/v1/emergency/disable", post(toggle))
        .route("/ofrep/v1/evaluate/flags/{flag}", post(created))
        .route("/health/ready", get(created))
        .with_state(floor);
    let listener = tokio::net::TcpListener::bind((args.bind, args.port)).await?;
    eprintln!("fanout: listening on {}", listener.local_addr()?);
    let stop = async move {
        tokio::select! {
            _ = tokio::time::sleep(args.max_duration) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    axum::serve(listener, app.into_make_service())
        .with_graceful_shutdown(stop)
        .await?;
    Ok(())
}

async fn created() -> Response {
    (StatusCode::CREATED, axum::Json(json!({}))).into_response()
}

async fn key() -> Response {
    (StatusCode::CREATED, axum::Json(json!({"key": "floor"}))).into_response()
}

/// A write: one event, built once, sent to every stream.
async fn toggle(State(floor): State<Floor>) -> Response {
    let revision = floor.revision.fetch_add(1, Ordering::Relaxed) + 1;
    // About the size of the service's patch for the load test's flag.
    let data = json!({
        "revision": revision, "kind": "flag", "key": "loadtest_kill_switch",
        "document": {"flag_id": "loadtest_kill_switch", "type": "boolean",
            "description": "toggled by ff-loadtest propagation", "default_value": false,
            "environments": {"development": {"enabled": revision % 2 == 0, "value": true}}}
    });
    let event = format!("event: patch\nid: {revision}\ndata: {data}\n\n");
    // No subscriber is not an error for a floor.
    let _ = floor.events.send(Bytes::from(event));
    axum::Json(json!({"revision": revision})).into_response()
}

async fn stream(State(floor): State<Floor>) -> Response {
    let receiver = floor.events.subscribe();
    let first = Bytes::from_static(b"event: put\ndata: {\"revision\":1}\n\n");
    let changes = futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => return Some((Ok::<_, Infallible>(event), receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let events = futures::stream::once(async move { Ok(first) }).chain(changes);
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(events),
    )
        .into_response()
}
