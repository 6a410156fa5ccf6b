//! PostgreSQL specifics: several instances share one database and claim rows without waiting.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgListener;
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{watch, Notify};

use crate::error::Result;

/// Rows another instance is working on are passed over rather than waited for.
pub(super) const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";

/// Run first in the claim's transaction. The claim filters on `due_at <= now`, at the live end
/// of the index: planned for each value, PostgreSQL 15 probes that end, walking every dead row
/// the queue's churn leaves there (seen taking 460 ms per claim); a generic plan never probes.
pub(super) const CLAIM_SETTINGS: &str =
    "SELECT set_config('plan_cache_mode', 'force_generic_plan', true), \
     set_config('synchronous_commit', 'off', true), \
     set_config('enable_seqscan', 'off', true)";

/// Run first in the dispatcher's bookkeeping transactions (leases, attempt results): no wait
/// for the WAL flush. Losing such a commit in a database crash only means a delivery is sent
/// again when its lease runs out, which at-least-once allows. Rewards are never committed so.
pub(super) const BOOKKEEPING_SETTINGS: &str =
    "SELECT set_config('synchronous_commit', 'off', true), \
     set_config('enable_seqscan', 'off', true)";

/// Run first in an evaluation's transaction.
pub(super) const EVALUATION_SETTINGS: &str = "SELECT set_config('enable_seqscan', 'off', true)";

// Why `enable_seqscan = off` on the hot path: every statement there touches a few rows by key,
// but each connection keeps its prepared statements, and a plan made while a table was
// small (a fresh database, before autovacuum's first ANALYZE a minute later) scans the whole
// table ever after: seen as 20 million rows read in a 100,000-delivery run.

/// Every claim walks `delivery_queue_due` from its oldest end, where settled rows leave their
/// dead entries until a vacuum clears them. Autovacuum looks once a minute at best; by then a
/// busy queue has left a hundred thousand dead rows there (seen: 2,400 index entries and 1,200
/// heap rows read per claim). `SKIP_LOCKED`: an instance already vacuuming is enough.
pub(super) const VACUUM_QUEUES: &str = "VACUUM (SKIP_LOCKED) delivery_queue, media_inbox";

pub(super) async fn connect(url: &str, options: AnyPoolOptions) -> Result<AnyPool> {
    // One plain connection first: the pool retries a refused connection until its acquire
    // timeout and then reports only that it timed out; this reports why, at once.
    AnyConnection::connect(url).await?.close().await?;
    let pool = options
        .max_connections(16)
        // A ping before every checkout costs a round trip per statement; a dead connection
        // fails its statement instead, and every caller retries or reports it.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    Ok(pool)
}

/// Channel announcing posts waiting in the inbox.
pub(super) const POSTS_CHANNEL: &str = "lc_webhooks_posts";
/// Channel announcing deliveries queued.
pub(super) const DELIVERIES_CHANNEL: &str = "lc_webhooks_deliveries";

/// Wakes this instance's evaluator and dispatcher when any instance (or `import`) commits new
/// work, instead of waiting for the next poll. Notifications lost while reconnecting are
/// harmless: polling still finds the work.
pub async fn forward_notifications(
    url: String,
    posts: Arc<Notify>,
    deliveries: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        let mut listener = match PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; relying on polling for now");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        if let Err(e) = listener
            .listen_all([POSTS_CHANNEL, DELIVERIES_CHANNEL])
            .await
        {
            tracing::warn!(error = %e, "LISTEN failed; relying on polling for now");
            continue;
        }
        loop {
            tokio::select! {
                received = listener.recv() => match received {
                    Ok(n) if n.channel() == POSTS_CHANNEL => posts.notify_one(),
                    Ok(_) => deliveries.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                        break;
                    }
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}
