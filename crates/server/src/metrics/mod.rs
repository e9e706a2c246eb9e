//! What the service measures about itself and its flags.
//!
//! - `evaluations`: every evaluation counted per flag, environment,
//!   outcome, reason and error code, in memory, flushed to the store in
//!   minute buckets (rolled up to hours and days there).
//! - `evaluation_log`: a sample of evaluations of one flag, for debugging.
//! - `prometheus`: the service's metrics for Prometheus (`GET /metrics`).
//! - `day_usage`: the dashboard's last-24-hours figure kept between reads.

pub mod day_usage;
pub mod evaluation_log;
pub mod evaluations;
pub mod prometheus;
