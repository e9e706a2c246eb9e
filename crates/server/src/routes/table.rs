//! The shape of a route in the route table ([`super::ROUTES`]): what both
//! the router and the OpenAPI document (`crate::openapi`) are built from.
//! Apart from the table itself, so that the document's builder needs only
//! this, not the handlers.
//!
//! Bodies, answers and query strings name their `ff_api_types` type; the
//! document takes each type's JSON Schema from it ([`SchemaFn`]), so that
//! the schema documented is the type the handler reads or writes.

use axum::routing::MethodRouter;
use ff_store::Role;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a key.
    Public,
    /// Any valid key (server and client keys in their own environment).
    AnyKey,
    /// Admin keys with at least this role.
    Role(Role),
}

/// A type's schema: registers it (and what it refers to) with the
/// generator and returns a reference to it.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The [`SchemaFn`] of a type.
pub fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// How a body (asked or answered) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// JSON only.
    Json,
    /// JSON or YAML, by `Content-Type` or `?format=`.
    JsonOrYaml,
}

/// What a route accepts in its body.
#[derive(Clone, Copy)]
pub enum Body {
    /// No body.
    None,
    /// A body of this type.
    Some(Media, SchemaFn),
}

impl Body {
    /// Whether the route reads a body.
    pub fn is_some(&self) -> bool {
        matches!(self, Body::Some(..))
    }
}

/// A successful answer: its status and, unless it has no body, its type.
#[derive(Clone, Copy)]
pub struct Answer {
    /// 200, 201, 202, 304.
    pub status: u16,
    /// The body's media and type; `None` for an empty body.
    pub body: Option<(Media, SchemaFn)>,
}

/// One route: its documentation and its handler.
pub struct Route {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// The path, with `{name}` parameters.
    pub path: &'static str,
    /// The handler's name (`list_flags`), used as the OpenAPI operation id.
    pub operation_id: &'static str,
    /// Groups routes in the document.
    pub tag: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The query string's type: each member is a query parameter.
    pub query: Option<SchemaFn>,
    /// The request body.
    pub body: Body,
    /// The successful answers (the first is the usual one).
    pub answers: &'static [Answer],
    /// Error statuses this route gives beyond those its shape implies
    /// (see `crate::openapi::error_statuses`).
    pub errors: &'static [u16],
    /// The handler.
    pub handler: fn() -> MethodRouter<AppState>,
}
