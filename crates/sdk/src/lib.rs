#![doc = include_str!("../README.md")]

mod client;
mod follow;
mod metrics;
mod offline;
mod rules;

pub use client::{ClientBuilder, Evaluation, FlagClient, SdkError, Status};
pub use ff_api_types::MetricsAccepted;
pub use ff_engine::{Context, ErrorCode, Reason};
