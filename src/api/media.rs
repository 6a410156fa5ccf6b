use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Params};
use super::AppState;
use crate::domain::{time, Media, NewMedia, Page, Platform, PostType};

/// The most posts one batch request may carry.
pub const MAX_BATCH: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/media", post(create).get(list))
        .route("/media/batch", post(create_batch))
}

/// One post as `POST /v1/media` and `lc-webhooks import` take it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MediaInput {
    creator_id: String,
    post_type: PostType,
    platform: Option<Platform>,
    posted_at: Option<String>,
}

impl MediaInput {
    pub fn validate(self) -> Result<NewMedia, ApiError> {
        let posted_at = match self.posted_at {
            None => time::now(),
            Some(raw) => time::parse_flexible(&raw).ok_or_else(|| {
                ApiError::invalid("invalid_posted_at", format!("postedAt `{raw}` is not an RFC 3339 or `YYYY-MM-DDTHH:MM:SS.ffffff` timestamp"))
            })?,
        };
        if self.creator_id.trim().is_empty() {
            return Err(ApiError::invalid(
                "invalid_creator_id",
                "creatorId must not be empty",
            ));
        }
        Ok(NewMedia {
            creator_id: self.creator_id,
            platform: self.platform.unwrap_or(Platform::Instagram),
            post_type: self.post_type,
            posted_at,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    media: Vec<Value>,
}

#[derive(Serialize)]
struct Items<T> {
    items: Vec<T>,
}

async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<MediaInput>,
) -> ApiResult<(StatusCode, Json<Media>)> {
    let mut stored = s.store.insert_media(vec![req.validate()?]).await?;
    s.new_posts.notify_one();
    let media = stored.pop().ok_or_else(|| {
        ApiError::from(crate::error::Error::Corrupt(
            "insert returned nothing".into(),
        ))
    })?;
    Ok((StatusCode::CREATED, Json(media)))
}

/// All or nothing: one bad post refuses the whole batch, naming it by index.
async fn create_batch(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<Batch>,
) -> ApiResult<(StatusCode, Json<Items<Media>>)> {
    if req.media.is_empty() || req.media.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "invalid_batch",
            format!("media must hold 1 to {MAX_BATCH} posts"),
        ));
    }
    let posts = req
        .media
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value::<MediaInput>(v)
                .map_err(|e| ApiError::invalid("invalid_body", e.to_string()))
                .and_then(MediaInput::validate)
                .map_err(|e| ApiError {
                    message: format!("media[{i}]: {}", e.message),
                    ..e
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let items = s.store.insert_media(posts).await?;
    s.new_posts.notify_one();
    Ok((StatusCode::CREATED, Json(Items { items })))
}

async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Media>>> {
    let creator = params.get("creatorId");
    Ok(Json(
        s.store
            .list_media(creator.as_deref(), &params.page()?)
            .await?,
    ))
}
