//! The hot path, top to bottom: claim a batch, send each under the concurrency caps, hand the
//! result to the recorder. Nothing holds a database transaction across an HTTP call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

use super::{outcome, send_result, Recorder, RetrySchedule, Sender};
use crate::domain::new_id;
use crate::store::{Claimed, Store};

const CLAIM_BATCH: u32 = 256;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub schedule: RetrySchedule,
    pub http_timeout: Duration,
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
        }
    }

    /// A lease outlives the longest attempt, so a live instance never loses one mid-send.
    fn lease(&self) -> Duration {
        self.config.http_timeout * 2 + Duration::from_secs(30)
    }

    /// Runs until `shutdown` turns true, then lets sends in flight finish for up to `grace`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        let this = Arc::new(self);
        let mut tasks = JoinSet::new();
        let mut failures = 0u32;
        while !*shutdown.borrow() {
            while tasks.try_join_next().is_some() {}
            let free = this.in_flight.available_permits();
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                let limit = u32::try_from(free).unwrap_or(CLAIM_BATCH).min(CLAIM_BATCH);
                this.store.claim_due(limit, this.lease(), &this.owner).await
            };
            match claimed {
                Ok(batch) if !batch.is_empty() => {
                    failures = 0;
                    for claimed in batch {
                        let Ok(permit) = this.in_flight.clone().acquire_owned().await else {
                            break;
                        };
                        let this = this.clone();
                        tasks.spawn(async move {
                            this.deliver(claimed).await;
                            drop(permit);
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
            tokio::select! {
                _ = this.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        // Finish what is in flight; whatever is cut off keeps its lease and is sent again later.
        let _ =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.abort_all();
    }

    async fn deliver(&self, claimed: Claimed) {
        let Ok(_own) = self
            .integration_permits(&claimed.target.integration_id)
            .acquire_owned()
            .await
        else {
            return;
        };
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
        self.recorder.record(send_result(
            &claimed.delivery_id,
            &claimed.lease_owner,
            sent,
            outcome,
        ));
    }

    fn integration_permits(&self, integration_id: &str) -> Arc<Semaphore> {
        let mut map = self
            .per_integration
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(integration_id.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.max_in_flight_per_integration)))
            .clone()
    }
}
