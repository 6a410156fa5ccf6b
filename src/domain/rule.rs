use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::time::serde_rfc3339;
use super::{Platform, PostType};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum Reward {
    DiscountCode {
        #[serde(
            rename = "codePrefix",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        code_prefix: Option<String>,
    },
    None,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: String,
    pub name: String,
    /// Empty: any post type.
    pub post_types: Vec<PostType>,
    /// `None`: any platform.
    pub platforms: Option<Vec<Platform>>,
    pub count: u32,
    pub window_days: Option<u32>,
    pub repeatable: bool,
    pub reward: Reward,
    /// `None`: every active integration.
    pub integration_ids: Option<Vec<String>>,
    pub active: bool,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "serde_rfc3339")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewRule {
    pub name: String,
    pub post_types: Vec<PostType>,
    pub platforms: Option<Vec<Platform>>,
    pub count: u32,
    pub window_days: Option<u32>,
    pub repeatable: bool,
    pub reward: Reward,
    pub integration_ids: Option<Vec<String>>,
    pub active: bool,
}

/// `None` leaves a field as it is; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct RulePatch {
    pub name: Option<String>,
    pub post_types: Option<Vec<PostType>>,
    pub platforms: Option<Option<Vec<Platform>>>,
    pub count: Option<u32>,
    pub window_days: Option<Option<u32>>,
    pub repeatable: Option<bool>,
    pub reward: Option<Reward>,
    pub integration_ids: Option<Option<Vec<String>>>,
    pub active: Option<bool>,
}

impl RulePatch {
    /// Changes `rule` as this patch says.
    pub fn apply(self, rule: &mut Rule) {
        macro_rules! set_given {
            ($($field:ident),+) => { $(if let Some(v) = self.$field { rule.$field = v; })+ };
        }
        set_given!(
            name,
            post_types,
            platforms,
            count,
            window_days,
            repeatable,
            reward,
            integration_ids,
            active
        );
    }
}
