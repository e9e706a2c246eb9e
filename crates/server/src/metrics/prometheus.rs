//! Prometheus metrics (`GET /metrics`, OpenMetrics text): HTTP requests and
//! their latency by route template and status, evaluations by flag,
//! environment and reason, open streams, commit and scheduler figures, and
//! gauges read at scrape time (revision, flags, pending change requests).
//!
//! Nothing here runs per evaluation: evaluation counters are advanced from
//! the counts each flush takes (every 10 s), so scraping lags by at most
//! that. Flag label values are capped (`--prometheus-max-flags`): flags
//! beyond the cap are counted under `flag="_other"`, so that a large
//! configuration cannot flood the time-series database.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use ff_store::EvaluationCount;

/// The label of flags beyond the cap.
pub const OTHER_FLAGS: &str = "_other";

/// Labels of an HTTP request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template (`/api/v1/flags/{flag_id}`), or `unmatched`.
    pub route: String,
    /// The method.
    pub method: String,
    /// The status code.
    pub status: u16,
}

/// Labels of a request's latency.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template.
    pub route: String,
    /// The method.
    pub method: String,
}

/// Labels of evaluations.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EvaluationLabels {
    /// The flag, or [`OTHER_FLAGS`] beyond the cap.
    pub flag: String,
    /// The environment.
    pub environment: String,
    /// The OpenFeature reason.
    pub reason: String,
}

/// Every metric the service exports, registered once.
pub struct ServiceMetrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by route and method.
    pub request_seconds: Family<RouteLabels, Histogram>,
    /// Evaluations (the service's and SDK-reported).
    pub evaluations: Family<EvaluationLabels, Counter>,
    /// Open SSE streams (rules and OFREP).
    pub open_streams: Gauge,
    /// Commits of this node and how long they took.
    pub commit_seconds: Histogram,
    /// Scheduler runs and failed runs.
    pub scheduler_runs: Counter,
    /// Scheduler runs that failed.
    pub scheduler_failures: Counter,
    /// Revision served (set at scrape time).
    pub revision: Gauge,
    /// Live flags (set at scrape time).
    pub flags: Gauge,
    /// Change requests waiting for approval (set at scrape time).
    pub pending_change_requests: Gauge<i64, AtomicI64>,
    /// Evaluations the tallies dropped (set at scrape time).
    max_flags: usize,
    labelled_flags: Mutex<HashSet<String>>,
}

impl ServiceMetrics {
    /// The metrics, with at most `max_flags` flag label values.
    pub fn new(max_flags: usize) -> ServiceMetrics {
        let mut registry = Registry::with_prefix("feature_flags");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            requests.clone(),
        );
        let request_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_1, 4.0, 10))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request (until its headers; streams excluded)",
            request_seconds.clone(),
        );
        let evaluations = Family::<EvaluationLabels, Counter>::default();
        registry.register("evaluations", "Flag evaluations by flag, environment and reason (the service's and those SDKs report)", evaluations.clone());
        let open_streams = Gauge::default();
        registry.register(
            "open_streams",
            "Server-sent event streams open (rules and OFREP)",
            open_streams.clone(),
        );
        let commit_seconds = Histogram::new(exponential_buckets(0.000_5, 2.0, 14));
        registry.register(
            "commit_duration_seconds",
            "Time the store took to commit this node's writes",
            commit_seconds.clone(),
        );
        let scheduler_runs = Counter::default();
        registry.register(
            "scheduler_runs",
            "Runs of the scheduler (schedules and rollout steps due)",
            scheduler_runs.clone(),
        );
        let scheduler_failures = Counter::default();
        registry.register(
            "scheduler_failures",
            "Scheduler runs that failed",
            scheduler_failures.clone(),
        );
        let revision = Gauge::default();
        registry.register(
            "configuration_revision",
            "The configuration revision this node serves",
            revision.clone(),
        );
        let flags = Gauge::default();
        registry.register("flags", "Live flags", flags.clone());
        let pending_change_requests = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "change_requests_pending",
            "Change requests waiting for approval",
            pending_change_requests.clone(),
        );
        ServiceMetrics {
            registry,
            requests,
            request_seconds,
            evaluations,
            open_streams,
            commit_seconds,
            scheduler_runs,
            scheduler_failures,
            revision,
            flags,
            pending_change_requests,
            max_flags,
            labelled_flags: Mutex::new(HashSet::new()),
        }
    }

    /// Advances the evaluation counters by what a flush took.
    pub fn add_evaluations(&self, counts: &[EvaluationCount]) {
        for count in counts {
            let labels = EvaluationLabels {
                flag: self.flag_label(&count.flag_id),
                environment: count.environment.clone(),
                reason: count.reason.clone(),
            };
            self.evaluations
                .get_or_create(&labels)
                .inc_by(u64::try_from(count.count).unwrap_or_default());
        }
    }

    /// The flag's own label while fewer than the cap have one.
    fn flag_label(&self, flag_id: &str) -> String {
        let Ok(mut labelled) = self.labelled_flags.lock() else {
            return OTHER_FLAGS.to_owned();
        };
        if labelled.contains(flag_id) {
            return flag_id.to_owned();
        }
        if labelled.len() < self.max_flags {
            labelled.insert(flag_id.to_owned());
            return flag_id.to_owned();
        }
        OTHER_FLAGS.to_owned()
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Counts an open stream until dropped.
pub struct OpenStream(Gauge);

impl OpenStream {
    /// Counts one more open stream.
    pub fn new(metrics: &ServiceMetrics) -> OpenStream {
        metrics.open_streams.inc();
        OpenStream(metrics.open_streams.clone())
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The route templates of the route table, to label requests by template
/// (bounded) rather than by path (unbounded).
pub struct RouteTemplates {
    by_method: std::collections::HashMap<&'static str, matchit::Router<&'static str>>,
}

impl RouteTemplates {
    /// The templates of `routes` (method, path template).
    pub fn new(routes: impl IntoIterator<Item = (&'static str, &'static str)>) -> RouteTemplates {
        let mut by_method: std::collections::HashMap<&'static str, matchit::Router<&'static str>> =
            std::collections::HashMap::new();
        for (method, path) in routes {
            // The route table's paths are valid templates (the router is
            // built from them); a duplicate would already fail there.
            let _ = by_method.entry(method).or_default().insert(path, path);
        }
        RouteTemplates { by_method }
    }

    /// The template serving `method path`, if any.
    pub fn template(&self, method: &str, path: &str) -> Option<&'static str> {
        self.by_method
            .get(method)?
            .at(path)
            .ok()
            .map(|found| *found.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_labels_are_capped() {
        let metrics = ServiceMetrics::new(2);
        let count = |flag: &str| EvaluationCount {
            granularity: ff_store::Granularity::Minute,
            bucket_start: time::OffsetDateTime::UNIX_EPOCH,
            flag_id: flag.into(),
            environment: "production".into(),
            label: "true".into(),
            reason: "STATIC".into(),
            error_code: String::new(),
            count: 3,
        };
        metrics.add_evaluations(&[count("a"), count("b"), count("c"), count("d"), count("a")]);
        let text = metrics.encode();
        assert!(text.contains(r#"feature_flags_evaluations_total{flag="a",environment="production",reason="STATIC"} 6"#), "{text}");
        assert!(
            text.contains(r#"flag="_other",environment="production",reason="STATIC"} 6"#),
            "{text}"
        );
        assert!(!text.contains(r#"flag="c""#));
    }

    #[test]
    fn requests_are_labelled_by_template() {
        let templates = RouteTemplates::new([
            ("GET", "/api/v1/flags/{flag_id}"),
            ("POST", "/ofrep/v1/evaluate/flags/{key}"),
        ]);
        assert_eq!(
            templates.template("GET", "/api/v1/flags/checkout"),
            Some("/api/v1/flags/{flag_id}")
        );
        assert_eq!(
            templates.template("POST", "/ofrep/v1/evaluate/flags/x"),
            Some("/ofrep/v1/evaluate/flags/{key}")
        );
        assert_eq!(templates.template("GET", "/nope"), None);
    }
}
