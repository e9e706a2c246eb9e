//! Following the service's rules stream: connect, apply events, publish at
//! each batch's end, and reconnect with backoff — resuming with
//! `Last-Event-ID`, so that nothing committed meanwhile is missed.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use eventsource_stream::Eventsource as _;
use futures::StreamExt as _;
use tokio::sync::watch;

use crate::client::{ClientBuilder, SdkError, Status};
use crate::rules::{Published, Rules};

/// What the follower needs to reach the service.
pub struct Connection {
    http: reqwest::Client,
    stream_url: String,
    api_key: String,
    initial_backoff: Duration,
    max_backoff: Duration,
    idle_timeout: Duration,
}

impl Connection {
    pub fn new(settings: &ClientBuilder) -> Result<Connection, SdkError> {
        let base = settings.api_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(SdkError::Config(format!(
                "the service URL must start with http:// or https://, not \"{base}\""
            )));
        }
        if settings.api_key.is_empty() {
            return Err(SdkError::Config(
                "an API key (a server key) is required".into(),
            ));
        }
        // reqwest is built without a default TLS provider: choose ring once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("ff-sdk-rust/", env!("CARGO_PKG_VERSION")));
        if !settings.ca_certificates_pem.is_empty() {
            let roots = reqwest::Certificate::from_pem_bundle(&settings.ca_certificates_pem)
                .map_err(|e| SdkError::Config(format!("the CA certificates are not PEM: {e}")))?;
            if roots.is_empty() {
                return Err(SdkError::Config(
                    "the CA certificates hold no PEM certificate".into(),
                ));
            }
            http = http.tls_certs_merge(roots);
        }
        let http = http
            .build()
            .map_err(|e| SdkError::Config(format!("cannot make an HTTP client: {e}")))?;
        Ok(Connection {
            http,
            stream_url: format!("{base}/api/v1/stream"),
            api_key: settings.api_key.clone(),
            initial_backoff: settings.initial_backoff,
            max_backoff: settings.max_backoff,
            idle_timeout: settings.idle_timeout,
        })
    }
}

impl Connection {
    /// The HTTP client (shared by clones: one connection pool).
    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }
}

/// Why one stream ended.
enum Ended {
    /// After events were received: reconnect at once.
    AfterEvents(String),
    /// Before any event: wait before the next attempt.
    Failed(String),
    /// An event could not be applied: start afresh (a new `put`), keeping
    /// the rules in use meanwhile.
    Malformed(String),
}

/// Follows the stream until the client is dropped (the task is aborted).
pub async fn follow(
    connection: Connection,
    published: Arc<ArcSwapOption<Published>>,
    status: watch::Sender<Status>,
) {
    let mut rules = Rules::default();
    let mut backoff = connection.initial_backoff;
    let mut resume = true;
    loop {
        let ended = follow_once(&connection, &mut rules, resume, &published, &status).await;
        resume = !matches!(ended, Ended::Malformed(_));
        let (reason, wait) = match ended {
            Ended::AfterEvents(reason) => {
                backoff = connection.initial_backoff;
                (reason, Duration::ZERO)
            }
            Ended::Failed(reason) | Ended::Malformed(reason) => {
                let wait = jittered(backoff);
                backoff = (backoff * 2).min(connection.max_backoff);
                (reason, wait)
            }
        };
        tracing::warn!(%reason, retry_in_ms = wait.as_millis() as u64, "feature flag stream interrupted");
        status.send_replace(Status::Reconnecting(reason));
        tokio::time::sleep(wait).await;
    }
}

/// One connection: until it ends, for whatever reason.
async fn follow_once(
    connection: &Connection,
    rules: &mut Rules,
    resume: bool,
    published: &ArcSwapOption<Published>,
    status: &watch::Sender<Status>,
) -> Ended {
    let mut request = connection
        .http
        .get(&connection.stream_url)
        .header("x-api-key", &connection.api_key)
        .header("accept", "text/event-stream");
    // Resume where the rules in use stand: the service replays what was
    // missed (or sends a fresh `put` when that is too old).
    if let Some(current) = published.load().as_ref().filter(|_| resume) {
        request = request.header("last-event-id", current.revision.to_string());
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Ended::Failed(format!("cannot reach the service: {error}")),
    };
    if !response.status().is_success() {
        let code = response.status();
        let body = response.text().await.unwrap_or_default();
        // The service's error envelope when it is one (a proxy may answer
        // with anything else, shown as it came).
        let detail = match serde_json::from_str::<ff_api_types::ErrorBody>(&body) {
            Ok(envelope) => format!("{} ({})", envelope.error.message, envelope.error.code),
            Err(_) => body.trim().to_owned(),
        };
        return Ended::Failed(format!("the service answered {code}: {detail}"));
    }
    let mut events = response.bytes_stream().eventsource();
    let mut received_any = false;
    loop {
        let next = match tokio::time::timeout(connection.idle_timeout, events.next()).await {
            Ok(next) => next,
            Err(_) => return ended(received_any, "the stream was silent too long".into()),
        };
        let event = match next {
            Some(Ok(event)) => event,
            Some(Err(error)) => return ended(received_any, format!("the stream broke: {error}")),
            None => return ended(received_any, "the service ended the stream".into()),
        };
        received_any = true;
        if let Err(error) = rules.apply(&event.event, &event.data) {
            return Ended::Malformed(error.to_string());
        }
        // The last event of a batch carries its revision: publish then.
        if let Ok(revision) = event.id.parse::<i64>() {
            published.store(Some(rules.publish(revision)));
            status.send_replace(Status::Connected);
        }
    }
}

fn ended(received_any: bool, reason: String) -> Ended {
    if received_any {
        Ended::AfterEvents(reason)
    } else {
        Ended::Failed(reason)
    }
}

/// `wait` give or take a quarter, so that many clients of a restarted
/// service do not reconnect in step.
fn jittered(wait: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
    wait.mul_f64(factor)
}
