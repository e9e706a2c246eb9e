#![doc = include_str!("../README.md")]

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
