//! `GET /v1/events`: every event, rewards included.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{PageParams, Params};
use super::AppState;
use crate::domain::{Event, EventFilter, EventType, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// Lists events, oldest first: rewards (by their fulfillment's id), membership changes and
/// sales, each with the body its webhooks send.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    operation_id = "listEvents",
    params(
        ("type" = Option<EventType>, Query, description = "Only events of this type"),
        ("creatorId" = Option<String>, Query, format = Uuid, description = "Only this creator's events"),
        PageParams,
    ),
    responses((status = 200, description = "One page", body = Page<Event>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Event>>> {
    let event_type = params
        .get("type")
        .map(|raw| {
            EventType::parse(&raw).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_event_type",
                    format!("type `{}` is not an event type", raw.escape_debug()),
                )
            })
        })
        .transpose()?;
    let filter = EventFilter {
        event_type,
        creator_id: params.id("creatorId")?,
    };
    Ok(Json(s.store.list_events(&filter, &params.page()?).await?))
}
