//! The dispatcher's side of the store: claim due deliveries under a lease (how differs by
//! database: `backend/`), record each attempt and its effect, hand leases back.

use std::time::Duration;

use super::backend::Db;
use super::db::Purpose;
use super::health;
use super::sql::claim::ClaimRequest;
use super::sql::{write_row, Statement, Writes};
use super::stats;
use crate::domain::time::{now, to_micros};
use crate::domain::{Claimed, DeliveryId, IntegrationId, Outcome, SendResult};
use crate::error::Result;

/// Leases up to `limit` due deliveries to `owner` for `lease`. A lease that runs out (the
/// instance died) makes the delivery claimable again: at-least-once, never lost. Deliveries of
/// the integrations in `skip` (at their concurrency cap, or paused) are left out.
pub(super) async fn claim_due(
    db: &Db,
    limit: u32,
    lease: Duration,
    owner: &str,
    skip: &[IntegrationId],
) -> Result<Vec<Claimed>> {
    let at = now();
    let until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(1));
    let claim = ClaimRequest {
        limit,
        at: to_micros(at),
        until: to_micros(until),
        owner,
        skip,
    };
    Ok(db
        .claim(&claim)
        .await?
        .into_iter()
        .map(|r| r.into_claimed(owner))
        .collect())
}

write_row! {
    /// An attempt's effect on its delivery.
    struct ResultUpdate<'a> {
        delivery_id: &'a DeliveryId,
        attempt_count: i64,
        status: &'static str,
        next_attempt_at: Option<i64>,
        last_response_status: Option<i64>,
        last_error: Option<&'a str>,
        delivered_at: Option<i64>,
        lease_owner: &'a str,
    }
}

write_row! {
    /// One line of the delivery log.
    struct AttemptInsert<'a> {
        delivery_id: &'a DeliveryId,
        number: i64,
        started_at: i64,
        duration_ms: i64,
        response_status: Option<i64>,
        response_body: Option<&'a str>,
        error: Option<&'a str>,
        request_headers: Option<String>,
    }
}

write_row! {
    /// When a delivery that failed an attempt is due again.
    struct Reschedule<'a> {
        delivery_id: &'a DeliveryId,
        lease_owner: &'a str,
        due_at: i64,
    }
}

/// Writes a batch of attempts and their effect on each delivery in one transaction, a few
/// statements whatever the batch size; then disables integrations failing for `disable_after`.
/// Their health and chart counts are written before, by [`record_health`].
pub(super) async fn record(db: &Db, results: &[SendResult], disable_after: Duration) -> Result<()> {
    if results.is_empty() {
        return Ok(());
    }
    // Rows are locked in the order given: by id, as a deletion's settlement locks them.
    let mut results: Vec<&SendResult> = results.iter().collect();
    results.sort_unstable_by(|a, b| a.delivery_id.cmp(&b.delivery_id));
    let mut updates = Vec::with_capacity(results.len());
    let mut attempts = Vec::with_capacity(results.len());
    let mut reschedules = Vec::new();
    let mut settled = Vec::new();
    let mut failed = Vec::new();
    for r in &results {
        let next_at = match r.outcome {
            Outcome::RetryAt(at) => Some(to_micros(at)),
            _ => None,
        };
        let number = i64::from(r.attempt_number);
        let status_code = r.response_status.map(i64::from);
        updates.push(ResultUpdate {
            delivery_id: &r.delivery_id,
            attempt_count: number,
            status: r.outcome.status().as_str(),
            next_attempt_at: next_at,
            last_response_status: status_code,
            last_error: r.error.as_deref(),
            delivered_at: (r.outcome == Outcome::Succeeded).then(|| to_micros(r.started_at)),
            lease_owner: &r.lease_owner,
        });
        attempts.push(AttemptInsert {
            delivery_id: &r.delivery_id,
            number,
            started_at: to_micros(r.started_at),
            duration_ms: i64::try_from(r.duration_ms).unwrap_or(i64::MAX),
            response_status: status_code,
            response_body: r.response_body.as_deref(),
            error: r.error.as_deref(),
            request_headers: (!r.request_headers.is_empty())
                .then(|| serde_json::to_string(&r.request_headers))
                .transpose()?,
        });
        match next_at {
            Some(due_at) => reschedules.push(Reschedule {
                delivery_id: &r.delivery_id,
                lease_owner: &r.lease_owner,
                due_at,
            }),
            None => settled.push((r.lease_owner.as_str(), &r.delivery_id)),
        }
        if r.outcome == Outcome::Failed {
            failed.push(&r.delivery_id);
        }
    }
    let mut tx = db.begin_write(Purpose::Record).await?;
    let mut conn = tx.conn();
    // A delivery settled meanwhile (its integration deleted) stays settled, and one whose
    // queue row another instance leased after this lease ran out is that instance's to
    // settle; the attempt is logged either way. Test sends have no queue row. `IS TRUE`
    // keeps the status test out of index conditions: as one, PostgreSQL planned a walk of
    // every pending delivery (by an index on status, since dropped) per batch instead of
    // key lookups.
    conn.update_from(
        &updates,
        "UPDATE deliveries SET attempt_count = v.attempt_count, status = v.status,
            next_attempt_at = v.next_attempt_at, last_response_status = v.last_response_status,
            last_error = v.last_error, delivered_at = COALESCE(v.delivered_at, deliveries.delivered_at)",
        "WHERE deliveries.id = v.delivery_id AND (deliveries.status = 'pending') IS TRUE
            AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.delivery_id = v.delivery_id
                            AND (q.lease_owner IS NULL OR q.lease_owner <> v.lease_owner))",
    )
    .await?;
    // A delivery sent twice (its lease ran out mid-send) keeps the first log of that number.
    conn.insert("attempts", "ON CONFLICT DO NOTHING", &attempts)
        .await?;
    conn.update_from(
        &reschedules,
        "UPDATE delivery_queue SET due_at = v.due_at, lease_until = 0, lease_owner = NULL",
        "WHERE delivery_queue.delivery_id = v.delivery_id
            AND delivery_queue.lease_owner = v.lease_owner",
    )
    .await?;
    if !failed.is_empty() {
        // Listed as failed only if the update above settled it so.
        conn.execute(
            Statement::new(
                "INSERT INTO failed_deliveries (delivery_id)
                 SELECT id FROM deliveries WHERE status = 'failed' AND id",
            )
            .any_of(&failed)
            .push(" ON CONFLICT DO NOTHING"),
        )
        .await?;
    }
    settled.sort_unstable();
    // Keyed on the primary key: a row-value `IN` would make SQLite scan the whole queue.
    for group in settled.chunk_by(|a, b| a.0 == b.0) {
        conn.execute(
            Statement::new("DELETE FROM delivery_queue WHERE lease_owner = $1 AND delivery_id")
                .bind(group[0].0)
                .any_of(group.iter().map(|(_, id)| *id)),
        )
        .await?;
    }
    tx.commit().await?;
    // Apart from the batch's transaction: the batch holds delivery rows, and taking the
    // integration's row after them would invert the order a deletion takes them in.
    if let Err(e) = health::disable_failing(db, &results, disable_after).await {
        tracing::warn!(error = %e, "checking for integrations to disable failed; the next failure checks again");
    }
    Ok(())
}

/// Adds a batch of attempts to its integrations' health and chart counts, just before
/// [`record`] writes the batch.
///
/// Apart from the batch's transaction, in one statement that commits on its own on
/// PostgreSQL: every batch of every instance sending to an integration updates its one health
/// row, and inside the batch's transaction that row stayed locked until the commit, so the
/// batches of all instances waited on each other (BENCHMARKS.md, "Several instances, one
/// integration"). Before the batch, so that whoever sees an attempt sees it counted. A crash
/// between the two writes counts the batch's attempts once more when they are sent again;
/// it never loses an attempt or a delivery.
pub(super) async fn record_health(db: &Db, results: &[SendResult]) -> Result<()> {
    if results.is_empty() {
        return Ok(());
    }
    let results: Vec<&SendResult> = results.iter().collect();
    let mut writes = Writes::default();
    health::record(&mut writes, &results);
    stats::record(&mut writes, &results);
    db.begin_deferred(Purpose::Record)
        .await?
        .finish(&writes)
        .await
}

/// Hands leases back without an attempt (shutting down): the deliveries are due again at once.
pub(super) async fn release(db: &Db, delivery_ids: &[DeliveryId], owner: &str) -> Result<()> {
    if delivery_ids.is_empty() {
        return Ok(());
    }
    let release = Statement::new(
        "UPDATE delivery_queue SET lease_until = 0, lease_owner = NULL
         WHERE lease_owner = $1 AND delivery_id",
    )
    .bind(owner)
    .any_of(delivery_ids);
    db.execute_write(Purpose::Release, release).await?;
    Ok(())
}
