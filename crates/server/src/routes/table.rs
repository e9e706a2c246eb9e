//! The shape of a route in the route table ([`super::ROUTES`]): what both
//! the router and the OpenAPI document (`crate::openapi`) are built from.
//! Apart from the table itself, so that the document's builder needs only
//! this, not the handlers.

use axum::routing::MethodRouter;
use ff_store::Role;

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

/// What a route accepts in its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// A JSON body of the named schema (see `crate::openapi`).
    Json(&'static str),
    /// A JSON or YAML document of the named schema.
    JsonOrYaml(&'static str),
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
    /// Query parameters: name and description.
    pub query: &'static [(&'static str, &'static str)],
    /// The request body.
    pub body: Body,
    /// The handler.
    pub handler: fn() -> MethodRouter<AppState>,
}
