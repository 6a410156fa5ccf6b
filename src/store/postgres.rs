//! PostgreSQL specifics: several instances share one database and claim rows without waiting.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgListener;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Transaction};
use tokio::sync::{watch, Notify};

use super::bulk::{padded, padded_len};
use super::evaluate::{take_and_read, InboxRow};
use super::queue::{skip_clause, ClaimRequest, ClaimRow, CLAIM_SELECT};
use super::{placeholders, Purpose, Store, WriteTx};
use crate::domain::DeliveryId;
use crate::error::Result;

/// Rows another instance is working on are passed over rather than waited for.
const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";

/// Run first in the claim's transaction. The claim filters on `due_at <= now`, at the live end
/// of the index: planned for each value, PostgreSQL 15 probes that end, walking every dead row
/// the queue's churn leaves there (seen taking 460 ms per claim); a generic plan never probes.
const CLAIM_SETTINGS: &str = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true), \
     set_config('synchronous_commit', 'off', true), \
     set_config('enable_seqscan', 'off', true)";

/// Run first in the dispatcher's bookkeeping transactions (leases, attempt results): no wait
/// for the WAL flush. Losing such a commit in a database crash only means a delivery is sent
/// again when its lease runs out, which at-least-once allows. Rewards are never committed so.
const BOOKKEEPING_SETTINGS: &str = "SELECT set_config('synchronous_commit', 'off', true), \
     set_config('enable_seqscan', 'off', true)";

/// Run first in an evaluation's transaction (one that takes posts from the inbox), and before
/// an ingest's evaluation counts posts toward rules that keep count: those statements join the
/// pending posts by key. An ingest whose rules need no counting only inserts, and saves the round
/// trip.
const EVALUATION_SETTINGS: &str = "SELECT set_config('enable_seqscan', 'off', true)";

pub(super) async fn before_counting(conn: &mut AnyConnection) -> Result<()> {
    sqlx::query(EVALUATION_SETTINGS).execute(conn).await?;
    Ok(())
}

// Why `enable_seqscan = off` on the hot path: every statement there touches a few rows by key,
// but each connection keeps its prepared statements, and a plan made while a table was
// small (a fresh database, before autovacuum's first ANALYZE a minute later) scans the whole
// table ever after: seen as 20 million rows read in a 100,000-delivery run.

/// Every claim walks `delivery_queue_due` from its oldest end, where settled rows leave their
/// dead entries until a vacuum clears them. Autovacuum looks once a minute at best; by then a
/// busy queue has left a hundred thousand dead rows there (seen: 2,400 index entries and 1,200
/// heap rows read per claim). `SKIP_LOCKED`: an instance already vacuuming is enough.
const VACUUM_QUEUES: &str = "VACUUM (SKIP_LOCKED) delivery_queue, media_inbox";

/// A write transaction with the settings its purpose wants.
pub(super) async fn begin_write(
    pool: &AnyPool,
    purpose: Purpose,
) -> Result<Transaction<'static, Any>> {
    let mut tx = pool.begin().await?;
    let settings = match purpose {
        Purpose::Claim => Some(CLAIM_SETTINGS),
        Purpose::Record => Some(BOOKKEEPING_SETTINGS),
        Purpose::Evaluate => Some(EVALUATION_SETTINGS),
        _ => None,
    };
    if let Some(settings) = settings {
        sqlx::query(settings).execute(&mut *tx).await?;
    }
    Ok(tx)
}

pub(super) async fn maintain(pool: &AnyPool) -> Result<()> {
    sqlx::raw_sql(VACUUM_QUEUES).execute(pool).await?;
    Ok(())
}

/// `key {in_claimed(select)}`: the rows `select` picks, locked without waiting for the rows
/// other instances hold. An array built once: as `IN (subquery)`, a plan made while the table
/// looked empty (statistics from a vacuum) re-ran the subquery for every row, seen taking
/// 2.5 s per claim and claiming 3,000 rows under `LIMIT 500`.
fn in_claimed(select: &str) -> String {
    format!("= ANY(ARRAY({select} {SKIP_LOCKED}))")
}

/// Several instances claim at once, so the lease comes first, over rows no other instance has
/// locked; then the leased rows are read.
pub(super) async fn claim(store: &Store, claim: &ClaimRequest<'_>) -> Result<Vec<ClaimRow>> {
    let mut tx = store.begin_write(Purpose::Claim).await?;
    let due = format!(
        "SELECT delivery_id FROM delivery_queue
         WHERE due_at <= $3 AND lease_until <= $3 {}
         ORDER BY due_at LIMIT $4",
        skip_clause("integration_id", 4, claim.skip)
    );
    let sql = format!(
        "UPDATE delivery_queue SET lease_until = $1, lease_owner = $2
         WHERE delivery_id {} RETURNING delivery_id",
        in_claimed(&due)
    );
    let mut lease = sqlx::query_as(&sql)
        .bind(claim.until)
        .bind(claim.owner)
        .bind(claim.at)
        .bind(i64::from(claim.limit));
    for id in claim.skip {
        lease = lease.bind(id);
    }
    let ids: Vec<(DeliveryId,)> = lease.fetch_all(&mut *tx).await?;
    if ids.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let sql = format!(
        "{CLAIM_SELECT} WHERE q.delivery_id IN ({})",
        placeholders(0, padded_len(ids.len()))
    );
    let mut query = sqlx::query_as::<_, ClaimRow>(&sql);
    for (id,) in padded(&ids) {
        query = query.bind(id);
    }
    // In the claim's transaction, under its settings: a plan of its own would scan.
    let rows = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// The evaluation's transaction, with up to `limit` posts taken out of the inbox: a delete of
/// rows no other instance holds, then a read of the posts it took.
pub(super) async fn take_inbox(
    store: &Store,
    limit: u32,
) -> Result<Option<(WriteTx, Vec<InboxRow>)>> {
    let oldest = format!("SELECT media_id FROM media_inbox ORDER BY media_id LIMIT {limit}");
    take_and_read(store, &in_claimed(&oldest)).await
}

/// What wakes the other instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Channel {
    /// Posts wait in the inbox.
    Posts,
    /// Deliveries were queued.
    Deliveries,
}

impl Channel {
    fn name(self) -> &'static str {
        match self {
            Channel::Posts => "lc_webhooks_posts",
            Channel::Deliveries => "lc_webhooks_deliveries",
        }
    }
}

/// Tells the other instances when the transaction commits.
pub(super) async fn notify(conn: &mut AnyConnection, channel: Channel) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(channel.name())
        .execute(conn)
        .await?;
    Ok(())
}

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

/// The pause before listening again after a failure: polling covers the gap meanwhile.
const LISTEN_RETRY: Duration = Duration::from_secs(2);

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
                    _ = tokio::time::sleep(LISTEN_RETRY) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        if let Err(e) = listener
            .listen_all([Channel::Posts.name(), Channel::Deliveries.name()])
            .await
        {
            tracing::warn!(error = %e, "LISTEN failed; relying on polling for now");
            tokio::select! {
                _ = tokio::time::sleep(LISTEN_RETRY) => continue,
                _ = shutdown.changed() => return,
            }
        }
        loop {
            tokio::select! {
                received = listener.recv() => match received {
                    Ok(n) if n.channel() == Channel::Posts.name() => posts.notify_one(),
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
