//! The dispatcher's side of the store: claim due deliveries under a lease (how is the
//! dialect's: `sqlite::claim`, `postgres::claim`), record results, hand leases back.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use super::bulk::{self, write_row, Bound};
use super::{placeholders, postgres, sqlite, Dialect, Purpose, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{DeliveryId, DeliveryStatus, IntegrationId, Secret, SendTarget};
use crate::error::Result;

/// A delivery this instance holds a lease on, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery_id: DeliveryId,
    /// The number this attempt will have (1 for the first).
    pub attempt_number: u32,
    /// A manual retry: one attempt, then the delivery settles whatever happens.
    pub single_attempt: bool,
    pub lease_owner: String,
    pub target: SendTarget,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    RetryAt(DateTime<Utc>),
    Failed,
}

impl Outcome {
    /// The delivery's status after an attempt with this outcome.
    fn status(self) -> DeliveryStatus {
        match self {
            Outcome::Succeeded => DeliveryStatus::Succeeded,
            Outcome::RetryAt(_) => DeliveryStatus::Pending,
            Outcome::Failed => DeliveryStatus::Failed,
        }
    }
}

/// One attempt, as it goes into the delivery log.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub delivery_id: DeliveryId,
    /// Whose health the attempt tells of.
    pub integration_id: IntegrationId,
    /// As sent, the API key masked.
    pub request_headers: BTreeMap<String, String>,
    /// The number the attempt was claimed with (1 for the first).
    pub attempt_number: u32,
    pub lease_owner: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub outcome: Outcome,
    /// A test send's attempt: it tells of the receiver's health, but pressing Test against a
    /// broken receiver does not disable it.
    pub test: bool,
}

/// One claim: up to `limit` deliveries due at `at` (µs), leased to `owner` until `until`, none
/// of the integrations in `skip`.
#[derive(Clone, Copy)]
pub(super) struct ClaimRequest<'a> {
    pub(super) limit: u32,
    pub(super) at: i64,
    pub(super) until: i64,
    pub(super) owner: &'a str,
    pub(super) skip: &'a [IntegrationId],
}

#[derive(sqlx::FromRow)]
pub(super) struct ClaimRow {
    pub(super) id: DeliveryId,
    attempt_count: i64,
    single_attempt: i64,
    body: Option<String>,
    integration_id: IntegrationId,
    url: String,
    auth_header: String,
    auth_prefix: String,
    api_key: String,
    signing_secret: Option<String>,
}

/// What a claim reads of each delivery it leases: everything needed to send it.
pub(super) const CLAIM_SELECT: &str =
    "SELECT d.id, d.attempt_count, q.single_attempt, COALESCE(d.payload, f.payload) AS body,
            i.id AS integration_id, i.url, i.auth_header, i.auth_prefix, i.api_key, i.signing_secret
     FROM delivery_queue q
     JOIN deliveries d ON d.id = q.delivery_id
     JOIN integrations i ON i.id = d.integration_id
     LEFT JOIN fulfillments f ON f.id = d.fulfillment_id";

/// `AND integration_id NOT IN (…)` for the integrations to skip, numbered after `before` others.
/// A plain filter keeps the claim a walk of the `due_at` index, where a join with
/// `integrations` let PostgreSQL plan a sort of the whole queue (seen spilling to disk).
pub(super) fn skip_clause(column: &str, before: usize, skip: &[IntegrationId]) -> String {
    if skip.is_empty() {
        String::new()
    } else {
        format!("AND {column} NOT IN ({})", placeholders(before, skip.len()))
    }
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

impl Store {
    /// Leases up to `limit` due deliveries to `owner` for `lease`. A lease that runs out (the
    /// instance died) makes the delivery claimable again: at-least-once, never lost.
    /// Deliveries of the integrations in `skip` (at their concurrency cap, or paused) are left
    /// out.
    pub async fn claim_due(
        &self,
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
        let rows = match self.dialect {
            Dialect::Postgres => postgres::claim(self, &claim).await?,
            Dialect::Sqlite => sqlite::claim(self, &claim).await?,
        };
        Ok(rows
            .into_iter()
            .map(|r| Claimed {
                delivery_id: r.id,
                attempt_number: u32::try_from(r.attempt_count + 1).unwrap_or(u32::MAX),
                single_attempt: r.single_attempt != 0,
                lease_owner: owner.to_string(),
                target: SendTarget {
                    integration_id: r.integration_id,
                    url: r.url,
                    auth_header: r.auth_header,
                    auth_prefix: r.auth_prefix,
                    api_key: Secret::new(r.api_key),
                    signing_secret: r.signing_secret.map(Secret::new),
                },
                body: r.body.unwrap_or_default(),
            })
            .collect())
    }

    /// Writes a batch of attempts and their effect on each delivery in one transaction,
    /// a few multi-row statements whatever the batch size.
    pub async fn record(&self, results: &[SendResult]) -> Result<()> {
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
        let dialect = self.dialect;
        let mut tx = self.begin_write(Purpose::Record).await?;
        let conn: &mut AnyConnection = &mut tx;
        // A delivery settled meanwhile (its integration deleted) stays settled, and one whose
        // queue row another instance leased after this lease ran out is that instance's to
        // settle; the attempt is logged either way. Test sends have no queue row. `IS TRUE`
        // keeps the status test out of index conditions: as one, PostgreSQL planned a walk of
        // every pending delivery (by an index on status, since dropped) per batch instead of
        // key lookups.
        bulk::with_values(
            conn,
            dialect,
            &updates,
            &format!(
                "UPDATE deliveries SET attempt_count = v.attempt_count, status = v.status,
                    next_attempt_at = v.next_attempt_at, last_response_status = v.last_response_status,
                    last_error = v.last_error, delivered_at = COALESCE(v.delivered_at, deliveries.delivered_at)
                 FROM v WHERE deliveries.id = v.delivery_id AND (deliveries.status = '{pending}') IS TRUE
                    AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.delivery_id = v.delivery_id
                                    AND (q.lease_owner IS NULL OR q.lease_owner <> v.lease_owner))",
                pending = DeliveryStatus::Pending.as_str()
            ),
        )
        .await?;
        // A delivery sent twice (its lease ran out mid-send) keeps the first log of that number.
        bulk::insert(
            conn,
            dialect,
            "attempts",
            "ON CONFLICT DO NOTHING",
            &attempts,
        )
        .await?;
        super::health::record(conn, dialect, &results).await?;
        super::stats::record(conn, dialect, &results).await?;
        bulk::with_values(
            conn,
            dialect,
            &reschedules,
            "UPDATE delivery_queue SET due_at = v.due_at, lease_until = 0, lease_owner = NULL
             FROM v WHERE delivery_queue.delivery_id = v.delivery_id
                AND delivery_queue.lease_owner = v.lease_owner",
        )
        .await?;
        // Listed as failed only if the update above settled it so.
        bulk::by_ids(conn, dialect, &[], &failed, |_, ids| {
            format!(
                "INSERT INTO failed_deliveries (delivery_id)
                 SELECT id FROM deliveries WHERE status = '{}' AND id IN ({ids})
                 ON CONFLICT DO NOTHING",
                DeliveryStatus::Failed.as_str()
            )
        })
        .await?;
        settled.sort_unstable();
        // Keyed on the primary key: a row-value `IN` would make SQLite scan the whole queue.
        for group in settled.chunk_by(|a, b| a.0 == b.0) {
            let ids: Vec<&DeliveryId> = group.iter().map(|(_, id)| *id).collect();
            let owner = [Bound::Text(group[0].0)];
            bulk::by_ids(conn, dialect, &owner, &ids, |owner, ids| {
                format!(
                    "DELETE FROM delivery_queue WHERE lease_owner = {} AND delivery_id IN ({ids})",
                    owner[0]
                )
            })
            .await?;
        }
        tx.commit().await?;
        // Apart from the batch's transaction: the batch holds delivery rows, and taking the
        // integration's row after them would invert the order a deletion takes them in.
        if let Err(e) = self.disable_failing(&results).await {
            tracing::warn!(error = %e, "checking for integrations to disable failed; the next failure checks again");
        }
        Ok(())
    }

    /// Hands leases back without an attempt (shutting down): the deliveries are due again at once.
    pub async fn release(&self, delivery_ids: &[DeliveryId], owner: &str) -> Result<()> {
        for chunk in delivery_ids.chunks(500) {
            let sql = format!(
                "UPDATE delivery_queue SET lease_until = 0, lease_owner = NULL
                 WHERE lease_owner = $1 AND delivery_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut release = sqlx::query(&sql).bind(owner);
            for id in chunk {
                release = release.bind(id);
            }
            self.execute_write(Purpose::Release, release).await?;
        }
        Ok(())
    }
}
