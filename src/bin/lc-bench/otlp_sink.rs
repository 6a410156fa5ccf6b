//! `--otlp-sink`: a local OTLP/HTTP collector that takes every export and keeps only its count
//! and size, so a run measures what exporting traces costs the service, not a collector's work.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use axum::Router;

static EXPORTS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// Starts the sink on the current runtime: its base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
pub async fn start() -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route(
        "/v1/traces",
        post(|body: Bytes| async move {
            EXPORTS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(body.len() as u64, Ordering::Relaxed);
            // An empty ExportTraceServiceResponse: everything accepted.
            ([(CONTENT_TYPE, "application/x-protobuf")], Bytes::new())
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

/// Export requests received so far, and their bytes.
pub fn received() -> (u64, u64) {
    (
        EXPORTS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    )
}
