use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiResult;
use super::extract::Params;
use super::AppState;
use crate::domain::{Fulfillment, FulfillmentFilter, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/fulfillments", get(list))
        .route("/fulfillments/{id}", get(show))
}

async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Fulfillment>>> {
    let filter = FulfillmentFilter {
        creator_id: params.get("creatorId"),
        rule_id: params.get("ruleId"),
    };
    Ok(Json(
        s.store.list_fulfillments(&filter, &params.page()?).await?,
    ))
}

async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Fulfillment>> {
    Ok(Json(s.store.fulfillment(&id).await?))
}
