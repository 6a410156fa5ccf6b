//! The evaluator: takes new posts from the store's inbox, wherever they were written (the API, a
//! batch, or `lc-webhooks import` in another process), and evaluates each exactly once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};

use crate::domain::{Lease, Leased};
use crate::store::Store;
use crate::telemetry;

/// Runs until `shutdown` turns true. `wake` is signalled when another instance announces posts
/// (PostgreSQL); posts `import` wrote are found by polling every `poll_interval`. The
/// deliveries an evaluation queues are leased to this instance's dispatcher and handed to it.
pub async fn run_evaluator(
    store: Store,
    wake: Arc<Notify>,
    lease: Lease,
    handed: mpsc::UnboundedSender<Leased>,
    poll_interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let batch = store.tuning().evaluation_batch;
    let mut failures = 0u32;
    while !*shutdown.borrow() {
        let started = Instant::now();
        match store.evaluate_inbox(batch, Some(&lease)).await {
            Ok(done) if done.evaluation.posts > 0 => {
                failures = 0;
                let e = done.evaluation;
                telemetry::batch("evaluate", started, e.posts);
                metrics::counter!("lc_webhooks_posts_evaluated_total").increment(e.posts as u64);
                metrics::counter!("lc_webhooks_fulfillments_total")
                    .increment(e.fulfillments as u64);
                if !done.leased.deliveries.is_empty() {
                    let _ = handed.send(done.leased);
                }
                continue;
            }
            Ok(_) => failures = 0,
            Err(e) => {
                // Lock conflicts between instances and database outages alike: the posts stay
                // in the inbox and are evaluated on the next pass.
                failures += 1;
                store.log_failure(&e, "evaluating posts failed; will retry");
            }
        }
        let pause = poll_interval * failures.clamp(1, 10);
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
}
