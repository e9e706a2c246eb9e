//! The engine's integration tests: one binary.

mod properties;
mod seed;
mod vectors;
