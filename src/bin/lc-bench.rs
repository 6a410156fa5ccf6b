//! End-to-end benchmark of `lc-webhooks`: ingest → evaluation → claim → send → record.
//!
//! `cargo build --release` builds both `lc-webhooks` and `lc-bench`; then
//! `cargo run --release --bin lc-bench -- --backend sqlite|postgres [--deliveries N]
//! [--integrations K] [--instances M]`.
//!
//! The bench starts a receiver (this same binary re-executed with `--receiver-only`, so its CPU
//! is not the service's), one or more `lc-webhooks` processes on a fresh database, drives them
//! through the public HTTP API, and prints one figure per line and a final JSON line.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::{Parser, ValueEnum};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const ADMIN_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "lc-bench",
    about = "End-to-end throughput and latency of lc-webhooks"
)]
struct Args {
    /// Store to benchmark.
    #[arg(long, value_enum, required_unless_present = "receiver_only")]
    backend: Option<Backend>,
    /// Webhooks to deliver in the throughput phase (posts = deliveries / integrations).
    #[arg(long, default_value_t = 100_000)]
    deliveries: u64,
    /// Integrations, all pointing at the receiver; every post is delivered to each.
    #[arg(long, default_value_t = 1)]
    integrations: usize,
    /// Service processes sharing the database (PostgreSQL only).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Creators the posts are spread over.
    #[arg(long, default_value_t = 1000)]
    creators: usize,
    /// Posts per ingest batch request in the throughput phase (at most 1000).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Ingest batch requests in flight at once.
    #[arg(long, default_value_t = 4)]
    ingest_concurrency: usize,
    /// Posts per second in the latency phase.
    #[arg(long, default_value_t = 1000)]
    latency_rate: u64,
    /// Length of the latency phase in seconds (0 skips it).
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// Posts already stored (and evaluated) before phase 1, written straight into the database:
    /// ingest on a store with history versus an empty one.
    #[arg(long, default_value_t = 0)]
    history: u64,
    /// Admin URL of the PostgreSQL server; a database `lcw_bench_<uuid>` is created and dropped.
    #[arg(long, default_value = ADMIN_POSTGRES_URL)]
    postgres_url: String,
    /// Path of the `lc-webhooks` binary (default: next to this one).
    #[arg(long)]
    service_bin: Option<PathBuf>,
    #[arg(long, hide = true)]
    receiver_only: bool,
    #[arg(long, hide = true, default_value_t = 0)]
    port: u16,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.receiver_only {
        let rt = tokio::runtime::Runtime::new()?;
        return rt.block_on(receiver::serve(args.port));
    }
    let rt = tokio::runtime::Runtime::new()?;
    let mut children = Children::default();
    let result = rt.block_on(bench(&args, &mut children));
    children.kill_all();
    if let Some(db) = children.pg_database.take() {
        if let Err(e) = rt.block_on(drop_pg_database(&args.postgres_url, &db)) {
            eprintln!("warning: could not drop database {db}: {e:#}");
        }
    }
    if let Some(dir) = children.temp_dir.take() {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Child processes and scratch state, torn down whatever way the bench ends.
#[derive(Default)]
struct Children {
    procs: Vec<(String, Child)>,
    pg_database: Option<String>,
    temp_dir: Option<PathBuf>,
}

impl Children {
    fn kill_all(&mut self) {
        for (_, child) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.procs.clear();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// User + system CPU seconds a process has used so far (`/proc/<pid>/stat`).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// (busy, total) jiffies of the whole machine, from the first line of `/proc/stat`.
fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let nums: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    let total: u64 = nums.iter().sum();
    // idle and iowait
    let idle = nums.get(3).copied().unwrap_or(0) + nums.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// Peak resident set size in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------------------------
// The receiver: answers 200 at once and remembers when each webhook arrived.

mod receiver {
    use super::*;

    #[derive(Default)]
    pub struct Recv {
        pub count: AtomicU64,
        /// (webhook-id, medias[0].lcId, receive time in unix µs)
        pub events: Mutex<Vec<(String, String, i64)>>,
    }

    #[derive(Deserialize)]
    struct Payload {
        #[serde(default)]
        medias: Vec<PayloadMedia>,
    }

    #[derive(Deserialize)]
    struct PayloadMedia {
        #[serde(rename = "lcId")]
        lc_id: String,
    }

    pub async fn serve(port: u16) -> Result<()> {
        let state = Arc::new(Recv::default());
        let app = Router::new()
            .route("/hook", post(hook))
            .route("/count", get(count))
            .route("/events", get(events))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        axum::serve(listener, app).await?;
        Ok(())
    }

    async fn hook(State(s): State<Arc<Recv>>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let at = unix_micros();
        let id = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let media = serde_json::from_slice::<Payload>(&body)
            .ok()
            .and_then(|p| p.medias.into_iter().next())
            .map(|m| m.lc_id)
            .unwrap_or_default();
        s.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, media, at));
        s.count.fetch_add(1, Ordering::Relaxed);
        StatusCode::OK
    }

    async fn count(State(s): State<Arc<Recv>>) -> Json<Value> {
        Json(json!({ "count": s.count.load(Ordering::Relaxed) }))
    }

    #[derive(Deserialize)]
    pub struct Since {
        #[serde(default)]
        from: usize,
    }

    async fn events(State(s): State<Arc<Recv>>, Query(q): Query<Since>) -> Json<Value> {
        let events = s.events.lock().unwrap_or_else(|p| p.into_inner());
        let list: Vec<Value> = events
            .iter()
            .skip(q.from)
            .map(|(id, media, at)| json!([id, media, at]))
            .collect();
        Json(json!({ "count": events.len(), "events": list }))
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers.

async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> Result<Value> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body)?)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("POST {url} → {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value> {
    let resp = client.get(url).send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("GET {url} → {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

async fn wait_ready(client: &reqwest::Client, url: &str, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!("{url}: process exited with {status} before answering");
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct ReceiverClient {
    client: reqwest::Client,
    base: String,
}

impl ReceiverClient {
    async fn count(&self) -> Result<u64> {
        let v = get_json(&self.client, &format!("{}/count", self.base)).await?;
        v["count"].as_u64().ok_or_else(|| anyhow!("bad /count"))
    }

    /// (webhook-id, media lcId, receive µs) from index `from` on.
    async fn events(&self, from: usize) -> Result<Vec<(String, String, i64)>> {
        let v = get_json(&self.client, &format!("{}/events?from={from}", self.base)).await?;
        let list = v["events"]
            .as_array()
            .ok_or_else(|| anyhow!("bad /events"))?;
        Ok(list
            .iter()
            .map(|e| {
                (
                    e[0].as_str().unwrap_or_default().to_string(),
                    e[1].as_str().unwrap_or_default().to_string(),
                    e[2].as_i64().unwrap_or_default(),
                )
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Direct database access, for the size of the delivery log and backlog progress.

enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn connect(url: &str) -> Result<Db> {
        if url.starts_with("postgres") {
            Ok(Db::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await?,
            ))
        } else {
            Ok(Db::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await?,
            ))
        }
    }

    async fn count(&self, sql: &str) -> Result<i64> {
        Ok(match self {
            Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await?,
            Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await?,
        })
    }

    /// Writes `n` already-evaluated posts for `creator` (no inbox rows), in one statement.
    async fn prefill(&self, creator: &str, n: u64) -> Result<()> {
        let n = i64::try_from(n)?;
        match self {
            Db::Sqlite(p) => {
                sqlx::query(
                    "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ?1)
                     INSERT INTO media (id, creator_id, platform, post_type, posted_at, ingested_at)
                     SELECT 'history-' || x, ?2, 'INSTAGRAM', 'STORY', 0, 0 FROM g",
                )
                .bind(n)
                .bind(creator)
                .execute(p)
                .await?;
            }
            Db::Postgres(p) => {
                sqlx::query(
                    "INSERT INTO media (id, creator_id, platform, post_type, posted_at, ingested_at)
                     SELECT 'history-' || g, $2, 'INSTAGRAM', 'STORY', 0, 0 FROM generate_series(1, $1) g",
                )
                .bind(n)
                .bind(creator)
                .execute(p)
                .await?;
            }
        }
        Ok(())
    }

    async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Backlog at each stage: posts not yet evaluated, deliveries queued, attempts recorded.
    async fn progress(&self) -> String {
        let inbox = self.count("SELECT COUNT(*) FROM media_inbox").await;
        let queued = self.count("SELECT COUNT(*) FROM delivery_queue").await;
        let attempts = self.count("SELECT COUNT(*) FROM attempts").await;
        match (inbox, queued, attempts) {
            (Ok(i), Ok(q), Ok(a)) => {
                format!("inbox(unevaluated)={i} queue(pending)={q} attempts_recorded={a}")
            }
            _ => "db progress unavailable".to_string(),
        }
    }
}

async fn create_pg_database(admin_url: &str, name: &str) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

async fn drop_pg_database(admin_url: &str, name: &str) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

fn with_database(admin_url: &str, db: &str) -> Result<String> {
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{db}"));
    Ok(url.to_string())
}

// ---------------------------------------------------------------------------------------------
// The bench.

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

async fn bench(args: &Args, children: &mut Children) -> Result<()> {
    let backend = args
        .backend
        .ok_or_else(|| anyhow!("--backend is required"))?;
    let k = args.integrations.max(1);
    let instances = args.instances.max(1);
    if instances > 1 && backend == Backend::Sqlite {
        bail!("--instances > 1 needs --backend postgres (SQLite is one process's store)");
    }
    let batch = args.batch.clamp(1, 1000);
    let posts = args.deliveries.div_ceil(k as u64);
    let expected = posts * k as u64;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let exe = std::env::current_exe()?;
    let service_bin = match &args.service_bin {
        Some(p) => p.clone(),
        None => exe
            .parent()
            .ok_or_else(|| anyhow!("no parent dir"))?
            .join("lc-webhooks"),
    };
    if !service_bin.exists() {
        bail!(
            "{} not found: run `cargo build --release` first (it builds lc-webhooks and lc-bench)",
            service_bin.display()
        );
    }
    let temp = std::env::temp_dir().join(format!("lc-bench-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&temp)?;
    children.temp_dir = Some(temp.clone());
    println!(
        "# backend={} deliveries={expected} posts={posts} integrations={k} instances={instances} cores={cores} scratch={}",
        backend.name(),
        temp.display()
    );

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(120))
        .build()?;

    // 1. The receiver, in its own process.
    let rport = free_port()?;
    let mut rchild = Command::new(&exe)
        .args(["--receiver-only", "--port", &rport.to_string()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(temp.join("receiver.log"))?)
        .spawn()
        .context("starting the receiver")?;
    let receiver_base = format!("http://127.0.0.1:{rport}");
    wait_ready(&client, &format!("{receiver_base}/count"), &mut rchild).await?;
    let receiver_pid = rchild.id();
    children.procs.push(("receiver".into(), rchild));
    let receiver = ReceiverClient {
        client: client.clone(),
        base: receiver_base.clone(),
    };

    // 2. The service on a fresh database.
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", temp.join("bench.db").display()),
        Backend::Postgres => {
            let name = format!("lcw_bench_{}", uuid::Uuid::now_v7().simple());
            create_pg_database(&args.postgres_url, &name)
                .await
                .context("creating the bench database")?;
            children.pg_database = Some(name.clone());
            with_database(&args.postgres_url, &name)?
        }
    };
    let mut services = Vec::new();
    for i in 0..instances {
        let port = free_port()?;
        let log = std::fs::File::create(temp.join(format!("service-{i}.log")))?;
        let mut child = Command::new(&service_bin)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &database_url,
            ])
            .env_remove("LC_RETRY_SCHEDULE")
            .env_remove("LC_ADMIN_TOKEN")
            .env_remove("DATABASE_URL")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", service_bin.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        // Instances migrate the same database: start them one after the other.
        if let Err(e) = wait_ready(&client, &format!("{base}/healthz"), &mut child).await {
            let log =
                std::fs::read_to_string(temp.join(format!("service-{i}.log"))).unwrap_or_default();
            bail!("service {i}: {e:#}\n{log}");
        }
        services.push((base, child.id()));
        children.procs.push((format!("service-{i}"), child));
    }
    let api = services[0].0.clone();
    let db = Db::connect(&database_url).await?;

    // 3. Integrations, the rule, creators.
    for i in 0..k {
        post_json(
            &client,
            &format!("{api}/v1/integrations"),
            &json!({"name": format!("bench-{i}"), "url": format!("{receiver_base}/hook"), "apiKey": format!("bench-key-{i}")}),
        )
        .await?;
    }
    post_json(
        &client,
        &format!("{api}/v1/rules"),
        &json!({"name":"bench","postTypes":[],"count":1,"repeatable":true,"reward":{"type":"DISCOUNT_CODE"}}),
    )
    .await?;
    let creator_ids = create_creators(&client, &services, args.creators.max(1)).await?;
    if args.history > 0 {
        let started = Instant::now();
        db.prefill(&creator_ids[0], args.history).await?;
        println!(
            "# history: {} posts stored in {:.1} s",
            args.history,
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "# setup done: {k} integrations, 1 rule, {} creators",
        creator_ids.len()
    );

    // 4. Phase 1: throughput.
    let service_cpu_setup: f64 = services
        .iter()
        .map(|(_, pid)| cpu_secs(*pid).unwrap_or(0.0))
        .sum();
    let receiver_cpu_setup = cpu_secs(receiver_pid).unwrap_or(0.0);
    let machine_setup = machine_jiffies();
    let ingest = ingest(
        &client,
        &services,
        &creator_ids,
        posts,
        batch,
        args.ingest_concurrency.max(1),
    )
    .await?;
    let ingest_posts_per_s = posts as f64 / ingest.wall.as_secs_f64();
    println!(
        "# ingested {posts} posts in {:.2} s ({ingest_posts_per_s:.0} posts/s)",
        ingest.wall.as_secs_f64()
    );
    let timeout = Duration::from_secs(args.timeout_secs);
    let got = wait_for(&receiver, &db, expected, ingest.started, timeout).await?;
    if got < expected {
        bail!("timed out: the receiver has {got} of {expected} webhooks");
    }
    let events = receiver.events(0).await?;
    let last_received = events.iter().map(|e| e.2).max().unwrap_or(0);
    let first_received = events.iter().map(|e| e.2).min().unwrap_or(0);
    let e2e_secs = (last_received - ingest.first_accepted_us) as f64 / 1e6;
    let deliveries_per_s = expected as f64 / e2e_secs;
    let send_window_secs = (last_received - first_received).max(1) as f64 / 1e6;
    let mut distinct: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let duplicates_phase1 = events.len() - distinct.len();
    // Results are written in batches after the send: wait for the log to catch up.
    let record_start = Instant::now();
    let mut recorded = 0;
    while record_start.elapsed() < Duration::from_secs(120) {
        recorded = db
            .count("SELECT COUNT(*) FROM deliveries WHERE status = 'succeeded'")
            .await?;
        if recorded as u64 >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let record_lag_ms = ((unix_micros() - last_received) as f64 / 1e3).max(0.0);
    let service_cpu_phase1: f64 = services
        .iter()
        .map(|(_, pid)| cpu_secs(*pid).unwrap_or(0.0))
        .sum::<f64>()
        - service_cpu_setup;
    let receiver_cpu_phase1 = cpu_secs(receiver_pid).unwrap_or(0.0) - receiver_cpu_setup;
    let machine_phase1 = machine_jiffies();
    let machine_busy_pct = 100.0 * (machine_phase1.0 - machine_setup.0) as f64
        / (machine_phase1.1 - machine_setup.1).max(1) as f64;
    println!(
        "# phase 1: {expected} webhooks in {e2e_secs:.2} s; {recorded} recorded as succeeded {record_lag_ms:.0} ms after the last was received"
    );

    // 5. Phase 2: latency at a steady rate.
    let lat = if args.latency_secs > 0 {
        Some(
            latency_phase(
                &client,
                &services,
                &creator_ids,
                &receiver,
                events.len(),
                args.latency_rate.max(1),
                args.latency_secs,
                k,
            )
            .await?,
        )
    } else {
        None
    };
    drop(events);

    // 6. Peak RSS and the delivery log.
    let service_cpu_total: Vec<f64> = services
        .iter()
        .map(|(_, pid)| round1(cpu_secs(*pid).unwrap_or(0.0)))
        .collect();
    let receiver_cpu_total = cpu_secs(receiver_pid).unwrap_or(0.0);
    let mut rss_kib = Vec::new();
    for (_, pid) in &services {
        rss_kib.push(peak_rss_kib(*pid).unwrap_or(0));
    }
    let receiver_rss_kib = peak_rss_kib(receiver_pid).unwrap_or(0);
    let total_expected = expected + lat.as_ref().map_or(0, |l| l.webhooks);
    let mut deliveries_rows = 0;
    let mut attempts_rows = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        deliveries_rows = db.count("SELECT COUNT(*) FROM deliveries").await?;
        attempts_rows = db.count("SELECT COUNT(*) FROM attempts").await?;
        if attempts_rows as u64 >= total_expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let succeeded_rows = db
        .count("SELECT COUNT(*) FROM deliveries WHERE status = 'succeeded'")
        .await?;
    let log_matches = deliveries_rows as u64 == total_expected
        && attempts_rows as u64 == total_expected
        && succeeded_rows as u64 == total_expected;
    let file_size = |f: &str| std::fs::metadata(temp.join(f)).map_or(0, |m| m.len()) as i64;
    let sqlite_wal_bytes = file_size("bench.db-wal");
    let db_size_bytes = match backend {
        Backend::Sqlite => file_size("bench.db"),
        Backend::Postgres => db
            .count("SELECT pg_database_size(current_database())")
            .await
            .unwrap_or(0),
    };
    db.close().await;

    // 7. Receiver ceiling: the same body and connection count, straight at the receiver.
    let connections = (64 * k).min(256);
    let ceiling_requests = expected.max(20_000);
    let ceiling = receiver_ceiling(&receiver_base, connections, ceiling_requests).await?;
    let ratio = deliveries_per_s / ceiling;

    // 8. Report.
    let peak_rss_mib: Vec<f64> = rss_kib.iter().map(|k| round1(*k as f64 / 1024.0)).collect();
    let max_rss_mib = peak_rss_mib.iter().cloned().fold(0.0, f64::max);
    let mut figures: Vec<(&str, Value)> = vec![
        ("deliveries_per_s", json!(round1(deliveries_per_s))),
        ("e2e_secs", json!(round3(e2e_secs))),
        ("send_window_secs", json!(round3(send_window_secs))),
        ("ingest_posts_per_s", json!(round1(ingest_posts_per_s))),
        ("ingest_secs", json!(round3(ingest.wall.as_secs_f64()))),
        ("record_lag_ms", json!(round1(record_lag_ms))),
        ("duplicates_phase1", json!(duplicates_phase1)),
    ];
    if let Some(l) = &lat {
        figures.extend([
            ("latency_posts", json!(l.posts)),
            (
                "latency_rate_achieved_posts_per_s",
                json!(round1(l.achieved_rate)),
            ),
            ("latency_p50_ms", json!(round1(l.p50))),
            ("latency_p99_ms", json!(round1(l.p99))),
            ("latency_max_ms", json!(round1(l.max))),
            ("latency_missing", json!(l.missing)),
        ]);
    }
    figures.extend([
        ("peak_rss_mib", json!(max_rss_mib)),
        ("peak_rss_mib_per_instance", json!(peak_rss_mib)),
        (
            "receiver_peak_rss_mib",
            json!(round1(receiver_rss_kib as f64 / 1024.0)),
        ),
        ("deliveries_rows", json!(deliveries_rows)),
        ("attempts_rows", json!(attempts_rows)),
        ("succeeded_rows", json!(succeeded_rows)),
        ("expected_rows", json!(total_expected)),
        ("delivery_log_matches", json!(log_matches)),
        (
            "db_size_mib",
            json!(round1(db_size_bytes as f64 / 1048576.0)),
        ),
        (
            "sqlite_wal_mib",
            json!(round1(sqlite_wal_bytes as f64 / 1048576.0)),
        ),
        ("service_cpu_secs_phase1", json!(round1(service_cpu_phase1))),
        (
            "receiver_cpu_secs_phase1",
            json!(round1(receiver_cpu_phase1)),
        ),
        (
            "machine_cpu_busy_pct_phase1",
            json!(round1(machine_busy_pct)),
        ),
        ("service_cpu_secs_total", json!(service_cpu_total)),
        ("receiver_cpu_secs_total", json!(round1(receiver_cpu_total))),
        ("receiver_ceiling_per_s", json!(round1(ceiling))),
        ("receiver_ceiling_connections", json!(connections)),
        ("ratio_to_ceiling", json!((ratio * 1000.0).round() / 1000.0)),
    ]);
    for (name, value) in &figures {
        println!("{name}: {value}");
    }
    let mut all = serde_json::Map::new();
    all.insert("backend".into(), json!(backend.name()));
    all.insert("deliveries".into(), json!(expected));
    all.insert("posts".into(), json!(posts));
    all.insert("history_posts".into(), json!(args.history));
    all.insert("integrations".into(), json!(k));
    all.insert("instances".into(), json!(instances));
    all.insert("cores".into(), json!(cores));
    for (name, value) in figures {
        all.insert(name.into(), value);
    }
    println!("{}", Value::Object(all));
    if !log_matches {
        eprintln!(
            "warning: delivery log does not match: deliveries={deliveries_rows} attempts={attempts_rows} succeeded={succeeded_rows} expected={total_expected}"
        );
    }
    Ok(())
}

async fn create_creators(
    client: &reqwest::Client,
    services: &[(String, u32)],
    n: usize,
) -> Result<Vec<String>> {
    let sem = Arc::new(Semaphore::new(16));
    let mut set = JoinSet::new();
    for i in 0..n {
        let client = client.clone();
        let base = services[i % services.len()].0.clone();
        let permit = sem.clone().acquire_owned().await?;
        set.spawn(async move {
            let _permit = permit;
            let v = post_json(
                &client,
                &format!("{base}/v1/creators"),
                &json!({"email": format!("bench{i}@example.com"), "igUsername": format!("bench.{i}")}),
            )
            .await?;
            v["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("creator without id"))
        });
    }
    let mut ids = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        ids.push(r??);
    }
    Ok(ids)
}

fn media_batch(creators: &[String], start: u64, len: usize) -> Value {
    const TYPES: [&str; 3] = ["STORY", "FEED", "REEL"];
    let media: Vec<Value> = (0..len as u64)
        .map(|j| {
            let n = start + j;
            json!({
                "creatorId": creators[(n % creators.len() as u64) as usize],
                "postType": TYPES[(n % 3) as usize],
            })
        })
        .collect();
    json!({ "media": media })
}

struct Ingest {
    started: Instant,
    wall: Duration,
    /// When the first batch was accepted (201), unix µs.
    first_accepted_us: i64,
}

async fn ingest(
    client: &reqwest::Client,
    services: &[(String, u32)],
    creators: &[String],
    posts: u64,
    batch: usize,
    concurrency: usize,
) -> Result<Ingest> {
    // Bodies are built before the clock starts.
    let mut bodies = Vec::new();
    let mut start = 0;
    while start < posts {
        let len = (posts - start).min(batch as u64) as usize;
        bodies.push(serde_json::to_vec(&media_batch(creators, start, len))?);
        start += len as u64;
    }
    let first_accepted = Arc::new(AtomicU64::new(u64::MAX));
    let sem = Arc::new(Semaphore::new(concurrency * services.len()));
    let mut set = JoinSet::new();
    let started = Instant::now();
    for (i, body) in bodies.into_iter().enumerate() {
        let permit = sem.clone().acquire_owned().await?;
        let client = client.clone();
        let url = format!("{}/v1/media/batch", services[i % services.len()].0);
        let first = first_accepted.clone();
        set.spawn(async move {
            let _permit = permit;
            let resp = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            let at = unix_micros() as u64;
            let status = resp.status();
            if status != reqwest::StatusCode::CREATED {
                bail!(
                    "{url} → {status}: {}",
                    resp.text().await.unwrap_or_default()
                );
            }
            first.fetch_min(at, Ordering::Relaxed);
            resp.bytes().await?;
            Ok(())
        });
        while let Some(r) = set.try_join_next() {
            r??;
        }
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(Ingest {
        started,
        wall: started.elapsed(),
        first_accepted_us: first_accepted.load(Ordering::Relaxed) as i64,
    })
}

/// Waits until the receiver holds `expected` webhooks, printing progress every 5 s.
async fn wait_for(
    receiver: &ReceiverClient,
    db: &Db,
    expected: u64,
    since: Instant,
    timeout: Duration,
) -> Result<u64> {
    let deadline = Instant::now() + timeout;
    let mut next_report = Instant::now() + Duration::from_secs(5);
    let mut last = 0;
    loop {
        let n = receiver.count().await?;
        if n >= expected {
            return Ok(n);
        }
        if Instant::now() >= next_report {
            let rate = (n - last.min(n)) as f64 / 5.0;
            println!(
                "# t={:.0}s received={n}/{expected} ({rate:.0}/s) {}",
                since.elapsed().as_secs_f64(),
                db.progress().await
            );
            last = n;
            next_report += Duration::from_secs(5);
        }
        if Instant::now() >= deadline {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Latency {
    posts: u64,
    webhooks: u64,
    achieved_rate: f64,
    p50: f64,
    p99: f64,
    max: f64,
    missing: u64,
}

#[allow(clippy::too_many_arguments)]
async fn latency_phase(
    client: &reqwest::Client,
    services: &[(String, u32)],
    creators: &[String],
    receiver: &ReceiverClient,
    from_event: usize,
    rate: u64,
    secs: u64,
    k: usize,
) -> Result<Latency> {
    // Batches of 10 every 10 ms at 1,000 posts/s; scaled for other rates.
    let per_tick = (rate / 100).max(1);
    let tick = Duration::from_secs_f64(per_tick as f64 / rate as f64);
    let ticks = (secs as f64 / tick.as_secs_f64()).round() as u64;
    let accepted: Arc<Mutex<HashMap<String, i64>>> = Arc::new(Mutex::new(HashMap::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut set = JoinSet::new();
    let started = Instant::now();
    for t in 0..ticks {
        interval.tick().await;
        let body = serde_json::to_vec(&media_batch(creators, t * per_tick, per_tick as usize))?;
        let client = client.clone();
        let url = format!("{}/v1/media/batch", services[t as usize % services.len()].0);
        let accepted = accepted.clone();
        let in_flight = in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
        set.spawn(async move {
            let resp = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let at = unix_micros();
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let resp = resp?;
            if resp.status() != reqwest::StatusCode::CREATED {
                bail!("{url} → {}", resp.status());
            }
            let v: Value = serde_json::from_slice(&resp.bytes().await?)?;
            let mut map = accepted.lock().unwrap_or_else(|p| p.into_inner());
            for item in v["items"].as_array().into_iter().flatten() {
                if let Some(id) = item["id"].as_str() {
                    map.insert(id.to_string(), at);
                }
            }
            Ok(())
        });
        while let Some(r) = set.try_join_next() {
            r??;
        }
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    let ingest_secs = started.elapsed().as_secs_f64();
    let posts = ticks * per_tick;
    let webhooks = posts * k as u64;
    println!(
        "# phase 2: {posts} posts sent at {rate}/s target in {ingest_secs:.2} s; waiting for {webhooks} webhooks"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = receiver.count().await?;
        if n >= from_event as u64 + webhooks || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = receiver.events(from_event).await?;
    let accepted = accepted.lock().unwrap_or_else(|p| p.into_inner());
    let mut lat: Vec<f64> = events
        .iter()
        .filter_map(|(_, media, at)| accepted.get(media).map(|a| (at - a) as f64 / 1e3))
        .collect();
    lat.sort_by(f64::total_cmp);
    let missing = webhooks.saturating_sub(lat.len() as u64);
    Ok(Latency {
        posts,
        webhooks,
        achieved_rate: posts as f64 / ingest_secs,
        p50: percentile(&lat, 50.0),
        p99: percentile(&lat, 99.0),
        max: lat.last().copied().unwrap_or(f64::NAN),
        missing,
    })
}

/// Requests/s the receiver takes from `connections` keep-alive connections, same body shape.
async fn receiver_ceiling(base: &str, connections: usize, requests: u64) -> Result<f64> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let body = Bytes::from(serde_json::to_vec(&json!({
        "lcId": "0190a0b0-0000-7000-8000-000000000000",
        "email": "bench1@example.com",
        "igUsername": "bench.1",
        "ttUsername": null,
        "discountCode": "LC-7KQ2M9XA",
        "medias": [{"lcId": "0190a0b0-0000-7000-8000-000000000001", "postedAt": "2022-04-12T11:18:20.902164", "postType": "STORY"}]
    }))?);
    let url = format!("{base}/hook");
    let next = Arc::new(AtomicU64::new(0));
    let mut set = JoinSet::new();
    let started = Instant::now();
    for _ in 0..connections {
        let (client, body, url, next) = (client.clone(), body.clone(), url.clone(), next.clone());
        set.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let id = uuid::Uuid::now_v7().to_string();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("authorization", "Bearer bench-key-0")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", (unix_micros() / 1_000_000).to_string())
                    .body(body.clone())
                    .send()
                    .await?;
                if !resp.status().is_success() {
                    bail!("receiver answered {}", resp.status());
                }
                resp.bytes().await?;
            }
            Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(requests as f64 / started.elapsed().as_secs_f64())
}
