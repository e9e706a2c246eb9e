//! The one error type: input that cannot describe an experiment.

/// Why an experiment's numbers could not be analysed at all.
///
/// Input that is valid but too thin to say anything (no users, no
/// conversions) is not an error: the results then carry `None` values and the
/// verdict says "not enough data".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// The control variant is not among the variants.
    #[error("the control variant {0:?} is not among the variants")]
    UnknownControl(String),
    /// Two variants share a name.
    #[error("the variant {0:?} appears more than once")]
    DuplicateVariant(String),
    /// Only the control was given: there is nothing to compare it with.
    #[error("an experiment needs a control and at least one other variant")]
    NothingToCompare,
    /// A variant counts more conversions than exposed users.
    #[error("the variant {0:?} has more conversions than exposed users")]
    MoreConversionsThanUsers(String),
    /// A weight is negative or not a finite number.
    #[error("the variant {0:?} has a weight that is negative or not a number")]
    InvalidWeight(String),
    /// All weights are zero.
    #[error("the weights of the variants add up to zero")]
    ZeroTotalWeight,
    /// A numeric value, sum or sum of squares is not a finite number.
    #[error("a value, sum or sum of squares is not a finite number")]
    NonFiniteValue,
    /// A setting is outside its range.
    #[error("the setting {0} must be strictly between 0 and 1")]
    InvalidSetting(&'static str),
}
