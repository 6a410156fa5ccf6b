use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::time::serde_rfc3339;
use super::{CreatorId, FulfillmentId, Month, RuleId};

/// A reward a creator earned: the record of it and the webhook body sent for it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    /// The `lcId` of its webhook payload.
    pub id: FulfillmentId,
    pub rule_id: RuleId,
    pub creator_id: CreatorId,
    /// `null` when the rule's reward is not code-based.
    #[schema(required = true)]
    pub discount_code: Option<String>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
    /// The month a `MONTHLY` rule granted it for; `null` for an instant reward.
    #[schema(required = true, value_type = Option<Month>)]
    pub month: Option<Month>,
    /// The tier it was granted for, 1-based; `null` for an instant reward.
    #[schema(required = true, minimum = 1, maximum = 10)]
    pub tier: Option<u8>,
    /// The webhook body exactly as it is sent.
    #[schema(value_type = crate::payload::Payload)]
    pub payload: Box<serde_json::value::RawValue>,
}

#[derive(Debug, Clone, Default)]
pub struct FulfillmentFilter {
    pub creator_id: Option<CreatorId>,
    pub rule_id: Option<RuleId>,
}

/// Who started a month's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStarter {
    /// The automatic schedule, on the first business day after the month.
    Schedule,
    /// `POST /v1/rules/{id}/runs`.
    Hand,
}

impl RunStarter {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStarter::Schedule => "SCHEDULE",
            RunStarter::Hand => "HAND",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SCHEDULE" => Some(RunStarter::Schedule),
            "HAND" => Some(RunStarter::Hand),
            _ => None,
        }
    }
}

/// A month of a monthly rule that has been run.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleRun {
    #[schema(value_type = Month)]
    pub month: Month,
    /// Fulfillments the month's runs granted.
    pub fulfillments: u64,
    /// Who ran the month first.
    pub started_by: RunStarter,
    /// When it was first run.
    #[serde(with = "serde_rfc3339")]
    pub run_at: DateTime<Utc>,
}
