//! Taking over a dead instance's work at once. Deliveries are leased to the instance that will
//! send them (`--lease-time`, 60 s by default); if it is killed, they would wait for the lease
//! to run out. Each instance holds a lock that is let go when its process dies
//! ([`Store::hold_liveness`]), and every instance looks, every poll interval, for owners whose
//! lock is free: their leases are freed and the dispatcher woken to claim them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::store::Store;

/// Runs until `shutdown`: frees the leases of dead owners (not `own`) every `every`, the first
/// time at once (a restart finds its predecessor's leases), and wakes the dispatcher when it
/// freed any.
pub async fn free_dead_owners_periodically(
    store: Store,
    own: String,
    every: Duration,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match store.free_dead_owners(&own).await {
            Ok(0) => {}
            Ok(freed) => {
                tracing::info!(
                    deliveries = freed,
                    "freed the leases of an instance that is no longer running"
                );
                wake.notify_one();
            }
            Err(e) => store.log_failure(&e, "looking for dead instances' leases failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
