//! One connection over TLS, from the handshake to its end: the protocol
//! ALPN chose (HTTP/2, or HTTP/1.1 as on plain connections), with the same
//! bounds as plain connections.
//!
//! - The handshake must be over within the header-read timeout: a client
//!   that opens a socket and never says hello is closed, as a plain one
//!   that never sends a request is.
//! - HTTP/1.1 keeps hyper's header-read timeout (slow headers, idle
//!   kept-alive connections).
//! - HTTP/2 has no such timer in hyper, so the connection counts its open
//!   requests (a stream counts until its response body is dropped): when
//!   none has been open for the header-read timeout, the connection is
//!   closed (GOAWAY, then dropped if the client does not finish within the
//!   same time again). An open SSE stream is a request in flight, so it is
//!   never idle.
//! - Shutting down closes each connection gracefully once `closing` says so.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use axum::http::{Request, Response, header};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::{ConnectionLimits, SharedApp};

/// What every TLS connection shares: the acceptor, the protocol settings
/// and the signal to close.
pub(crate) struct Https {
    pub acceptor: TlsAcceptor,
    pub http1: hyper::server::conn::http1::Builder,
    pub http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    pub limits: ConnectionLimits,
    /// Becomes `true` when the service shuts down.
    pub closing: watch::Receiver<bool>,
}

impl Https {
    /// The settings for `acceptor` under `limits`.
    pub fn new(
        acceptor: TlsAcceptor,
        limits: ConnectionLimits,
        closing: watch::Receiver<bool>,
    ) -> Https {
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http2.timer(TokioTimer::new());
        Https {
            acceptor,
            http1,
            http2,
            limits,
            closing,
        }
    }

    /// Serves one accepted connection until it ends, the client goes
    /// quiet, or the service shuts down.
    pub async fn serve_connection<S, B>(
        &self,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        app: Arc<S>,
    ) where
        S: tower::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: HttpBody<Data = Bytes, Error = axum::Error> + Send + Unpin + 'static,
    {
        let mut closing = self.closing.clone();
        let handshake = tokio::time::timeout(
            self.limits.header_read_timeout,
            self.acceptor.accept(stream),
        );
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%error, %peer, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "no TLS handshake within the header-read timeout");
                    return;
                }
            },
            _ = closing.wait_for(|closing| *closing) => return,
        };
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
        let io = TokioIo::new(stream);
        let service = SharedApp(app, peer);
        if h2 {
            let activity = Arc::new(Activity::new());
            let service = CountedApp {
                app: service,
                activity: activity.clone(),
            };
            let connection = self.http2.serve_connection(io, service);
            let timeout = self.limits.header_read_timeout;
            let mut connection = std::pin::pin!(connection);
            let mut closed = false;
            loop {
                tokio::select! {
                    _ = connection.as_mut() => return,
                    () = activity.idle_for(timeout) => {
                        if closed {
                            // GOAWAY was sent a timeout ago, and the client
                            // neither finished nor started anything.
                            return;
                        }
                        connection.as_mut().graceful_shutdown();
                        closed = true;
                        activity.touch();
                    }
                    _ = closing.wait_for(|closing| *closing), if !closed => {
                        connection.as_mut().graceful_shutdown();
                        closed = true;
                    }
                }
            }
        } else {
            let connection = self.http1.serve_connection(io, service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = closing.wait_for(|closing| *closing) => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// An HTTP/2 connection's requests in flight, and since when it has had
/// none.
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds after `started` when the last request ended.
    quiet_since: AtomicU64,
    started: Instant,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            quiet_since: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records "now" as the moment the connection last did something.
    fn touch(&self) {
        self.quiet_since.store(self.now_ms(), Ordering::Relaxed);
    }

    /// A request begins; it counts until the guard is dropped.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Resolves once no request has been in flight for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                tokio::time::sleep(timeout).await;
                continue;
            }
            let quiet = Duration::from_millis(
                self.now_ms()
                    .saturating_sub(self.quiet_since.load(Ordering::Relaxed)),
            );
            match timeout.checked_sub(quiet) {
                Some(left) if !left.is_zero() => tokio::time::sleep(left).await,
                _ => return,
            }
        }
    }
}

/// A request in flight on an HTTP/2 connection.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The application on an HTTP/2 connection: counts each request until its
/// response body is done, and gives requests a `Host` header from their
/// `:authority` (HTTP/2 has no `Host`; the sign-in form's origin check and
/// the interface's links read it).
struct CountedApp<S> {
    app: SharedApp<S>,
    activity: Arc<Activity>,
}

type Answer<B> = Pin<Box<dyn Future<Output = Result<Response<CountedBody<B>>, Infallible>> + Send>>;

impl<S, B> hyper::service::Service<Request<Incoming>> for CountedApp<S>
where
    S: tower::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: 'static,
{
    type Response = Response<CountedBody<B>>;
    type Error = Infallible;
    type Future = Answer<B>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        if !request.headers().contains_key(header::HOST)
            && let Some(authority) = request.uri().authority()
            && let Ok(host) = header::HeaderValue::from_str(authority.as_str())
        {
            request.headers_mut().insert(header::HOST, host);
        }
        let in_flight = self.activity.begin();
        let answer = self.app.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| CountedBody {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A response body that keeps its request counted as in flight.
pub(crate) struct CountedBody<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B> HttpBody for CountedBody<B>
where
    B: HttpBody + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
