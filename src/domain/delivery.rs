use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::time::serde_rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    /// `None` for a test send.
    pub fulfillment_id: Option<String>,
    pub integration_id: String,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    #[serde(with = "serde_rfc3339::option")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_response_status: Option<u16>,
    pub last_error: Option<String>,
    /// True for a delivery made by the integration's Test button.
    pub test: bool,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "serde_rfc3339::option")]
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub number: u32,
    #[serde(with = "serde_rfc3339")]
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    /// The body exactly as it is sent.
    pub payload: Box<serde_json::value::RawValue>,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub integration_id: Option<String>,
    pub fulfillment_id: Option<String>,
    pub status: Option<DeliveryStatus>,
}
