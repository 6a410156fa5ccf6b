use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::invalid::{Invalid, Problem};
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

text_enum!(PostType { Feed => "FEED", Story => "STORY", Reel => "REEL" });
text_enum!(Platform { Instagram => "INSTAGRAM", Tiktok => "TIKTOK" });

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
}

/// A validated post to store.
#[derive(Debug, Clone)]
pub struct NewMedia {
    pub creator_id: CreatorId,
    pub platform: Platform,
    pub post_type: PostType,
    pub posted_at: DateTime<Utc>,
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
        Ok(NewMedia {
            creator_id,
            platform: self.platform.unwrap_or(Platform::Instagram),
            post_type: self.post_type,
            posted_at,
        })
    }
}

/// The most posts one batch request (or one write of `import`) carries.
pub const MAX_BATCH: usize = 1000;
