#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! - `error`: the error envelope ([`ErrorBody`]) and OFREP's ([`OfrepError`]).
//! - `documents`: flags, segments, environments as JSON values with their
//!   schemas written by hand (the engine is their authority).
//! - `flags`, `resources`, `work`, `operations`: request and response bodies
//!   per resource, and [`Page`], the list envelope.
//! - `evaluate`, `ofrep`, `stream`: evaluation answers and stream events.
//! - `people`: accounts and sessions.
//! - `insights`: evaluation metrics, experiments, tracked events, privacy
//!   requests and evaluation logs.
//! - `queries`: the query strings.
//! - `webhooks`: outgoing webhook endpoints and their deliveries.
//!
//! Every type derives `schemars::JsonSchema`; the server's OpenAPI document
//! is generated from these schemas (`ff_server`'s `openapi` module).

// Requests, documents and contexts reach this crate's arithmetic: it must
// neither panic nor wrap unnoticed. Where an invariant keeps an operation in
// range, the function says which (`#[expect(..., reason = ...)]`).
#![cfg_attr(not(test), deny(clippy::panic, clippy::arithmetic_side_effects))]

mod documents;
mod error;
mod evaluate;
mod flags;
mod insights;
mod ofrep;
mod operations;
mod people;
mod queries;
mod resources;
mod stream;
mod webhooks;
mod work;

pub use documents::*;
pub use error::*;
pub use evaluate::*;
pub use flags::*;
pub use insights::*;
pub use ofrep::*;
pub use operations::*;
pub use people::*;
pub use queries::*;
pub use resources::*;
pub use stream::*;
pub use webhooks::*;
pub use work::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One page of a list (or the whole list, where `next_cursor` is never set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "PageOf{T}")]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many items match in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Pass as `cursor` (or `before_id`) to get the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A whole list in one page.
    pub fn all(items: Vec<T>) -> Page<T> {
        Page {
            items,
            total: None,
            next_cursor: None,
        }
    }
}
