//! Property tests: rollouts are monotonic, splits are fair, and nothing
//! panics on arbitrary documents and contexts.
