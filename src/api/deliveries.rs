use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::extract::Params;
use super::AppState;
use crate::domain::{Delivery, DeliveryDetail, DeliveryFilter, DeliveryStatus, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/deliveries", get(list))
        .route("/deliveries/{id}", get(show))
        .route("/deliveries/{id}/retry", post(retry))
}

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
    let filter = DeliveryFilter {
        integration_id: params.get("integrationId"),
        fulfillment_id: params.get("fulfillmentId"),
        status,
    };
    Ok(Json(
        s.store.list_deliveries(&filter, &params.page()?).await?,
    ))
}

async fn show(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryDetail>> {
    Ok(Json(s.store.delivery_detail(&id).await?))
}

async fn retry(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let delivery = s.store.retry_delivery(&id).await?;
    s.deliveries_ready.notify_one();
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
