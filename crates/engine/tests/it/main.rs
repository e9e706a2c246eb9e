//! The engine's integration tests: one binary.

mod allocations;
mod incremental;
mod properties;
mod seed;
mod vectors;
