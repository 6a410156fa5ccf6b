use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::invalid::{chars, Invalid, Problem};
use super::time::{self, serde_rfc3339};
use super::{CreatorId, Id, MediaId};

/// A post's kind, as the seed page names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum PostType {
    Feed,
    Story,
    Reel,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Platform {
    #[default]
    Instagram,
    Tiktok,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

/// What a post shows, as LoudCrowd's monthly rewards filter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MediaType {
    Image,
    Video,
}

text_enum!(PostType { Feed => "FEED", Story => "STORY", Reel => "REEL" });
text_enum!(Platform { Instagram => "INSTAGRAM", Tiktok => "TIKTOK" });
text_enum!(MediaType { Image => "IMAGE", Video => "VIDEO" });

/// The longest `externalId`, in characters.
pub const MAX_EXTERNAL_ID: usize = 200;

/// A creator's post as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    /// The `lcId` this post has in webhook payloads.
    pub id: MediaId,
    pub creator_id: CreatorId,
    pub platform: Platform,
    pub post_type: PostType,
    #[serde(with = "serde_rfc3339")]
    pub posted_at: DateTime<Utc>,
    /// When the service received it; a rule counts posts received while it is active.
    #[serde(with = "serde_rfc3339")]
    pub ingested_at: DateTime<Utc>,
    /// The platform's own id of the post: one post per `(platform, externalId)`.
    pub external_id: Option<String>,
    /// `null`: unknown.
    pub media_type: Option<MediaType>,
}

/// A post as a write answers it: the post stored, and whether this write stored it (`false`:
/// its `(platform, externalId)` was already there, and it counted nothing again).
#[derive(Debug, Clone)]
pub struct Posted {
    pub media: Media,
    pub created: bool,
}

/// A validated post to store.
#[derive(Debug, Clone)]
pub struct NewMedia {
    pub creator_id: CreatorId,
    pub platform: Platform,
    pub post_type: PostType,
    pub posted_at: DateTime<Utc>,
    pub external_id: Option<String>,
    pub media_type: Option<MediaType>,
}

impl Media {
    /// The key that makes a post one post, if it carries the platform's id.
    pub fn external_key(&self) -> Option<(Platform, &str)> {
        self.external_id.as_deref().map(|id| (self.platform, id))
    }
}

impl NewMedia {
    /// The post as stored, under a fresh id, received at `ingested_at`.
    pub fn to_media(&self, ingested_at: DateTime<Utc>) -> Media {
        Media {
            id: MediaId::generate(),
            creator_id: self.creator_id.clone(),
            platform: self.platform,
            post_type: self.post_type,
            posted_at: self.posted_at,
            ingested_at,
            external_id: self.external_id.clone(),
            media_type: self.media_type,
        }
    }
}

/// One post as `POST /v1/media`, the batch and `lc-webhooks import` take it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MediaInput {
    /// The creator who posted it.
    #[schema(value_type = CreatorId)]
    pub creator_id: String,
    pub post_type: PostType,
    /// Default `INSTAGRAM`.
    pub platform: Option<Platform>,
    /// When it was posted: RFC 3339, or the seed's `YYYY-MM-DDTHH:MM:SS.ffffff` read as UTC.
    /// Default: now.
    #[schema(schema_with = time::posted_at_schema)]
    pub posted_at: Option<String>,
    /// The platform's own id of the post (1–200 printable characters). Sending a post whose
    /// `(platform, externalId)` is already stored answers `200` with the stored post and counts
    /// nothing again. Absent: every request is a new post.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$"
    )]
    pub external_id: Option<String>,
    /// `IMAGE` or `VIDEO`; `null` or absent: unknown.
    pub media_type: Option<MediaType>,
}

impl MediaInput {
    pub fn parse(self) -> Result<NewMedia, Invalid> {
        let posted_at = match self.posted_at {
            None => time::now(),
            Some(raw) => time::parse_flexible(&raw).ok_or_else(|| {
                Invalid::new(
                    Problem::PostedAt,
                    format!(
                        "postedAt `{raw}` is not an RFC 3339 or `YYYY-MM-DDTHH:MM:SS.ffffff` timestamp"
                    ),
                )
            })?,
        };
        let creator_id = CreatorId::parse(&self.creator_id).ok_or_else(|| {
            Invalid::new(
                Problem::CreatorId,
                format!(
                    "creatorId `{}` is not a creator's id",
                    self.creator_id.escape_debug()
                ),
            )
        })?;
        if let Some(id) = &self.external_id {
            if id.is_empty() || chars(id) > MAX_EXTERNAL_ID || id.chars().any(char::is_control) {
                return Err(Invalid::new(
                    Problem::ExternalId,
                    format!(
                        "externalId must be 1 to {MAX_EXTERNAL_ID} printable characters (the platform's id of the post); got {} characters{}",
                        chars(id),
                        if id.chars().any(char::is_control) { ", some of them control characters" } else { "" }
                    ),
                ));
            }
        }
        Ok(NewMedia {
            creator_id,
            platform: self.platform.unwrap_or(Platform::Instagram),
            post_type: self.post_type,
            posted_at,
            external_id: self.external_id,
            media_type: self.media_type,
        })
    }
}

/// The most posts one batch request (or one write of `import`) carries.
pub const MAX_BATCH: usize = 1000;
