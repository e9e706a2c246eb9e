#![doc = include_str!("../README.md")]
// Requests, documents and contexts reach this crate's arithmetic: it must
// neither panic nor wrap unnoticed. Where an invariant keeps an operation in
// range, the function says which (`#[expect(..., reason = ...)]`).
#![cfg_attr(not(test), deny(clippy::panic, clippy::arithmetic_side_effects))]

pub mod bucket;
mod compile;
mod context;
pub mod diff;
pub mod edit;
mod evaluate;
pub mod model;
pub mod parse;
pub mod privacy;
mod table;
pub mod tally;
pub mod validate;
pub mod values;

pub use compile::{EnvironmentSnapshot, Snapshot, project_flag};
pub use context::{Context, InvalidContext, TARGETING_KEY, USER_ID};
pub use evaluate::{ErrorCode, Reason, Resolution, RuleRef};
pub use model::{
    Condition, Dependency, Environment, EnvironmentConfig, EnvironmentEntry, Flag, FlagType,
    Lifecycle, Operator, Rule, Segment, Serve, WeightedVariant,
};
pub use parse::{is_valid_key, lint_flag, parse_flag, parse_segment};
pub use validate::{Problem, Severity, validate_set};
