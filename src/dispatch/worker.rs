//! The hot path, top to bottom: claim a batch, send each under the concurrency caps, hand the
//! result to the recorder. Nothing holds a database transaction across an HTTP call.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::{outcome, send_result, Recorder, RetrySchedule, Sender};
use crate::domain::new_id;
use crate::store::{Claimed, IntegrationStates, Outcome, Store};
use crate::telemetry;

const CLAIM_BATCH: u32 = 256;
/// Claim slots kept for integrations this instance has not sent to yet.
const NEW_INTEGRATION_PROBE: usize = 8;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub schedule: RetrySchedule,
    /// How long a claim is held; longer than the HTTP timeout.
    pub lease: Duration,
    /// The longest one attempt can take.
    pub send_timeout: Duration,
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
    lanes: Mutex<HashMap<String, Lane>>,
    /// Deliveries leased and not yet handed to the recorder: released if shutdown cuts them off.
    leased: Mutex<HashSet<String>>,
    /// Integrations as last read, and when.
    integrations: Mutex<Option<(Instant, Arc<IntegrationStates>)>>,
}

/// One integration's send slots, and what is claimed for it but waits for a slot. Claiming
/// ahead of the slots keeps sends going while the next claim waits for the database (behind
/// a large ingest on SQLite, say); the queue is capped at one more slot's worth of deliveries.
struct Lane {
    slots: Arc<Semaphore>,
    waiting: VecDeque<Waiting>,
}

struct Waiting {
    claimed: Claimed,
    lease_ends: Instant,
}

impl Lane {
    /// Deliveries this lane can take now: free slots plus room in its queue.
    fn room(&self, cap: usize) -> usize {
        self.slots.available_permits() + cap.saturating_sub(self.waiting.len())
    }
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
            lanes: Mutex::new(HashMap::new()),
            leased: Mutex::new(HashSet::new()),
            integrations: Mutex::new(None),
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
            this.start_ready(&mut tasks).await;
            let claimed = this.claim(probe).await;
            probe = false;
            match claimed {
                Ok(n) if n > 0 => {
                    failures = 0;
                    this.start_ready(&mut tasks).await;
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
        // Finish what is in flight; what is cut off or still waiting is handed back to be sent
        // again at once.
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

    /// Starts a send for every waiting delivery that has a slot.
    async fn start_ready(self: &Arc<Self>, tasks: &mut JoinSet<()>) {
        let (ready, stale) = self.ready();
        for (claimed, permits) in ready {
            let this = self.clone();
            tasks.spawn(async move {
                this.deliver(claimed).await;
                drop(permits);
            });
        }
        if !stale.is_empty() {
            {
                let mut leased = lock(&self.leased);
                for id in &stale {
                    leased.remove(id);
                }
            }
            if let Err(e) = self.store.release(&stale, &self.owner).await {
                tracing::warn!(error = %e, count = stale.len(), "could not release leases; they will expire");
            }
        }
    }

    /// Leases due deliveries this instance has room for, into their integrations' lanes. An
    /// integration whose lane is (nearly) full is left out of the claim, so one slow receiver
    /// cannot take every slot from the others. `probe` also claims a few for integrations this
    /// instance has not sent to yet.
    async fn claim(&self, probe: bool) -> crate::error::Result<usize> {
        let cap = self.config.max_in_flight_per_integration;
        // Under load, a claim waits until it is worth its transaction: a claim per freed slot
        // would cost more than the sends it feeds.
        let worth_a_claim = (cap / 4).clamp(1, 16);
        let integrations = self.integrations().await?;
        let (mut skip, room, waiting, unseen) = {
            let lanes = lock(&self.lanes);
            // A probe claim walks past every due delivery of the integrations it skips: only
            // worth it while some integration has no lane here yet.
            let unseen = integrations.active.iter().any(|id| !lanes.contains_key(id));
            let saturated: Vec<String> = lanes
                .iter()
                .filter(|(_, lane)| lane.room(cap) < worth_a_claim)
                .map(|(id, _)| id.clone())
                .collect();
            let room: Option<usize> = (!lanes.is_empty()).then(|| {
                lanes
                    .values()
                    .map(|lane| lane.room(cap))
                    .filter(|&n| n >= worth_a_claim)
                    .sum()
            });
            let waiting: usize = lanes.values().map(|lane| lane.waiting.len()).sum();
            (saturated, room, waiting, unseen)
        };
        let probe = probe && unseen;
        skip.extend(integrations.paused.iter().cloned());
        let free = self.in_flight.available_permits();
        let idle = free == self.config.max_in_flight && waiting == 0;
        // Free send slots, plus room to wait for one (as many again, at most).
        let capacity = free + self.config.max_in_flight.saturating_sub(waiting);
        let wanted = match room {
            None => capacity,
            Some(room) if probe || idle => room + NEW_INTEGRATION_PROBE,
            Some(room) => room,
        };
        let limit = capacity.min(wanted);
        if limit == 0 || (!idle && !probe && limit < worth_a_claim) {
            return Ok(0);
        }
        let limit = u32::try_from(limit).unwrap_or(CLAIM_BATCH).min(CLAIM_BATCH);
        // Measured before the claim, so never later than the lease the database records.
        let started = Instant::now();
        let lease_ends = started + self.config.lease;
        let claimed = self
            .store
            .claim_due(limit, self.config.lease, &self.owner, &skip)
            .await?;
        let count = claimed.len();
        if count > 0 {
            telemetry::batch("claim", started, count);
        }
        let mut over_cap = Vec::new();
        {
            let mut lanes = lock(&self.lanes);
            let mut leased = lock(&self.leased);
            for c in claimed {
                let lane = lanes
                    .entry(c.target.integration_id.clone())
                    .or_insert_with(|| Lane {
                        slots: Arc::new(Semaphore::new(cap)),
                        waiting: VecDeque::new(),
                    });
                if lane.room(cap) == 0 {
                    over_cap.push(c.delivery_id);
                    continue;
                }
                leased.insert(c.delivery_id.clone());
                lane.waiting.push_back(Waiting {
                    claimed: c,
                    lease_ends,
                });
            }
        }
        if !over_cap.is_empty() {
            self.store.release(&over_cap, &self.owner).await?;
        }
        Ok(count)
    }

    /// The integrations' states, read again at most once a poll interval (not on every claim);
    /// on each reading, what waits for an integration paused or deleted since is handed back.
    async fn integrations(&self) -> crate::error::Result<Arc<IntegrationStates>> {
        if let Some((read_at, states)) = &*lock(&self.integrations) {
            if read_at.elapsed() < self.config.poll_interval {
                return Ok(states.clone());
            }
        }
        // A deletion older than a lease cannot matter: nothing claimed before it is still leased.
        let states = Arc::new(self.store.integration_states(self.config.lease).await?);
        let withdrawn = self.withdraw(&states);
        if !withdrawn.is_empty() {
            self.store.release(&withdrawn, &self.owner).await?;
        }
        *lock(&self.integrations) = Some((Instant::now(), states.clone()));
        Ok(states)
    }

    /// Takes back what waits for integrations paused or deleted since it was claimed (to be
    /// released), and forgets lanes with nothing waiting or in flight.
    fn withdraw(&self, states: &IntegrationStates) -> Vec<String> {
        let cap = self.config.max_in_flight_per_integration;
        let held: HashSet<&str> = states
            .paused
            .iter()
            .chain(&states.deleted)
            .map(String::as_str)
            .collect();
        let mut withdrawn = Vec::new();
        {
            let mut lanes = lock(&self.lanes);
            for (id, lane) in lanes.iter_mut() {
                if held.contains(id.as_str()) {
                    withdrawn.extend(lane.waiting.drain(..).map(|w| w.claimed.delivery_id));
                }
            }
            lanes
                .retain(|_, lane| !lane.waiting.is_empty() || lane.slots.available_permits() < cap);
        }
        let mut leased = lock(&self.leased);
        for id in &withdrawn {
            leased.remove(id);
        }
        withdrawn
    }

    /// Takes waiting deliveries that have a slot, one integration after the other so that each
    /// gets its turn at the global slots. A delivery whose lease could run out before its send
    /// would is handed back instead: another claim would send it a second time.
    fn ready(&self) -> (Vec<(Claimed, Permits)>, Vec<String>) {
        let mut ready = Vec::new();
        let mut stale = Vec::new();
        let latest_start = Instant::now() + self.config.send_timeout;
        let mut lanes = lock(&self.lanes);
        loop {
            let mut progress = false;
            for lane in lanes.values_mut() {
                while lane
                    .waiting
                    .front()
                    .is_some_and(|w| w.lease_ends <= latest_start)
                {
                    if let Some(w) = lane.waiting.pop_front() {
                        stale.push(w.claimed.delivery_id);
                    }
                }
                if lane.waiting.is_empty() {
                    continue;
                }
                let Ok(own) = lane.slots.clone().try_acquire_owned() else {
                    continue;
                };
                let Ok(global) = self.in_flight.clone().try_acquire_owned() else {
                    return (ready, stale);
                };
                if let Some(w) = lane.waiting.pop_front() {
                    ready.push((
                        w.claimed,
                        Permits {
                            _global: global,
                            _own: own,
                        },
                    ));
                    progress = true;
                }
            }
            if !progress {
                return (ready, stale);
            }
        }
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
        if outcome == Outcome::Failed {
            let last = match (&sent.status, &sent.error) {
                (Some(status), _) => format!("HTTP {status}"),
                (None, Some(error)) => error.clone(),
                (None, None) => "no answer".to_string(),
            };
            tracing::warn!(
                delivery = %claimed.delivery_id,
                integration = %claimed.target.integration_id,
                attempts = claimed.attempt_number,
                last_error = %last,
                "delivery failed: every attempt of its schedule is used up"
            );
        }
        lock(&self.leased).remove(&claimed.delivery_id);
        self.recorder.record(send_result(
            &claimed.delivery_id,
            claimed.attempt_number,
            &claimed.lease_owner,
            sent,
            outcome,
        ));
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
