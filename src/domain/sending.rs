//! What the dispatcher works with: a delivery leased to this instance with everything needed to
//! send it, and what one attempt came to. The store fills and records them; the dispatcher
//! decides.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{DeliveryId, DeliveryStatus, EventType, IntegrationId, Secret};

/// What the dispatcher needs to send to one integration, secrets included.
#[derive(Debug, Clone)]
pub struct SendTarget {
    pub integration_id: IntegrationId,
    pub url: String,
    pub auth_header: String,
    pub auth_prefix: String,
    pub api_key: Secret,
    pub signing_secret: Option<Secret>,
    /// The secret the last rotation replaced, signed with as well until it expires.
    pub previous_secret: Option<PreviousSecret>,
}

/// A rotated-out signing secret and when it stops being signed with.
#[derive(Debug, Clone)]
pub struct PreviousSecret {
    pub secret: Secret,
    pub expires_at: DateTime<Utc>,
}

impl SendTarget {
    /// The secrets an attempt at `now` is signed with: the current one first, then the previous
    /// one while its grace period lasts. Decided per attempt, so a retry is signed as of then.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Secret> {
        let previous = self
            .previous_secret
            .as_ref()
            .filter(|p| self.signing_secret.is_some() && now < p.expires_at)
            .map(|p| &p.secret);
        self.signing_secret.iter().chain(previous)
    }
}

/// A delivery this instance holds a lease on, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery_id: DeliveryId,
    /// The number this attempt will have (1 for the first).
    pub attempt_number: u32,
    /// A manual retry: one attempt, then the delivery settles whatever happens.
    pub single_attempt: bool,
    pub lease_owner: String,
    /// Shared by every delivery to its integration that one evaluation hands over.
    pub target: Arc<SendTarget>,
    /// Sent as the `lc-event-type` header.
    pub event_type: EventType,
    /// Shared by the deliveries of one reward or event (one per integration).
    pub body: Arc<str>,
    /// The W3C `traceparent` of the evaluation that granted its reward, stored while tracing
    /// was on: each attempt's span is its child. `None` when tracing was off, or for a Test send.
    pub traceparent: Option<String>,
}

/// The lease an evaluation puts on the deliveries it queues: to this instance's dispatcher,
/// which is handed them in memory, so they go out with no claim.
#[derive(Debug, Clone)]
pub struct Lease {
    pub owner: String,
    pub length: Duration,
}

/// Deliveries leased to this instance by an evaluation, for its dispatcher.
#[derive(Debug)]
pub struct Leased {
    /// Taken just before the lease's end was computed: the lease ends no sooner than
    /// `since` + its length.
    pub since: std::time::Instant,
    pub deliveries: Vec<Claimed>,
}

impl Default for Leased {
    fn default() -> Self {
        Leased {
            since: std::time::Instant::now(),
            deliveries: Vec::new(),
        }
    }
}

/// What an attempt means for its delivery: done, try again later, or give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    RetryAt(DateTime<Utc>),
    Failed,
}

impl Outcome {
    /// The delivery's status after an attempt with this outcome.
    pub fn status(self) -> DeliveryStatus {
        match self {
            Outcome::Succeeded => DeliveryStatus::Succeeded,
            Outcome::RetryAt(_) => DeliveryStatus::Pending,
            Outcome::Failed => DeliveryStatus::Failed,
        }
    }
}

/// One attempt, as it goes into the delivery log.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub delivery_id: DeliveryId,
    /// Whose health the attempt tells of.
    pub integration_id: IntegrationId,
    /// As sent, the API key masked.
    pub request_headers: BTreeMap<String, String>,
    /// The number the attempt was claimed with (1 for the first).
    pub attempt_number: u32,
    pub lease_owner: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub outcome: Outcome,
    /// A test send's attempt: it tells of the receiver's health, but pressing Test against a
    /// broken receiver does not disable it.
    pub test: bool,
}

impl SendResult {
    /// The attempt's failure in a few words: the status it got, or why it got none. The
    /// integration's health and the log line of a delivery that finally failed both say it so.
    pub fn failure(&self) -> String {
        match (self.response_status, &self.error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(previous_until: Option<DateTime<Utc>>) -> SendTarget {
        SendTarget {
            integration_id: IntegrationId::generate(),
            url: "http://127.0.0.1:1/".into(),
            auth_header: "Authorization".into(),
            auth_prefix: "Bearer ".into(),
            api_key: Secret::new("k".into()),
            signing_secret: Some(Secret::new("new".into())),
            previous_secret: previous_until.map(|expires_at| PreviousSecret {
                secret: Secret::new("old".into()),
                expires_at,
            }),
        }
    }

    #[test]
    fn the_previous_secret_signs_until_it_expires_and_not_from_then_on() {
        let now = Utc::now();
        let names = |t: &SendTarget, at| {
            t.signing_secrets(at)
                .map(|s| s.expose().to_string())
                .collect::<Vec<_>>()
        };
        let t = target(Some(now + chrono::Duration::hours(1)));
        assert_eq!(names(&t, now), ["new", "old"]);
        assert_eq!(names(&t, now + chrono::Duration::hours(1)), ["new"]);
        assert_eq!(names(&target(None), now), ["new"]);
        let mut unsigned = target(Some(now + chrono::Duration::hours(1)));
        unsigned.signing_secret = None;
        assert!(names(&unsigned, now).is_empty());
    }

    #[test]
    fn a_failure_is_told_by_its_status_else_by_its_error() {
        let mut r = SendResult {
            delivery_id: DeliveryId::generate(),
            integration_id: IntegrationId::generate(),
            request_headers: BTreeMap::new(),
            attempt_number: 1,
            lease_owner: String::new(),
            started_at: Utc::now(),
            duration_ms: 1,
            response_status: Some(503),
            response_body: None,
            error: Some("ignored".into()),
            outcome: Outcome::Failed,
            test: false,
        };
        assert_eq!(r.failure(), "HTTP 503");
        r.response_status = None;
        assert_eq!(r.failure(), "ignored");
        r.error = None;
        assert_eq!(r.failure(), "no answer");
    }
}
