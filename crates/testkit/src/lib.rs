#![doc = include_str!("../README.md")]

mod child;
mod scratch;
mod service;

pub use child::{ChildService, ChildServiceBuilder};
pub use scratch::{Backend, Scope, scratch_postgres};
pub use service::{Service, ServiceBuilder};

/// The admin token every test service is started with
/// (`FEATURE_FLAGS_ADMIN_TOKEN`).
pub const ADMIN_TOKEN: &str = "ff_admin_test_token_0123456789abcdefghijklmn";

/// Makes the ring provider rustls' default, in case reqwest was built with
/// TLS: before any client is built (another test may have installed it
/// already: that is fine).
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A port nobody listens on right now (for a child process, which must be
/// told its port before it starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}
