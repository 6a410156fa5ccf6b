use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{IdPath, PageParams, Params};
use super::AppState;
use crate::domain::{
    Delivery, DeliveryDetail, DeliveryFilter, DeliveryId, DeliveryStatus, Email, EventType, Order,
    Page,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(counts))
        .routes(routes!(show))
        .routes(routes!(retry))
}

/// The delivery log, newest first (`?order=asc` for oldest first).
#[utoipa::path(
    get,
    path = "/deliveries",
    tag = "deliveries",
    operation_id = "listDeliveries",
    params(
        ("integrationId" = Option<String>, Query, format = Uuid, description = "Only this integration's deliveries"),
        ("fulfillmentId" = Option<String>, Query, format = Uuid, description = "Only this reward's deliveries"),
        ("status" = Option<DeliveryStatus>, Query, description = "Only deliveries in this state"),
        ("createdAfter" = Option<String>, Query, format = DateTime, description = "Only deliveries created at or after this time (RFC 3339)"),
        ("createdBefore" = Option<String>, Query, format = DateTime, description = "Only deliveries created before this time (RFC 3339)"),
        ("order" = Option<Order>, Query, description = "`desc` (default): newest first; `asc`: oldest first"),
        ("email" = Option<Email>, Query, description = "Only deliveries of the rewards and other events (sign-ups, sales, tagged posts…) of the creator with this email, whatever its case (`Ana@Example.com` finds `ana@example.com`); a malformed address is a 422 `invalid_email`"),
        ("eventType" = Option<EventType>, Query, description = "Only deliveries of this event type (Test sends included, by the type they sent); another value is a 422 `invalid_event_type`"),
        PageParams,
    ),
    responses((status = 200, description = "One page", body = Page<Delivery>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Delivery>>> {
    let status = params
        .get("status")
        .map(|raw| {
            DeliveryStatus::parse(&raw).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_status",
                    format!("status `{raw}` is not pending, succeeded or failed"),
                )
            })
        })
        .transpose()?;
    let order = match params.get("order").as_deref() {
        None | Some("desc") => Order::Desc,
        Some("asc") => Order::Asc,
        Some(other) => {
            return Err(ApiError::invalid(
                "invalid_order",
                format!("order `{other}` is not asc or desc"),
            ))
        }
    };
    let filter = DeliveryFilter {
        integration_id: params.id("integrationId")?,
        fulfillment_id: params.id("fulfillmentId")?,
        status,
        created_after: params.time("createdAfter", "invalid_created_after")?,
        created_before: params.time("createdBefore", "invalid_created_before")?,
        // Parsed as any email is: a malformed one is a 422, never a query (PostgreSQL refuses
        // a NUL byte in text with an error).
        email: params.get("email").map(|e| Email::parse(&e)).transpose()?,
        event_type: params
            .get("eventType")
            .map(|raw| {
                EventType::parse(&raw).ok_or_else(|| {
                    ApiError::invalid(
                        "invalid_event_type",
                        format!("eventType `{}` is not an event type", raw.escape_debug()),
                    )
                })
            })
            .transpose()?,
        order,
    };
    Ok(Json(
        s.store.list_deliveries(&filter, &params.page()?).await?,
    ))
}

/// How many deliveries wait and how many failed, at a glance.
#[derive(Serialize, ToSchema)]
struct Counts {
    /// Not settled yet: due, in flight or waiting for a retry.
    pending: u64,
    /// Every attempt of the schedule used up (or the one attempt of a retry or a Test send).
    failed: u64,
}

/// Counts of pending and failed deliveries.
#[utoipa::path(
    get,
    path = "/deliveries/counts",
    tag = "deliveries",
    operation_id = "countDeliveries",
    responses((status = 200, description = "The counts", body = Counts)),
)]
async fn counts(State(s): State<AppState>) -> ApiResult<Json<Counts>> {
    let (pending, failed) = s.store.delivery_counts().await?;
    Ok(Json(Counts { pending, failed }))
}

/// One delivery with the exact body it sends and every attempt.
#[utoipa::path(
    get,
    path = "/deliveries/{id}",
    tag = "deliveries",
    operation_id = "getDelivery",
    params(("id" = String, Path, format = Uuid, description = "The delivery's id (its `webhook-id`)")),
    responses((status = 200, description = "The delivery", body = DeliveryDetail)),
)]
async fn show(
    State(s): State<AppState>,
    IdPath(id): IdPath<DeliveryId>,
) -> ApiResult<Json<DeliveryDetail>> {
    Ok(Json(s.store.delivery_detail(&id).await?))
}

/// Sends a settled (`failed` or `succeeded`) delivery once more, now: one new attempt under the
/// same `webhook-id`; the delivery then settles on its result.
#[utoipa::path(
    post,
    path = "/deliveries/{id}/retry",
    tag = "deliveries",
    operation_id = "retryDelivery",
    params(("id" = String, Path, format = Uuid, description = "The delivery's id")),
    responses(
        (status = 202, description = "Queued for one attempt now", body = Delivery),
        (status = 409, description = "Still pending (`delivery_pending`), or its integration was deleted (`integration_deleted`)", body = super::error::ErrorBody),
    ),
)]
async fn retry(
    State(s): State<AppState>,
    IdPath(id): IdPath<DeliveryId>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let delivery = s.store.retry_delivery(&id).await?;
    s.deliveries_ready.notify_one();
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
