//! A/B experiments: which flag's variants are compared in which
//! environment, against which control, on which metrics; who was exposed to
//! which variant; and the results (`ff_stats`).
//!
//! - `definition`: the experiment document and its checks against the flag.
//! - `exposures`: exposures noted on the evaluation path (a map lookup when
//!   no experiment runs on the flag), buffered and flushed with the counts.
//! - `privacy`: subjects (user ids) are stored as keyed hashes.
//! - `results`: per-variant tallies turned into reports and a verdict.

pub mod definition;
pub mod exposures;
pub mod privacy;
pub mod results;
