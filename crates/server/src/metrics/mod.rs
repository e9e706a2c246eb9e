//! What the service measures about itself and its flags.
//!
//! - `evaluations`: every evaluation counted per flag, environment,
//!   outcome, reason and error code, in memory, flushed to the store in
//!   minute buckets (rolled up to hours and days there).
//! - `prometheus`: the service's metrics for Prometheus (`GET /metrics`).

pub mod evaluations;
pub mod prometheus;
