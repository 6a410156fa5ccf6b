use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time::serde_rfc3339;
use super::{DeliveryId, Email, EventType, FulfillmentId, IntegrationId};

/// `pending`: not settled yet (due, in flight or waiting for a retry); `succeeded`: an attempt
/// got a 2xx; `failed`: every attempt of the schedule used up, or its one attempt (a manual
/// retry, a Test send) failed, or its integration was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// One webhook to one integration: its `id` is the `webhook-id` header on every attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: DeliveryId,
    /// The reward it carries; `null` for a Test send and for other events.
    #[schema(required = true)]
    pub fulfillment_id: Option<FulfillmentId>,
    /// What it is about: its `lc-event-type` header (for a Test send, the type it sent).
    pub event_type: EventType,
    /// The event it carries (`GET /v1/events`): a reward's is its fulfillment's id; `null` for
    /// a Test send.
    #[schema(required = true, format = Uuid)]
    pub event_id: Option<String>,
    pub integration_id: IntegrationId,
    /// The email of the creator the event is about; `null` for a Test send.
    #[schema(required = true)]
    pub creator_email: Option<String>,
    /// The name of the rule that granted the reward (kept after the rule is deleted); `null`
    /// for a Test send.
    #[schema(required = true)]
    pub rule_name: Option<String>,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    /// When the next attempt is due; `null` once settled.
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt; `null` before one, or when it got no answer.
    #[schema(required = true, minimum = 100, maximum = 599)]
    pub last_response_status: Option<u16>,
    /// Why the last attempt failed without an answer (timeout, refused connection, …).
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// True for a delivery made by the integration's Test button.
    pub test: bool,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When the latest successful attempt started.
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One HTTP attempt of a delivery, as logged.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1 for the first.
    #[schema(minimum = 1)]
    pub number: u32,
    #[serde(with = "serde_rfc3339")]
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    #[schema(required = true, minimum = 100, maximum = 599)]
    pub response_status: Option<u16>,
    /// The first 4 KiB of the answer; `null` without one.
    #[schema(required = true)]
    pub response_body: Option<String>,
    /// Why no answer came; `null` when one did.
    #[schema(required = true)]
    pub error: Option<String>,
    /// The headers the attempt was sent with, the API key shown only by its hint (`Bearer …abcd`);
    /// `null` for attempts logged before headers were kept.
    #[schema(required = true)]
    pub request_headers: Option<BTreeMap<String, String>>,
}

/// A delivery with the body it sends and every attempt, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    /// The body exactly as it is sent: `Payload` for an integration in the `medias` format,
    /// `PostsPayload` for `posts`.
    #[schema(schema_with = crate::payload::either_format)]
    pub payload: Box<serde_json::value::RawValue>,
    pub attempts: Vec<Attempt>,
}

/// Which way the delivery log is walked: by creation time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Newest first (the default).
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub integration_id: Option<IntegrationId>,
    pub fulfillment_id: Option<FulfillmentId>,
    pub status: Option<DeliveryStatus>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    /// Deliveries of rewards earned by the creator with this email, whatever its case.
    pub email: Option<Email>,
    /// Deliveries of events of this type (Test sends included).
    pub event_type: Option<EventType>,
    pub order: Order,
}
