//! The integration's Test button: one logged attempt, sent now, answered in the same request.

use std::collections::BTreeMap;

use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;

use super::{send_result, Sender};
use crate::domain::{DeliveryId, IntegrationId, Outcome, SendResult};
use crate::error::Result;
use crate::payload::TestEvent;
use crate::store::Store;

/// What the receiver said to the Test button's webhook.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSendResult {
    /// The receiver answered 2xx.
    pub success: bool,
    /// `null` when no answer came (see `error`).
    #[schema(required = true, minimum = 100, maximum = 599)]
    pub response_status: Option<u16>,
    pub duration_ms: u64,
    /// Why no answer came: timeout, refused connection, TLS.
    #[schema(required = true)]
    pub error: Option<String>,
    /// The first 4 KiB of the receiver's answer; `null` without one.
    #[schema(required = true)]
    pub response_body: Option<String>,
    /// The headers sent, the API key shown only by its hint.
    pub request_headers: BTreeMap<String, String>,
    /// The logged delivery (`GET /v1/deliveries/{id}`), also sent as `webhook-id`.
    pub delivery_id: DeliveryId,
}

pub async fn test_send(
    store: &Store,
    sender: &Sender,
    integration_id: &IntegrationId,
    event: &TestEvent,
) -> Result<TestSendResult> {
    let (target, format) = store.send_target(integration_id).await?;
    let body = event.body(format)?;
    let delivery_id = store
        .create_test_delivery(integration_id, event.event_type, &body)
        .await?;
    // A trace of its own when tracing is on, so that it carries a `traceparent` like any webhook.
    let span = crate::trace_span!(
        "attempt",
        otel.kind = "client",
        integration = %integration_id,
        delivery = %delivery_id,
        event_type = event.event_type.as_str(),
        test = true,
    );
    let traceparent = crate::traces::traceparent(&span);
    let sent = sender
        .send(
            &target,
            &delivery_id,
            event.event_type,
            &body,
            traceparent.as_deref(),
        )
        .instrument(span)
        .await;
    let result = TestSendResult {
        success: sent.succeeded(),
        response_status: sent.status,
        duration_ms: sent.duration_ms,
        error: sent.error.clone(),
        response_body: sent.body.clone(),
        request_headers: sent.request_headers.clone(),
        delivery_id: delivery_id.clone(),
    };
    let outcome = if result.success {
        Outcome::Succeeded
    } else {
        Outcome::Failed
    };
    let logged = SendResult {
        test: true,
        ..send_result(&delivery_id, integration_id, 1, "", sent, outcome)
    };
    let logged = [logged];
    store.record_health(&logged).await?;
    store.record(&logged).await?;
    Ok(result)
}
