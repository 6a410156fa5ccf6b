//! The hot path, top to bottom: claim a batch, send each under the concurrency caps, hand the
//! result to the recorder. Nothing holds a database transaction across an HTTP call.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::{outcome, send_result, Recorder, RetrySchedule, Sender};
use crate::domain::new_id;
use crate::store::{Claimed, Store};

const CLAIM_BATCH: u32 = 256;
/// Claim slots kept for integrations this instance has not sent to yet.
const NEW_INTEGRATION_PROBE: usize = 8;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub schedule: RetrySchedule,
    /// How long a claim is held; longer than the HTTP timeout.
    pub lease: Duration,
    pub max_in_flight: usize,
    pub max_in_flight_per_integration: usize,
    pub poll_interval: Duration,
}

pub struct Dispatcher {
    store: Store,
    sender: Sender,
    recorder: Recorder,
    config: DispatcherConfig,
    /// Identifies this instance's leases.
    owner: String,
    wake: Arc<Notify>,
    in_flight: Arc<Semaphore>,
    per_integration: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Deliveries leased and not yet handed to the recorder: released if shutdown cuts them off.
    leased: Mutex<HashSet<String>>,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        sender: Sender,
        recorder: Recorder,
        config: DispatcherConfig,
        wake: Arc<Notify>,
    ) -> Self {
        Dispatcher {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            store,
            sender,
            recorder,
            config,
            owner: new_id(),
            wake,
            per_integration: Mutex::new(HashMap::new()),
            leased: Mutex::new(HashSet::new()),
        }
    }

    /// Runs until `shutdown` turns true, then lets sends in flight finish for up to `grace`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        let this = Arc::new(self);
        let mut tasks = JoinSet::new();
        let mut failures = 0u32;
        // Look for integrations not seen yet: at start, on new work and on every poll.
        let mut probe = true;
        while !*shutdown.borrow() {
            while tasks.try_join_next().is_some() {}
            let claimed = this.claim(probe).await;
            probe = false;
            match claimed {
                Ok(batch) if !batch.is_empty() => {
                    failures = 0;
                    for (claimed, permits) in batch {
                        let this = this.clone();
                        tasks.spawn(async move {
                            this.deliver(claimed).await;
                            drop(permits);
                        });
                    }
                    continue;
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    tracing::error!(error = %e, "claiming deliveries failed");
                }
            }
            let pause = this.config.poll_interval * failures.clamp(1, 10);
            probe = tokio::select! {
                _ = this.wake.notified() => true,
                _ = tokio::time::sleep(pause) => true,
                _ = shutdown.changed() => false,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => false,
            };
        }
        // Finish what is in flight; what is cut off is handed back to be sent again at once.
        let _ =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let cut_off: Vec<String> = lock(&this.leased).drain().collect();
        if !cut_off.is_empty() {
            if let Err(e) = this.store.release(&cut_off, &this.owner).await {
                tracing::warn!(error = %e, count = cut_off.len(), "could not release leases; they will expire");
            }
        }
    }

    /// Leases due deliveries this instance has room for. An integration (nearly) at its cap is
    /// left out of the claim, so one slow receiver cannot take every send slot from the others.
    /// `probe` also claims a few slots' worth for integrations this instance has not sent to yet.
    async fn claim(&self, probe: bool) -> crate::error::Result<Vec<(Claimed, Permits)>> {
        let free = self.in_flight.available_permits();
        let idle = free == self.config.max_in_flight;
        // Under load, a claim waits until it is worth its transaction: a claim per freed slot
        // would cost more than the sends it feeds.
        let worth_a_claim = (self.config.max_in_flight_per_integration / 4).clamp(1, 16);
        let (saturated, room) = {
            let map = lock(&self.per_integration);
            let saturated: Vec<String> = map
                .iter()
                .filter(|(_, s)| s.available_permits() < worth_a_claim)
                .map(|(id, _)| id.clone())
                .collect();
            // No more than the known integrations have room for: what cannot be sent is only
            // handed back.
            let room: usize = map
                .values()
                .map(|s| s.available_permits())
                .filter(|&n| n >= worth_a_claim)
                .sum();
            (saturated, if map.is_empty() { free } else { room })
        };
        let wanted = if probe || idle {
            room + NEW_INTEGRATION_PROBE
        } else {
            room
        };
        let limit = free.min(wanted);
        if limit == 0 || (!idle && !probe && limit < worth_a_claim) {
            return Ok(Vec::new());
        }
        let limit = u32::try_from(limit).unwrap_or(CLAIM_BATCH).min(CLAIM_BATCH);
        let claimed = self
            .store
            .claim_due(limit, self.config.lease, &self.owner, &saturated)
            .await?;
        let mut ready = Vec::with_capacity(claimed.len());
        let mut over_cap = Vec::new();
        for c in claimed {
            let global = self.in_flight.clone().try_acquire_owned();
            let own = self
                .integration_permits(&c.target.integration_id)
                .try_acquire_owned();
            match (global, own) {
                (Ok(global), Ok(own)) => {
                    lock(&self.leased).insert(c.delivery_id.clone());
                    ready.push((
                        c,
                        Permits {
                            _global: global,
                            _own: own,
                        },
                    ));
                }
                _ => over_cap.push(c.delivery_id),
            }
        }
        if !over_cap.is_empty() {
            self.store.release(&over_cap, &self.owner).await?;
        }
        Ok(ready)
    }

    async fn deliver(&self, claimed: Claimed) {
        let sent = self
            .sender
            .send(&claimed.target, &claimed.delivery_id, &claimed.body)
            .await;
        metrics::counter!("lc_webhooks_attempts_total", "result" => if sent.succeeded() { "success" } else { "failure" }).increment(1);
        metrics::histogram!("lc_webhooks_attempt_duration_seconds")
            .record(sent.duration_ms as f64 / 1000.0);
        let outcome = outcome(
            &sent,
            claimed.attempt_number,
            claimed.single_attempt,
            &self.config.schedule,
        );
        tracing::debug!(delivery = %claimed.delivery_id, attempt = claimed.attempt_number, status = ?sent.status, ?outcome, "attempt done");
        lock(&self.leased).remove(&claimed.delivery_id);
        self.recorder.record(send_result(
            &claimed.delivery_id,
            claimed.attempt_number,
            &claimed.lease_owner,
            sent,
            outcome,
        ));
    }

    fn integration_permits(&self, integration_id: &str) -> Arc<Semaphore> {
        lock(&self.per_integration)
            .entry(integration_id.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.max_in_flight_per_integration)))
            .clone()
    }
}

/// A send slot overall and one with the delivery's integration, held until the attempt ends.
struct Permits {
    _global: OwnedSemaphorePermit,
    _own: OwnedSemaphorePermit,
}

/// A poisoned lock only means another task panicked mid-update of a plain map; keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
