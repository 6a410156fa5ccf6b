use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{IdPath, JsonBody, PageParams, Params};
use super::AppState;
use crate::domain::{Creator, CreatorId, Email, NewCreator, Page, Username};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show))
}

/// A creator whose posts are watched.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateCreator {
    /// Unique among creators.
    #[schema(value_type = Email)]
    email: String,
    #[schema(value_type = Option<Username>)]
    ig_username: Option<String>,
    #[schema(value_type = Option<Username>)]
    tt_username: Option<String>,
}

/// Adds a creator.
#[utoipa::path(
    post,
    path = "/creators",
    tag = "creators",
    operation_id = "createCreator",
    request_body = CreateCreator,
    responses(
        (status = 201, description = "Added", body = Creator, links(
            ("GetCreator" = (operation_id = "getCreator", parameters(("id" = "$response.body#/id")))),
            ("ListCreatorMedia" = (operation_id = "listMedia", parameters(("creatorId" = "$response.body#/id")))),
            ("PostForCreator" = (operation_id = "createMedia", request_body = json!({"creatorId": "$response.body#/id", "postType": "STORY"}))),
            ("ListCreatorRewards" = (operation_id = "listFulfillments", parameters(("creatorId" = "$response.body#/id")))),
        )),
        (status = 409, description = "A creator with this email exists (`email_taken`)", body = super::error::ErrorBody),
    ),
)]
async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateCreator>,
) -> ApiResult<(StatusCode, Json<Creator>)> {
    let username = |field, raw: Option<String>| {
        raw.map(|u| Username::parse(field, &u))
            .transpose()
            .map_err(ApiError::from)
    };
    let new = NewCreator {
        email: Email::parse(&req.email)?,
        ig_username: username("igUsername", req.ig_username)?,
        tt_username: username("ttUsername", req.tt_username)?,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_creator(new).await?),
    ))
}

/// Lists the creators, oldest first.
#[utoipa::path(
    get,
    path = "/creators",
    tag = "creators",
    operation_id = "listCreators",
    params(PageParams),
    responses((status = 200, description = "One page", body = Page<Creator>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Creator>>> {
    Ok(Json(s.store.list_creators(&params.page()?).await?))
}

/// One creator.
#[utoipa::path(
    get,
    path = "/creators/{id}",
    tag = "creators",
    operation_id = "getCreator",
    params(("id" = String, Path, format = Uuid, description = "The creator's id")),
    responses((status = 200, description = "The creator", body = Creator)),
)]
async fn show(
    State(s): State<AppState>,
    IdPath(id): IdPath<CreatorId>,
) -> ApiResult<Json<Creator>> {
    Ok(Json(s.store.creator(&id).await?))
}
