use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{IdPath, JsonBody, PageParams, Params};
use super::AppState;
use crate::domain::{
    parse_segments, CreatorId, CreatorView, Email, Member, NewCreator, Page, Profile, ProfilePatch,
    Segment, Username,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update))
}

/// One creator, with their memberships.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreatorDetail {
    #[serde(flatten)]
    creator: CreatorView,
    /// The programs the creator signed up for (live ones), in every status.
    memberships: Vec<Member>,
}

/// The profile fields to change; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateCreator {
    /// `null`: unknown.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::nullable::deserialize"
    )]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    followers: Option<Option<u32>>,
    /// Replaces the segments; `[]` clears them.
    #[schema(value_type = Option<Vec<Segment>>, max_items = 20)]
    segments: Option<Vec<String>>,
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
    /// Followers; absent or `null`: unknown.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    followers: Option<u32>,
    /// Labels such as a region (`EU`), at most 20; duplicates are dropped.
    #[serde(default)]
    #[schema(value_type = Vec<Segment>, max_items = 20)]
    segments: Vec<String>,
}

/// Adds a creator.
#[utoipa::path(
    post,
    path = "/creators",
    tag = "creators",
    operation_id = "createCreator",
    request_body = CreateCreator,
    responses(
        (status = 201, description = "Added", body = CreatorView, links(
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
) -> ApiResult<(StatusCode, Json<CreatorView>)> {
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
    let profile = Profile {
        followers: req.followers,
        segments: parse_segments(req.segments)?,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_creator(new, profile).await?),
    ))
}

/// Lists the creators, oldest first.
#[utoipa::path(
    get,
    path = "/creators",
    tag = "creators",
    operation_id = "listCreators",
    params(PageParams),
    responses((status = 200, description = "One page", body = Page<CreatorView>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<CreatorView>>> {
    Ok(Json(s.store.list_creators(&params.page()?).await?))
}

/// One creator, with their memberships.
#[utoipa::path(
    get,
    path = "/creators/{id}",
    tag = "creators",
    operation_id = "getCreator",
    params(("id" = String, Path, format = Uuid, description = "The creator's id")),
    responses((status = 200, description = "The creator", body = CreatorDetail)),
)]
async fn show(
    State(s): State<AppState>,
    IdPath(id): IdPath<CreatorId>,
) -> ApiResult<Json<CreatorDetail>> {
    let creator = s.store.creator(&id).await?;
    let memberships = s.store.memberships(&id).await?;
    Ok(Json(CreatorDetail {
        creator,
        memberships,
    }))
}

/// Changes the creator's follower count or segments, in one statement.
#[utoipa::path(
    patch,
    path = "/creators/{id}",
    tag = "creators",
    operation_id = "updateCreator",
    params(("id" = String, Path, format = Uuid, description = "The creator's id")),
    request_body = UpdateCreator,
    responses((status = 200, description = "The creator as changed", body = CreatorView)),
)]
async fn update(
    State(s): State<AppState>,
    IdPath(id): IdPath<CreatorId>,
    JsonBody(req): JsonBody<UpdateCreator>,
) -> ApiResult<Json<CreatorView>> {
    let patch = ProfilePatch {
        followers: req.followers,
        segments: req.segments.map(parse_segments).transpose()?,
    };
    Ok(Json(s.store.update_creator(&id, patch).await?))
}
