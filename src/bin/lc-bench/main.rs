//! End-to-end benchmark of `lc-webhooks`: ingest → evaluation → claim → send → record.
//!
//! `cargo build --release` builds both `lc-webhooks` and `lc-bench`; then
//! `cargo run --release --bin lc-bench -- --backend sqlite|postgres [--deliveries N]
//! [--integrations K] [--instances M]`, or `--monthly [--members N]` for one month-close.
//!
//! The bench starts a receiver (this same binary re-executed with `--receiver-only`, so its CPU
//! is not the service's), one or more `lc-webhooks` processes on a fresh database, drives them
//! through the public HTTP API, and prints one figure per line and a final JSON line.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, ValueEnum};
use serde_json::{json, Value};

mod crash;
mod db;
mod http;
mod monthly;
mod otlp_sink;
mod procs;
mod receiver;
mod workload;

use db::{create_pg_database, with_database, Db};
use http::{batch_figures, metric_by_label, post_json, scrape_metrics, wait_ready};
use procs::{
    cpu_secs, free_port, machine_jiffies, peak_rss_kib, service_bin, unix_micros, Children,
};
use receiver::{receiver_ceiling, ReceiverClient};
use workload::{
    accepted_to_received, create_creators, ingest, ingest_single, latency_phase, wait_for, Latency,
};

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

#[derive(Debug, clap::Subcommand)]
enum Mode {
    /// `kill -9` an instance mid-run: seconds until every reward is delivered, lost and resent.
    Crash(crash::CrashArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum IngestMode {
    Batch,
    Single,
}

#[derive(Debug, Parser)]
#[command(
    name = "lc-bench",
    about = "End-to-end throughput and latency of lc-webhooks",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
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
    /// Posts per reward: the rule's `count` (posts = deliveries × count / integrations). Above 1
    /// the latency phase is skipped: a webhook's first post was accepted before the rest of its group.
    #[arg(long, default_value_t = 1)]
    rule_count: u64,
    /// How phase 1 posts: `batch` (`POST /v1/media/batch`, --batch posts a request,
    /// --ingest-concurrency requests at once) or `single` (`POST /v1/media`, one post a request,
    /// --concurrency clients each sending its next post when the last was answered; latency is
    /// then measured on every post of phase 1, and phase 2 is skipped).
    #[arg(long, value_enum, default_value_t = IngestMode::Batch)]
    ingest: IngestMode,
    /// Clients at once in `--ingest single`.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
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
    /// Every post carries an `externalId` of its own (`POST /v1/media`'s idempotency key), as
    /// a poller's posts do: the cost of the one-post-per-id check on the ingest path.
    #[arg(long)]
    external_ids: bool,
    /// Adds one more integration, subscribed to `post.tagged` only, beside the reward
    /// integrations: every post then also sends a `post.tagged` webhook (counted in the
    /// deliveries waited for, and in the latency figures). With `--rule-count 1` each post makes
    /// `--integrations` + 1 webhooks.
    #[arg(long)]
    post_tagged: bool,
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
    /// The receiver answers each webhook after this many milliseconds (it records the arrival
    /// at once, so latency figures are to the arrival).
    #[arg(long, default_value_t = 0)]
    receiver_delay_ms: u64,
    /// The share of the first integration's webhooks the receiver answers `503` (0 to 1); the
    /// others stay healthy. Phase 1 then ends when the healthy ones have every webhook, its
    /// rate is theirs, and the per-integration figures show what each got; phase 2 and the
    /// delivery-log check are skipped.
    #[arg(long, default_value_t = 0.0)]
    receiver_fail_ratio: f64,
    /// The month-close workload (issue 23) instead of ingest: `--members` approved members of a
    /// program, each with 1 to 3 posts last month, written straight into the database; a
    /// monthly rule with tiers of 1, 2 and 3 posts; the month run by hand and timed until every
    /// webhook has arrived.
    #[arg(long)]
    monthly: bool,
    /// Members of the program in `--monthly`.
    #[arg(long, default_value_t = 100_000)]
    members: u64,
    /// Exports the service's traces (OpenTelemetry, http/protobuf) to a local collector in this
    /// process that counts and drops them: the cost of tracing when on. Off, the service runs
    /// without `OTEL_EXPORTER_OTLP_ENDPOINT` (tracing off).
    #[arg(long)]
    otlp_sink: bool,
    #[arg(long, hide = true)]
    receiver_only: bool,
    #[arg(long, hide = true, default_value_t = 0)]
    port: u16,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.receiver_only {
        let rt = tokio::runtime::Runtime::new()?;
        return rt.block_on(receiver::serve(
            args.port,
            Duration::from_millis(args.receiver_delay_ms),
            args.receiver_fail_ratio.clamp(0.0, 1.0),
        ));
    }
    if let Some(Mode::Crash(crash_args)) = &args.mode {
        return crash::main(crash_args);
    }
    let rt = tokio::runtime::Runtime::new()?;
    let mut children = Children::default();
    let result = rt.block_on(bench(&args, &mut children));
    children.clean_up(&rt, &args.postgres_url);
    result
}

// The bench.

/// Per integration, from the receiver and the service's `/metrics` at the end of phase 1:
/// webhooks answered 200 a second over phase 1, 503s, the most at once at the receiver and the
/// concurrency limit the service ran it at. Only the first few and the failing one are listed
/// one by one when there are many; the rest are summed up as min/median/max.
fn per_integration_figures(
    stats: &[(u64, u64, u64)],
    ids: &[String],
    limits: &std::collections::BTreeMap<String, f64>,
    secs: f64,
) -> Value {
    let rows: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (ok, refused, peak) = stats.get(i).copied().unwrap_or_default();
            json!({
                "ok_per_s": round1(ok as f64 / secs.max(1e-9)),
                "ok": ok,
                "refused": refused,
                "receiver_peak_in_flight": peak,
                "concurrency_limit": limits.get(id),
            })
        })
        .collect();
    if rows.len() <= 4 {
        return json!(rows);
    }
    let mut rates: Vec<f64> = rows
        .iter()
        .map(|r| r["ok_per_s"].as_f64().unwrap_or(0.0))
        .collect();
    rates.sort_by(f64::total_cmp);
    let mut peaks: Vec<u64> = stats.iter().map(|s| s.2).collect();
    peaks.sort_unstable();
    json!({
        "count": rows.len(),
        "ok_per_s_min_median_max": [rates[0], percentile(&rates, 50.0), rates[rates.len() - 1]],
        "receiver_peak_in_flight_min_max": [peaks.first(), peaks.last()],
        "first": rows[0],
    })
}

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

/// Starts the receiver (this binary re-executed with `--receiver-only`, so its CPU is not the
/// service's): its base URL and pid.
async fn start_receiver(
    args: &Args,
    client: &reqwest::Client,
    temp: &std::path::Path,
    children: &mut Children,
) -> Result<(String, u32)> {
    let exe = std::env::current_exe()?;
    let rport = free_port()?;
    let mut rchild = Command::new(&exe)
        .args([
            "--receiver-only",
            "--port",
            &rport.to_string(),
            "--receiver-delay-ms",
            &args.receiver_delay_ms.to_string(),
            "--receiver-fail-ratio",
            &args.receiver_fail_ratio.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(temp.join("receiver.log"))?)
        .spawn()
        .context("starting the receiver")?;
    let receiver_base = format!("http://127.0.0.1:{rport}");
    wait_ready(client, &format!("{receiver_base}/count"), &mut rchild).await?;
    let receiver_pid = rchild.id();
    children.procs.push(("receiver".into(), rchild));
    Ok((receiver_base, receiver_pid))
}

/// Starts `instances` services on a fresh database (a SQLite file in `temp`, or a new
/// PostgreSQL database dropped at the end): their (base URL, pid) and the database URL.
async fn start_services(
    args: &Args,
    backend: Backend,
    service_bin: &std::path::Path,
    instances: usize,
    client: &reqwest::Client,
    temp: &std::path::Path,
    children: &mut Children,
) -> Result<(Vec<(String, u32)>, String)> {
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
    let collector = if args.otlp_sink {
        Some(otlp_sink::start().await?)
    } else {
        None
    };
    let mut services = Vec::new();
    for i in 0..instances {
        let port = free_port()?;
        let log = std::fs::File::create(temp.join(format!("service-{i}.log")))?;
        let mut command = Command::new(service_bin);
        command
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &database_url,
            ])
            .env_remove("LC_RETRY_SCHEDULE")
            .env_remove("LC_ADMIN_TOKEN")
            .env_remove("DATABASE_URL")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL");
        if let Some(url) = &collector {
            command.env("OTEL_EXPORTER_OTLP_ENDPOINT", url);
        }
        let mut child = command
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", service_bin.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        // Instances migrate the same database: start them one after the other.
        if let Err(e) = wait_ready(client, &format!("{base}/healthz"), &mut child).await {
            let log =
                std::fs::read_to_string(temp.join(format!("service-{i}.log"))).unwrap_or_default();
            bail!("service {i}: {e:#}\n{log}");
        }
        services.push((base, child.id()));
        children.procs.push((format!("service-{i}"), child));
    }
    Ok((services, database_url))
}

async fn bench(args: &Args, children: &mut Children) -> Result<()> {
    let backend = args
        .backend
        .ok_or_else(|| anyhow!("--backend is required"))?;
    if args.monthly {
        return monthly::bench(args, backend, children).await;
    }
    let k = args.integrations.max(1);
    let instances = args.instances.max(1);
    if instances > 1 && backend == Backend::Sqlite {
        bail!("--instances > 1 needs --backend postgres (SQLite is one process's store)");
    }
    let batch = args.batch.clamp(1, 1000);
    let rule_count = args.rule_count.max(1);
    let creators = args.creators.max(1) as u64;
    let posts = args.deliveries.div_ceil(k as u64) * rule_count;
    // Posts go to the creators in turn; each creator earns once per `rule_count` of its posts.
    let rewards: u64 = (0..creators)
        .map(|i| (posts / creators + u64::from(i < posts % creators)) / rule_count)
        .sum();
    let failing = args.receiver_fail_ratio > 0.0;
    if failing && k < 2 {
        bail!("--receiver-fail-ratio needs --integrations 2 or more: a healthy one beside the failing one");
    }
    if failing && args.post_tagged {
        bail!("--post-tagged and --receiver-fail-ratio are not measured together");
    }
    // With a failing integration, phase 1 waits for the healthy ones only. Every post is one
    // post.tagged to its own integration.
    let tagged = if args.post_tagged { posts } else { 0 };
    let expected = rewards * (k - usize::from(failing)) as u64 + tagged;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let service_bin = service_bin(args.service_bin.as_deref())?;
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
        "# backend={} deliveries={expected} posts={posts} integrations={k} post_tagged={} instances={instances} cores={cores} scratch={}",
        backend.name(),
        args.post_tagged,
        temp.display()
    );

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(120))
        .build()?;

    // 1. The receiver, in its own process; 2. the service on a fresh database.
    let (receiver_base, receiver_pid) = start_receiver(args, &client, &temp, children).await?;
    let receiver = ReceiverClient {
        client: client.clone(),
        base: receiver_base.clone(),
        healthy_only: failing,
    };
    let (services, database_url) = start_services(
        args,
        backend,
        &service_bin,
        instances,
        &client,
        &temp,
        children,
    )
    .await?;
    let api = services[0].0.clone();
    let db = Db::connect(&database_url).await?;

    // 3. Integrations, the rule, creators.
    let mut integration_ids = Vec::new();
    for i in 0..k {
        let created = post_json(
            &client,
            &format!("{api}/v1/integrations"),
            &json!({"name": format!("bench-{i}"), "url": format!("{receiver_base}/hook/{i}"), "apiKey": format!("bench-key-{i}")}),
        )
        .await?;
        integration_ids.push(created["id"].as_str().unwrap_or_default().to_string());
    }
    if args.post_tagged {
        let created = post_json(
            &client,
            &format!("{api}/v1/integrations"),
            &json!({"name": "bench-post-tagged", "url": format!("{receiver_base}/hook/{k}"),
                    "apiKey": "bench-key-tagged", "eventTypes": ["post.tagged"]}),
        )
        .await?;
        integration_ids.push(created["id"].as_str().unwrap_or_default().to_string());
    }
    post_json(
        &client,
        &format!("{api}/v1/rules"),
        &json!({"name":"bench","postTypes":[],"count":rule_count,"repeatable":true,"reward":{"type":"DISCOUNT_CODE"}}),
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
    let (ingest, single_accepted) = match args.ingest {
        IngestMode::Batch => (
            ingest(
                &client,
                &services,
                &creator_ids,
                posts,
                batch,
                args.ingest_concurrency.max(1),
                args.external_ids,
            )
            .await?,
            None,
        ),
        IngestMode::Single => {
            let (ingest, accepted) = ingest_single(
                &client,
                &services,
                &creator_ids,
                posts,
                args.concurrency,
                args.external_ids,
            )
            .await?;
            (ingest, Some(accepted))
        }
    };
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
    let done_at = unix_micros();
    let events = receiver.events(0).await?;
    // With a failing integration its late successes would stretch the window: it ends when
    // the healthy ones were done (to the 20 ms the wait polls at).
    let last_received = if failing {
        done_at
    } else {
        events.iter().map(|e| e.2).max().unwrap_or(0)
    };
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

    let bases: Vec<String> = services.iter().map(|(base, _)| base.clone()).collect();
    let pages = scrape_metrics(&client, &bases).await?;
    let batches = batch_figures(&pages);
    let limits = metric_by_label(&pages, "lc_webhooks_integration_concurrency_limit");
    let per_integration = per_integration_figures(
        &receiver.stats().await?,
        &integration_ids,
        &limits,
        e2e_secs,
    );
    let gate_wait = metric_by_label(&pages, "lc_webhooks_write_gate_wait_seconds_sum");
    let gate_hold = metric_by_label(&pages, "lc_webhooks_write_gate_hold_seconds_sum");

    // 5. Phase 2: latency at a steady rate (single posts: measured on phase 1 itself).
    if failing {
        println!(
            "# phase 2 and the delivery-log check skipped: the failing integration is never done"
        );
    } else if args.latency_secs > 0 && rule_count > 1 {
        println!("# phase 2 skipped: latency is measured with --rule-count 1");
    }
    let sent_to_received = single_accepted
        .as_ref()
        .filter(|_| rule_count == 1)
        .map(|times| {
            let sent: HashMap<String, i64> =
                times.iter().map(|(id, (s, _))| (id.clone(), *s)).collect();
            accepted_to_received(&events, &sent)
        });
    let phase1_latency = single_accepted
        .as_ref()
        .filter(|_| rule_count == 1)
        .map(|times| {
            let accepted: HashMap<String, i64> =
                times.iter().map(|(id, (_, a))| (id.clone(), *a)).collect();
            let lat = accepted_to_received(&events, &accepted);
            Latency {
                posts,
                webhooks: 0,
                achieved_rate: ingest_posts_per_s,
                p50: percentile(&lat, 50.0),
                p99: percentile(&lat, 99.0),
                max: lat.last().copied().unwrap_or(f64::NAN),
                missing: expected.saturating_sub(lat.len() as u64),
            }
        });
    let lat = if phase1_latency.is_some() {
        phase1_latency
    } else if args.latency_secs > 0 && rule_count == 1 && !failing {
        Some(
            latency_phase(
                &client,
                &services,
                &creator_ids,
                &receiver,
                events.len(),
                args.latency_rate.max(1),
                args.latency_secs,
                k + usize::from(args.post_tagged),
                args.external_ids,
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
    let deadline = Instant::now() + Duration::from_secs(if failing { 0 } else { 60 });
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
    let log_matches = !failing
        && deliveries_rows as u64 == total_expected
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
    let batch_names: Vec<[String; 3]> = batches
        .iter()
        .map(|(stage, ..)| {
            [
                format!("batches_{stage}_phase1"),
                format!("batch_{stage}_rows_mean"),
                format!("batch_{stage}_store_secs_phase1"),
            ]
        })
        .collect();
    for ((_, count, rows, secs), names) in batches.iter().zip(&batch_names) {
        figures.extend([
            (names[0].as_str(), json!(count)),
            (names[1].as_str(), json!(round1(rows / count.max(1.0)))),
            (names[2].as_str(), json!(round3(*secs))),
        ]);
    }
    // SQLite only: time waiting for, and holding, the one writer, by what the write was for.
    let hold_names: Vec<(String, f64)> = gate_hold
        .iter()
        .map(|(purpose, secs)| (format!("write_gate_hold_secs_{purpose}_phase1"), *secs))
        .collect();
    if backend == Backend::Sqlite {
        figures.push((
            "write_gate_wait_secs_phase1",
            json!(round3(gate_wait.values().sum())),
        ));
        figures.push((
            "write_gate_hold_secs_phase1",
            json!(round3(gate_hold.values().sum())),
        ));
        for (name, secs) in &hold_names {
            figures.push((name.as_str(), json!(round3(*secs))));
        }
    }
    if let Some(lat) = &sent_to_received {
        figures.extend([
            (
                "sent_to_received_p50_ms",
                json!(round1(percentile(lat, 50.0))),
            ),
            (
                "sent_to_received_p99_ms",
                json!(round1(percentile(lat, 99.0))),
            ),
            (
                "sent_to_received_max_ms",
                json!(round1(lat.last().copied().unwrap_or(f64::NAN))),
            ),
        ]);
    }
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
        ("receiver_delay_ms", json!(args.receiver_delay_ms)),
        ("receiver_fail_ratio", json!(args.receiver_fail_ratio)),
        ("per_integration", per_integration),
        ("otlp_exports", json!(otlp_sink::received().0)),
        (
            "otlp_export_mib",
            json!(round1(otlp_sink::received().1 as f64 / 1048576.0)),
        ),
    ]);
    for (name, value) in &figures {
        println!("{name}: {value}");
    }
    let mut all = serde_json::Map::new();
    all.insert("backend".into(), json!(backend.name()));
    all.insert(
        "ingest".into(),
        json!(match args.ingest {
            IngestMode::Batch => "batch".to_string(),
            IngestMode::Single => format!("single x{}", args.concurrency),
        }),
    );
    all.insert("deliveries".into(), json!(expected));
    all.insert("posts".into(), json!(posts));
    all.insert("history_posts".into(), json!(args.history));
    all.insert("external_ids".into(), json!(args.external_ids));
    all.insert("rule_count".into(), json!(rule_count));
    all.insert("integrations".into(), json!(k));
    all.insert("post_tagged".into(), json!(args.post_tagged));
    all.insert("otlp_sink".into(), json!(args.otlp_sink));
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
