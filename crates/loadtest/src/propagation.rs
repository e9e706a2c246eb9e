//! `propagation`: how long a kill switch takes to reach every subscriber.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::sync::{Semaphore, watch};

use crate::client::{self, Auth, Client, StreamObserver, Target};
use crate::stats::{Summary, check_file_limit, cpu_seconds, parse_duration, signed_ms};

/// Options of `ff-loadtest propagation`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node that takes the writes (and the first node subscribed to).
    #[arg(long)]
    url: String,
    /// A second node (same PostgreSQL database): subscribers are spread over
    /// both, alternately.
    #[arg(long)]
    second_url: Option<String>,
    /// SSE subscribers of /api/v1/stream, in total.
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// Kill-switch toggles (disable, enable, disable, ...).
    #[arg(long, default_value_t = 50)]
    changes: usize,
    /// An admin key of the service.
    #[arg(long, env = "FEATURE_FLAGS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
    /// The environment subscribed to and toggled.
    /// `development` by default: as first start seeds them, production
    /// holds turning a flag back on for approval, and the toggles are to
    /// measure propagation alone.
    #[arg(long, default_value = "development")]
    environment: String,
    /// The flag toggled (created if missing).
    #[arg(long, default_value = "loadtest_kill_switch")]
    flag: String,
    /// Targeting rules of the flag when it is created (each with a 20-value
    /// `in` list), for larger documents in the events.
    #[arg(long, default_value_t = 0)]
    flag_rules: usize,
    /// Pause after every subscriber received a change (or it timed out).
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pause: Duration,
    /// How long to wait for one change to reach every subscriber.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    change_timeout: Duration,
    /// How long to wait for every subscriber's initial `put`.
    #[arg(long, default_value = "180s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Subscribers connecting at once.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Loopback source addresses to spread connections over (comma
    /// separated), for more connections than one address has ports.
    #[arg(long, value_delimiter = ',')]
    source_addresses: Vec<IpAddr>,
    /// The process ids of the nodes (comma separated, in the order of the
    /// URLs): their CPU time during the changes is reported per event.
    #[arg(long, value_delimiter = ',')]
    server_pids: Vec<u32>,
    /// A label for the summary rows.
    #[arg(long, default_value = "run")]
    label: String,
}

#[derive(Default)]
struct Counters {
    opened: AtomicUsize,
    received: AtomicUsize,
    ended: AtomicUsize,
}

impl StreamObserver for Counters {
    fn opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }
    fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }
    fn ended(&self) {
        self.ended.fetch_add(1, Ordering::Relaxed);
    }
}

/// One write: when it was sent and acknowledged, and its revision.
struct Write {
    sent: Instant,
    acknowledged: Instant,
    revision: i64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    check_file_limit(args.subscribers)?;
    let mut nodes = vec![Target::parse(&args.url)?];
    if let Some(second) = &args.second_url {
        nodes.push(Target::parse(second)?);
    }
    let sources = client::loopback_sources(&args.source_addresses)?;
    let mut admin = Client::connect(&nodes[0]).await?;
    let token = args.admin_token.as_str();

    // The flag, enabled, and a server key for the environment.
    let rules: Vec<serde_json::Value> = (0..args.flag_rules)
        .map(|r| {
            let countries: Vec<String> = (0..20).map(|c| format!("C{r}-{c}")).collect();
            json!({
                "name": format!("rule {r}"),
                "conditions": [{"attribute": "country", "operator": "in", "value": countries}],
                "value": true,
                "percentage": 50,
            })
        })
        .collect();
    let flag = json!({
        "flag_id": args.flag,
        "type": "boolean",
        "description": "toggled by ff-loadtest propagation",
        "default_value": false,
        "environments": {"development": true, "staging": true, "production": true},
        "targeting_rules": rules,
    });
    let created = admin
        .send(
            Method::POST,
            "/api/v1/flags",
            Some(Auth::Bearer(token)),
            Some(&flag),
        )
        .await?;
    if !created.status.is_success() && created.status != StatusCode::CONFLICT {
        bail!("creating the flag: {} {}", created.status, created.body);
    }
    let switch = json!({"flag_id": args.flag, "environment": args.environment});
    let enabled = admin
        .send(
            Method::POST,
            "/api/v1/emergency/enable",
            Some(Auth::Bearer(token)),
            Some(&switch),
        )
        .await?;
    if !enabled.status.is_success() {
        bail!("enabling the flag: {} {}", enabled.status, enabled.body);
    }
    let key = admin
        .send(
            Method::POST,
            "/api/v1/api-keys",
            Some(Auth::Bearer(token)),
            Some(&json!({
                "name": format!("ff-loadtest propagation {}", std::process::id()),
                "kind": "server",
                "environment": args.environment,
            })),
        )
        .await?;
    let key = match key.body.get("key").and_then(|k| k.as_str()) {
        Some(secret) if key.status.is_success() => secret.to_owned(),
        _ => bail!("creating a server key: {} {}", key.status, key.body),
    };
    for node in &nodes[1..] {
        wait_for_key(node, &key, &args.flag).await?;
    }

    // Subscribers, spread over the nodes.
    let counters = Arc::new(Counters::default());
    let (stop, stopped) = watch::channel(false);
    let connecting = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let key: Arc<str> = key.into();
    let mut tasks = Vec::with_capacity(args.subscribers);
    for i in 0..args.subscribers {
        let node = i % nodes.len();
        let target = nodes[node].clone();
        let source = (!sources.is_empty()).then(|| sources[i % sources.len()]);
        let key = key.clone();
        let counters = counters.clone();
        let stopped = stopped.clone();
        let connecting = connecting.clone();
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await;
            let observer = OpenedReleases {
                counters: &counters,
                permit: std::sync::Mutex::new(permit.ok()),
            };
            let outcome = client::subscribe(
                &target,
                source,
                "/api/v1/stream",
                &key,
                true,
                &observer,
                stopped,
            )
            .await;
            (node, outcome)
        }));
    }
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let opened = counters.opened.load(Ordering::Relaxed);
        let ended = counters.ended.load(Ordering::Relaxed);
        if opened + ended >= args.subscribers {
            break;
        }
        if started.elapsed() > args.connect_timeout {
            eprintln!("connect timeout: {opened} subscribers open, {ended} failed");
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  {opened}/{} subscribers open ({ended} failed)",
                args.subscribers
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open = counters.opened.load(Ordering::Relaxed);
    eprintln!(
        "{open} subscribers open in {:.1} s ({} failed); {} changes follow",
        started.elapsed().as_secs_f64(),
        counters.ended.load(Ordering::Relaxed),
        args.changes
    );
    if open == 0 {
        bail!("no subscriber could open a stream");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The changes, one at a time, each awaited by every subscriber. The
    // writer runs on a thread of its own, so that its timestamps do not wait
    // for the subscribers' runtime.
    let writer = Writer {
        target: nodes[0].clone(),
        token: args.admin_token.clone(),
        switch: switch.clone(),
        changes: args.changes,
        change_timeout: args.change_timeout,
        pause: args.pause,
        counters: counters.clone(),
    };
    let pids: Vec<u32> = args
        .server_pids
        .iter()
        .copied()
        .chain(std::iter::once(std::process::id()))
        .collect();
    let cpu_before: Vec<Option<f64>> = pids.iter().map(|p| cpu_seconds(*p).ok()).collect();
    let writes = std::thread::spawn(move || writer.run())
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    let writes = match writes {
        Ok(writes) => writes,
        Err(error) => {
            let _ = stop.send(true);
            return Err(error);
        }
    };
    let _ = stop.send(true);
    let cpu: Vec<Option<f64>> = pids
        .iter()
        .zip(&cpu_before)
        .map(|(pid, before)| Some(cpu_seconds(*pid).ok()? - (*before)?))
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await?);
    }
    report(&args, &nodes, &writes, &outcomes, &cpu);
    Ok(())
}

fn alive(counters: &Counters) -> usize {
    counters
        .opened
        .load(Ordering::Relaxed)
        .saturating_sub(counters.ended.load(Ordering::Relaxed))
}

/// Counts an open stream and lets the next subscriber connect.
struct OpenedReleases<'a> {
    counters: &'a Counters,
    permit: std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
}

impl OpenedReleases<'_> {
    fn release(&self) {
        if let Ok(mut permit) = self.permit.lock() {
            permit.take();
        }
    }
}

impl StreamObserver for OpenedReleases<'_> {
    fn opened(&self) {
        self.counters.opened();
        self.release();
    }
    fn received(&self) {
        self.counters.received();
    }
    fn ended(&self) {
        self.counters.ended();
        self.release();
    }
}

/// Performs the kill-switch toggles.
struct Writer {
    target: Target,
    token: String,
    switch: serde_json::Value,
    changes: usize,
    change_timeout: Duration,
    pause: Duration,
    counters: Arc<Counters>,
}

impl Writer {
    fn run(self) -> anyhow::Result<Vec<Write>> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(self.toggle())
    }

    async fn toggle(self) -> anyhow::Result<Vec<Write>> {
        let mut admin = Client::connect(&self.target).await?;
        let mut writes: Vec<Write> = Vec::with_capacity(self.changes);
        for change in 0..self.changes {
            let path = if change % 2 == 0 {
                "/api/v1/emergency/disable"
            } else {
                "/api/v1/emergency/enable"
            };
            let expected = self.counters.received.load(Ordering::Relaxed) + alive(&self.counters);
            let request = client::request(
                &self.target,
                Method::POST,
                path,
                Some(Auth::Bearer(&self.token)),
                Some(&self.switch),
            )?;
            let sent = Instant::now();
            let answer = admin.send_prepared(request).await?;
            if !answer.status.is_success() {
                bail!("{path}: {} {}", answer.status, answer.body);
            }
            let revision = answer
                .body
                .get("revision")
                .and_then(|r| r.as_i64())
                .context("no revision in the kill switch's answer")?;
            if let Some(previous) = writes.last().map(|w| w.revision)
                && revision <= previous
            {
                bail!("{path} wrote nothing (revision {revision}): is another writer toggling it?");
            }
            writes.push(Write {
                sent,
                acknowledged: answer.complete_at,
                revision,
            });
            let deadline = sent + self.change_timeout;
            while self.counters.received.load(Ordering::Relaxed) < expected
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(self.pause).await;
        }
        Ok(writes)
    }
}

/// Waits (bounded) until a node knows a key created through another node.
async fn wait_for_key(node: &Target, key: &str, flag: &str) -> anyhow::Result<()> {
    let mut client = Client::connect(node).await?;
    let path = format!("/ofrep/v1/evaluate/flags/{flag}");
    let body = json!({"context": {"targetingKey": "ff-loadtest"}});
    for _ in 0..200 {
        let answer = client
            .send(Method::POST, &path, Some(Auth::ApiKey(key)), Some(&body))
            .await?;
        if answer.status.is_success() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{} does not know the new key after 10 s", node.url)
}

/// `cpu`: CPU seconds used during the changes by each node with a
/// `--server-pids` entry, then by this process.
fn report(
    args: &Args,
    nodes: &[Target],
    writes: &[Write],
    outcomes: &[(usize, client::StreamOutcome)],
    cpu: &[Option<f64>],
) {
    let mut acks: Vec<f64> = writes
        .iter()
        .map(|w| signed_ms(w.sent, w.acknowledged))
        .collect();
    let acks = Summary::of(&mut acks);
    println!(
        "\npropagation [{}]: {} changes, write answered in p50 {:.2} ms, max {:.2} ms",
        args.label,
        writes.len(),
        acks.p50,
        acks.max
    );
    println!(
        "{:<28} {:>6} {:>8} {:>7} | {:^35} | {:^35} | {:>12} | {:>10}",
        "node",
        "subs",
        "samples",
        "missed",
        "receipt - write sent (ms)",
        "receipt - write answered (ms)",
        "all (ms)",
        "server CPU"
    );
    println!(
        "{:<28} {:>6} {:>8} {:>7} | {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} {:>8} | {:>12} | {:>10}",
        "",
        "",
        "",
        "",
        "p50",
        "p95",
        "p99",
        "max",
        "p50",
        "p95",
        "p99",
        "max",
        "p50 of max",
        "us/event"
    );
    let mut total_samples = 0usize;
    for (index, node) in nodes.iter().enumerate() {
        let streams: Vec<&client::StreamOutcome> = outcomes
            .iter()
            .filter(|(n, o)| *n == index && o.opened)
            .map(|(_, o)| o)
            .collect();
        let mut from_sent = Vec::new();
        let mut from_ack = Vec::new();
        let mut all_received = Vec::new();
        let mut missed = 0usize;
        for write in writes {
            let mut last = f64::NEG_INFINITY;
            for stream in &streams {
                match stream.receipts.iter().find(|(r, _)| *r == write.revision) {
                    Some((_, at)) => {
                        let sent = signed_ms(write.sent, *at);
                        last = last.max(sent);
                        from_sent.push(sent);
                        from_ack.push(signed_ms(write.acknowledged, *at));
                    }
                    None => missed += 1,
                }
            }
            if last.is_finite() {
                all_received.push(last);
            }
        }
        let samples = from_sent.len();
        total_samples += samples;
        // Server CPU per delivered event (the node's other work included).
        let per_event = if args.server_pids.len() == nodes.len() {
            cpu.get(index)
                .copied()
                .flatten()
                .map_or(f64::NAN, |s| s * 1e6 / samples.max(1) as f64)
        } else {
            f64::NAN
        };
        let sent = Summary::of(&mut from_sent);
        let ack = Summary::of(&mut from_ack);
        let all = Summary::of(&mut all_received);
        let name = format!(
            "{} ({})",
            node.url,
            if index == 0 { "writer" } else { "other" }
        );
        println!(
            "{:<28} {:>6} {:>8} {:>7} | {:>8.2} {:>8.2} {:>8.2} {:>8.2} | {:>8.2} {:>8.2} {:>8.2} {:>8.2} | {:>12.2} | {:>10.1}",
            name,
            streams.len(),
            samples,
            missed,
            sent.p50,
            sent.p95,
            sent.p99,
            sent.max,
            ack.p50,
            ack.p95,
            ack.p99,
            ack.max,
            all.p50,
            per_event
        );
        // One machine-readable row per node, for scripts/bench-streams.
        println!(
            "ROW\tpropagation\t{}\t{}\t{}\t{}\t{}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.1}",
            args.label,
            if index == 0 { "writer" } else { "other" },
            streams.len(),
            samples,
            missed,
            sent.p50,
            sent.p95,
            sent.p99,
            sent.max,
            ack.p50,
            ack.p95,
            ack.p99,
            ack.max,
            all.p50,
            per_event
        );
    }
    if let Some(Some(client)) = cpu.last() {
        println!(
            "client CPU during the changes: {:.1} us per received event",
            client * 1e6 / total_samples.max(1) as f64
        );
    }
    let failed: Vec<&String> = outcomes
        .iter()
        .filter_map(|(_, o)| o.error.as_ref())
        .collect();
    if let Some(first) = failed.first() {
        println!(
            "{} streams failed or ended early; the first: {first}",
            failed.len()
        );
    }
}
