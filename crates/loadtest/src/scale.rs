//! `scale`: what users of a large installation meet (issue 14, point 2).
//! Seeds a running service with many flags and segments through the import
//! endpoint, then measures, in one run:
//!
//! - each import chunk's duration, and the kill switch and an ordinary write
//!   sent while the last chunk is being imported (they must not wait for it);
//! - single-flag writes (`PATCH`), one after the other: writes/s, p50, p99;
//! - stream connects: many rules streams opening at once, with
//!   `/health/live` polled meanwhile (the server must keep answering);
//! - the OFREP bulk answer: bytes plain and gzip, time, and the `304` of an
//!   unchanged `If-None-Match`;
//! - the server's resident memory after seeding and its peak during the
//!   streams (with `--server-pid`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use hyper::header::{ACCEPT_ENCODING, CONTENT_LENGTH, ETAG, IF_NONE_MATCH};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::client::{self, Auth, Client, StreamObserver, Target};
use crate::stats::{Summary, rss_kib};

/// Options of `ff-loadtest scale`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service (a fresh database: flags `scale_*` are created).
    #[arg(long)]
    url: String,
    /// An admin key of the service.
    #[arg(long, env = "FEATURE_FLAGS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
    /// Flags to create, each with an entry in development, staging and
    /// production and a rule on a segment.
    #[arg(long, default_value_t = 100_000)]
    flags: usize,
    /// Segments to create.
    #[arg(long, default_value_t = 1_000)]
    segments: usize,
    /// Flags per import request (the default body limit is 4 MiB).
    #[arg(long, default_value_t = 5_000)]
    chunk: usize,
    /// Single-flag writes to time.
    #[arg(long, default_value_t = 200)]
    writes: usize,
    /// Rules streams opened at once.
    #[arg(long, default_value_t = 20)]
    streams: usize,
    /// The server's process id: its memory is reported.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A label for the summary rows.
    #[arg(long, default_value = "run")]
    label: String,
}

/// The flag the kill switch is thrown on during the last import.
const KILL_FLAG: &str = "scale_kill_switch";

pub async fn run(args: Args) -> anyhow::Result<()> {
    let target = Target::parse(&args.url)?;
    let token = args.admin_token.as_str();
    let mut admin = Client::connect(&target).await?;
    relax_production(&mut admin, token).await?;
    create(
        &mut admin,
        token,
        "/api/v1/flags",
        &json!({"flag_id": KILL_FLAG, "type": "boolean", "default_value": false,
                "environments": {"development": true, "staging": true, "production": true}}),
    )
    .await?;

    let segments: Vec<Value> = (0..args.segments.max(1))
        .map(|i| {
            json!({"segment_id": format!("scale_segment_{i:05}"),
                   "conditions": [{"attribute": "email", "operator": "ends_with",
                                   "value": format!("@team{i}.example")}]})
        })
        .collect();
    import(&mut admin, token, &json!({ "segments": segments })).await?;

    let mut chunk_seconds = Vec::new();
    let mut during_import = None;
    let chunks: Vec<(usize, usize)> = (0..args.flags)
        .step_by(args.chunk.max(1))
        .map(|start| (start, (start + args.chunk.max(1)).min(args.flags)))
        .collect();
    for (n, &(start, end)) in chunks.iter().enumerate() {
        let document = json!({
            "flags": (start..end).map(|i| scale_flag(i, args.segments.max(1))).collect::<Vec<_>>()
        });
        let last = n + 1 == chunks.len();
        let started = Instant::now();
        if last {
            let (imported, others) = tokio::join!(
                import(&mut admin, token, &document),
                writes_beside(&target, token)
            );
            imported?;
            chunk_seconds.push(started.elapsed().as_secs_f64());
            during_import = Some(others?);
        } else {
            import(&mut admin, token, &document).await?;
            chunk_seconds.push(started.elapsed().as_secs_f64());
        }
    }
    let idle_rss = args.server_pid.map(rss_kib).transpose()?;

    let mut write_ms = Vec::with_capacity(args.writes);
    let writes_started = Instant::now();
    for w in 0..args.writes {
        let flag = format!("scale_{:06}", (w * 7919) % args.flags.max(1));
        let patch =
            json!({"environments": {"development": {"enabled": true, "value": w % 2 == 0}}});
        let sent = Instant::now();
        let answer = admin
            .send(
                Method::PATCH,
                &format!("/api/v1/flags/{flag}"),
                Some(Auth::Bearer(token)),
                Some(&patch),
            )
            .await?;
        if !answer.status.is_success() {
            bail!("PATCH {flag}: {} {}", answer.status, answer.body);
        }
        write_ms.push(sent.elapsed().as_secs_f64() * 1e3);
    }
    let write_rate = args.writes as f64 / writes_started.elapsed().as_secs_f64();
    let writes = Summary::of(&mut write_ms);

    let key = server_key(&mut admin, token).await?;
    let streams = streams_at_once(&target, &key, args.streams, args.server_pid).await?;
    let bulk = ofrep_bulk(&target, &key).await?;

    let label = &args.label;
    println!("scale\t{label}\tflags\t{}", args.flags);
    println!("scale\t{label}\tsegments\t{}", args.segments);
    if let (Some(first), Some(last)) = (chunk_seconds.first(), chunk_seconds.last()) {
        println!(
            "scale\t{label}\timport chunk of {} flags: first / last (s)\t{first:.2} / {last:.2}",
            args.chunk
        );
        println!(
            "scale\t{label}\timport total (s)\t{:.1}",
            chunk_seconds.iter().sum::<f64>()
        );
    }
    if let Some(beside) = during_import {
        println!(
            "scale\t{label}\tduring the last import: kill switch / PATCH (ms)\t{:.1} / {:.1}",
            beside.kill_ms, beside.patch_ms
        );
    }
    println!("scale\t{label}\tsingle-flag PATCH: writes/s\t{write_rate:.1}");
    println!(
        "scale\t{label}\tsingle-flag PATCH: p50 / p99 / max (ms)\t{:.1} / {:.1} / {:.1}",
        writes.p50, writes.p99, writes.max
    );
    println!(
        "scale\t{label}\t{} streams at once: all opened (ms) / slowest /health/live (ms)\t{:.0} / {:.1}",
        args.streams, streams.all_opened_ms, streams.slowest_live_ms
    );
    println!(
        "scale\t{label}\tOFREP bulk: bytes plain / gzip\t{} / {}",
        bulk.plain_bytes, bulk.gzip_bytes
    );
    println!(
        "scale\t{label}\tOFREP bulk: 200 / 304 (ms)\t{:.1} / {:.1}",
        bulk.full_ms, bulk.not_modified_ms
    );
    if let Some(rss) = idle_rss {
        println!(
            "scale\t{label}\tRSS after seeding (MiB)\t{:.0}",
            rss as f64 / 1024.0
        );
    }
    if let Some(rss) = streams.peak_rss {
        println!(
            "scale\t{label}\tRSS peak during streams (MiB)\t{:.0}",
            rss as f64 / 1024.0
        );
    }
    Ok(())
}

/// A flag of the large configuration: on in development and staging, off in
/// production, with a rule on a segment and a 50 % rollout.
fn scale_flag(i: usize, segments: usize) -> Value {
    json!({
        "flag_id": format!("scale_{i:06}"),
        "type": "boolean",
        "description": format!("flag {i} of a large configuration"),
        "default_value": false,
        "environments": {
            "development": {"enabled": true, "value": true},
            "staging": {"enabled": true, "value": false},
            "production": {"enabled": false, "value": false}
        },
        "targeting_rules": [{
            "name": "team",
            "conditions": [
                {"attribute": "app_version", "operator": "semver_gte", "value": "2.1.0"},
                {"operator": "in_segment",
                 "value": format!("scale_segment_{:05}", i % segments)}
            ],
            "value": true,
            "percentage": 50
        }]
    })
}

/// First start protects production and asks for approvals there; the
/// benchmark writes to it directly.
async fn relax_production(admin: &mut Client, token: &str) -> anyhow::Result<()> {
    let current = admin
        .send(
            Method::GET,
            "/api/v1/environments/production",
            Some(Auth::Bearer(token)),
            None,
        )
        .await?;
    if !current.status.is_success() {
        bail!("reading production: {} {}", current.status, current.body);
    }
    let mut settings = current.body;
    if let Some(map) = settings.as_object_mut() {
        map.insert("approval_required".into(), json!(false));
        map.insert("protected".into(), json!(false));
        for derived in ["children", "version", "updated_at"] {
            map.remove(derived);
        }
    }
    let mut request = client::request(
        admin.target(),
        Method::PUT,
        "/api/v1/environments/production",
        Some(Auth::Bearer(token)),
        Some(&settings),
    )?;
    request.headers_mut().insert(
        "x-change-reason",
        "ff-loadtest scale writes directly".parse()?,
    );
    let answer = admin.send_prepared(request).await?;
    if !answer.status.is_success() {
        bail!("relaxing production: {} {}", answer.status, answer.body);
    }
    Ok(())
}

async fn create(admin: &mut Client, token: &str, path: &str, body: &Value) -> anyhow::Result<()> {
    let answer = admin
        .send(Method::POST, path, Some(Auth::Bearer(token)), Some(body))
        .await?;
    if !answer.status.is_success() && answer.status != StatusCode::CONFLICT {
        bail!("POST {path}: {} {}", answer.status, answer.body);
    }
    Ok(())
}

async fn import(admin: &mut Client, token: &str, document: &Value) -> anyhow::Result<()> {
    let answer = admin
        .send(
            Method::POST,
            "/api/v1/import",
            Some(Auth::Bearer(token)),
            Some(document),
        )
        .await?;
    if !answer.status.is_success() {
        bail!("import: {} {}", answer.status, answer.body);
    }
    Ok(())
}

/// How long the kill switch and an ordinary write took while an import ran.
struct Beside {
    kill_ms: f64,
    patch_ms: f64,
}

/// Waits a moment (so that the import is under way), then throws the kill
/// switch on an unrelated flag and, after it, writes another flag.
async fn writes_beside(target: &Target, token: &str) -> anyhow::Result<Beside> {
    let mut client = Client::connect(target).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let killed = client
        .send(
            Method::POST,
            "/api/v1/emergency/disable",
            Some(Auth::Bearer(token)),
            Some(&json!({"flag_id": KILL_FLAG, "environment": "production"})),
        )
        .await?;
    if !killed.status.is_success() {
        bail!("kill switch: {} {}", killed.status, killed.body);
    }
    let kill_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let patched = client
        .send(
            Method::PATCH,
            &format!("/api/v1/flags/{KILL_FLAG}"),
            Some(Auth::Bearer(token)),
            Some(&json!({"description": "written during an import"})),
        )
        .await?;
    if !patched.status.is_success() {
        bail!(
            "PATCH during the import: {} {}",
            patched.status,
            patched.body
        );
    }
    Ok(Beside {
        kill_ms,
        patch_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

async fn server_key(admin: &mut Client, token: &str) -> anyhow::Result<String> {
    let key = admin
        .send(
            Method::POST,
            "/api/v1/api-keys",
            Some(Auth::Bearer(token)),
            Some(
                &json!({"name": format!("ff-loadtest scale {}", std::process::id()),
                         "kind": "server", "environment": "development"}),
            ),
        )
        .await?;
    match key.body.get("key").and_then(Value::as_str) {
        Some(secret) if key.status.is_success() => Ok(secret.to_owned()),
        _ => bail!("creating a server key: {} {}", key.status, key.body),
    }
}

#[derive(Default)]
struct Opened(AtomicUsize);

impl StreamObserver for Opened {
    fn opened(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn received(&self) {}
    fn ended(&self) {}
}

struct StreamsAtOnce {
    all_opened_ms: f64,
    slowest_live_ms: f64,
    peak_rss: Option<u64>,
}

/// Opens `count` rules streams at once (each waits for its `put`) while
/// `/health/live` is polled and memory sampled.
async fn streams_at_once(
    target: &Target,
    key: &str,
    count: usize,
    pid: Option<u32>,
) -> anyhow::Result<StreamsAtOnce> {
    let opened = Arc::new(Opened::default());
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let (target, key, opened, stopped) = (
            target.clone(),
            key.to_owned(),
            opened.clone(),
            stopped.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client::subscribe(
                &target,
                None,
                "/api/v1/stream",
                &key,
                true,
                opened.as_ref(),
                stopped,
            )
            .await
        }));
    }
    let mut probe = Client::connect(target).await?;
    let mut slowest_live_ms: f64 = 0.0;
    let mut peak_rss = None;
    let deadline = started + Duration::from_secs(300);
    while opened.0.load(Ordering::Relaxed) < count && Instant::now() < deadline {
        let asked = Instant::now();
        let live = probe.send(Method::GET, "/health/live", None, None).await?;
        if !live.status.is_success() {
            bail!("/health/live: {}", live.status);
        }
        slowest_live_ms = slowest_live_ms.max(asked.elapsed().as_secs_f64() * 1e3);
        if let Some(pid) = pid {
            let rss = rss_kib(pid)?;
            peak_rss = Some(peak_rss.map_or(rss, |peak: u64| peak.max(rss)));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_opened_ms = started.elapsed().as_secs_f64() * 1e3;
    let opened_count = opened.0.load(Ordering::Relaxed);
    let _ = stop.send(true);
    for task in tasks {
        let outcome = task.await?;
        if let Some(error) = outcome.error {
            bail!("a stream failed: {error}");
        }
    }
    if opened_count < count {
        bail!("only {opened_count} of {count} streams opened within 300 s");
    }
    Ok(StreamsAtOnce {
        all_opened_ms,
        slowest_live_ms,
        peak_rss,
    })
}

struct Bulk {
    plain_bytes: usize,
    gzip_bytes: usize,
    full_ms: f64,
    not_modified_ms: f64,
}

/// The OFREP bulk answer of every flag: plain, with gzip asked for, and
/// again with its `ETag`.
async fn ofrep_bulk(target: &Target, key: &str) -> anyhow::Result<Bulk> {
    let mut client = Client::connect(target).await?;
    let body = json!({"context": {"targetingKey": "user-1", "email": "a@team7.example",
                                  "app_version": "2.3.0"}});
    let path = "/ofrep/v1/evaluate/flags";
    let request = client::request(
        target,
        Method::POST,
        path,
        Some(Auth::ApiKey(key)),
        Some(&body),
    )?;
    let started = Instant::now();
    let (status, headers, bytes) = client.send_raw(request).await?;
    let full_ms = started.elapsed().as_secs_f64() * 1e3;
    if status != StatusCode::OK {
        bail!("OFREP bulk: {status}");
    }
    let etag = headers.get(ETAG).cloned();

    let mut request = client::request(
        target,
        Method::POST,
        path,
        Some(Auth::ApiKey(key)),
        Some(&body),
    )?;
    request
        .headers_mut()
        .insert(ACCEPT_ENCODING, "gzip".parse()?);
    let (_, gzip_headers, gzip) = client.send_raw(request).await?;
    let gzip_bytes = gzip_headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(gzip.len());

    let mut request = client::request(
        target,
        Method::POST,
        path,
        Some(Auth::ApiKey(key)),
        Some(&body),
    )?;
    if let Some(etag) = etag {
        request.headers_mut().insert(IF_NONE_MATCH, etag);
    }
    let started = Instant::now();
    let (status, _, _) = client.send_raw(request).await?;
    let not_modified_ms = started.elapsed().as_secs_f64() * 1e3;
    if status != StatusCode::NOT_MODIFIED {
        bail!("OFREP bulk with If-None-Match: {status}, expected 304");
    }
    Ok(Bulk {
        plain_bytes: bytes.len(),
        gzip_bytes,
        full_ms,
        not_modified_ms,
    })
}
