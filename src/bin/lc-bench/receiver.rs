//! The receiver (answers 200, at once or after `--receiver-delay-ms`, and remembers when each webhook arrived), the client
//! that reads it back, and its ceiling measured straight.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use axum::body::Bytes;
use axum::extract::{Query, State};
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
    /// How long each webhook is held before the answer (`--receiver-delay-ms`).
    pub delay: Duration,
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

pub async fn serve(port: u16, delay: Duration) -> Result<()> {
    let state = Arc::new(Recv {
        delay,
        ..Recv::default()
    });
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
    if !s.delay.is_zero() {
        tokio::time::sleep(s.delay).await;
    }
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

pub(crate) struct ReceiverClient {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
}

impl ReceiverClient {
    pub(crate) async fn count(&self) -> Result<u64> {
        let v = get_json(&self.client, &format!("{}/count", self.base)).await?;
        v["count"].as_u64().ok_or_else(|| anyhow!("bad /count"))
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
