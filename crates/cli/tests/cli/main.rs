//! End-to-end tests of the `feature-flags` binary: the real process, started
//! and stopped as an operator would.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod action;
mod commands;
mod crash;
mod errors;
mod lists;
mod nodes;
mod rollout_plans;
mod scheduler;
mod scoped;
mod shutdown;
mod startup;
mod streams;
mod support;
mod tls;
mod writes;
