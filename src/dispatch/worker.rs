//! The hot path, top to bottom: claim a batch, send each under the concurrency caps, hand the
//! result to the recorder. Nothing holds a database transaction across an HTTP call.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use tracing::Instrument;

use super::claim_policy::{self, Capacity, LaneLoad};
use super::lane::{Lanes, Slot, Waiting};
use super::{outcome, send_result, Recorder, RetrySchedule, Sender};
use crate::domain::{Claimed, DeliveryId, IntegrationId, Leased, Outcome};
use crate::store::{IntegrationStates, Store};
use crate::telemetry;
use crate::traces;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub schedule: RetrySchedule,
    /// How long a claim is held; longer than the HTTP timeout.
    pub lease: Duration,
    /// The longest one attempt can take.
    pub send_timeout: Duration,
    pub max_in_flight: usize,
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
    lanes: Lanes,
    /// Deliveries leased and not yet handed to the recorder: released if shutdown cuts them off.
    leased: Mutex<HashSet<DeliveryId>>,
    /// Integrations as last read, and when.
    integrations: Mutex<Option<(Instant, Arc<IntegrationStates>)>>,
}

/// What a claim did.
enum Claim {
    /// No room for any more deliveries: no claim was made.
    NoRoom,
    /// The claim took this many.
    Took(usize),
}

/// Deliveries handed over may wait in a lane up to this many times its concurrency limit (and
/// at least [`HANDED_QUEUE_MIN`]): the evaluation already leased them, so turning them away
/// costs a write. Claiming ahead of the slots keeps sends going while the next claim waits for
/// the database (behind a large ingest on SQLite, say).
const HANDED_QUEUE: usize = 4;
const HANDED_QUEUE_MIN: usize = 256;

impl Dispatcher {
    /// `owner` names this instance's leases: the ones it claims, and the ones its evaluations
    /// put on the deliveries they hand over. `lanes` is shared with whoever shows the limits.
    pub fn new(
        store: Store,
        sender: Sender,
        recorder: Recorder,
        config: DispatcherConfig,
        wake: Arc<Notify>,
        owner: String,
        lanes: Lanes,
    ) -> Self {
        Dispatcher {
            in_flight: recorder.slots(),
            store,
            sender,
            recorder,
            config,
            owner,
            wake,
            lanes,
            leased: Mutex::new(HashSet::new()),
            integrations: Mutex::new(None),
        }
    }

    /// Runs until `shutdown` turns true, then lets sends in flight finish for up to `grace`.
    /// Deliveries come two ways: handed over by this instance's evaluations, leased already
    /// (`handed`), and claimed from the store's queue (retries coming due, work of other
    /// instances or processes, deliveries handed back). A claim is made only while the queue may
    /// hold something due: after a claim that found nothing, not until a wake or the next poll.
    pub async fn run(
        self,
        mut handed: mpsc::UnboundedReceiver<Leased>,
        mut shutdown: watch::Receiver<bool>,
        grace: Duration,
    ) {
        let this = Arc::new(self);
        let mut tasks = JoinSet::new();
        let mut failures = 0u32;
        // Look for integrations not seen yet: at start, on new work and on every poll.
        let mut probe = true;
        let mut queue_may_have_work = true;
        let mut next_poll = Instant::now();
        while !*shutdown.borrow() {
            while tasks.try_join_next().is_some() {}
            // When a rate-limited lane may start its next send.
            let rate_wake = this.start_ready(&mut tasks).await;
            if queue_may_have_work {
                let claimed = this.claim(probe).await;
                probe = false;
                match claimed {
                    Ok(Claim::Took(n)) if n > 0 => {
                        failures = 0;
                        this.start_ready(&mut tasks).await;
                        continue;
                    }
                    Ok(Claim::Took(_)) => {
                        failures = 0;
                        queue_may_have_work = false;
                    }
                    Ok(Claim::NoRoom) => failures = 0,
                    Err(e) => {
                        failures += 1;
                        this.store.log_failure(&e, "claiming deliveries failed");
                    }
                }
            }
            let pause = this.config.poll_interval * failures.clamp(1, 10);
            tokio::select! {
                _ = this.wake.notified() => {
                    probe = true;
                    queue_may_have_work = true;
                }
                _ = tokio::time::sleep_until(next_poll.into()) => {
                    probe = true;
                    queue_may_have_work = true;
                    next_poll = Instant::now() + pause;
                }
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep_until(rate_wake.unwrap_or(next_poll).into()), if rate_wake.is_some() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                // Slots are freed when results are written, not when sends end.
                _ = this.recorder.slots_freed() => {}
                Some(batch) = handed.recv() => this.take_handed(batch).await,
            }
        }
        // Finish what is in flight; what is cut off or still waiting is handed back to be sent
        // again at once.
        let _ =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let cut_off: Vec<DeliveryId> = lock(&this.leased).drain().collect();
        if !cut_off.is_empty() {
            if let Err(e) = this.store.release(&cut_off, &this.owner).await {
                tracing::warn!(error = %e, count = cut_off.len(), "could not release leases; they will expire");
            }
        }
    }

    /// Starts a send for every waiting delivery that has a slot; returns when a rate limit
    /// frees the next one, if any waits for it.
    async fn start_ready(self: &Arc<Self>, tasks: &mut JoinSet<()>) -> Option<Instant> {
        let (ready, stale, rate_wake) = self.ready();
        for (claimed, permits) in ready {
            let this = self.clone();
            let span = tracing::debug_span!(
                "deliver",
                delivery = %claimed.delivery_id,
                attempt = claimed.attempt_number
            );
            tasks.spawn(async move { this.deliver(claimed, permits).await }.instrument(span));
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
        rate_wake
    }

    /// Takes deliveries an evaluation leased to this instance into their lanes; what does not
    /// fit is handed back to the queue, where a claim finds it.
    async fn take_handed(&self, batch: Leased) {
        let lease_ends = batch.since + self.config.lease;
        let settings = self
            .states_for(
                batch.deliveries.iter().map(|c| &c.target.integration_id),
                self.cached_integrations(),
            )
            .await;
        let mut over = Vec::new();
        {
            let mut lanes = self.lanes.lock();
            let mut leased = lock(&self.leased);
            // All lanes together hold at most one `max_in_flight` of handed-over deliveries: a
            // large batch fanned out to many integrations would otherwise sit in memory.
            let mut held: usize = lanes.values().map(|lane| lane.waiting.len()).sum();
            for c in batch.deliveries {
                let id = &c.target.integration_id;
                let lane = self.lanes.lane(
                    &mut lanes,
                    id,
                    settings.as_ref().and_then(|s| s.limits.get(id)),
                );
                let cap = (lane.limit.limit() * HANDED_QUEUE).max(HANDED_QUEUE_MIN);
                if lane.waiting.len() >= cap || held >= self.config.max_in_flight {
                    over.push(c.delivery_id);
                    continue;
                }
                held += 1;
                tracing::debug!(delivery = %c.delivery_id, "handed over");
                leased.insert(c.delivery_id.clone());
                lane.waiting.push_back(Waiting {
                    claimed: c,
                    lease_ends,
                });
            }
        }
        if !over.is_empty() {
            if let Err(e) = self.store.release(&over, &self.owner).await {
                tracing::warn!(error = %e, count = over.len(), "could not hand back deliveries; their leases will expire");
            }
        }
    }

    /// Leases due deliveries this instance has room for, into their integrations' lanes, as
    /// [`claim_policy::plan`] says.
    // `debug`: at `info` every poll would be a trace of its own when traces are exported.
    #[tracing::instrument(level = "debug", skip_all, name = "claim")]
    async fn claim(&self, probe: bool) -> crate::error::Result<Claim> {
        let integrations = self.integrations().await?;
        let loads: Vec<LaneLoad> = self
            .lanes
            .lock()
            .iter()
            .map(|(id, lane)| LaneLoad {
                integration_id: id.clone(),
                free_slots: lane.free_slots(),
                waiting: lane.waiting.len(),
                limit: lane.limit.limit(),
            })
            .collect();
        let capacity = Capacity {
            max_in_flight: self.config.max_in_flight,
            free_in_flight: self.in_flight.available_permits(),
            per_integration: self.lanes.max_per_integration(),
        };
        let Some(plan) = claim_policy::plan(
            capacity,
            &loads,
            &integrations.active,
            &integrations.paused,
            probe,
        ) else {
            return Ok(Claim::NoRoom);
        };
        // Measured before the claim, so never later than the lease the database records.
        let started = Instant::now();
        let lease_ends = started + self.config.lease;
        let claimed = self
            .store
            .claim_due(plan.limit, self.config.lease, &self.owner, &plan.skip)
            .await?;
        let count = claimed.len();
        if count > 0 {
            telemetry::batch("claim", started, count);
            tracing::debug!(
                count,
                deliveries = %claimed.iter().map(|c| c.delivery_id.to_string()).collect::<Vec<_>>().join(","),
                "claimed"
            );
        }
        let integrations = self
            .states_for(
                claimed.iter().map(|c| &c.target.integration_id),
                Some(integrations),
            )
            .await
            .unwrap_or_default();
        let mut over_cap = Vec::new();
        {
            let mut lanes = self.lanes.lock();
            let mut leased = lock(&self.leased);
            for c in claimed {
                let id = &c.target.integration_id;
                let lane = self.lanes.lane(&mut lanes, id, integrations.limits.get(id));
                if lane.room() == 0 {
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
        Ok(Claim::Took(count))
    }

    /// The integrations' states, read again at most once a poll interval (not on every claim);
    /// on each reading, what waits for an integration paused or deleted since is handed back.
    async fn integrations(&self) -> crate::error::Result<Arc<IntegrationStates>> {
        if let Some((read_at, states)) = &*lock(&self.integrations) {
            if read_at.elapsed() < self.config.poll_interval {
                return Ok(states.clone());
            }
        }
        self.read_integrations().await
    }

    /// The states as `integrations` has them, read again now if one of `ids` has no lane yet:
    /// a new integration's own limits apply from its first send. A failed reading falls back
    /// on the last one (the next poll applies the limits).
    async fn states_for<'a>(
        &self,
        ids: impl Iterator<Item = &'a IntegrationId>,
        integrations: Option<Arc<IntegrationStates>>,
    ) -> Option<Arc<IntegrationStates>> {
        let new = {
            let lanes = self.lanes.lock();
            ids.into_iter().any(|id| !lanes.contains_key(id))
        };
        if !new {
            return integrations;
        }
        match self.read_integrations().await {
            Ok(states) => Some(states),
            Err(e) => {
                self.store
                    .log_failure(&e, "reading a new integration's limits failed");
                integrations
            }
        }
    }

    async fn read_integrations(&self) -> crate::error::Result<Arc<IntegrationStates>> {
        // A deletion older than a lease cannot matter: nothing claimed before it is still leased.
        let states = Arc::new(self.store.integration_states(self.config.lease).await?);
        self.lanes.configure(&states.limits);
        let withdrawn = self.withdraw(&states);
        if !withdrawn.is_empty() {
            self.store.release(&withdrawn, &self.owner).await?;
        }
        *lock(&self.integrations) = Some((Instant::now(), states.clone()));
        Ok(states)
    }

    /// The integrations as last read, without reading them again.
    fn cached_integrations(&self) -> Option<Arc<IntegrationStates>> {
        lock(&self.integrations).as_ref().map(|(_, s)| s.clone())
    }

    /// Takes back what waits for integrations paused or deleted since it was claimed (to be
    /// released), and forgets the lanes of deleted integrations once nothing of theirs is in
    /// flight. The others keep their lanes, and with them the limit they have learnt.
    fn withdraw(&self, states: &IntegrationStates) -> Vec<DeliveryId> {
        let held: HashSet<&IntegrationId> = states.paused.iter().chain(&states.deleted).collect();
        let known: HashSet<&IntegrationId> = states.active.iter().chain(&states.paused).collect();
        let mut withdrawn = Vec::new();
        {
            let mut lanes = self.lanes.lock();
            for (id, lane) in lanes.iter_mut() {
                if held.contains(id) {
                    withdrawn.extend(lane.waiting.drain(..).map(|w| w.claimed.delivery_id));
                }
            }
            lanes.retain(|id, lane| {
                !lane.waiting.is_empty() || lane.in_flight > 0 || known.contains(id)
            });
        }
        let mut leased = lock(&self.leased);
        for id in &withdrawn {
            leased.remove(id);
        }
        withdrawn
    }

    /// Takes waiting deliveries that have a slot, one integration after the other so that each
    /// gets its turn at the global slots. A delivery whose lease could run out before its send
    /// would is handed back instead: another claim would send it a second time. Also says when
    /// the next rate-limited start is due, if one waits.
    fn ready(&self) -> (Vec<(Claimed, Permits)>, Vec<DeliveryId>, Option<Instant>) {
        let mut ready = Vec::new();
        let mut stale = Vec::new();
        let mut rate_wake: Option<Instant> = None;
        let now = Instant::now();
        let latest_start = now + self.config.send_timeout;
        let mut lanes = self.lanes.lock();
        let mut blocked: HashSet<IntegrationId> = HashSet::new();
        loop {
            let mut progress = false;
            for (id, lane) in lanes.iter_mut() {
                while lane
                    .waiting
                    .front()
                    .is_some_and(|w| w.lease_ends <= latest_start)
                {
                    if let Some(w) = lane.waiting.pop_front() {
                        stale.push(w.claimed.delivery_id);
                    }
                }
                if lane.waiting.is_empty() || blocked.contains(id) {
                    continue;
                }
                if lane.free_slots() == 0 {
                    continue;
                }
                let Ok(global) = self.in_flight.clone().try_acquire_owned() else {
                    return (ready, stale, rate_wake);
                };
                if let Err(wake) = lane.try_start(now) {
                    if let Some(at) = wake {
                        rate_wake = Some(rate_wake.map_or(at, |w| w.min(at)));
                    }
                    blocked.insert(id.clone());
                    continue;
                }
                if let Some(w) = lane.waiting.pop_front() {
                    ready.push((
                        w.claimed,
                        Permits {
                            global,
                            slot: self.lanes.slot(id.clone()),
                        },
                    ));
                    progress = true;
                }
            }
            if !progress {
                return (ready, stale, rate_wake);
            }
        }
    }

    /// Sends one delivery. Its lane's slot is free again once the receiver answers (and tells the
    /// adaptive limit how it went); its slot overall stays taken until its result is written, so
    /// that no more than `--max-in-flight` webhooks are ever answered but unrecorded (sent again
    /// after a crash).
    async fn deliver(&self, claimed: Claimed, permits: Permits) {
        let _sending = self.recorder.sending();
        let Permits { global, mut slot } = permits;
        let span = attempt_span(&claimed);
        let traceparent = traces::traceparent(&span);
        let clock = Instant::now();
        let sent = self
            .sender
            .send(
                &claimed.target,
                &claimed.delivery_id,
                claimed.event_type,
                &claimed.body,
                traceparent.as_deref(),
            )
            .instrument(span.clone())
            .await;
        if traces::on() {
            if let Some(status) = sent.status {
                span.record("http.response.status_code", status);
            }
            span.record("duration_ms", sent.duration_ms);
            span.record("succeeded", sent.succeeded());
        }
        drop(span);
        slot.ended(sent.status, sent.error.as_deref(), clock.elapsed());
        drop(slot);
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
        let result = send_result(
            &claimed.delivery_id,
            &claimed.target.integration_id,
            claimed.attempt_number,
            &claimed.lease_owner,
            sent,
            outcome,
        );
        if outcome == Outcome::Failed {
            tracing::warn!(
                delivery = %claimed.delivery_id,
                integration = %claimed.target.integration_id,
                attempts = claimed.attempt_number,
                last_error = %result.failure(),
                "delivery failed: every attempt of its schedule is used up"
            );
        }
        lock(&self.leased).remove(&claimed.delivery_id);
        self.recorder.record(result, Box::new(global));
    }
}

/// The attempt's span, a child of the evaluation that granted its reward (every attempt, retries
/// included, joins the post's trace). Its integration, status and duration; never a secret or
/// a body.
fn attempt_span(claimed: &Claimed) -> tracing::Span {
    if !traces::on() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "attempt",
        otel.kind = "client",
        integration = %claimed.target.integration_id,
        delivery = %claimed.delivery_id,
        attempt = claimed.attempt_number,
        event_type = claimed.event_type.as_str(),
        http.response.status_code = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
        succeeded = tracing::field::Empty,
    );
    traces::set_parent(&span, claimed.traceparent.as_deref());
    span
}

/// A send slot overall and one in the delivery's lane, held until the attempt ends.
struct Permits {
    global: OwnedSemaphorePermit,
    slot: Slot,
}

/// A poisoned lock only means another task panicked mid-update of a plain map; keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
