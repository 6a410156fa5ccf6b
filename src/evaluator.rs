//! The evaluator: takes new posts from the store's inbox, wherever they were written (the API, a
//! batch, or `lc-webhooks import` in another process), and evaluates each exactly once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use crate::store::Store;
use crate::telemetry;

/// Runs until `shutdown` turns true. `wake` is signalled by in-process writers; posts from other
/// processes are found by polling every `poll_interval`.
pub async fn run_evaluator(
    store: Store,
    wake: Arc<Notify>,
    deliveries_ready: Arc<Notify>,
    poll_interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let batch = store.dialect().evaluation_batch();
    let mut failures = 0u32;
    while !*shutdown.borrow() {
        let started = Instant::now();
        match store.evaluate_inbox(batch).await {
            Ok(done) if done.posts > 0 => {
                failures = 0;
                telemetry::batch("evaluate", started, done.posts);
                metrics::counter!("lc_webhooks_posts_evaluated_total").increment(done.posts as u64);
                metrics::counter!("lc_webhooks_fulfillments_total")
                    .increment(done.fulfillments as u64);
                if done.deliveries > 0 {
                    deliveries_ready.notify_one();
                }
                continue;
            }
            Ok(_) => failures = 0,
            Err(e) => {
                // Lock conflicts between instances and database outages alike: the posts stay
                // in the inbox and are evaluated on the next pass.
                failures += 1;
                tracing::warn!(error = %e, "evaluating posts failed; will retry");
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
