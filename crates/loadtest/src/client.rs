//! A lean HTTP/1.1 client over hyper's connection API: one task per
//! connection, no pool, an optional source address (so that many connections
//! can use several loopback addresses), and loopback targets only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::time::Instant;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

use crate::sse;

/// A server to load: its address and `Host` header.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub addr: SocketAddr,
    host: String,
}

impl Target {
    /// Parses `http://127.0.0.1:8001` (or `localhost`). Only loopback
    /// addresses are accepted: these tests never leave the machine.
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("{url}: only http:// URLs are supported"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let addr: SocketAddr = match authority.strip_prefix("localhost:") {
            Some(port) => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port.parse()?),
            None => authority
                .parse()
                .with_context(|| format!("{url}: expected http://<loopback ip>:<port>"))?,
        };
        if !addr.ip().is_loopback() {
            bail!("{url}: only loopback addresses (127.0.0.0/8, ::1) may be load tested");
        }
        Ok(Target {
            url: url.trim_end_matches('/').to_owned(),
            addr,
            host: authority.to_owned(),
        })
    }
}

/// Parses a list of loopback source addresses.
pub fn loopback_sources(sources: &[IpAddr]) -> anyhow::Result<Vec<IpAddr>> {
    for source in sources {
        if !source.is_loopback() {
            bail!("source address {source} is not a loopback address");
        }
    }
    Ok(sources.to_vec())
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

pub type Sender = http1::SendRequest<Full<Bytes>>;
pub type Connection = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// Opens a TCP connection (from `source` when given) and an HTTP/1.1
/// connection over it. The caller must poll the [`Connection`].
pub async fn handshake(
    target: &Target,
    source: Option<IpAddr>,
) -> anyhow::Result<(Sender, Connection)> {
    let socket = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(source) = source {
        socket.set_reuseaddr(true)?;
        socket
            .bind(SocketAddr::new(source, 0))
            .with_context(|| format!("binding to {source}"))?;
    }
    socket.set_nodelay(true)?;
    // Close with a reset: tens of thousands of connections closed at once
    // would otherwise hold their ports in TIME_WAIT for a minute, and the
    // next run would find none left.
    socket.set_zero_linger()?;
    let stream = socket
        .connect(target.addr)
        .await
        .with_context(|| format!("connecting to {}", target.addr))?;
    Ok(http1::handshake(TokioIo::new(stream)).await?)
}

/// Builds a request.
pub fn request(
    target: &Target,
    method: Method,
    path: &str,
    auth: Option<Auth<'_>>,
    body: Option<&Value>,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, &target.host);
    builder = match auth {
        Some(Auth::Bearer(token)) => builder.header(AUTHORIZATION, format!("Bearer {token}")),
        Some(Auth::ApiKey(key)) => builder.header("x-api-key", key),
        None => builder,
    };
    let body = match body {
        Some(body) => {
            builder = builder.header(CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(body)?)
        }
        None => Bytes::new(),
    };
    Ok(builder.body(Full::new(body))?)
}

/// A keep-alive connection for ordinary requests (setup, writes).
pub struct Client {
    target: Target,
    sender: Sender,
}

/// An answer, with when its head and its whole body arrived.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub complete_at: Instant,
}

impl Client {
    pub async fn connect(target: &Target) -> anyhow::Result<Client> {
        let (sender, connection) = handshake(target, None).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Client {
            target: target.clone(),
            sender,
        })
    }

    /// Sends a request and reads the whole answer (JSON, or `null`).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        auth: Option<Auth<'_>>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let request = request(&self.target, method, path, auth, body)?;
        self.send_prepared(request).await
    }

    /// The server this client talks to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends a request and reads the answer as it came: status, headers
    /// and the body's bytes (still compressed if it was).
    pub async fn send_raw(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        if self.sender.is_closed() || self.sender.ready().await.is_err() {
            *self = Client::connect(&self.target).await?;
        }
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, headers, bytes))
    }

    /// Sends a request built with [`request`] and reads the whole answer.
    pub async fn send_prepared(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<Answer> {
        if self.sender.is_closed() || self.sender.ready().await.is_err() {
            *self = Client::connect(&self.target).await?;
        }
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let complete_at = Instant::now();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            body,
            complete_at,
        })
    }
}

/// What a stream subscriber saw.
#[derive(Debug, Default)]
pub struct StreamOutcome {
    /// The stream was open (status 200) and the first event (when
    /// `wait_first_event`) arrived.
    pub opened: bool,
    /// `(revision, receipt time)` of every `patch` / `message` event after
    /// the first.
    pub receipts: Vec<(i64, Instant)>,
    /// Why the stream failed or ended before the shutdown, if it did.
    pub error: Option<String>,
}

/// Callbacks of [`subscribe`].
pub trait StreamObserver: Send + Sync {
    /// The stream is open (and its first event arrived, when awaited).
    fn opened(&self);
    /// A change event arrived.
    fn received(&self);
    /// The stream failed or ended before the shutdown.
    fn ended(&self);
}

/// Opens an SSE stream and reads it until `shutdown` turns true, noting when
/// each change event arrives. With `wait_first_event`, the stream counts as
/// open at its first event (the `put` of the rules stream), else at the
/// response head. The connection is driven by this same task.
pub async fn subscribe(
    target: &Target,
    source: Option<IpAddr>,
    path: &str,
    key: &str,
    wait_first_event: bool,
    observer: &dyn StreamObserver,
    mut shutdown: watch::Receiver<bool>,
) -> StreamOutcome {
    let mut outcome = StreamOutcome::default();
    if let Err(error) = read_stream(
        target,
        source,
        path,
        key,
        wait_first_event,
        observer,
        &mut shutdown,
        &mut outcome,
    )
    .await
    {
        outcome.error = Some(format!("{error:#}"));
        observer.ended();
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn read_stream(
    target: &Target,
    source: Option<IpAddr>,
    path: &str,
    key: &str,
    wait_first_event: bool,
    observer: &dyn StreamObserver,
    shutdown: &mut watch::Receiver<bool>,
    outcome: &mut StreamOutcome,
) -> anyhow::Result<()> {
    let (mut sender, connection) = handshake(target, source).await?;
    let mut connection = pin!(connection);
    let mut request = request(target, Method::GET, path, Some(Auth::ApiKey(key)), None)?;
    request
        .headers_mut()
        .insert(ACCEPT, "text/event-stream".parse()?);
    let response = tokio::select! {
        response = sender.send_request(request) => response?,
        result = &mut connection => bail!("connection closed before the answer: {result:?}"),
        _ = shutdown.changed() => return Ok(()),
    };
    if response.status() != StatusCode::OK {
        let status = response.status();
        let body = tokio::select! {
            body = response.into_body().collect() => body.map(|b| b.to_bytes()).unwrap_or_default(),
            _ = &mut connection => Bytes::new(),
        };
        bail!("{status}: {}", String::from_utf8_lossy(&body));
    }
    if !wait_first_event {
        outcome.opened = true;
        observer.opened();
    }
    let mut body = response.into_body();
    let mut parser = sse::Parser::default();
    loop {
        tokio::select! {
            biased;
            frame = body.frame() => {
                let frame = match frame {
                    Some(frame) => frame?,
                    None => bail!("the server ended the stream"),
                };
                let Ok(data) = frame.into_data() else { continue };
                let now = Instant::now();
                parser.feed(&data, |event| {
                    if !outcome.opened {
                        outcome.opened = true;
                        observer.opened();
                        return;
                    }
                    if matches!(event.kind, sse::Kind::Patch | sse::Kind::Message)
                        && let Some(revision) = event.revision()
                    {
                        outcome.receipts.push((revision, now));
                        observer.received();
                    }
                });
            }
            result = &mut connection => bail!("connection closed: {result:?}"),
            _ = shutdown.changed() => return Ok(()),
        }
    }
}
