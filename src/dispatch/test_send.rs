//! The integration's Test button: one logged attempt, sent now, answered in the same request.

use serde::Serialize;

use super::{send_result, Sender};
use crate::error::Result;
use crate::payload::Payload;
use crate::store::{Outcome, Store};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestSendResult {
    pub success: bool,
    pub response_status: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub delivery_id: String,
}

pub async fn test_send(
    store: &Store,
    sender: &Sender,
    integration_id: &str,
    payload: &Payload,
) -> Result<TestSendResult> {
    let target = store.send_target(integration_id).await?;
    let body = payload.to_body()?;
    let delivery_id = store.create_test_delivery(integration_id, &body).await?;
    let sent = sender.send(&target, &delivery_id, &body).await;
    let result = TestSendResult {
        success: sent.succeeded(),
        response_status: sent.status,
        duration_ms: sent.duration_ms,
        error: sent.error.clone(),
        delivery_id: delivery_id.clone(),
    };
    let outcome = if result.success {
        Outcome::Succeeded
    } else {
        Outcome::Failed
    };
    store
        .record(&[send_result(&delivery_id, 1, "", sent, outcome)])
        .await?;
    Ok(result)
}
