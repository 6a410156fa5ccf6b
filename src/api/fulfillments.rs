use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{IdPath, PageParams, Params};
use super::AppState;
use crate::domain::{Fulfillment, FulfillmentFilter, FulfillmentId, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
}

/// Lists the rewards granted, oldest first.
#[utoipa::path(
    get,
    path = "/fulfillments",
    tag = "fulfillments",
    operation_id = "listFulfillments",
    params(
        ("creatorId" = Option<String>, Query, format = Uuid, description = "Only this creator's rewards"),
        ("ruleId" = Option<String>, Query, format = Uuid, description = "Only this rule's rewards"),
        PageParams,
    ),
    responses((status = 200, description = "One page", body = Page<Fulfillment>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Fulfillment>>> {
    let filter = FulfillmentFilter {
        creator_id: params.id("creatorId")?,
        rule_id: params.id("ruleId")?,
    };
    Ok(Json(
        s.store.list_fulfillments(&filter, &params.page()?).await?,
    ))
}

/// One reward, with the payload its webhooks carry.
#[utoipa::path(
    get,
    path = "/fulfillments/{id}",
    tag = "fulfillments",
    operation_id = "getFulfillment",
    params(("id" = String, Path, format = Uuid, description = "The fulfillment's id (the payload's `lcId`)")),
    responses((status = 200, description = "The reward", body = Fulfillment)),
)]
async fn show(
    State(s): State<AppState>,
    IdPath(id): IdPath<FulfillmentId>,
) -> ApiResult<Json<Fulfillment>> {
    Ok(Json(s.store.fulfillment(&id).await?))
}
