//! `AppState`: what every handler can reach. Cheap to clone (all `Arc`s).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use ff_store::FlagStore;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use time::OffsetDateTime;

use crate::config::ServeConfig;
use crate::live::Live;

/// The time source. Production uses the system clock; tests and the
/// scheduler's tests use a clock they control.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until it is set: for tests of schedules.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: OffsetDateTime) -> ManualClock {
        ManualClock(Mutex::new(now))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: OffsetDateTime) {
        if let Ok(mut time) = self.0.lock() {
            *time = now;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|_| OffsetDateTime::now_utc())
    }
}

/// A clock read from a file holding an RFC 3339 time (`--clock-file`), so
/// that a test can move the time of several server processes at once. Falls
/// back to the system clock when the file is missing or unreadable.
#[derive(Debug)]
pub struct FileClock(pub std::path::PathBuf);

impl Clock for FileClock {
    fn now(&self) -> OffsetDateTime {
        std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|text| {
                OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(OffsetDateTime::now_utc)
    }
}

/// Shared state of the service: one `Arc`, so that handing it to a handler
/// (every request) is one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct SharedState {
    /// Where everything is kept.
    pub store: Arc<dyn FlagStore>,
    /// The in-memory configuration and compiled snapshot.
    pub live: Arc<Live>,
    /// Settings.
    pub config: Arc<ServeConfig>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Per-key request limits.
    pub limiter: Arc<DefaultKeyedRateLimiter<String>>,
    /// When each key was last used, waiting to be written in a batch.
    pub key_usage: Arc<Mutex<HashMap<String, OffsetDateTime>>>,
    /// Serialises this node's writes, so that each write is validated against
    /// the configuration it will be applied to.
    pub writes: Arc<tokio::sync::Mutex<()>>,
    /// Becomes `true` when the service starts shutting down, so that
    /// long-lived streams end (clients resume elsewhere with
    /// `Last-Event-ID`) instead of holding the shutdown open.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// When flags were last evaluated, waiting to be written in a batch.
    pub flag_usage: Arc<crate::usage::FlagUsage>,
    /// Keys not (yet) known here: consulted in the store, coalesced.
    pub unknown_keys: crate::unknown_keys::UnknownKeys,
    /// Failed sign-ins per account and per address.
    pub sign_in_throttle: crate::people::throttle::SignInThrottle,
    /// Evaluations counted since the last flush.
    pub evaluation_counts: crate::metrics::evaluations::EvaluationCounter,
    /// When old evaluation counts were last deleted (Unix seconds).
    pub counts_pruned_at: std::sync::atomic::AtomicI64,
    /// What `GET /metrics` exports.
    pub metrics: crate::metrics::prometheus::ServiceMetrics,
    /// Running experiments and the exposures noted since the last flush.
    pub exposures: crate::experiments::exposures::Exposures,
    /// Evaluation logs switched on, and what they logged since the flush.
    pub evaluation_log: crate::metrics::evaluation_log::EvaluationLog,
    /// The key user ids are hashed with (set once at start).
    pub subject_key: std::sync::OnceLock<String>,
    /// The secret stream credentials are signed with (set once at start).
    pub stream_token_secret: std::sync::OnceLock<String>,
    /// The dashboard's evaluations per flag over the last day, as last read.
    pub day_usage: crate::metrics::day_usage::DayUsageCache,
    /// The TLS certificate, when the service speaks TLS itself (set once
    /// at start, by `prepare`).
    pub tls: std::sync::OnceLock<Arc<crate::tls::CertificateFiles>>,
    /// What sends webhook deliveries (the HTTP client, this node's lease
    /// name).
    pub webhooks: crate::webhooks::sender::Sender,
}

impl AppState {
    /// State over a store whose configuration has been loaded into `live`.
    pub fn new(
        store: Arc<dyn FlagStore>,
        live: Live,
        config: ServeConfig,
        clock: Arc<dyn Clock>,
    ) -> AppState {
        let rate = NonZeroU32::new(config.rate_limit.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_burst.max(config.rate_limit).max(1))
            .unwrap_or(NonZeroU32::MIN);
        let flag_usage = Arc::new(crate::usage::FlagUsage::default());
        let config_max_flags = config.prometheus_max_flags;
        let webhooks = crate::webhooks::sender::Sender::new(&config);
        flag_usage.track(&live.current());
        AppState(Arc::new(SharedState {
            store,
            live: Arc::new(live),
            config: Arc::new(config),
            clock,
            limiter: Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
            key_usage: Arc::new(Mutex::new(HashMap::new())),
            writes: Arc::new(tokio::sync::Mutex::new(())),
            stopping: tokio::sync::watch::Sender::new(false),
            flag_usage,
            unknown_keys: crate::unknown_keys::UnknownKeys::default(),
            sign_in_throttle: crate::people::throttle::SignInThrottle::default(),
            evaluation_counts: crate::metrics::evaluations::EvaluationCounter::default(),
            counts_pruned_at: std::sync::atomic::AtomicI64::new(0),
            metrics: crate::metrics::prometheus::ServiceMetrics::new(config_max_flags),
            exposures: crate::experiments::exposures::Exposures::default(),
            evaluation_log: crate::metrics::evaluation_log::EvaluationLog::default(),
            subject_key: std::sync::OnceLock::new(),
            stream_token_secret: std::sync::OnceLock::new(),
            day_usage: crate::metrics::day_usage::DayUsageCache::default(),
            tls: std::sync::OnceLock::new(),
            webhooks,
        }))
    }

    /// The key user ids are hashed with (made at start; a random one if the
    /// start did not set it, which only tests that skip `prepare` see).
    pub fn subject_key(&self) -> &str {
        self.subject_key
            .get_or_init(crate::experiments::privacy::new_key)
    }

    /// The secret stream credentials are signed with (as `subject_key`).
    pub fn stream_token_secret(&self) -> &str {
        self.stream_token_secret
            .get_or_init(crate::stream_token::new_secret)
    }
}
