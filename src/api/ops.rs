use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::time::Duration;

use super::AppState;
use crate::telemetry;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok`; `store_unavailable` when the database does not answer within two seconds;
    /// `storage_full` when it answers but refused a write for want of space in the last few
    /// seconds (reads and what is queued go on; writes answer 503 `storage_full`).
    #[schema(examples("ok"))]
    status: &'static str,
    /// Whether the store takes writes.
    writable: bool,
}

/// Health: 200 only while the store answers, so a load balancer stops sending to an instance
/// that cannot work. No token needed.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "health",
    responses(
        (status = 200, description = "The store answers and takes writes", body = Health),
        (status = 503, description = "The store does not answer, or is full", body = Health),
    ),
)]
async fn health(State(s): State<AppState>) -> impl IntoResponse {
    let (status, writable) = if !s.store.ping().await {
        ("store_unavailable", false)
    } else if s.store.seems_full() {
        ("storage_full", false)
    } else {
        ("ok", true)
    };
    let code = if writable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(Health { status, writable }))
}

/// Prometheus metrics: counters of posts, rewards and attempts, the backlog, batch sizes and
/// times. No token needed.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")),
)]
async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    // The gauges are the process's: a scrape reads the backlog and renders it in one turn, so
    // two services in one process (tests) do not show each other's. A store that does not
    // answer in time leaves the last values; `/healthz` is the place that reports it.
    static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = SCRAPE.lock().await;
    if let Ok(Ok(backlog)) = tokio::time::timeout(Duration::from_secs(2), s.store.backlog()).await {
        telemetry::backlog(&backlog);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}
