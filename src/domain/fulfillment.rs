use chrono::{DateTime, Utc};
use serde::Serialize;

use super::time::serde_rfc3339;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    pub id: String,
    pub rule_id: String,
    pub creator_id: String,
    pub discount_code: Option<String>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
    /// The webhook body exactly as it is sent.
    pub payload: Box<serde_json::value::RawValue>,
}

#[derive(Debug, Clone, Default)]
pub struct FulfillmentFilter {
    pub creator_id: Option<String>,
    pub rule_id: Option<String>,
}
