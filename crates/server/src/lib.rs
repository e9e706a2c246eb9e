#![doc = include_str!("../README.md")]
//!
//! The service as a library: [`prepare`] checks the settings
//! ([`ServeConfig`]), opens the store, seeds it on first start and loads the
//! live configuration; [`serve`] accepts connections for [`app`] until
//! shutdown. The binary (`crates/cli`) and the tests use these and little
//! else, re-exported here; the modules are private.
//!
//! # Layout
//!
//! From the HTTP edge down (modules depend one way: nothing below the routes
//! imports a route module):
//!
//! - `routes`: the HTTP routes, one file per resource, handlers named
//!   `verb_noun`, all declared in one table ([`ROUTES`]) from which both the
//!   router and the OpenAPI document are built. Handlers translate HTTP:
//!   authorise, read the request, call `write` or `work`, render the answer.
//! - `ui`: the admin web interface (HTML pages at `/`, from templates
//!   compiled in); its forms call the routes' handlers, so they take the
//!   same write path. Off with `--ui=false`.
//! - `openapi`: the OpenAPI 3.1 document, generated from the route table and
//!   the JSON Schemas of the `ff_api_types` types each route names.
//! - `auth`: who is calling, as an extractor (`Principal`): an API key or
//!   a signed-in person's session; roles, rate limits.
//! - `scope`: roles scoped to environments: whether a scoped caller holds
//!   the role needed in each environment; `scope_of_writes`: which
//!   environments a planned write touches.
//! - `client_address`: the address a request came from (the peer, or a
//!   trusted proxy's header), for the per-device limits.
//! - `people`: user accounts, argon2id passwords, sign-in throttling,
//!   sessions and their CSRF tokens.
//! - `metrics`: evaluation counts, evaluation logs and the Prometheus
//!   metrics.
//! - `experiments`: experiment definitions, exposures on the evaluation
//!   path, keyed hashes of user ids, results.
//! - `extract`: request extractors that answer in the error envelope
//!   (JSON bodies, body deadlines) and the `If-Match` version.
//! - `document`: whole documents in a body (an import,
//!   `flag-dependencies.yaml`): the declared format, and reading a large one
//!   off the async workers (the reading itself, with its bounds, is
//!   `ff_documents`').
//! - `work`: work items (change requests, schedules, rollout plans): their
//!   documents and transitions, their operations, and the scheduler.
//! - `write`: the write path every change takes: plan, check references,
//!   review, commit or hold, advance the live configuration.
//! - `governance`: the environments' rules applied to a planned write
//!   (protection, change windows, dependency policy, approvals).
//! - `wire`: domain and store types to their wire form (`ff_api_types`).
//! - `flag_ops`: flag documents as the API reads and writes them
//!   (per-environment entries, merge patches, response metadata).
//! - `live`: the live configuration (flags, segments, environments, keys and
//!   the compiled snapshot) in memory, swapped atomically on change.
//! - `usage`: when flags were last evaluated (for stale-flag reports).
//! - `webhooks`: outgoing webhooks: endpoint settings, the events derived
//!   from the audit log, and the dispatcher that sends them from an outbox
//!   in the store (started by [`serve`], like the scheduler).
//! - `state`: [`AppState`], what every handler can reach, and the clock.
//! - `unknown_keys`: a key this node does not know yet is looked up in the
//!   store (coalesced, briefly remembered when unknown) before a 401.
//! - `error`: `ApiError`, the one JSON error envelope; internal causes are
//!   logged once there.
//! - `ids`: random ids for what the service creates.
//! - `config`: the settings, read there and nowhere else.
//! - `https`: one connection over TLS (handshake deadline, HTTP/2 or
//!   HTTP/1.1 by ALPN, HTTP/2's idle timeout).
//! - `tls`: the certificate of `--tls-cert`, reloaded when its files
//!   change, and the listener's rustls settings.
//! - `bootstrap`: the first start of an empty database.

// Requests, documents and contexts reach this crate's arithmetic: it must
// neither panic nor wrap unnoticed. Where an invariant keeps an operation in
// range, the function says which (`#[expect(..., reason = ...)]`).
#![cfg_attr(not(test), deny(clippy::panic, clippy::arithmetic_side_effects))]
#![recursion_limit = "256"]

mod auth;
mod bootstrap;
mod client_address;
mod config;
mod document;
mod error;
mod experiments;
mod extract;
mod flag_ops;
mod governance;
mod https;
mod ids;
mod live;
mod metrics;
mod openapi;
mod people;
mod routes;
mod scope;
mod scope_of_writes;
mod state;
mod stream_token;
mod tls;
mod ui;
mod unknown_keys;
mod usage;
mod webhooks;
mod wire;
mod work;
mod write;

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

pub use bootstrap::Bootstrapped;
pub use config::{ConfigError, LogFormat, ServeConfig};
pub use routes::{Access, ROUTES, Route, openapi_json as openapi_document};
pub use state::{AppState, Clock, FileClock, ManualClock, SharedState, SystemClock};
pub use tls::{CertificateFiles, TlsError};

use crate::error::ApiError;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is unusable.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The `--admin-email` user could not be created.
    #[error("cannot create the FEATURE_FLAGS_ADMIN_EMAIL user: {0}")]
    AdminUser(String),
    /// The store could not be opened or loaded.
    #[error("could not open the database: {0}")]
    Store(#[from] ff_store::StoreError),
}

/// Checks the settings, opens the store, seeds it on first start and loads
/// the live configuration. Returns the state and, on first start, the admin
/// secret to show once.
pub async fn prepare(
    config: ServeConfig,
    clock: Arc<dyn Clock>,
) -> Result<(AppState, Option<bootstrap::Bootstrapped>), StartError> {
    let admin_secret = config.admin_secret()?;
    let database_url = config.database_url()?;
    // Before the database: a bad certificate must not leave one behind.
    let tls = config.tls_certificate()?;
    let clock: Arc<dyn Clock> = match &config.clock_file {
        Some(path) => Arc::new(FileClock(path.clone())),
        None => clock,
    };
    let store: Arc<dyn FlagStore> = ff_store::connect(&database_url).await?;
    let seeded = bootstrap::bootstrap(store.as_ref(), admin_secret.as_deref(), clock.now()).await?;
    let live = live::Live::load(store.clone()).await?;
    if let (Some(secret), None) = (&admin_secret, &seeded) {
        let digest = auth::secret_digest(secret);
        if !live.current().keys_by_hash.contains_key(&digest) {
            // The token only seeds an empty database: changing it later
            // creates nothing, and an operator should hear so.
            tracing::warn!(
                "FEATURE_FLAGS_ADMIN_TOKEN is not a key of this database (it only seeds an \
                 empty one); use a key created with POST /api/v1/api-keys"
            );
        }
    }
    let state = AppState::new(store, live, config, clock);
    if let Some(tls) = tls {
        let _ = state.tls.set(Arc::new(tls));
    }
    let key = state
        .store
        .secret(
            experiments::privacy::KEY_NAME,
            experiments::privacy::new_key(),
        )
        .await?;
    let _ = state.subject_key.set(key);
    let stream_secret = state
        .store
        .secret(stream_token::SECRET_NAME, stream_token::new_secret())
        .await?;
    let _ = state.stream_token_secret.set(stream_secret);
    reload_experiments_and_log_switches(&state).await;
    if let (Some(email), Some(password)) = (&state.config.admin_email, &state.config.admin_password)
    {
        routes::users::seed_admin(&state, email, password)
            .await
            .map_err(|e| StartError::AdminUser(e.to_string()))?;
    }
    Ok((state, seeded))
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
        // By name: `*` never covers `Authorization` (Fetch standard), and
        // browsers warn about every bearer request that relies on it.
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            axum::http::header::IF_MATCH,
            axum::http::header::IF_NONE_MATCH,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static("x-change-reason"),
            HeaderName::from_static("x-confirm"),
            HeaderName::from_static("x-override-change-window"),
            HeaderName::from_static("x-deployment-id"),
            request_id.clone(),
        ])
        .expose_headers([
            axum::http::header::ETAG,
            axum::http::header::RETRY_AFTER,
            request_id.clone(),
        ]);
    let body_limit = DefaultBodyLimit::max(state.config.max_body_bytes);
    let measured = axum::middleware::from_fn_with_state(state.clone(), measure_request);
    let router = if state.config.ui && state.config.serves_tls() {
        routes::router()
            .merge(ui::router().layer(axum::middleware::map_response(strict_transport_security)))
    } else if state.config.ui {
        routes::router().merge(ui::router())
    } else {
        routes::router()
    };
    let router = router
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
        // Innermost, where the body is axum's (as the middleware takes it).
        .map_request(|request: Request<Incoming>| request.map(axum::body::Body::new))
        .layer(measured)
        .service(router)
}

/// `Strict-Transport-Security` on the admin interface's pages when the
/// service speaks TLS itself: a browser that reached it over https once
/// never tries plain http for a year (a year: what browsers' preload lists
/// ask for). Not on the API: programs do not keep HSTS state.
async fn strict_transport_security(
    mut response: axum::response::Response,
) -> axum::response::Response {
    response.headers_mut().insert(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    response
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

/// The route table's templates, to label requests by (built once).
fn route_templates() -> &'static metrics::prometheus::RouteTemplates {
    static TEMPLATES: std::sync::OnceLock<metrics::prometheus::RouteTemplates> =
        std::sync::OnceLock::new();
    TEMPLATES.get_or_init(|| {
        metrics::prometheus::RouteTemplates::new(ROUTES.iter().map(|r| (r.method, r.path)))
    })
}

/// Counts a request and its latency (until the response's headers) by
/// route template, method and status, for `GET /metrics`.
async fn measure_request(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = route_templates()
        .template(method.as_str(), request.uri().path())
        .unwrap_or("unmatched");
    let response = next.run(request).await;
    let labels = metrics::prometheus::RouteLabels {
        route: route.to_owned(),
        method: method.as_str().to_owned(),
    };
    state
        .metrics
        .request_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .get_or_create(&metrics::prometheus::RequestLabels {
            route: labels.route,
            method: labels.method,
            status: response.status().as_u16(),
        })
        .inc();
    response
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
    let webhooks = tokio::spawn(webhooks::dispatch::run(
        state.clone(),
        Duration::from_millis(state.config.webhook_interval_ms.max(10)),
    ));
    let stopping = state.stopping.clone();
    let shutdown = async move {
        shutdown.await;
        // End the streams first: graceful shutdown waits for every open
        // response, and a stream never finishes by itself.
        stopping.send_replace(true);
    };
    let limits = ConnectionLimits::from_config(&state.config);
    let tls = match state.tls.get() {
        Some(certificates) => {
            let config = tls::server_config(certificates.clone()).map_err(std::io::Error::other)?;
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
        }
        None => None,
    };
    let result = serve_connections(listener, app(state.clone()), limits, tls, shutdown).await;
    background.abort();
    follower.abort();
    scheduler.abort();
    webhooks.abort();
    flush_key_usage(&state).await;
    flush_flag_usage(&state).await;
    flush_evaluation_counts(&state).await;
    result
}

async fn background_tasks(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        flush_key_usage(&state).await;
        flush_flag_usage(&state).await;
        flush_evaluation_counts(&state).await;
        // Client keys are limited per device: forget the buckets that have
        // refilled, so that a stream of new addresses does not grow memory.
        state.limiter.retain_recent();
        reload_experiments_and_log_switches(&state).await;
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
        backoff = backoff.saturating_mul(2).min(Duration::from_secs(10));
    }
}

async fn refresh(state: &AppState) {
    if let Err(error) = state.live.refresh().await {
        tracing::warn!(%error, "could not refresh the configuration");
    }
}

/// What bounds the connections of one process.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send a request's headers, and to start the next request on
    /// an idle kept-alive connection.
    pub header_read_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long shutting down waits for requests in flight.
    pub shutdown_timeout: Duration,
}

/// File descriptors kept for the database pool, the SQLite files, logs and
/// whatever else the process opens besides connections.
const RESERVED_FILES: u64 = 256;

impl ConnectionLimits {
    /// The limits the settings ask for. With `--max-connections 0`, the
    /// soft open-file limit is raised to the hard one and the connection
    /// limit keeps [`RESERVED_FILES`] of it free: the process stops
    /// accepting before `accept` fails for want of descriptors.
    pub fn from_config(config: &ServeConfig) -> ConnectionLimits {
        let max_connections = match config.max_connections {
            0 => default_max_connections(),
            set => set,
        };
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
            max_connections: max_connections.max(1),
            shutdown_timeout: Duration::from_secs(config.shutdown_timeout_secs),
        }
    }
}

fn default_max_connections() -> usize {
    let files = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((_, hard)) => rlimit::increase_nofile_limit(hard).unwrap_or(1024),
        Err(_) => 1024,
    };
    let connections = files.saturating_sub(RESERVED_FILES).max(64);
    usize::try_from(connections).unwrap_or(usize::MAX)
}

/// Accepts connections until `shutdown` resolves, then waits (at most
/// `limits.shutdown_timeout`) for the open ones to finish.
///
/// Plain connections are HTTP/1.1 only, rather than `axum::serve`'s
/// HTTP/1-or-2 connections: a connection's task is sized for the largest
/// protocol it might speak, and tens of thousands of idle SSE streams pay
/// for that in memory. Every client here (SDKs, OpenFeature providers,
/// browsers behind a proxy) speaks HTTP/1.1. With `tls`, each connection
/// is served by [`https::Https`] after its handshake, in the protocol ALPN
/// chose (HTTP/2 or HTTP/1.1), under the same limits.
///
/// A connection that sends nothing, sends its headers too slowly, or sits
/// idle between requests longer than the header-read timeout is closed
/// (hyper arms that timer whenever it waits for a request head; an open
/// stream is a response in flight, never waiting for one). Bodies have their
/// own deadline where they are read (`extract::RawBody`).
async fn serve_connections<S, B>(
    listener: TcpListener,
    app: S,
    limits: ConnectionLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: tower::Service<Request<Incoming>, Response = axum::http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes, Error = axum::Error> + Send + Unpin + 'static,
{
    let app = Arc::new(app);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    // TLS connections are watched by their own tasks (an HTTP/2 one also
    // closes itself when idle, which `GracefulShutdown` cannot ask for):
    // they close on this signal, and the semaphore counts them out.
    let (closing, closed) = tokio::sync::watch::channel(false);
    let https = tls.map(|acceptor| Arc::new(https::Https::new(acceptor, limits, closed)));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut full_since_logged: Option<tokio::time::Instant> = None;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = match open.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Say so, at most once a minute: an operator needs to know
                // why new clients wait, a flood must not flood the log too.
                if full_since_logged.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: new connections wait until one closes \
                         (raise --max-connections or the open-file limit)"
                    );
                    full_since_logged = Some(tokio::time::Instant::now());
                }
                tokio::select! {
                    permit = open.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
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
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        if let Some(https) = &https {
            let (https, app) = (https.clone(), app.clone());
            tokio::spawn(async move {
                https.serve_connection(stream, peer, app).await;
                drop(permit);
            });
            continue;
        }
        let service = SharedApp(app.clone(), peer);
        let connection = http1.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is not the server's error.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    closing.send_replace(true);
    let every_connection_closed = async {
        connections.shutdown().await;
        // Every permit back: no TLS connection is left either.
        let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
        let _ = open.acquire_many(all).await;
    };
    if tokio::time::timeout(limits.shutdown_timeout, every_connection_closed)
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_secs = limits.shutdown_timeout.as_secs(),
            "requests still in flight at the shutdown timeout; closing their connections"
        );
    }
    Ok(())
}

/// The application as every connection holds it: one reference to the
/// middleware stack. Each request clones the stack (tower services are
/// called by `&mut`), as hyper's own adapter would, but an idle connection
/// keeps only this pointer rather than a copy of the stack.
/// The peer's address is added to each request (`ConnectInfo`), for the
/// per-address limit on failed sign-ins and the per-device limits
/// (`client_address`).
pub(crate) struct SharedApp<S>(Arc<S>, std::net::SocketAddr);

impl<S, B> hyper::service::Service<Request<Incoming>> for SharedApp<S>
where
    S: tower::Service<Request<Incoming>, Response = axum::http::Response<B>, Error = Infallible>
        + Clone,
{
    type Response = axum::http::Response<B>;
    type Error = Infallible;
    type Future = tower::util::Oneshot<S, Request<Incoming>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(self.1));
        tower::ServiceExt::oneshot(S::clone(&self.0), request)
    }
}

/// Adds the evaluations counted since the last flush to the store's
/// buckets (putting them back if the store fails), and deletes buckets
/// older than their retention every ten minutes.
pub async fn flush_evaluation_counts(state: &AppState) {
    let counts = state.evaluation_counts.take();
    let logged = state.evaluation_log.take();
    let keep_since = state.clock.now().saturating_sub(time::Duration::days(1));
    if let Err(error) = state.store.append_evaluation_log(&logged, keep_since).await {
        tracing::warn!(%error, "could not store logged evaluations (dropped: a log is a sample)");
    }
    let exposures = state.exposures.take();
    if let Err(error) = state.store.record_exposures(&exposures).await {
        tracing::warn!(%error, "could not store exposures; keeping them for the next flush");
        state.exposures.restore(exposures);
    }
    match state.store.add_evaluation_counts(&counts).await {
        Ok(()) => state.metrics.add_evaluations(&counts),
        Err(error) => {
            tracing::warn!(%error, "could not store evaluation counts; keeping them for the next flush");
            state.evaluation_counts.restore(&counts);
        }
    }
    let now = state.clock.now();
    let last = state
        .counts_pruned_at
        .load(std::sync::atomic::Ordering::Relaxed);
    if now.unix_timestamp().saturating_sub(last) < 600 {
        return;
    }
    state
        .counts_pruned_at
        .store(now.unix_timestamp(), std::sync::atomic::Ordering::Relaxed);
    for (granularity, kept) in state.config.count_retention() {
        if let Err(error) = state
            .store
            .prune_evaluation_counts(granularity, now.saturating_sub(kept))
            .await
        {
            tracing::warn!(%error, "could not delete old evaluation counts");
        }
    }
}

/// Reloads the index of running experiments and the evaluation log
/// switches (after a change here, and every tick for changes made on other
/// nodes).
pub async fn reload_experiments_and_log_switches(state: &AppState) {
    match state.store.log_switches().await {
        Ok(switches) => state.evaluation_log.set_switches(switches),
        Err(error) => tracing::warn!(%error, "could not load the evaluation log switches"),
    }
    match state.store.experiments().await {
        Ok(stored) => state
            .exposures
            .index
            .store(Arc::new(experiments::exposures::RunningIndex::of(&stored))),
        Err(error) => tracing::warn!(%error, "could not load the experiments"),
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
