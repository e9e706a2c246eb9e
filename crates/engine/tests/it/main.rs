//! The engine's integration tests: one binary.

mod allocations;
mod properties;
mod seed;
mod vectors;
