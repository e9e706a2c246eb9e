//! The integration tests of ff-stats: one binary.
//!
//! - `reference`: every number against scipy/statsmodels
//!   (`testdata/stats/reference.json`, made by `scripts/stats-reference`).
//! - `examples`: published worked examples, with their sources.
//! - `verdicts`: the plain verdicts, one table.
//! - `properties`: proptest: no panic, no NaN or infinity, intervals hold
//!   their estimates.

mod examples;
mod properties;
mod reference;
mod verdicts;
