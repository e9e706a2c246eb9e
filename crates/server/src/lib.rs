#![doc = include_str!("../README.md")]
#![recursion_limit = "256"]

pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod extract;
pub mod flag_ops;
pub mod governance;
pub mod live;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod usage;
pub mod work;
pub mod write;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use ff_store::FlagStore;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub use config::ServeConfig;
pub use state::{AppState, Clock, FileClock, ManualClock, SharedState, SystemClock};

use crate::error::ApiError;

/// Opens the store, seeds it on first start and loads the live configuration.
/// Returns the state and, on first start, the admin secret to show once.
pub async fn prepare(
    config: ServeConfig,
    clock: Arc<dyn Clock>,
) -> Result<(AppState, Option<bootstrap::Bootstrapped>), ff_store::StoreError> {
    let clock: Arc<dyn Clock> = match &config.clock_file {
        Some(path) => Arc::new(FileClock(path.clone())),
        None => clock,
    };
    let store: Arc<dyn FlagStore> = ff_store::connect(&config.database_url).await?;
    let seeded =
        bootstrap::bootstrap(store.as_ref(), config.admin_token.as_deref(), clock.now()).await?;
    let live = live::Live::load(store.clone()).await?;
    Ok((AppState::new(store, live, config, clock), seeded))
}

/// The service: the router inside its middleware (request ids, tracing,
/// CORS, the body limit), with JSON answers for unknown routes and methods.
///
/// The middleware wraps the router once, not each route: `Router::layer`
/// would box the whole stack around every route and clone each box on every
/// request (15 boxed clones per OFREP request, measured with callgrind).
pub fn app(
    state: AppState,
) -> impl tower::Service<
    Request<Incoming>,
    Response = axum::http::Response<
        impl HttpBody<Data = Bytes, Error = axum::Error> + Send + 'static,
    >,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let request_id = HeaderName::from_static("x-request-id");
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(Any)
        .expose_headers([
            axum::http::header::ETAG,
            axum::http::header::RETRY_AFTER,
            request_id.clone(),
        ]);
    let body_limit = DefaultBodyLimit::max(state.config.max_body_bytes);
    let router = routes::router()
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(
            request_id.clone(),
            SequentialRequestIds::new(),
        ))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(TraceLayer::new_for_http())
        .layer(cors)
        .layer(body_limit)
        .service(router)
}

/// Request ids for requests that bring none: this process's random prefix
/// and a counter. Unique across nodes and restarts like a UUID, but without
/// asking the kernel for randomness on every request (a UUID v4 costs a
/// `getrandom` system call each).
#[derive(Clone)]
struct SequentialRequestIds {
    prefix: [u8; 16],
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestIds {
    fn new() -> SequentialRequestIds {
        let mut prefix = [0u8; 16];
        // Eight random bytes as sixteen hex digits; cannot fail (sizes match).
        let _ = hex::encode_to_slice(rand::random::<[u8; 8]>(), &mut prefix);
        SequentialRequestIds {
            prefix,
            next: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialRequestIds {
    /// `{prefix}-{counter}`, both sixteen hex digits, written without
    /// formatting machinery.
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut id = [b'-'; 33];
        id[..16].copy_from_slice(&self.prefix);
        hex::encode_to_slice(n.to_be_bytes(), &mut id[17..]).ok()?;
        HeaderValue::from_bytes(&id).ok().map(RequestId::new)
    }
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such route; the API is under /api/v1 (see /api/v1/openapi.json)".into())
}

async fn method_not_allowed() -> (StatusCode, axum::Json<ff_api_types::ErrorBody>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(ff_api_types::ErrorBody {
            error: ff_api_types::ErrorDetail {
                code: "method_not_allowed".into(),
                message: "this route does not accept that method".into(),
                details: serde_json::Value::Null,
            },
        }),
    )
}

/// Serves until `shutdown` resolves, then finishes in-flight requests and
/// flushes key usage. Background work (usage flushing, refresh) runs while
/// serving.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = tokio::spawn(background_tasks(state.clone()));
    let follower = tokio::spawn(follow_commits(state.clone()));
    let scheduler = tokio::spawn(work::scheduler::run(
        state.clone(),
        Duration::from_millis(state.config.scheduler_interval_ms.max(10)),
    ));
    let stopping = state.stopping.clone();
    let shutdown = async move {
        shutdown.await;
        // End the streams first: graceful shutdown waits for every open
        // response, and a stream never finishes by itself.
        stopping.send_replace(true);
    };
    let result = serve_http1(listener, app(state.clone()), shutdown).await;
    background.abort();
    follower.abort();
    scheduler.abort();
    flush_key_usage(&state).await;
    flush_flag_usage(&state).await;
    result
}

async fn background_tasks(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        flush_key_usage(&state).await;
        flush_flag_usage(&state).await;
        // A safety net under the commit notifications: a node that missed
        // one still catches up within one tick.
        refresh(&state).await;
    }
}

/// Applies other nodes' commits as they are announced (PostgreSQL `LISTEN`),
/// catching up from the change log whenever the listening connection was
/// (re)established. Returns at once for stores without notifications.
async fn follow_commits(state: AppState) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match state.store.listen().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                backoff = Duration::from_millis(100);
                refresh(&state).await;
                loop {
                    match listener.next_commit().await {
                        Ok(revision) => {
                            // This node's own commits are announced too, while
                            // the write is still finishing: waiting for it lets
                            // it advance the view from what it wrote, instead
                            // of this task reading it back.
                            let _writing = state.writes.lock().await;
                            if revision <= 0 || revision > state.live.known_revision() {
                                refresh(&state).await;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "lost the commit notifications; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot listen for commits; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn refresh(state: &AppState) {
    if let Err(error) = state.live.refresh().await {
        tracing::warn!(%error, "could not refresh the configuration");
    }
}

/// Accepts connections until `shutdown` resolves, then waits for the open
/// ones to finish.
///
/// HTTP/1.1 only, rather than `axum::serve`'s HTTP/1-or-2 connections: a
/// connection's task is sized for the largest protocol it might speak, and
/// tens of thousands of idle SSE streams pay for that in memory. Every
/// client here (SDKs, OpenFeature providers, browsers behind a proxy) speaks
/// HTTP/1.1; TLS and HTTP/2 belong to the proxy in front.
async fn serve_http1<S, B>(
    listener: TcpListener,
    app: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: tower::Service<Request<Incoming>, Response = axum::http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes, Error = axum::Error> + Send + 'static,
{
    let app = Arc::new(app);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait, do not spin.
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small SSE events go out at once rather than waiting for an ACK.
        let _ = stream.set_nodelay(true);
        let service = SharedApp(app.clone());
        // No header-read timer, as with `axum::serve`: arming one per
        // request costs measurably on this path; slow clients are the
        // proxy's to cut off.
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is not the server's error.
            let _ = connection.await;
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

/// The application as every connection holds it: one reference to the
/// middleware stack. Each request clones the stack (tower services are
/// called by `&mut`), as hyper's own adapter would, but an idle connection
/// keeps only this pointer rather than a copy of the stack.
struct SharedApp<S>(Arc<S>);

impl<S, B> hyper::service::Service<Request<Incoming>> for SharedApp<S>
where
    S: tower::Service<Request<Incoming>, Response = axum::http::Response<B>, Error = Infallible>
        + Clone,
{
    type Response = axum::http::Response<B>;
    type Error = Infallible;
    type Future = tower::util::Oneshot<S, Request<Incoming>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        tower::ServiceExt::oneshot(S::clone(&self.0), request)
    }
}

/// Writes when flags were last evaluated (and makes room for new flags).
pub async fn flush_flag_usage(state: &AppState) {
    let _flushing = state.flag_usage.flushing.lock().await;
    state.flag_usage.track(&state.live.current());
    let used = state.flag_usage.take();
    if let Err(error) = state.store.record_flag_usage(&used).await {
        tracing::warn!(%error, "could not record flag usage");
    }
}

/// Writes the batched last-used times of API keys.
async fn flush_key_usage(state: &AppState) {
    let used: Vec<_> = match state.key_usage.lock() {
        Ok(mut usage) => usage.drain().collect(),
        Err(_) => return,
    };
    if used.is_empty() {
        return;
    }
    if let Err(error) = state.store.touch_api_keys(&used).await {
        tracing::warn!(%error, "could not record API key usage");
    }
}
