//! What the console's charts are drawn from: an integration's attempts per hour (with their
//! latency), and every integration's attempts per minute. "Now" is the service's clock, which
//! a test can set.

use axum::extract::State;
use axum::Json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{IdPath, Params};
use super::AppState;
use crate::domain::stats::{DEFAULT_HOURS, DEFAULT_MINUTES, MAX_HOURS, MAX_MINUTES};
use crate::domain::{
    DeliveryStats, IntegrationId, IntegrationStats, Window, HOUR_MICROS, MINUTE_MICROS,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(integration_stats))
        .routes(routes!(delivery_stats))
}

/// `?hours=` (declared for the document; the bounds are [`MAX_HOURS`]'s).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct HoursParam {
    /// How many hours to show, 1 to 48 (default 24): the current hour and those before it.
    /// Anything else is a 422 `invalid_hours`.
    #[param(minimum = 1, maximum = 48)]
    hours: Option<u32>,
}

/// `?minutes=` (declared for the document; the bounds are [`MAX_MINUTES`]'s).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct MinutesParam {
    /// How many minutes to show, 1 to 120 (default 60): the current minute and those before it.
    /// Anything else is a 422 `invalid_minutes`.
    #[param(minimum = 1, maximum = 120)]
    minutes: Option<u32>,
}

/// An integration's attempts per hour by outcome (succeeded, retried, failed) and their
/// latency (p50, p95), per hour and over the whole window. Test sends count: they reached the
/// receiver too.
#[utoipa::path(
    get,
    path = "/integrations/{id}/stats",
    tag = "integrations",
    operation_id = "getIntegrationStats",
    params(
        ("id" = String, Path, format = Uuid, description = "The integration's id"),
        HoursParam,
    ),
    responses(
        (status = 200, description = "One bucket per hour, oldest first", body = IntegrationStats),
        (status = 422, description = "`hours` is not a whole number from 1 to 48 (`invalid_hours`)", body = super::error::ErrorBody),
    ),
)]
async fn integration_stats(
    State(s): State<AppState>,
    IdPath(id): IdPath<IntegrationId>,
    params: Params,
) -> ApiResult<Json<IntegrationStats>> {
    let hours = params.whole("hours", 1..=MAX_HOURS, DEFAULT_HOURS, "invalid_hours")?;
    // A deleted or unknown integration is a 404, as everywhere.
    s.store.integration(&id).await?;
    let window = Window::ending_at(s.clock.now(), HOUR_MICROS, hours);
    let counts = s.store.attempt_counts(Some(&id), &window).await?;
    let durations = s.store.attempt_durations(&id, &window).await?;
    Ok(Json(IntegrationStats::build(
        id, window, &counts, &durations,
    )))
}

/// Every integration's attempts per minute by outcome (succeeded, retried, failed): the
/// delivery log's chart.
#[utoipa::path(
    get,
    path = "/deliveries/stats",
    tag = "deliveries",
    operation_id = "getDeliveryStats",
    params(MinutesParam),
    responses(
        (status = 200, description = "One bucket per minute, oldest first", body = DeliveryStats),
        (status = 422, description = "`minutes` is not a whole number from 1 to 120 (`invalid_minutes`)", body = super::error::ErrorBody),
    ),
)]
async fn delivery_stats(
    State(s): State<AppState>,
    params: Params,
) -> ApiResult<Json<DeliveryStats>> {
    let minutes = params.whole(
        "minutes",
        1..=MAX_MINUTES,
        DEFAULT_MINUTES,
        "invalid_minutes",
    )?;
    let window = Window::ending_at(s.clock.now(), MINUTE_MICROS, minutes);
    let counts = s.store.attempt_counts(None, &window).await?;
    Ok(Json(DeliveryStats::build(window, &counts)))
}
