//! The client applications hold: evaluations that never fail and never wait.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use ff_engine::{Context, ErrorCode, Reason};
use serde_json::Value;
use tokio::sync::watch;

use crate::follow::{self, Connection};
use crate::metrics::Reporter;
use crate::offline::OfflineValues;
use crate::rules::Published;
use ff_api_types::MetricsAccepted;

/// Why a client could not be made. Evaluations themselves never fail.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// A setting is missing or wrong.
    #[error("{0}")]
    Config(String),
    /// The offline file cannot be used.
    #[error("offline file {path}: {detail}")]
    OfflineFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// How a client is connected (see [`FlagClient::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// No rules yet: evaluations answer the caller's default.
    Connecting,
    /// Following the service's stream.
    Connected,
    /// The stream is down; evaluations use the last rules received (if
    /// any) while it reconnects with backoff. Holds the last failure.
    Reconnecting(String),
    /// Serving the values of a snapshot file; never contacts a service.
    Offline,
}

/// One evaluation in full: what [`FlagClient::evaluate`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The value served: the flag's, or the caller's default on an error.
    pub value: Value,
    /// OpenFeature's reason (`ERROR` when the default was served).
    pub reason: Reason,
    /// The variant served, when the value is one of the flag's variants.
    pub variant: Option<String>,
    /// Why the default was served, when it was.
    pub error: Option<ErrorCode>,
    /// The service revision of the rules used (none offline or before any).
    pub revision: Option<i64>,
}

/// Settings of a [`FlagClient`]; made by [`FlagClient::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(crate) api_url: String,
    pub(crate) api_key: String,
    pub(crate) offline_file: Option<PathBuf>,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) metrics_interval: Option<Duration>,
    /// PEM CA certificates trusted besides the system's.
    pub(crate) ca_certificates_pem: Vec<u8>,
}

impl ClientBuilder {
    /// Serves the values of a snapshot file (`feature-flags snapshot`)
    /// instead of contacting the service: for tests and CI.
    pub fn offline_file(mut self, path: impl Into<PathBuf>) -> ClientBuilder {
        self.offline_file = Some(path.into());
        self
    }

    /// The first and the longest wait between reconnection attempts
    /// (default 250 ms and 30 s; each failure doubles the wait).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> ClientBuilder {
        self.initial_backoff = initial.max(Duration::from_millis(10));
        self.max_backoff = max.max(self.initial_backoff);
        self
    }

    /// Trusts the CA certificates in `pem` (PEM text, one or more
    /// `CERTIFICATE` sections) besides the system's: for a service whose
    /// certificate a private CA signed. May be called more than once.
    pub fn ca_certificates_pem(mut self, pem: impl AsRef<[u8]>) -> ClientBuilder {
        self.ca_certificates_pem.extend_from_slice(pem.as_ref());
        self.ca_certificates_pem.push(b'\n');
        self
    }

    /// How long the stream may stay silent before it counts as dead
    /// (default 45 s; the service sends a keep-alive every 15 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.idle_timeout = timeout;
        self
    }

    /// How often local evaluations are reported to the service (default
    /// every 60 s; `None` turns reporting off). Counting never delays a
    /// lookup; see [`FlagClient::flush_metrics`].
    pub fn metrics_interval(mut self, interval: Option<Duration>) -> ClientBuilder {
        self.metrics_interval = interval.map(|i| i.max(Duration::from_millis(100)));
        self
    }

    /// Makes the client. Online, it starts following the service's stream
    /// in the background (on the current tokio runtime) and returns at once;
    /// [`FlagClient::wait_until_ready`] waits for the first rules.
    pub fn build(self) -> Result<FlagClient, SdkError> {
        if let Some(path) = &self.offline_file {
            let values = OfflineValues::read(path)?;
            let (status, _) = watch::channel(Status::Offline);
            return Ok(FlagClient(Arc::new(Inner {
                rules: Arc::new(ArcSwapOption::empty()),
                offline: Some(values),
                status,
                follower: None,
                reporter: None,
                reporting: None,
            })));
        }
        let connection = Connection::new(&self)?;
        let reporter = self.metrics_interval.map(|_| {
            Reporter::new(
                connection.http(),
                self.api_url.trim_end_matches('/'),
                &self.api_key,
            )
        });
        let rules = Arc::new(ArcSwapOption::empty());
        let (status, _) = watch::channel(Status::Connecting);
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            SdkError::Config("FlagClient::build needs a tokio runtime (call it within one)".into())
        })?;
        let follower = runtime.spawn(follow::follow(connection, rules.clone(), status.clone()));
        let reporting = match (&reporter, self.metrics_interval) {
            (Some(reporter), Some(interval)) => Some(runtime.spawn(reporter.clone().run(interval))),
            _ => None,
        };
        Ok(FlagClient(Arc::new(Inner {
            rules,
            offline: None,
            status,
            follower: Some(follower),
            reporter,
            reporting,
        })))
    }
}

/// A feature flag client with local evaluation: it follows the environment's
/// rules over the service's stream (`/api/v1/stream`, with a server key) and
/// evaluates with the same engine as the service, in memory. Cheap to clone;
/// the stream stops when the last clone is dropped.
///
/// Every lookup answers at once and never fails: an unknown flag, a value of
/// another type or a service that cannot be reached gives the caller's
/// default (and, in [`FlagClient::evaluate`], the reason).
#[derive(Debug, Clone)]
pub struct FlagClient(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    rules: Arc<ArcSwapOption<Published>>,
    offline: Option<OfflineValues>,
    status: watch::Sender<Status>,
    follower: Option<tokio::task::JoinHandle<()>>,
    reporter: Option<Reporter>,
    reporting: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(follower) = &self.follower {
            follower.abort();
        }
        if let Some(reporting) = &self.reporting {
            reporting.abort();
        }
        // What was counted since the last report goes out one last time,
        // when there is still a runtime to send it on.
        if let (Some(reporter), Ok(runtime)) =
            (self.reporter.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = reporter.send().await;
            });
        }
    }
}

impl FlagClient {
    /// Settings for a client of the service at `api_url` with a server key.
    pub fn builder(api_url: impl Into<String>, api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            api_url: api_url.into(),
            api_key: api_key.into(),
            offline_file: None,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(45),
            metrics_interval: Some(Duration::from_secs(60)),
            ca_certificates_pem: Vec::new(),
        }
    }

    /// A client from the environment: `FEATURE_FLAGS_OFFLINE_FILE` (a
    /// snapshot file: offline), else `FEATURE_FLAGS_URL` and
    /// `FEATURE_FLAGS_API_KEY`, and `FEATURE_FLAGS_CA_CERT` (a PEM file of
    /// CA certificates to trust besides the system's) if set.
    pub fn from_env() -> Result<FlagClient, SdkError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(path) = var("FEATURE_FLAGS_OFFLINE_FILE") {
            return FlagClient::builder("", "").offline_file(path).build();
        }
        match (var("FEATURE_FLAGS_URL"), var("FEATURE_FLAGS_API_KEY")) {
            (Some(url), Some(key)) => {
                let mut builder = FlagClient::builder(url, key);
                if let Some(path) = var("FEATURE_FLAGS_CA_CERT") {
                    let pem = std::fs::read(&path).map_err(|e| {
                        SdkError::Config(format!(
                            "cannot read FEATURE_FLAGS_CA_CERT file {path}: {e}"
                        ))
                    })?;
                    builder = builder.ca_certificates_pem(pem);
                }
                builder.build()
            }
            _ => Err(SdkError::Config(
                "set FEATURE_FLAGS_URL and FEATURE_FLAGS_API_KEY (or FEATURE_FLAGS_OFFLINE_FILE)"
                    .into(),
            )),
        }
    }

    /// Reports what was evaluated since the last report now (also done
    /// every [`ClientBuilder::metrics_interval`] and when the client is
    /// dropped). Call it before a process exits. On failure the counts are
    /// kept for the next report.
    pub async fn flush_metrics(&self) -> Result<MetricsAccepted, String> {
        match &self.0.reporter {
            Some(reporter) => reporter.send().await,
            None => Err("metrics reporting is off (offline, or metrics_interval(None))".into()),
        }
    }

    /// Records that `user_id` did `event` (with a `value` for numeric
    /// metrics such as revenue), for experiments. Never waits: events are
    /// sent with the metrics (every [`ClientBuilder::metrics_interval`] and
    /// on [`FlagClient::flush_metrics`]). Does nothing offline or with
    /// reporting off.
    pub fn track(&self, event: &str, user_id: &str, value: Option<f64>) {
        if let Some(reporter) = &self.0.reporter {
            reporter.track(ff_api_types::TrackedEventRequest {
                event: event.to_owned(),
                user_id: user_id.to_owned(),
                value,
                timestamp: Some(now_rfc3339()),
            });
        }
    }

    /// Evaluations that could not be kept for reporting (the service was
    /// unreachable for long and too many distinct outcomes piled up).
    pub fn metrics_dropped(&self) -> u64 {
        self.0.reporter.as_ref().map_or(0, |r| r.tally.dropped())
    }

    /// How the client is connected.
    pub fn status(&self) -> Status {
        self.0.status.borrow().clone()
    }

    /// The service revision of the rules in use (none before the first).
    pub fn revision(&self) -> Option<i64> {
        self.0.rules.load().as_ref().map(|rules| rules.revision)
    }

    /// The environment of the rules in use (the key's; none offline or
    /// before the first rules).
    pub fn environment(&self) -> Option<String> {
        self.0
            .rules
            .load()
            .as_ref()
            .map(|rules| rules.environment.clone())
    }

    /// Waits until the first rules arrived (or the client is offline), at
    /// most `timeout`; whether they did.
    pub async fn wait_until_ready(&self, timeout: Duration) -> bool {
        self.wait_for_revision(i64::MIN, timeout).await
    }

    /// Waits until the rules in use are at least at `revision` (a write's
    /// answer names its revision), at most `timeout`; whether they are.
    pub async fn wait_for_revision(&self, revision: i64, timeout: Duration) -> bool {
        let reached = |client: &FlagClient| {
            client.0.offline.is_some() || client.revision().is_some_and(|r| r >= revision)
        };
        let mut changes = self.0.status.subscribe();
        let wait = async {
            while !reached(self) {
                // Rules are published before the status says so; a closed
                // channel means the client is gone.
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        reached(self)
    }

    /// Whether a boolean flag is on for `context`; `false` when it cannot be
    /// told.
    pub fn is_enabled(&self, flag: &str, context: &Context) -> bool {
        self.bool_value(flag, context, false)
    }

    /// A boolean flag's value, or `default`.
    pub fn bool_value(&self, flag: &str, context: &Context, default: bool) -> bool {
        self.typed(flag, context, Value::as_bool).unwrap_or(default)
    }

    /// A string flag's value, or `default`.
    pub fn string_value(&self, flag: &str, context: &Context, default: &str) -> String {
        self.typed(flag, context, |v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| default.to_owned())
    }

    /// A number flag's value, or `default`.
    pub fn number_value(&self, flag: &str, context: &Context, default: f64) -> f64 {
        self.typed(flag, context, Value::as_f64).unwrap_or(default)
    }

    /// A number flag's value as an integer, or `default` (also when the
    /// value has a fraction).
    pub fn int_value(&self, flag: &str, context: &Context, default: i64) -> i64 {
        self.typed(flag, context, Value::as_i64).unwrap_or(default)
    }

    /// A JSON flag's value (any value, in fact), or `default`.
    pub fn json_value(&self, flag: &str, context: &Context, default: Value) -> Value {
        self.typed(flag, context, |v| Some(v.clone()))
            .unwrap_or(default)
    }

    /// The whole evaluation: the value (or `default`, when it cannot be
    /// served or is not of `default`'s JSON type), reason, variant and error.
    pub fn evaluate(&self, flag: &str, context: &Context, default: Value) -> Evaluation {
        self.resolve(flag, context, |found, revision| match found {
            Ok(found) if same_kind(found.value, &default) => Evaluation {
                value: found.value.clone(),
                reason: found.reason,
                variant: found.variant.map(str::to_owned),
                error: None,
                revision,
            },
            Ok(_) => fallback(default, ErrorCode::TypeMismatch, revision),
            Err(error) => fallback(default, error, revision),
        })
    }

    /// The value of `flag` converted by `read`, without copying the value
    /// for the scalar getters; `None` on any error or another type.
    fn typed<T>(
        &self,
        flag: &str,
        context: &Context,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Option<T> {
        self.resolve(flag, context, |found, _| read(found.ok()?.value))
    }

    /// Resolves `flag` from the offline file or the rules in use and hands
    /// `then` what was found (borrowed) and the rules' revision.
    fn resolve<R>(
        &self,
        flag: &str,
        context: &Context,
        then: impl FnOnce(Result<Found<'_>, ErrorCode>, Option<i64>) -> R,
    ) -> R {
        if let Some(offline) = &self.0.offline {
            let found = offline.get(flag).map(|entry| Found {
                value: &entry.value,
                reason: entry.reason,
                variant: entry.variant.as_deref(),
            });
            return then(found.ok_or(ErrorCode::FlagNotFound), None);
        }
        let rules = self.0.rules.load();
        let Some(rules) = rules.as_ref() else {
            return then(Err(ErrorCode::General), None);
        };
        let revision = Some(rules.revision);
        let Some(flags) = rules.flags() else {
            return then(Err(ErrorCode::General), revision);
        };
        let resolution = flags.evaluate(flag, context);
        if let Some(reporter) = &self.0.reporter {
            // The key's environment is the service's to know: "" here.
            reporter.tally.record(0, flag, "", &resolution);
        }
        let found = match (resolution.value, resolution.error_code) {
            (Some(value), None) => Ok(Found {
                value,
                reason: resolution.reason,
                variant: resolution.variant,
            }),
            (_, error) => Err(error.unwrap_or(ErrorCode::General)),
        };
        then(found, revision)
    }
}

/// Now, as RFC 3339 (when a tracked event happened).
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A flag's value as found, borrowed from the rules or the offline file.
struct Found<'a> {
    value: &'a Value,
    reason: Reason,
    variant: Option<&'a str>,
}

/// The caller's default, and why it is served.
fn fallback(default: Value, error: ErrorCode, revision: Option<i64>) -> Evaluation {
    Evaluation {
        value: default,
        reason: Reason::Error,
        variant: None,
        error: Some(error),
        revision,
    }
}

/// Whether a value may stand where `default` does: the same JSON kind
/// (numbers are numbers, whether integer or not).
fn same_kind(value: &Value, default: &Value) -> bool {
    matches!(
        (value, default),
        (Value::Bool(_), Value::Bool(_))
            | (Value::String(_), Value::String(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::Object(_), Value::Object(_))
            | (Value::Array(_), Value::Array(_))
    ) || default.is_null()
}
