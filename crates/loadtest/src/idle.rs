//! `idle`: many open, quiet SSE connections; the server's memory for each.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::{Semaphore, watch};

use crate::client::{self, StreamObserver, Target};
use crate::stats::{check_file_limit, parse_duration, rss_kib};

/// Options of `ff-loadtest idle`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node to connect to.
    #[arg(long)]
    url: String,
    /// Idle connections to open and hold.
    #[arg(long, default_value_t = 50_000)]
    connections: usize,
    /// The API key of the streams (a client key for the OFREP stream).
    #[arg(long, env = "FF_LOADTEST_KEY", hide_env_values = true)]
    key: String,
    /// The stream to open.
    #[arg(long, default_value = "/ofrep/v1/stream")]
    path: String,
    /// Loopback source addresses to spread connections over (comma
    /// separated): one address has about 28 000 ephemeral ports per server.
    #[arg(long, value_delimiter = ',')]
    source_addresses: Vec<IpAddr>,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 500)]
    connect_concurrency: usize,
    /// The server's process id: its VmRSS is read before connecting and once
    /// every connection is open, and the difference reported per connection.
    #[arg(long)]
    server_pid: Option<u32>,
    /// How long to let the server settle before reading its memory.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    settle: Duration,
    /// How long to hold the connections after measuring.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    hold: Duration,
    /// How long to wait for every connection to open.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// A label for the summary row.
    #[arg(long, default_value = "run")]
    label: String,
}

#[derive(Default)]
struct Counters {
    opened: AtomicUsize,
    ended: AtomicUsize,
}

impl StreamObserver for Counters {
    fn opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }
    fn received(&self) {}
    fn ended(&self) {
        self.ended.fetch_add(1, Ordering::Relaxed);
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    check_file_limit(args.connections)?;
    let target = Target::parse(&args.url)?;
    let sources = client::loopback_sources(&args.source_addresses)?;
    let before = args.server_pid.map(rss_kib).transpose()?;
    let counters = Arc::new(Counters::default());
    let (stop, stopped) = watch::channel(false);
    let connecting = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let key: Arc<str> = args.key.as_str().into();
    let path: Arc<str> = args.path.as_str().into();
    let mut tasks = Vec::with_capacity(args.connections);
    let started = Instant::now();
    for i in 0..args.connections {
        let target = target.clone();
        let source = (!sources.is_empty()).then(|| sources[i % sources.len()]);
        let (key, path, counters, stopped) =
            (key.clone(), path.clone(), counters.clone(), stopped.clone());
        let connecting = connecting.clone();
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await;
            let observer = Released {
                counters: &counters,
                permit: std::sync::Mutex::new(permit.ok()),
            };
            client::subscribe(&target, source, &path, &key, false, &observer, stopped).await
        }));
    }
    let mut last_report = Instant::now();
    loop {
        let opened = counters.opened.load(Ordering::Relaxed);
        let ended = counters.ended.load(Ordering::Relaxed);
        if opened + ended >= args.connections || started.elapsed() > args.connect_timeout {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  {opened}/{} connections open ({ended} failed)",
                args.connections
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(args.settle).await;
    let open = counters
        .opened
        .load(Ordering::Relaxed)
        .saturating_sub(counters.ended.load(Ordering::Relaxed));
    let after = args.server_pid.map(rss_kib).transpose()?;
    let client_rss = rss_kib(std::process::id()).ok();
    tokio::time::sleep(args.hold).await;
    let still_open = counters
        .opened
        .load(Ordering::Relaxed)
        .saturating_sub(counters.ended.load(Ordering::Relaxed));
    let _ = stop.send(true);
    let mut first_error = None;
    let mut failed = 0usize;
    for task in tasks {
        if let Some(error) = task.await?.error {
            failed += 1;
            first_error.get_or_insert(error);
        }
    }
    println!(
        "\nidle [{}]: {open} of {} connections open after {:.1} s ({failed} failed), \
         {still_open} still open after holding {:.1} s",
        args.label,
        args.connections,
        connect_time.as_secs_f64(),
        args.hold.as_secs_f64()
    );
    if let Some(error) = first_error {
        println!("first failure: {error}");
    }
    if let Some(kib) = client_rss {
        println!("client RSS {:.1} MiB", kib as f64 / 1024.0);
    }
    if let (Some(before), Some(after)) = (before, after) {
        let per_connection = (after as f64 - before as f64) / open.max(1) as f64;
        println!(
            "server RSS {:.1} MiB before, {:.1} MiB with {open} connections: {per_connection:.2} KiB per connection",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
        println!(
            "ROW\tidle\t{}\t{open}\t{before}\t{after}\t{per_connection:.2}",
            args.label
        );
    }
    if open == 0 {
        bail!("no connection could be opened");
    }
    Ok(())
}

/// Counts an open connection and lets the next one connect.
struct Released<'a> {
    counters: &'a Counters,
    permit: std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
}

impl StreamObserver for Released<'_> {
    fn opened(&self) {
        self.counters.opened();
        if let Ok(mut permit) = self.permit.lock() {
            permit.take();
        }
    }
    fn received(&self) {}
    fn ended(&self) {
        self.counters.ended();
        if let Ok(mut permit) = self.permit.lock() {
            permit.take();
        }
    }
}
