use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::time::serde_rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PostType {
    Feed,
    Story,
    Reel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Platform {
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

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    pub id: String,
    pub creator_id: String,
    pub platform: Platform,
    pub post_type: PostType,
    #[serde(with = "serde_rfc3339")]
    pub posted_at: DateTime<Utc>,
    #[serde(with = "serde_rfc3339")]
    pub ingested_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewMedia {
    pub creator_id: String,
    pub platform: Platform,
    pub post_type: PostType,
    pub posted_at: DateTime<Utc>,
}
