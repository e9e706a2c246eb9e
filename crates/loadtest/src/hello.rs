//! `hello`: the baseline, a minimal axum 0.8 server answering small JSON.

use std::net::IpAddr;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};

use crate::stats::parse_duration;

/// Options of `ff-loadtest hello`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on.
    #[arg(long, default_value_t = 8002)]
    port: u16,
    /// Stops by itself after this long.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    max_duration: Duration,
}

async fn hello() -> Json<Value> {
    Json(json!({"key": "hello", "value": true, "reason": "STATIC", "variant": "on"}))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if !args.bind.is_loopback() {
        anyhow::bail!("the baseline server listens on loopback addresses only");
    }
    let app = Router::new().route("/hello", post(hello).get(hello));
    let listener = tokio::net::TcpListener::bind((args.bind, args.port)).await?;
    eprintln!("hello: listening on {}", listener.local_addr()?);
    let stop = async move {
        tokio::select! {
            _ = tokio::time::sleep(args.max_duration) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await?;
    Ok(())
}
