use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PageParams, Params};
use super::AppState;
use crate::domain::{CreatorId, Invalid, Media, MediaInput, Page, Posted, Problem, MAX_BATCH};
use crate::traces;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(create_batch))
}

/// Up to 1,000 posts, written all or none.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Batch {
    #[schema(value_type = Vec<MediaInput>, min_items = 1, max_items = 1000)]
    media: Vec<Value>,
}

/// The posts as stored, in the order given.
#[derive(Serialize, ToSchema)]
struct Items<T> {
    items: Vec<T>,
}

/// Records a creator's post and evaluates it against the rules, in one transaction: a `201`
/// means what it earned is committed, and its webhooks are on their way. A post whose
/// `(platform, externalId)` is already stored answers `200` with the stored post (same `id`)
/// and counts nothing again: a retry, or a poller seeing a post twice, is safe.
#[utoipa::path(
    post,
    path = "/media",
    tag = "media",
    operation_id = "createMedia",
    request_body = MediaInput,
    params(
        ("traceparent" = Option<String>, Header, description = "W3C trace context: while the service exports traces, the post's trace is a child of this span; ignored otherwise"),
    ),
    responses(
        (status = 201, description = "Stored; it will be evaluated exactly once", body = Media),
        (status = 200, description = "Its `(platform, externalId)` was already stored: the stored post, counted nothing again", body = Media),
        (status = 409, description = "`creatorId` names no creator (`unknown_creator`)", body = super::error::ErrorBody),
    ),
)]
async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<MediaInput>,
) -> ApiResult<(StatusCode, Json<Media>)> {
    // The post's trace: a child of the caller's when it sent a `traceparent`.
    let span = crate::trace_span!("POST /v1/media", otel.kind = "server");
    if traces::on() {
        let caller = headers
            .get(traces::TRACEPARENT)
            .and_then(|v| v.to_str().ok());
        traces::set_parent(&span, caller);
    }
    let post = req.parse()?;
    let mut stored = s.ingester.write(vec![post]).instrument(span).await?;
    let posted = stored.pop().ok_or_else(|| {
        ApiError::from(crate::error::Error::Corrupt(
            "insert returned nothing".into(),
        ))
    })?;
    Ok((status(std::slice::from_ref(&posted)), Json(posted.media)))
}

/// Records up to 1,000 posts and evaluates them, in one transaction. One bad post refuses the
/// whole batch, named by its index (`media[3]: …`). Each post is answered with the post stored:
/// one whose `(platform, externalId)` is already stored, or comes earlier in the batch, is that
/// post (same `id`) and counts nothing again.
#[utoipa::path(
    post,
    path = "/media/batch",
    tag = "media",
    operation_id = "createMediaBatch",
    request_body = Batch,
    responses(
        (status = 201, description = "Every post stored (at least one of them new)", body = Items<Media>),
        (status = 200, description = "Every post was already stored (by its `(platform, externalId)`): the stored posts", body = Items<Media>),
        (status = 409, description = "A `creatorId` names no creator (`unknown_creator`, listing them); nothing is stored", body = super::error::ErrorBody),
    ),
)]
async fn create_batch(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<Batch>,
) -> ApiResult<(StatusCode, Json<Items<Media>>)> {
    if req.media.is_empty() || req.media.len() > MAX_BATCH {
        return Err(Invalid::new(
            Problem::Batch,
            format!("media must hold 1 to {MAX_BATCH} posts"),
        )
        .into());
    }
    let posts = req
        .media
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let place = format!("media[{i}]");
            // As a body, a post is an object only (serde would read an array by position).
            if !v.is_object() {
                return Err(ApiError::invalid(
                    "invalid_body",
                    format!("{place}: a post must be a JSON object"),
                ));
            }
            serde_json::from_value::<MediaInput>(v)
                .map_err(|e| ApiError::invalid("invalid_body", format!("{place}: {e}")))
                .and_then(|m| m.parse().map_err(|e| e.at(&place).into()))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let posted = s.ingester.write(posts).await?;
    let status = status(&posted);
    let items = posted.into_iter().map(|p| p.media).collect();
    Ok((status, Json(Items { items })))
}

/// `201` when the write stored a post, `200` when every post was already stored.
fn status(posted: &[Posted]) -> StatusCode {
    if posted.iter().any(|p| p.created) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Lists posts, oldest first, optionally one creator's.
#[utoipa::path(
    get,
    path = "/media",
    tag = "media",
    operation_id = "listMedia",
    params(
        ("creatorId" = Option<String>, Query, format = Uuid, description = "Only this creator's posts"),
        PageParams,
    ),
    responses((status = 200, description = "One page", body = Page<Media>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Media>>> {
    let creator = params.id::<CreatorId>("creatorId")?;
    Ok(Json(
        s.store
            .list_media(creator.as_ref(), &params.page()?)
            .await?,
    ))
}
