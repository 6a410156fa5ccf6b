//! Each integration's lane: its adaptive concurrency limit, its rate limit, the sends in flight,
//! and what is claimed for it but waits for a slot. [`Lanes`] is shared with the API, which
//! shows the limit each integration runs at now.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::concurrency::{AdaptiveLimit, RateLimit, Signal};
use crate::domain::{Claimed, IntegrationId, IntegrationLimits};

pub(super) struct Waiting {
    pub claimed: Claimed,
    pub lease_ends: Instant,
}

pub(super) struct Lane {
    pub limit: AdaptiveLimit,
    rate: Option<RateLimit>,
    pub in_flight: usize,
    pub waiting: VecDeque<Waiting>,
    /// The limit last published to `/metrics`.
    published: usize,
}

impl Lane {
    fn new(id: &IntegrationId, max: usize, per_second: Option<u32>) -> Lane {
        let limit = AdaptiveLimit::new(max, Instant::now());
        let published = limit.limit();
        publish(id, published);
        Lane {
            limit,
            rate: per_second.map(RateLimit::new),
            in_flight: 0,
            waiting: VecDeque::new(),
            published,
        }
    }

    /// Sends it may start now by its concurrency limit (its rate limit aside).
    pub fn free_slots(&self) -> usize {
        self.limit.limit().saturating_sub(self.in_flight)
    }

    /// Deliveries it can take now: free slots, plus a queue of one more limit's worth.
    pub fn room(&self) -> usize {
        self.free_slots() + self.limit.limit().saturating_sub(self.waiting.len())
    }

    /// Takes a send slot if the limits allow one now; otherwise `Err` with when its rate limit
    /// frees one (`None` when only the concurrency limit is in the way).
    pub fn try_start(&mut self, now: Instant) -> Result<(), Option<Instant>> {
        if self.free_slots() == 0 {
            return Err(None);
        }
        if let Some(rate) = &mut self.rate {
            if !rate.try_start(now) {
                return Err(rate.next_start(now));
            }
        }
        self.in_flight += 1;
        self.limit.started(self.in_flight);
        Ok(())
    }

    /// The integration's settings as last read: its hard maximum and its rate limit.
    fn configure(&mut self, max: usize, per_second: Option<u32>) {
        if self.limit.max() != max {
            self.limit.set_max(max);
        }
        match (per_second, &self.rate) {
            (None, _) => self.rate = None,
            (Some(n), Some(rate)) if rate.per_second() == n as usize => {}
            (Some(n), _) => self.rate = Some(RateLimit::new(n)),
        }
    }

    fn ended(&mut self, id: &IntegrationId, signal: Option<Signal>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(signal) = signal {
            self.limit.ended(signal, Instant::now());
        }
        let now = self.limit.limit();
        if now != self.published {
            self.published = now;
            publish(id, now);
        }
    }
}

fn publish(id: &IntegrationId, limit: usize) {
    metrics::gauge!("lc_webhooks_integration_concurrency_limit", "integration" => id.to_string())
        .set(limit as f64);
}

/// Every integration's lane on this instance.
#[derive(Clone, Default)]
pub struct Lanes {
    inner: Arc<Mutex<HashMap<IntegrationId, Lane>>>,
    /// The service's own per-integration maximum (`--max-in-flight-per-integration`).
    max_per_integration: usize,
}

impl Lanes {
    pub fn new(max_per_integration: usize) -> Lanes {
        Lanes {
            inner: Arc::default(),
            max_per_integration: max_per_integration.max(1),
        }
    }

    /// The concurrency limit `id` runs at on this instance now; `None` before its first send.
    pub fn limit_of(&self, id: &IntegrationId) -> Option<u32> {
        self.lock()
            .get(id)
            .map(|lane| u32::try_from(lane.limit.limit()).unwrap_or(u32::MAX))
    }

    pub(super) fn max_per_integration(&self) -> usize {
        self.max_per_integration
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, HashMap<IntegrationId, Lane>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The lane of `id`, made with its settings if it has none yet.
    pub(super) fn lane<'a>(
        &self,
        lanes: &'a mut HashMap<IntegrationId, Lane>,
        id: &IntegrationId,
        settings: Option<&IntegrationLimits>,
    ) -> &'a mut Lane {
        let (max, per_second) = self.limits(settings);
        lanes
            .entry(id.clone())
            .or_insert_with(|| Lane::new(id, max, per_second))
    }

    /// Applies every integration's settings as read now.
    pub(super) fn configure(&self, settings: &HashMap<IntegrationId, IntegrationLimits>) {
        let mut lanes = self.lock();
        for (id, lane) in lanes.iter_mut() {
            let (max, per_second) = self.limits(settings.get(id));
            lane.configure(max, per_second);
        }
    }

    fn limits(&self, settings: Option<&IntegrationLimits>) -> (usize, Option<u32>) {
        let own = settings
            .and_then(|s| s.max_concurrency)
            .map_or(usize::MAX, |n| n as usize);
        (
            own.min(self.max_per_integration),
            settings.and_then(|s| s.max_per_second),
        )
    }

    /// The slot a send took in `id`'s lane, given back when the send ends (or is cut off).
    pub(super) fn slot(&self, id: IntegrationId) -> Slot {
        Slot {
            lanes: self.clone(),
            id,
            signal: None,
        }
    }
}

/// A send's slot in its lane: dropping it frees the slot and tells the limit how it went.
pub(super) struct Slot {
    lanes: Lanes,
    id: IntegrationId,
    signal: Option<Signal>,
}

impl Slot {
    pub fn ended(&mut self, status: Option<u16>, error: Option<&str>, took: Duration) {
        self.signal = Signal::of(status, error, took);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(lane) = self.lanes.lock().get_mut(&self.id) {
            lane.ended(&self.id, self.signal.take());
        }
    }
}
