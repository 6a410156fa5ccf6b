//! The management API: thin handlers over the store and the dispatcher, and the OpenAPI
//! document generated from them (served at `/openapi.json`, browsable at `/docs`).

mod auth;
mod creators;
mod deliveries;
pub mod error;
mod events;
mod extract;
mod fulfillments;
mod integrations;
mod media;
mod members;
mod openapi;
mod ops;
mod programs;
mod query;
mod rules;
mod sales;
mod stats;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{middleware, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Notify;
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::dispatch::{Lanes, Sender};
use crate::domain::{Clock, Secret};
use crate::ingest::Ingester;
use crate::store::Store;
use error::ApiError;
use query::QueryNames;

/// Large enough for a full batch of posts, small enough that no request can exhaust memory.
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Where posts are written and evaluated, in groups.
    pub ingester: Ingester,
    pub sender: Sender,
    pub admin_token: Option<Secret>,
    /// Signalled when deliveries are queued (a manual retry).
    pub deliveries_ready: Arc<Notify>,
    pub metrics: PrometheusHandle,
    /// "Now" for the charts' time buckets.
    pub clock: Clock,
    /// The dispatcher's lanes: the concurrency limit each integration runs at now.
    pub lanes: Lanes,
}

/// Every documented route; `with_token` guards `/v1` when given the state to check it with.
fn routes(with_token: Option<AppState>) -> OpenApiRouter<AppState> {
    let mut v1 = OpenApiRouter::new()
        .merge(integrations::router())
        .merge(creators::router())
        .merge(media::router())
        .merge(rules::router())
        .merge(programs::router())
        .merge(members::router())
        .merge(fulfillments::router())
        .merge(deliveries::router())
        .merge(events::router())
        .merge(sales::router())
        .merge(stats::router());
    if let Some(state) = with_token {
        v1 = v1.route_layer(middleware::from_fn_with_state(state, auth::require_token));
    }
    OpenApiRouter::new().nest("/v1", v1).merge(ops::router())
}

/// The OpenAPI document of this build, as `/openapi.json` serves it.
pub fn document() -> OpenApi {
    openapi::finish(routes(None).into_openapi())
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = routes(Some(state.clone())).split_for_parts();
    let doc = openapi::finish(doc);
    let names = QueryNames::of(&doc);
    api.route_layer(middleware::from_fn_with_state(
        names,
        query::refuse_undeclared,
    ))
    .merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
    .merge(crate::console::router())
    .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
    .layer(middleware::map_response(method_not_allowed))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        note_storage_full,
    ))
    .layer(DefaultBodyLimit::max(BODY_LIMIT))
    .layer(TraceLayer::new_for_http())
    .with_state(state)
}

/// Tells the store of a write the API saw refused for space.
async fn note_storage_full(
    axum::extract::State(s): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(error::StorageFull(e)) = response.extensions().get::<error::StorageFull>() {
        s.store.note_full(e);
    }
    response
}

/// axum answers a method a path does not take with an empty 405 and the `Allow` header; this
/// gives it the error shape and keeps the header.
async fn method_not_allowed(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let message = match allow.as_ref().and_then(|a| a.to_str().ok()) {
        Some(methods) => format!("this endpoint takes {methods}"),
        None => "this endpoint does not take that method".to_string(),
    };
    let mut shaped = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    )
    .into_response();
    if let Some(allow) = allow {
        shaped.headers_mut().insert(header::ALLOW, allow);
    }
    shaped
}
