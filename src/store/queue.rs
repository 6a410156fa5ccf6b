//! The dispatcher's side of the store: claim due deliveries under a lease, record results.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use sqlx::AnyConnection;

use super::bulk::{self, padded, padded_len, Value};
use super::{placeholders, postgres, Dialect, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{Secret, SendTarget};
use crate::error::Result;

/// A delivery this instance holds a lease on, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery_id: String,
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

/// One attempt, as it goes into the delivery log.
#[derive(Debug, Clone)]
pub struct SendResult {
    pub delivery_id: String,
    /// The number the attempt was claimed with (1 for the first).
    pub attempt_number: u32,
    pub lease_owner: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub outcome: Outcome,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: String,
    attempt_count: i64,
    single_attempt: i64,
    body: Option<String>,
    integration_id: String,
    url: String,
    auth_header: String,
    auth_prefix: String,
    api_key: String,
    signing_secret: Option<String>,
}

impl Store {
    /// Leases up to `limit` due deliveries to `owner` for `lease`. A lease that runs out (the
    /// instance died) makes the delivery claimable again: at-least-once, never lost.
    /// Deliveries of the integrations in `skip` (at their concurrency cap, or paused) are left
    /// out; a plain filter keeps the claim a walk of the `due_at` index, where a join with
    /// `integrations` let PostgreSQL plan a sort of the whole queue (seen spilling to disk).
    pub async fn claim_due(
        &self,
        limit: u32,
        lease: Duration,
        owner: &str,
        skip: &[String],
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
            Dialect::Postgres => {
                let mut tx = self.begin_write("claim").await?;
                let rows = lease_then_read(&mut tx, &claim).await?;
                tx.commit().await?;
                rows
            }
            Dialect::Sqlite => self.read_then_lease(&claim).await?,
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

    /// SQLite: the due deliveries are read on a reader connection, beside the one writer, which
    /// then only leases them by key. A row another process leased or this one settled since the
    /// read is not leased again: the lease re-checks that each row is still due and free.
    async fn read_then_lease(&self, claim: &ClaimRequest<'_>) -> Result<Vec<ClaimRow>> {
        let sql = format!(
            "{CLAIM_SELECT} WHERE q.due_at <= $1 AND q.lease_until <= $1 {}
             ORDER BY q.due_at LIMIT $2",
            skip_clause("q.integration_id", 2, claim.skip)
        );
        let mut query = sqlx::query_as::<_, ClaimRow>(&sql)
            .bind(claim.at)
            .bind(i64::from(claim.limit));
        for id in claim.skip {
            query = query.bind(id);
        }
        let mut rows = query.fetch_all(&self.pool).await?;
        if rows.is_empty() {
            return Ok(rows);
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let lease = [
            Value::Int(claim.until),
            Value::Text(claim.owner.to_string()),
            Value::Int(claim.at),
            Value::Int(claim.at),
        ];
        let mut tx = self.begin_write("claim").await?;
        let leased = bulk::by_ids(&mut tx, &lease, &ids, |p, ids| {
            format!(
                "UPDATE delivery_queue SET lease_until = {}, lease_owner = {}
                 WHERE due_at <= {} AND lease_until <= {} AND delivery_id IN ({ids})",
                p[0], p[1], p[2], p[3]
            )
        })
        .await?;
        if leased < ids.len() as u64 {
            let sql = format!(
                "SELECT delivery_id FROM delivery_queue
                 WHERE lease_owner = $1 AND lease_until = $2 AND delivery_id IN ({})",
                placeholders(2, ids.len())
            );
            let mut query = sqlx::query_as::<_, (String,)>(&sql)
                .bind(claim.owner)
                .bind(claim.until);
            for id in &ids {
                query = query.bind(*id);
            }
            let ours: HashSet<String> = query
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(id,)| id)
                .collect();
            rows.retain(|r| ours.contains(&r.id));
        }
        tx.commit().await?;
        Ok(rows)
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
        for r in results {
            let (status, next_at, delivered_at) = match r.outcome {
                Outcome::Succeeded => ("succeeded", None, Some(to_micros(r.started_at))),
                Outcome::RetryAt(at) => ("pending", Some(to_micros(at)), None),
                Outcome::Failed => ("failed", None, None),
            };
            let number = i64::from(r.attempt_number);
            let status_code = r.response_status.map(i64::from);
            updates.push(vec![
                Value::Text(r.delivery_id.clone()),
                Value::Int(number),
                Value::Text(status.into()),
                Value::MaybeInt(next_at),
                Value::MaybeInt(status_code),
                Value::MaybeText(r.error.clone()),
                Value::MaybeInt(delivered_at),
                Value::Text(r.lease_owner.clone()),
            ]);
            attempts.push(vec![
                Value::Text(r.delivery_id.clone()),
                Value::Int(number),
                Value::Int(to_micros(r.started_at)),
                Value::Int(i64::try_from(r.duration_ms).unwrap_or(i64::MAX)),
                Value::MaybeInt(status_code),
                Value::MaybeText(r.response_body.clone()),
                Value::MaybeText(r.error.clone()),
            ]);
            match next_at {
                Some(due) => reschedules.push(vec![
                    Value::Text(r.delivery_id.clone()),
                    Value::Text(r.lease_owner.clone()),
                    Value::Int(due),
                ]),
                None => settled.push((r.lease_owner.as_str(), r.delivery_id.as_str())),
            }
            if r.outcome == Outcome::Failed {
                failed.push(r.delivery_id.as_str());
            }
        }
        let mut tx = self.begin_write("record").await?;
        let conn: &mut AnyConnection = &mut tx;
        if let Some(settings) = self.dialect.bookkeeping_settings() {
            sqlx::query(settings).execute(&mut *conn).await?;
        }
        // A delivery settled meanwhile (its integration deleted) stays settled, and one whose
        // queue row another instance leased after this lease ran out is that instance's to
        // settle; the attempt is logged either way. Test sends have no queue row. `IS TRUE`
        // keeps the status test out of index conditions: as one, PostgreSQL planned a walk of
        // every pending delivery (by an index on status, since dropped) per batch instead of
        // key lookups.
        bulk::update_from_values(
            conn,
            |v| {
                format!(
                    "UPDATE deliveries SET attempt_count = v.column2, status = v.column3, next_attempt_at = v.column4,
                        last_response_status = v.column5, last_error = v.column6,
                        delivered_at = COALESCE(v.column7, deliveries.delivered_at)
                     FROM {v} WHERE deliveries.id = v.column1 AND (deliveries.status = 'pending') IS TRUE
                        AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.delivery_id = v.column1
                                        AND (q.lease_owner IS NULL OR q.lease_owner <> v.column8))"
                )
            },
            &updates,
        )
        .await?;
        // A delivery sent twice (its lease ran out mid-send) keeps the first log of that number.
        bulk::insert(
            conn,
            "attempts (delivery_id, number, started_at, duration_ms, response_status, response_body, error)",
            "ON CONFLICT DO NOTHING",
            &attempts,
        )
        .await?;
        bulk::update_from_values(
            conn,
            |v| {
                format!(
                    "UPDATE delivery_queue SET due_at = v.column3, lease_until = 0, lease_owner = NULL
                     FROM {v} WHERE delivery_queue.delivery_id = v.column1 AND delivery_queue.lease_owner = v.column2"
                )
            },
            &reschedules,
        )
        .await?;
        // Listed as failed only if the update above settled it so.
        bulk::by_ids(conn, &[], &failed, |_, ids| {
            format!(
                "INSERT INTO failed_deliveries (delivery_id)
                 SELECT id FROM deliveries WHERE status = 'failed' AND id IN ({ids})
                 ON CONFLICT DO NOTHING"
            )
        })
        .await?;
        settled.sort_unstable();
        // Keyed on the primary key: a row-value `IN` would make SQLite scan the whole queue.
        for group in settled.chunk_by(|a, b| a.0 == b.0) {
            let ids: Vec<&str> = group.iter().map(|(_, id)| *id).collect();
            let owner = [Value::Text(group[0].0.to_string())];
            bulk::by_ids(conn, &owner, &ids, |owner, ids| {
                format!(
                    "DELETE FROM delivery_queue WHERE lease_owner = {} AND delivery_id IN ({ids})",
                    owner[0]
                )
            })
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Hands leases back without an attempt (shutting down): the deliveries are due again at once.
    pub async fn release(&self, delivery_ids: &[String], owner: &str) -> Result<()> {
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
            self.execute_write("release", release).await?;
        }
        Ok(())
    }
}

/// One claim: up to `limit` deliveries due at `at` (µs), leased to `owner` until `until`, none
/// of the integrations in `skip`.
#[derive(Clone, Copy)]
struct ClaimRequest<'a> {
    limit: u32,
    at: i64,
    until: i64,
    owner: &'a str,
    skip: &'a [String],
}

/// What a claim reads of each delivery it leases: everything needed to send it.
const CLAIM_SELECT: &str =
    "SELECT d.id, d.attempt_count, q.single_attempt, COALESCE(d.payload, f.payload) AS body,
            i.id AS integration_id, i.url, i.auth_header, i.auth_prefix, i.api_key, i.signing_secret
     FROM delivery_queue q
     JOIN deliveries d ON d.id = q.delivery_id
     JOIN integrations i ON i.id = d.integration_id
     LEFT JOIN fulfillments f ON f.id = d.fulfillment_id";

/// `AND integration_id NOT IN (…)` for the integrations to skip, numbered after `before` others.
fn skip_clause(column: &str, before: usize, skip: &[String]) -> String {
    if skip.is_empty() {
        String::new()
    } else {
        format!("AND {column} NOT IN ({})", placeholders(before, skip.len()))
    }
}

/// PostgreSQL: several instances claim at once, so the lease comes first, over rows no other
/// instance has locked; then the leased rows are read.
async fn lease_then_read(
    conn: &mut AnyConnection,
    claim: &ClaimRequest<'_>,
) -> Result<Vec<ClaimRow>> {
    sqlx::query(postgres::CLAIM_SETTINGS)
        .execute(&mut *conn)
        .await?;
    let due = format!(
        "SELECT delivery_id FROM delivery_queue
         WHERE due_at <= $3 AND lease_until <= $3 {}
         ORDER BY due_at LIMIT $4",
        skip_clause("integration_id", 4, claim.skip)
    );
    let sql = format!(
        "UPDATE delivery_queue SET lease_until = $1, lease_owner = $2
         WHERE delivery_id {} RETURNING delivery_id",
        Dialect::Postgres.in_claimed(&due)
    );
    let mut lease = sqlx::query_as(&sql)
        .bind(claim.until)
        .bind(claim.owner)
        .bind(claim.at)
        .bind(i64::from(claim.limit));
    for id in claim.skip {
        lease = lease.bind(id);
    }
    let ids: Vec<(String,)> = lease.fetch_all(&mut *conn).await?;
    if ids.is_empty() {
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
    Ok(query.fetch_all(&mut *conn).await?)
}
