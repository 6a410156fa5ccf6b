use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::time::serde_rfc3339;
use super::{CreatorId, FulfillmentId, RuleId};

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
    /// The webhook body exactly as it is sent.
    #[schema(value_type = crate::payload::Payload)]
    pub payload: Box<serde_json::value::RawValue>,
}

#[derive(Debug, Clone, Default)]
pub struct FulfillmentFilter {
    pub creator_id: Option<CreatorId>,
    pub rule_id: Option<RuleId>,
}
