//! The counts behind the console's charts, written in one short write of their own just before
//! each batch of attempts: attempts per integration and minute by outcome, and their durations
//! per integration and hour. A chart reads these few rows, never the attempts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::backend::Db;
use super::db::Purpose;
use super::sql::{write_row, Statement, Writes};
use crate::domain::stats::latency_bin;
use crate::domain::time::to_micros;
use crate::domain::{
    IntegrationId, Outcome, OutcomeCounts, SendResult, Window, HOUR_MICROS, MINUTE_MICROS,
};
use crate::error::Result;

write_row! {
    /// One batch's attempts of one integration in one minute.
    struct CountsUpdate<'a> {
        integration_id: &'a IntegrationId,
        minute_start: i64,
        succeeded: i64,
        retried: i64,
        failed: i64,
    }
}

write_row! {
    /// How many of one batch's attempts of one integration in one hour took one duration.
    struct LatencyUpdate<'a> {
        integration_id: &'a IntegrationId,
        hour_start: i64,
        duration_ms: i64,
        attempts: i64,
    }
}

fn floor(at: i64, width: i64) -> i64 {
    at.div_euclid(width) * width
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Adds to `writes` the upserts that add a batch of attempts to the counts. Each key appears
/// once per statement (PostgreSQL refuses to update a row twice in one), in key order, as
/// every instance takes them.
pub(super) fn record<'a>(writes: &mut Writes<'a>, results: &[&'a SendResult]) {
    let mut counts: BTreeMap<(&IntegrationId, i64), OutcomeCounts> = BTreeMap::new();
    let mut durations: BTreeMap<(&IntegrationId, i64, u64), u64> = BTreeMap::new();
    for &r in results {
        let at = to_micros(r.started_at);
        let c = counts
            .entry((&r.integration_id, floor(at, MINUTE_MICROS)))
            .or_default();
        match r.outcome {
            Outcome::Succeeded => c.succeeded += 1,
            Outcome::RetryAt(_) => c.retried += 1,
            Outcome::Failed => c.failed += 1,
        }
        *durations
            .entry((
                &r.integration_id,
                floor(at, HOUR_MICROS),
                latency_bin(r.duration_ms),
            ))
            .or_default() += 1;
    }
    let counts: Vec<CountsUpdate<'a>> = counts
        .into_iter()
        .map(|((integration_id, minute_start), c)| CountsUpdate {
            integration_id,
            minute_start,
            succeeded: int(c.succeeded),
            retried: int(c.retried),
            failed: int(c.failed),
        })
        .collect();
    writes.insert(
        "attempt_counts AS s",
        "ON CONFLICT (integration_id, minute_start) DO UPDATE SET
            succeeded = s.succeeded + excluded.succeeded, retried = s.retried + excluded.retried,
            failed = s.failed + excluded.failed",
        counts,
    );
    let durations: Vec<LatencyUpdate<'a>> = durations
        .into_iter()
        .map(|((integration_id, hour_start, ms), n)| LatencyUpdate {
            integration_id,
            hour_start,
            duration_ms: int(ms),
            attempts: int(n),
        })
        .collect();
    writes.insert(
        "attempt_latency AS s",
        "ON CONFLICT (integration_id, hour_start, duration_ms) DO UPDATE SET
            attempts = s.attempts + excluded.attempts",
        durations,
    );
}

/// One integration's minutes in a window: a range of its primary key.
const COUNTS_OF_ONE: &str = "SELECT minute_start, succeeded, retried, failed FROM attempt_counts
     WHERE integration_id = $1 AND minute_start >= $2 AND minute_start < $3";

/// Every integration's minutes in a window, added up: a range of the minute index. Sums are
/// cast, as PostgreSQL sums BIGINTs as NUMERIC.
const COUNTS_OF_ALL: &str = "SELECT minute_start, CAST(SUM(succeeded) AS BIGINT),
        CAST(SUM(retried) AS BIGINT), CAST(SUM(failed) AS BIGINT)
     FROM attempt_counts WHERE minute_start >= $1 AND minute_start < $2
     GROUP BY minute_start";

/// One integration's durations in a window: a range of its primary key.
const DURATIONS_OF_ONE: &str = "SELECT hour_start, duration_ms, attempts FROM attempt_latency
     WHERE integration_id = $1 AND hour_start >= $2 AND hour_start < $3";

/// Attempts per minute in `window`, by outcome: one integration's, or every one's together.
/// Minutes without attempts are left out.
pub(super) async fn counts(
    db: &Db,
    integration: Option<&IntegrationId>,
    window: &Window,
) -> Result<Vec<(i64, OutcomeCounts)>> {
    let statement = match integration {
        Some(id) => Statement::new(COUNTS_OF_ONE)
            .bind(id)
            .bind(window.first)
            .bind(window.end()),
        None => Statement::new(COUNTS_OF_ALL)
            .bind(window.first)
            .bind(window.end()),
    };
    let rows: Vec<(i64, i64, i64, i64)> = db.fetch_all(statement).await?;
    Ok(rows
        .into_iter()
        .map(|(at, succeeded, retried, failed)| {
            let outcomes = OutcomeCounts {
                succeeded: count(succeeded),
                retried: count(retried),
                failed: count(failed),
            };
            (at, outcomes)
        })
        .collect())
}

/// An integration's attempt durations per hour in `window`: each hour's start, a duration in
/// ms, and how many attempts took it.
pub(super) async fn durations(
    db: &Db,
    integration: &IntegrationId,
    window: &Window,
) -> Result<Vec<(i64, u64, u64)>> {
    let rows: Vec<(i64, i64, i64)> = db
        .fetch_all(
            Statement::new(DURATIONS_OF_ONE)
                .bind(integration)
                .bind(window.first)
                .bind(window.end()),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(at, ms, n)| (at, count(ms), count(n)))
        .collect())
}

/// Deletes the counts of minutes and hours that began before `cutoff`. Returns how many rows.
pub(super) async fn delete_old(db: &Db, cutoff: DateTime<Utc>) -> Result<u64> {
    let cutoff = to_micros(cutoff);
    let mut deleted = 0;
    for statement in [
        "DELETE FROM attempt_counts WHERE minute_start < $1",
        "DELETE FROM attempt_latency WHERE hour_start < $1",
    ] {
        deleted += db
            .execute_write(Purpose::Retention, Statement::new(statement).bind(cutoff))
            .await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    use super::{COUNTS_OF_ALL, COUNTS_OF_ONE, DURATIONS_OF_ONE};

    #[tokio::test]
    async fn a_chart_reads_a_range_of_an_index_never_the_whole_table() {
        let mut conn = SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut conn)
            .await
            .expect("migrations");
        for (sql, walk) in [
            (
                COUNTS_OF_ONE,
                "sqlite_autoindex_attempt_counts_1 (integration_id=? AND minute_start>? AND minute_start<?)",
            ),
            (
                COUNTS_OF_ALL,
                "attempt_counts_by_minute (minute_start>? AND minute_start<?)",
            ),
            (
                DURATIONS_OF_ONE,
                "sqlite_autoindex_attempt_latency_1 (integration_id=? AND hour_start>? AND hour_start<?)",
            ),
        ] {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .bind("i")
                    .bind(0_i64)
                    .bind(1_i64)
                    .fetch_all(&mut conn)
                    .await
                    .expect("plan");
            let plan: Vec<String> = rows.into_iter().map(|r| r.3).collect();
            let plan = plan.join("; ");
            assert!(plan.contains(walk), "{sql}: {plan}");
        }
    }
}
