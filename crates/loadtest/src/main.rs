#![doc = include_str!("../README.md")]

mod client;
mod fanout;
mod hello;
mod idle;
mod propagation;
mod scale;
mod sse;
mod stats;

use clap::{Parser, Subcommand};

/// Load tests of the feature flag service (loopback targets only).
#[derive(Debug, Parser)]
#[command(name = "ff-loadtest", version, about, long_about = None)]
struct Cli {
    /// Worker threads of the one tokio runtime (default: the number of CPUs,
    /// as `#[tokio::main]` does for the service).
    #[arg(long, global = true)]
    threads: Option<usize>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// N SSE subscribers of /api/v1/stream; kill-switch toggles; how long
    /// until each subscriber receives each change.
    Propagation(propagation::Args),
    /// N idle SSE connections held open; the server's memory per connection.
    Idle(idle::Args),
    /// A minimal axum "hello world" server: the baseline for OFREP throughput.
    Hello(hello::Args),
    /// A minimal axum SSE fan-out server: the floor for `propagation`.
    Fanout(fanout::Args),
    /// A large configuration (100 000 flags by default): imports, the kill
    /// switch during an import, single-flag writes, streams opening at
    /// once, the OFREP bulk answer, memory.
    Scale(scale::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let threads = cli.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Propagation(args) => propagation::run(args).await,
            Command::Idle(args) => idle::run(args).await,
            Command::Hello(args) => hello::run(args).await,
            Command::Fanout(args) => fanout::run(args).await,
            Command::Scale(args) => scale::run(args).await,
        }
    })
}
