//! `--monthly`: one month-close at scale (issue 23). `--members` approved members of a program,
//! each with 1–3 posts in last month (UTC), are written straight into the database; a monthly
//! rule with three tiers (1, 2 and 3 posts) is created through the API; the month is then run by
//! hand (`POST /v1/rules/{id}/runs`) and timed until the receiver holds every webhook.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::db::{Cell, Db};
use crate::http::{get_json, post_json};
use crate::procs::{cpu_secs, peak_rss_kib, rss_kib, service_bin, unix_micros, Children};
use crate::receiver::ReceiverClient;
use crate::{round1, round3, start_receiver, start_services, Args, Backend};

/// The tiers' post counts: a member with n posts (1 to 3) reaches tier n.
const TIER_COUNTS: [u64; 3] = [1, 2, 3];

/// Rows written per call while setting up, so the bench's own memory stays small too.
const SETUP_CHUNK: usize = 10_000;

pub(crate) async fn bench(args: &Args, backend: Backend, children: &mut Children) -> Result<()> {
    let members = args.members.max(1);
    let instances = args.instances.max(1);
    if instances > 1 && backend == Backend::Sqlite {
        bail!("--instances > 1 needs --backend postgres (SQLite is one process's store)");
    }
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
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load_1m = load.split_whitespace().next().unwrap_or("?").to_string();
    let month = last_month(Utc::now());
    println!(
        "# monthly backend={} members={members} month={month} instances={instances} load={} scratch={}",
        backend.name(),
        load.trim(),
        temp.display()
    );

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(120))
        .build()?;
    let (receiver_base, _receiver_pid) = start_receiver(args, &client, &temp, children).await?;
    let receiver = ReceiverClient {
        client: client.clone(),
        base: receiver_base.clone(),
        healthy_only: false,
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

    // The integration, the program and the monthly rule, through the API.
    post_json(
        &client,
        &format!("{api}/v1/integrations"),
        &json!({"name": "bench-monthly", "url": format!("{receiver_base}/hook/0"), "apiKey": "bench-key"}),
    )
    .await?;
    let program = post_json(
        &client,
        &format!("{api}/v1/programs"),
        &json!({"name": "bench monthly", "approval": "AUTOMATIC", "timeZone": "UTC"}),
    )
    .await?;
    let program_id = id_of(&program)?;
    let tiers: Vec<Value> = TIER_COUNTS
        .iter()
        .map(|count| json!({"count": count, "reward": {"type": "DISCOUNT_CODE"}}))
        .collect();
    let rule = post_json(
        &client,
        &format!("{api}/v1/rules"),
        &json!({
            "name": "bench monthly",
            "postTypes": [],
            "schedule": "MONTHLY",
            "programId": program_id,
            "tiers": tiers,
        }),
    )
    .await?;
    let rule_id = id_of(&rule)?;

    // Members and their posts, straight into the database.
    let started = Instant::now();
    let posts = set_up_members(&db, &program_id, members, &month).await?;
    let setup_secs = started.elapsed().as_secs_f64();
    println!(
        "# setup: {members} members with {posts} posts in {month} written in {setup_secs:.1} s"
    );

    // The month-close, timed from the request until the receiver has every webhook, while
    // the service's resident memory is sampled.
    let pids: Vec<u32> = services.iter().map(|(_, pid)| *pid).collect();
    let rss_before_kib: u64 = pids.iter().filter_map(|p| rss_kib(*p)).max().unwrap_or(0);
    let cpu_before: f64 = pids.iter().filter_map(|p| cpu_secs(*p)).sum();
    let sampler = RssSampler::start(pids.clone());
    let long = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs))
        .build()?;
    let runs_url = format!("{api}/v1/rules/{rule_id}/runs");
    let posted_us = unix_micros();
    let post_started = Instant::now();
    let run = post_json(&long, &runs_url, &json!({ "month": month })).await?;
    let close_secs = post_started.elapsed().as_secs_f64();
    let fulfillments = run["fulfillments"]
        .as_u64()
        .ok_or_else(|| anyhow!("the run answered without fulfillments: {run}"))?;
    println!("# month-close: POST answered in {close_secs:.2} s with {fulfillments} fulfillments");

    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut next_report = Instant::now() + Duration::from_secs(5);
    let received = loop {
        let n = receiver.count().await?;
        if n >= fulfillments || Instant::now() >= deadline {
            break n;
        }
        if Instant::now() >= next_report {
            println!(
                "# t={:.0}s received={n}/{fulfillments} {}",
                post_started.elapsed().as_secs_f64(),
                db.progress().await
            );
            next_report += Duration::from_secs(5);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let rss_max_during_kib = sampler.stop();
    if received < fulfillments {
        bail!("timed out: the receiver has {received} of {fulfillments} webhooks");
    }
    let events = receiver.events(0).await?;
    let first_received = events.iter().map(|e| e.2).min().unwrap_or(posted_us);
    let last_received = events.iter().map(|e| e.2).max().unwrap_or(posted_us);
    let mut distinct: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let duplicates = events.len() - distinct.len();
    drop(events);
    let all_delivered_secs = (last_received - posted_us) as f64 / 1e6;
    let first_webhook_secs = (first_received - posted_us) as f64 / 1e6;
    let deliveries_per_s = fulfillments as f64 / all_delivered_secs.max(1e-9);
    let cpu_close: f64 = pids.iter().filter_map(|p| cpu_secs(*p)).sum::<f64>() - cpu_before;
    let peak_rss: u64 = pids
        .iter()
        .filter_map(|p| peak_rss_kib(*p))
        .max()
        .unwrap_or(0);

    // What the store holds: one fulfillment a member, split over the tiers as the posts were.
    let stored = db
        .count(&format!(
            "SELECT COUNT(*) FROM fulfillments WHERE rule_id = '{rule_id}' AND month = '{month}'"
        ))
        .await?;
    let mut per_tier = Vec::new();
    for tier in 1..=TIER_COUNTS.len() {
        per_tier.push(
            db.count(&format!(
                "SELECT COUNT(*) FROM fulfillments WHERE rule_id = '{rule_id}' AND month = '{month}' AND tier = {tier}"
            ))
            .await?,
        );
    }
    // Running it again grants nothing: the month is run once.
    let again_started = Instant::now();
    let again = post_json(&long, &runs_url, &json!({ "month": month })).await?;
    let again_secs = again_started.elapsed().as_secs_f64();
    let runs = get_json(&client, &runs_url).await?;
    db.close().await;

    let expected_per_tier: Vec<i64> = (0..TIER_COUNTS.len() as u64)
        .map(|t| members.saturating_sub(t).div_ceil(TIER_COUNTS.len() as u64) as i64)
        .collect();
    let figures: Vec<(&str, Value)> = vec![
        ("month_close_secs", json!(round3(close_secs))),
        ("fulfillments", json!(fulfillments)),
        ("fulfillments_stored", json!(stored)),
        ("fulfillments_per_tier", json!(per_tier)),
        ("expected_per_tier", json!(expected_per_tier)),
        (
            "first_webhook_after_secs",
            json!(round3(first_webhook_secs)),
        ),
        ("all_delivered_secs", json!(round3(all_delivered_secs))),
        ("deliveries_per_s", json!(round1(deliveries_per_s))),
        ("duplicates", json!(duplicates)),
        ("second_run_fulfillments", again["fulfillments"].clone()),
        ("second_run_secs", json!(round3(again_secs))),
        ("runs_listed", runs),
        (
            "service_rss_before_close_mib",
            json!(round1(rss_before_kib as f64 / 1024.0)),
        ),
        (
            "service_rss_max_during_close_mib",
            json!(round1(rss_max_during_kib as f64 / 1024.0)),
        ),
        ("peak_rss_mib", json!(round1(peak_rss as f64 / 1024.0))),
        ("service_cpu_secs_close", json!(round1(cpu_close))),
        ("setup_secs", json!(round1(setup_secs))),
        ("posts", json!(posts)),
        ("load_1m_at_start", json!(load_1m)),
    ];
    for (name, value) in &figures {
        println!("{name}: {value}");
    }
    let mut all = serde_json::Map::new();
    all.insert("workload".into(), json!("monthly"));
    all.insert("backend".into(), json!(backend.name()));
    all.insert("members".into(), json!(members));
    all.insert("month".into(), json!(month));
    all.insert("instances".into(), json!(instances));
    for (name, value) in figures {
        all.insert(name.into(), value);
    }
    println!("{}", Value::Object(all));
    let per_tier_ok = per_tier == expected_per_tier;
    if stored as u64 != fulfillments || !per_tier_ok || duplicates > 0 {
        bail!("the month-close does not match: {stored} stored, per tier {per_tier:?} (expected {expected_per_tier:?}), {duplicates} duplicates");
    }
    Ok(())
}

/// The month before the one `now` is in (UTC), as `YYYY-MM`.
fn last_month(now: DateTime<Utc>) -> String {
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or_default();
    let previous = first.checked_sub_months(Months::new(1)).unwrap_or(first);
    format!("{:04}-{:02}", previous.year(), previous.month())
}

fn id_of(v: &Value) -> Result<String> {
    v["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("created without id: {v}"))
}

/// Writes `members` creators, each an approved member of `program` since before `month`,
/// member `i` with `i % 3 + 1` posts spread over the month. Returns the number of posts.
async fn set_up_members(db: &Db, program: &str, members: u64, month: &str) -> Result<u64> {
    let start = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .context("month")?
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let month_start_us = start.timestamp_micros();
    let approved_at = month_start_us - 86_400_000_000;
    let now = unix_micros();
    let mut posts = 0;
    let mut next = 0;
    while next < members {
        let end = (next + SETUP_CHUNK as u64).min(members);
        let mut creators = Vec::new();
        let mut rows = Vec::new();
        let mut media = Vec::new();
        for i in next..end {
            let creator = uuid::Uuid::now_v7().to_string();
            creators.push(vec![
                Cell::Text(creator.clone()),
                Cell::Text(format!("monthly{i}@example.com")),
                Cell::Text(format!("monthly.{i}")),
                Cell::Null,
                Cell::Int(approved_at),
            ]);
            rows.push(vec![
                Cell::Text(program.to_string()),
                Cell::Text(creator.clone()),
                Cell::Text("APPROVED".into()),
                Cell::Int(approved_at),
                Cell::Int(approved_at),
                Cell::Int(approved_at),
            ]);
            for j in 0..(i % TIER_COUNTS.len() as u64) + 1 {
                // Days 1 to 27 and a few hours in: inside every month whatever its length.
                let at = month_start_us
                    + ((i * 7 + j * 5) % 27) as i64 * 86_400_000_000
                    + (j as i64 + 1) * 3_600_000_000;
                media.push(vec![
                    Cell::Text(uuid::Uuid::now_v7().to_string()),
                    Cell::Text(creator.clone()),
                    Cell::Text("INSTAGRAM".into()),
                    Cell::Text("STORY".into()),
                    Cell::Int(at),
                    Cell::Int(now),
                    Cell::Text(format!("monthly-{i}-{j}")),
                    Cell::Text("IMAGE".into()),
                ]);
                posts += 1;
            }
        }
        db.insert_rows(
            "creators",
            &["id", "email", "ig_username", "tt_username", "created_at"],
            &creators,
        )
        .await?;
        db.insert_rows(
            "members",
            &[
                "program_id",
                "creator_id",
                "status",
                "joined_at",
                "approved_at",
                "updated_at",
            ],
            &rows,
        )
        .await?;
        db.insert_rows(
            "media",
            &[
                "id",
                "creator_id",
                "platform",
                "post_type",
                "posted_at",
                "ingested_at",
                "external_id",
                "media_type",
            ],
            &media,
        )
        .await?;
        next = end;
    }
    Ok(posts)
}

/// The largest resident set size (`VmRSS`) of the services, sampled every 100 ms on a thread
/// of its own until stopped.
struct RssSampler {
    stop: Arc<AtomicBool>,
    max_kib: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pids: Vec<u32>) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max_kib = Arc::new(AtomicU64::new(0));
        let (s, m) = (stop.clone(), max_kib.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for pid in &pids {
                    m.fetch_max(rss_kib(*pid).unwrap_or(0), Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        RssSampler {
            stop,
            max_kib,
            thread: Some(thread),
        }
    }

    /// Stops sampling: the largest `VmRSS` seen, KiB.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.max_kib.load(Ordering::Relaxed)
    }
}
