//! What a claim reads of each delivery it leases: everything needed to send it. How the lease
//! is taken differs by database (`backend/`); this is what both read.

use std::sync::Arc;

use super::rows::TargetRow;
use crate::domain::{Claimed, DeliveryId, EventType, IntegrationId};

/// One claim: up to `limit` deliveries due at `at` (µs), leased to `owner` until `until`, none
/// of the integrations in `skip`.
#[derive(Clone, Copy)]
pub(crate) struct ClaimRequest<'a> {
    pub(crate) limit: u32,
    pub(crate) at: i64,
    pub(crate) until: i64,
    pub(crate) owner: &'a str,
    pub(crate) skip: &'a [IntegrationId],
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClaimRow {
    pub(crate) id: DeliveryId,
    attempt_count: i64,
    single_attempt: i64,
    body: Option<String>,
    event_type: String,
    integration_id: IntegrationId,
    traceparent: Option<String>,
    #[sqlx(flatten)]
    target: TargetRow,
}

impl ClaimRow {
    pub(crate) fn into_claimed(self, owner: &str) -> Claimed {
        Claimed {
            delivery_id: self.id,
            attempt_number: u32::try_from(self.attempt_count + 1).unwrap_or(u32::MAX),
            single_attempt: self.single_attempt != 0,
            lease_owner: owner.to_string(),
            target: Arc::new(self.target.into_target(self.integration_id)),
            // The column holds only types this version writes; a row it cannot read is still
            // sent (under the Test send's type) rather than stuck in the queue.
            event_type: EventType::parse(&self.event_type).unwrap_or(EventType::RewardInstant),
            body: self.body.unwrap_or_default().into(),
            traceparent: self.traceparent,
        }
    }
}

/// What a claim reads of each delivery: `q` its queue row, `d` the delivery, `i` its
/// integration, `f` its fulfillment (none for a test send or an event other than a reward), `e`
/// its event (none for a reward or a test send).
pub(crate) const CLAIM_COLUMNS: &str =
    "d.id, d.attempt_count, q.single_attempt, COALESCE(d.payload, f.payload) AS body, d.event_type,
     COALESCE(f.traceparent, e.traceparent) AS traceparent,
     i.id AS integration_id, i.url, i.auth_header, i.auth_prefix, i.api_key, i.signing_secret,
     i.previous_signing_secret, i.previous_secret_expires_at";

/// The tables [`CLAIM_COLUMNS`] come from, beside the queue row `q`, and how they join it.
pub(crate) const CLAIM_JOINS: &str = "deliveries d JOIN integrations i ON i.id = d.integration_id
     LEFT JOIN fulfillments f ON f.id = d.fulfillment_id
     LEFT JOIN events e ON e.id = d.event_id";

/// Frees every lease `owner` holds: its deliveries are due again at once, for any instance.
/// Used when `owner` is known to be dead (its liveness lock is free), so its leases need not
/// run out first. No index on `lease_owner` (it would move with every lease): this walks the
/// queue, once per dead instance.
pub(crate) fn release_all_of(owner: &str) -> super::Statement<'_> {
    super::Statement::new(
        "UPDATE delivery_queue SET lease_until = 0, lease_owner = NULL WHERE lease_owner = $1",
    )
    .bind(owner)
}
