#![doc = include_str!("../README.md")]

use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ff_server::{ServeConfig, SystemClock};
use tokio::net::TcpListener;

/// Feature flags for Kotlin Multiplatform apps and Python services: targeting,
/// gradual rollouts, a kill switch and a full audit trail.
#[derive(Debug, Parser)]
#[command(name = "feature-flags", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (REST API, evaluation) on one port.
    ///
    /// With no options it listens on 0.0.0.0:8001 and keeps everything in
    /// ./feature-flags.db. On first start it creates the environments
    /// development → staging → production and prints an admin API key once.
    Serve(ServeConfig),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => serve(config).await,
    }
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into()),
        )
        .init();
    let address = (config.bind, config.port);
    tracing::info!(?config, "starting");
    let (state, seeded) = ff_server::prepare(config, Arc::new(SystemClock))
        .await
        .context("could not open the database")?;
    if let Some(seeded) = seeded {
        print_first_start(&seeded);
    }
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("could not listen on {}:{}", address.0, address.1))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    ff_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

fn print_first_start(seeded: &ff_server::bootstrap::Bootstrapped) {
    let line = "=".repeat(72);
    if seeded.from_config {
        eprintln!(
            "{line}\nFirst start: created environments development -> staging -> production\nand an admin API key from FEATURE_FLAGS_ADMIN_TOKEN.\n{line}"
        );
    } else {
        eprintln!(
            "{line}\nFirst start: created environments development -> staging -> production.\n\
             Admin API key (shown once, store it now):\n\n    {}\n\n\
             Use it as `Authorization: Bearer <key>`, e.g.\n    export ADMIN_TOKEN={}\n{line}",
            seeded.admin_secret, seeded.admin_secret
        );
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
