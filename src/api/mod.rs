//! The management API: thin handlers over the store and the dispatcher.

mod auth;
mod creators;
mod deliveries;
pub mod error;
mod extract;
mod fulfillments;
mod integrations;
mod media;
mod ops;
mod rules;
mod validate;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::{middleware, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Notify;
use tower_http::trace::TraceLayer;

use crate::dispatch::Sender;
use crate::domain::Secret;
use crate::store::Store;
use error::ApiError;

pub use media::{MediaInput, MAX_BATCH};

/// Large enough for a full batch of posts, small enough that no request can exhaust memory.
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub sender: Sender,
    pub admin_token: Option<Secret>,
    /// Signalled when posts are written, so the evaluator starts at once.
    pub new_posts: Arc<Notify>,
    /// Signalled when deliveries are queued (a manual retry).
    pub deliveries_ready: Arc<Notify>,
    pub metrics: PrometheusHandle,
}

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .merge(integrations::router())
        .merge(creators::router())
        .merge(media::router())
        .merge(rules::router())
        .merge(fulfillments::router())
        .merge(deliveries::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .nest("/v1", v1)
        .merge(ops::router())
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
