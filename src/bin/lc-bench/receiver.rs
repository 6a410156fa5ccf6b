//! The receiver (answers 200, at once or after `--receiver-delay-ms`, and remembers when each
//! webhook arrived), the client that reads it back, and its ceiling measured straight.
//! Integration `i` posts to `/hook/i`; with `--receiver-fail-ratio` integration 0's share of
//! webhooks is answered 503 instead, and the others stay healthy beside it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::http::get_json;
use crate::procs::unix_micros;

#[derive(Default)]
pub struct Recv {
    pub count: AtomicU64,
    /// Webhooks answered 200 by integrations other than a failing one.
    pub healthy: AtomicU64,
    /// (webhook-id, medias[0].lcId, receive time in unix µs), of those answered 200.
    pub events: Mutex<Vec<(String, String, i64)>>,
    pub delay: Duration,
    /// The share of integration 0's webhooks answered 503.
    pub fail_ratio: f64,
    pub per_integration: Mutex<Vec<PerIntegration>>,
}

/// What one integration's path saw.
#[derive(Default, Clone)]
pub struct PerIntegration {
    pub ok: u64,
    pub refused: u64,
    pub in_flight: u64,
    pub peak_in_flight: u64,
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

pub async fn serve(port: u16, delay: Duration, fail_ratio: f64) -> Result<()> {
    let state = Arc::new(Recv {
        delay,
        fail_ratio,
        ..Recv::default()
    });
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/hook/{index}", post(hook_of))
        .route("/stats", get(stats))
        .route("/count", get(count))
        .route("/events", get(events))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// Integration `index`'s webhook: held for the delay, refused or recorded.
async fn hook_of(
    State(s): State<Arc<Recv>>,
    Path(index): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = unix_micros();
    let refuse = {
        let mut all = s.per_integration.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() <= index {
            all.resize(index + 1, PerIntegration::default());
        }
        let me = &mut all[index];
        me.in_flight += 1;
        me.peak_in_flight = me.peak_in_flight.max(me.in_flight);
        // Deterministic: the n-th webhook is refused when n × ratio crosses a whole number.
        let n = (me.ok + me.refused) as f64;
        index == 0 && ((n + 1.0) * s.fail_ratio).floor() > (n * s.fail_ratio).floor()
    };
    if !s.delay.is_zero() {
        tokio::time::sleep(s.delay).await;
    }
    {
        let mut all = s.per_integration.lock().unwrap_or_else(|p| p.into_inner());
        let me = &mut all[index];
        me.in_flight -= 1;
        if refuse {
            me.refused += 1;
        } else {
            me.ok += 1;
        }
    }
    if refuse {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if index > 0 || s.fail_ratio == 0.0 {
        s.healthy.fetch_add(1, Ordering::Relaxed);
    }
    record(&s, at, &headers, &body)
}

/// The ceiling's path: 200 at once.
async fn hook(State(s): State<Arc<Recv>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    record(&s, unix_micros(), &headers, &body)
}

fn record(s: &Recv, at: i64, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let media = serde_json::from_slice::<Payload>(body)
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
    Json(json!({
        "count": s.count.load(Ordering::Relaxed),
        "healthy": s.healthy.load(Ordering::Relaxed),
    }))
}

async fn stats(State(s): State<Arc<Recv>>) -> Json<Value> {
    let all = s.per_integration.lock().unwrap_or_else(|p| p.into_inner());
    let list: Vec<Value> = all
        .iter()
        .map(|p| json!({"ok": p.ok, "refused": p.refused, "peakInFlight": p.peak_in_flight}))
        .collect();
    Json(json!(list))
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

pub(crate) struct ReceiverClient {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    /// Count only the healthy integrations' webhooks (a failing one is never done).
    pub(crate) healthy_only: bool,
}

impl ReceiverClient {
    pub(crate) async fn count(&self) -> Result<u64> {
        let v = get_json(&self.client, &format!("{}/count", self.base)).await?;
        let field = if self.healthy_only {
            "healthy"
        } else {
            "count"
        };
        v[field].as_u64().ok_or_else(|| anyhow!("bad /count"))
    }

    /// Per integration: (answered 200, answered 503, most at once).
    pub(crate) async fn stats(&self) -> Result<Vec<(u64, u64, u64)>> {
        let v = get_json(&self.client, &format!("{}/stats", self.base)).await?;
        let list = v.as_array().ok_or_else(|| anyhow!("bad /stats"))?;
        Ok(list
            .iter()
            .map(|p| {
                (
                    p["ok"].as_u64().unwrap_or(0),
                    p["refused"].as_u64().unwrap_or(0),
                    p["peakInFlight"].as_u64().unwrap_or(0),
                )
            })
            .collect())
    }

    /// (webhook-id, media lcId, receive µs) from index `from` on.
    pub(crate) async fn events(&self, from: usize) -> Result<Vec<(String, String, i64)>> {
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

/// Requests/s the receiver takes from `connections` keep-alive connections, same body shape.
pub(crate) async fn receiver_ceiling(base: &str, connections: usize, requests: u64) -> Result<f64> {
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
