//! `feature_flags._native`: the Rust SDK (`ff-sdk`) for Python. The Python
//! package (`feature_flags`) wraps it; values cross the boundary as JSON
//! text, which keeps this layer small and the types exact.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ff_sdk::{Context, FlagClient, Status};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use serde_json::Value;

/// A flag client with local evaluation; its stream runs on a runtime of its
/// own (one thread), so Python code never drives it.
#[pyclass(frozen, module = "feature_flags._native")]
struct NativeClient {
    client: FlagClient,
    runtime: Arc<tokio::runtime::Runtime>,
}

#[pymethods]
impl NativeClient {
    /// Online with `api_url` and a server key, or offline from a snapshot
    /// file when `offline_file` is given.
    #[new]
    #[pyo3(signature = (api_url, api_key, offline_file=None))]
    fn new(api_url: &str, api_key: &str, offline_file: Option<PathBuf>) -> PyResult<NativeClient> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("feature-flags")
            .enable_all()
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the SDK's runtime: {e}")))?;
        let mut builder = FlagClient::builder(api_url, api_key);
        if let Some(path) = offline_file {
            builder = builder.offline_file(path);
        }
        let client = {
            let _inside = runtime.enter();
            builder
                .build()
                .map_err(|e| PyValueError::new_err(e.to_string()))?
        };
        Ok(NativeClient {
            client,
            runtime: Arc::new(runtime),
        })
    }

    /// Waits (without the GIL) until the first rules arrived; whether they did.
    fn wait_until_ready(&self, py: Python<'_>, timeout_seconds: f64) -> bool {
        let timeout = Duration::from_secs_f64(timeout_seconds.clamp(0.0, 86_400.0));
        py.detach(|| self.runtime.block_on(self.client.wait_until_ready(timeout)))
    }

    /// Waits (without the GIL) until the rules are at least at `revision`.
    fn wait_for_revision(&self, py: Python<'_>, revision: i64, timeout_seconds: f64) -> bool {
        let timeout = Duration::from_secs_f64(timeout_seconds.clamp(0.0, 86_400.0));
        py.detach(|| {
            self.runtime
                .block_on(self.client.wait_for_revision(revision, timeout))
        })
    }

    /// Reports the evaluations counted since the last report now (without
    /// the GIL); answers how many were accepted. Raises when the service
    /// cannot take them (they are kept for the next report).
    fn flush_metrics(&self, py: Python<'_>) -> PyResult<u64> {
        py.detach(|| self.runtime.block_on(self.client.flush_metrics()))
            .map(|accepted| accepted.accepted)
            .map_err(PyRuntimeError::new_err)
    }

    /// Keeps an event (sent with the next metrics report); never waits.
    #[pyo3(signature = (event, user_id, value=None))]
    fn track(&self, event: &str, user_id: &str, value: Option<f64>) {
        self.client.track(event, user_id, value);
    }

    /// `connecting`, `connected`, `reconnecting: <why>` or `offline`.
    fn status(&self) -> String {
        match self.client.status() {
            Status::Connecting => "connecting".into(),
            Status::Connected => "connected".into(),
            Status::Reconnecting(why) => format!("reconnecting: {why}"),
            Status::Offline => "offline".into(),
        }
    }

    /// The key's environment, as the service's stream names it.
    fn environment(&self) -> Option<String> {
        self.client.environment()
    }

    /// The service revision of the rules in use.
    fn revision(&self) -> Option<i64> {
        self.client.revision()
    }

    /// Whether a boolean flag is on (`default` when it cannot be told).
    fn bool_value(&self, flag: &str, context_json: &str, default: bool) -> PyResult<bool> {
        Ok(self
            .client
            .bool_value(flag, &context(context_json)?, default))
    }

    /// The whole evaluation: `(value_json, reason, variant, error_code,
    /// revision)`; the value is `default_json` when it cannot be served.
    fn evaluate(
        &self,
        flag: &str,
        context_json: &str,
        default_json: &str,
    ) -> PyResult<EvaluationTuple> {
        let default: Value = serde_json::from_str(default_json)
            .map_err(|e| PyValueError::new_err(format!("the default is not JSON: {e}")))?;
        let evaluation = self.client.evaluate(flag, &context(context_json)?, default);
        Ok((
            evaluation.value.to_string(),
            evaluation.reason.as_str(),
            evaluation.variant,
            evaluation.error.map(|code| code.as_str()),
            evaluation.revision,
        ))
    }
}

/// `(value_json, reason, variant, error_code, revision)`, as Python unpacks
/// it.
type EvaluationTuple = (
    String,
    &'static str,
    Option<String>,
    Option<&'static str>,
    Option<i64>,
);

fn context(json: &str) -> PyResult<Context> {
    serde_json::from_str(json).map_err(|e| PyValueError::new_err(format!("invalid context: {e}")))
}

/// The module.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeClient>()
}
