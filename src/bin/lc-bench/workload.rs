//! What the bench sends: creators, batches of posts, the steady latency phase.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::db::Db;
use crate::http::post_json;
use crate::percentile;
use crate::procs::unix_micros;
use crate::receiver::ReceiverClient;

pub(crate) async fn create_creators(
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

/// Post `n` of a phase: with `--external-ids`, it carries an `externalId` of its own
/// (`{phase}{n}`, unique in the run), as a poller's posts do.
fn post(creators: &[String], n: u64, external_ids: Option<&str>) -> Value {
    const TYPES: [&str; 3] = ["STORY", "FEED", "REEL"];
    let mut post = json!({
        "creatorId": creators[(n % creators.len() as u64) as usize],
        "postType": TYPES[(n % 3) as usize],
    });
    if let Some(phase) = external_ids {
        post["externalId"] = json!(format!("{phase}{n}"));
    }
    post
}

pub(crate) fn media_batch(
    creators: &[String],
    start: u64,
    len: usize,
    external_ids: Option<&str>,
) -> Value {
    let media: Vec<Value> = (0..len as u64)
        .map(|j| post(creators, start + j, external_ids))
        .collect();
    json!({ "media": media })
}

pub(crate) struct Ingest {
    pub(crate) started: Instant,
    pub(crate) wall: Duration,
    /// When the first batch was accepted (201), unix µs.
    pub(crate) first_accepted_us: i64,
}

pub(crate) async fn ingest(
    client: &reqwest::Client,
    services: &[(String, u32)],
    creators: &[String],
    posts: u64,
    batch: usize,
    concurrency: usize,
    external_ids: bool,
) -> Result<Ingest> {
    // Bodies are built before the clock starts.
    let mut bodies = Vec::new();
    let mut start = 0;
    while start < posts {
        let len = (posts - start).min(batch as u64) as usize;
        let ids = external_ids.then_some("ingest-");
        bodies.push(serde_json::to_vec(&media_batch(creators, start, len, ids))?);
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
pub(crate) async fn wait_for(
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

pub(crate) struct Latency {
    pub(crate) posts: u64,
    pub(crate) webhooks: u64,
    pub(crate) achieved_rate: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
    pub(crate) missing: u64,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn latency_phase(
    client: &reqwest::Client,
    services: &[(String, u32)],
    creators: &[String],
    receiver: &ReceiverClient,
    from_event: usize,
    rate: u64,
    secs: u64,
    k: usize,
    external_ids: bool,
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
        let ids = external_ids.then_some("latency-");
        let body =
            serde_json::to_vec(&media_batch(creators, t * per_tick, per_tick as usize, ids))?;
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
    let lat = accepted_to_received(&events, &accepted);
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

/// When one post of `--ingest single` was sent and when its `201` came back (unix µs).
pub(crate) type SentAccepted = HashMap<String, (i64, i64)>;

/// Phase 1 of `--ingest single`: `posts` posts, one per `POST /v1/media`, from `concurrency`
/// clients each sending its next post when the last was answered. Returns the ingest window
/// and, per post id, when it was sent and accepted.
pub(crate) async fn ingest_single(
    client: &reqwest::Client,
    services: &[(String, u32)],
    creators: &[String],
    posts: u64,
    concurrency: usize,
    external_ids: bool,
) -> Result<(Ingest, SentAccepted)> {
    let next = Arc::new(AtomicU64::new(0));
    let first_accepted = Arc::new(AtomicU64::new(u64::MAX));
    let creators: Arc<Vec<String>> = Arc::new(creators.to_vec());
    let mut set = JoinSet::new();
    let started = Instant::now();
    for c in 0..concurrency.max(1) {
        let client = client.clone();
        let url = format!("{}/v1/media", services[c % services.len()].0);
        let (next, first, creators) = (next.clone(), first_accepted.clone(), creators.clone());
        set.spawn(async move {
            let mut accepted = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= posts {
                    return Ok::<_, anyhow::Error>(accepted);
                }
                let body = post(&creators, n, external_ids.then_some("ingest-"));
                let body = serde_json::to_vec(&body)?;
                let sent = unix_micros();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let at = unix_micros();
                if resp.status() != reqwest::StatusCode::CREATED {
                    bail!(
                        "{url} → {}: {}",
                        resp.status(),
                        resp.text().await.unwrap_or_default()
                    );
                }
                first.fetch_min(at as u64, Ordering::Relaxed);
                let v: Value = serde_json::from_slice(&resp.bytes().await?)?;
                let id = v["id"]
                    .as_str()
                    .ok_or_else(|| anyhow!("a post without id"))?;
                accepted.push((id.to_string(), (sent, at)));
            }
        });
    }
    let mut accepted = HashMap::with_capacity(posts as usize);
    while let Some(r) = set.join_next().await {
        accepted.extend(r??);
    }
    let ingest = Ingest {
        started,
        wall: started.elapsed(),
        first_accepted_us: first_accepted.load(Ordering::Relaxed) as i64,
    };
    Ok((ingest, accepted))
}

/// Accepted → received, per webhook whose first post is in `accepted`, in ms, sorted.
pub(crate) fn accepted_to_received(
    events: &[(String, String, i64)],
    accepted: &HashMap<String, i64>,
) -> Vec<f64> {
    let mut lat: Vec<f64> = events
        .iter()
        .filter_map(|(_, media, at)| accepted.get(media).map(|a| (at - a) as f64 / 1e3))
        .collect();
    lat.sort_by(f64::total_cmp);
    lat
}
