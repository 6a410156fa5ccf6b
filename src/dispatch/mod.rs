//! The dispatcher: claim due deliveries, send them, record each attempt, schedule the next.

mod claim_policy;
mod concurrency;
mod guard;
mod http1;
mod lane;
mod record;
mod schedule;
mod send;
pub mod signature;
mod takeover;
mod test_send;
mod worker;

pub use guard::TargetPolicy;
pub use lane::Lanes;
pub use record::Recorder;
pub use schedule::RetrySchedule;
pub use send::{Sender, Sent, RESPONSE_BODY_LIMIT, USER_AGENT};
pub use takeover::free_dead_owners_periodically;
pub use test_send::{test_send, TestSendResult};
pub use worker::{Dispatcher, DispatcherConfig};

use crate::domain::{DeliveryId, IntegrationId, Outcome, SendResult};

/// What an attempt means for its delivery: done, try again later, or give up.
pub fn outcome(
    sent: &Sent,
    attempt_number: u32,
    single_attempt: bool,
    schedule: &RetrySchedule,
) -> Outcome {
    if sent.succeeded() {
        return Outcome::Succeeded;
    }
    if single_attempt {
        return Outcome::Failed;
    }
    match schedule.delay_after(attempt_number, sent.retry_after) {
        Some(delay) => Outcome::RetryAt(
            sent.started_at + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
        ),
        None => Outcome::Failed,
    }
}

/// The log entry for attempt `attempt_number` of a delivery.
pub fn send_result(
    delivery_id: &DeliveryId,
    integration_id: &IntegrationId,
    attempt_number: u32,
    lease_owner: &str,
    sent: Sent,
    outcome: Outcome,
) -> SendResult {
    SendResult {
        delivery_id: delivery_id.clone(),
        integration_id: integration_id.clone(),
        request_headers: sent.request_headers,
        attempt_number,
        lease_owner: lease_owner.to_string(),
        started_at: sent.started_at,
        duration_ms: sent.duration_ms,
        response_status: sent.status,
        response_body: sent.body,
        error: sent.error,
        outcome,
        test: false,
    }
}
