//! Each integration's health, written with the chart counts in one short write of its own just
//! before each batch of attempts (`queue.rs`): recent counts in hour-long windows, the last
//! success and failure, and the current run of failures.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use super::backend::Db;
use super::config;
use super::db::Purpose;
use super::sql::{write_row, Statement, Writes};
use crate::domain::time::{from_micros, now, to_micros};
use crate::domain::{IntegrationHealth, IntegrationId, Outcome, SendResult};
use crate::error::Result;

/// The length of one window of counts; "recent" is this window and the one before.
const WINDOW_MICROS: i64 = 3_600 * 1_000_000;

write_row! {
    /// What one batch of attempts says of one integration, as if it were all there is.
    struct HealthUpdate<'a> {
        integration_id: &'a IntegrationId,
        window_started_at: i64,
        attempts: i64,
        failures: i64,
        last_attempt_at: i64,
        last_success_at: Option<i64>,
        last_failure_at: Option<i64>,
        last_failure: Option<String>,
        consecutive_failures: i64,
        failing_since: Option<i64>,
    }
}

/// How a batch's view of an integration folds into its row. SET sees the row as it was;
/// `excluded` is the batch's own view. A batch with a success starts the run of failures
/// afresh; one without adds to it. 3,600,000,000 is [`WINDOW_MICROS`] (a test pins it).
const UPSERT: &str = "ON CONFLICT (integration_id) DO UPDATE SET
    previous_attempts = CASE WHEN excluded.window_started_at < h.window_started_at + 3600000000
        THEN h.previous_attempts
        WHEN excluded.window_started_at < h.window_started_at + 2 * 3600000000 THEN h.attempts ELSE 0 END,
    previous_failures = CASE WHEN excluded.window_started_at < h.window_started_at + 3600000000
        THEN h.previous_failures
        WHEN excluded.window_started_at < h.window_started_at + 2 * 3600000000 THEN h.failures ELSE 0 END,
    attempts = CASE WHEN excluded.window_started_at < h.window_started_at + 3600000000
        THEN h.attempts + excluded.attempts ELSE excluded.attempts END,
    failures = CASE WHEN excluded.window_started_at < h.window_started_at + 3600000000
        THEN h.failures + excluded.failures ELSE excluded.failures END,
    window_started_at = CASE WHEN excluded.window_started_at < h.window_started_at + 3600000000
        THEN h.window_started_at ELSE excluded.window_started_at END,
    last_attempt_at = CASE WHEN excluded.last_attempt_at > h.last_attempt_at
        THEN excluded.last_attempt_at ELSE h.last_attempt_at END,
    last_success_at = CASE WHEN excluded.last_success_at IS NULL THEN h.last_success_at
        WHEN h.last_success_at IS NULL OR excluded.last_success_at > h.last_success_at
        THEN excluded.last_success_at ELSE h.last_success_at END,
    last_failure_at = CASE WHEN excluded.last_failure_at IS NULL THEN h.last_failure_at
        WHEN h.last_failure_at IS NULL OR excluded.last_failure_at > h.last_failure_at
        THEN excluded.last_failure_at ELSE h.last_failure_at END,
    last_failure = COALESCE(excluded.last_failure, h.last_failure),
    consecutive_failures = CASE WHEN excluded.last_success_at IS NOT NULL
        THEN excluded.consecutive_failures
        ELSE h.consecutive_failures + excluded.consecutive_failures END,
    failing_since = CASE WHEN excluded.last_success_at IS NOT NULL THEN excluded.failing_since
        ELSE COALESCE(h.failing_since, excluded.failing_since) END";

/// Adds to `writes` the upserts that fold a batch of attempt results into the health of their
/// integrations.
pub(super) fn record<'a>(writes: &mut Writes<'a>, results: &[&'a SendResult]) {
    let at = to_micros(now());
    let mut by_integration: BTreeMap<&IntegrationId, Vec<&SendResult>> = BTreeMap::new();
    for &r in results {
        by_integration.entry(&r.integration_id).or_default().push(r);
    }
    let rows: Vec<HealthUpdate<'a>> = by_integration
        .into_iter()
        .map(|(integration_id, mut attempts)| {
            attempts.sort_by_key(|r| r.started_at);
            let ok = |r: &&SendResult| r.outcome == Outcome::Succeeded;
            let last_success = attempts.iter().rposition(ok);
            let trailing = &attempts[last_success.map_or(0, |i| i + 1)..];
            let last_failure = attempts.iter().rev().find(|r| !ok(r));
            HealthUpdate {
                integration_id,
                window_started_at: at,
                attempts: attempts.len() as i64,
                failures: attempts.iter().filter(|r| !ok(r)).count() as i64,
                last_attempt_at: attempts.last().map_or(at, |r| to_micros(r.started_at)),
                last_success_at: last_success.map(|i| to_micros(attempts[i].started_at)),
                last_failure_at: last_failure.map(|r| to_micros(r.started_at)),
                last_failure: last_failure.map(|r| r.failure()),
                consecutive_failures: trailing.len() as i64,
                failing_since: trailing.first().map(|r| to_micros(r.started_at)),
            }
        })
        .collect();
    writes.insert("integration_health AS h", UPSERT, rows);
}

/// Disables the integrations of `results` whose every attempt has failed for longer than
/// `after` (three at least): they take no more sends until made active again.
pub(super) async fn disable_failing(
    db: &Db,
    results: &[&SendResult],
    after: Duration,
) -> Result<()> {
    // Only an integration that just failed, outside a test send, can have crossed the line:
    // a batch of successes (the usual case) costs no statement.
    let ids: BTreeSet<&IntegrationId> = results
        .iter()
        .filter(|r| r.outcome != Outcome::Succeeded && !r.test)
        .map(|r| &r.integration_id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let at = now();
    let cutoff = to_micros(at) - i64::try_from(after.as_micros()).unwrap_or(i64::MAX / 2);
    let failing: Vec<(IntegrationId, i64, Option<String>)> = db
        .fetch_all(
            Statement::new(
                "SELECT h.integration_id, h.failing_since, h.last_failure FROM integration_health h
                 JOIN integrations i ON i.id = h.integration_id
                 WHERE h.consecutive_failures >= $1 AND h.failing_since < $2
                   AND i.active = 1 AND i.deleted = 0 AND h.integration_id",
            )
            .bind(MIN_FAILURES_TO_DISABLE)
            .bind(cutoff)
            .any_of(ids),
        )
        .await?;
    for (id, since, last) in failing {
        let reason = format!(
            "every attempt failed since {}: last {}",
            crate::domain::time::rfc3339(from_micros(since)),
            last.as_deref().unwrap_or("no answer")
        );
        let mut tx = db.begin_write(Purpose::Config).await?;
        let mut conn = tx.conn();
        // Still active and still failing: another instance, or a success meanwhile, may have
        // settled it already.
        let done = conn
            .execute(
                Statement::new(
                    "UPDATE integrations SET active = 0, disabled_reason = $2, disabled_at = $3,
                        updated_at = $3
                     WHERE id = $1 AND active = 1 AND deleted = 0
                       AND id IN (SELECT integration_id FROM integration_health
                                  WHERE integration_id = $1 AND consecutive_failures >= $4
                                    AND failing_since < $5)",
                )
                .bind(&id)
                .bind(&reason)
                .bind(to_micros(at))
                .bind(MIN_FAILURES_TO_DISABLE)
                .bind(cutoff),
            )
            .await?;
        if done == 1 {
            config::bump(&mut conn).await?;
            tx.commit().await?;
            tracing::warn!(integration = %id, %reason, "integration disabled");
        } else {
            tx.rollback().await?;
        }
    }
    Ok(())
}

/// Fewer failures than this never disable an integration, however long they span.
const MIN_FAILURES_TO_DISABLE: i64 = 3;

#[derive(sqlx::FromRow)]
struct HealthRow {
    integration_id: IntegrationId,
    window_started_at: i64,
    attempts: i64,
    failures: i64,
    previous_attempts: i64,
    previous_failures: i64,
    last_attempt_at: i64,
    last_success_at: Option<i64>,
    last_failure_at: Option<i64>,
    last_failure: Option<String>,
    consecutive_failures: i64,
    failing_since: Option<i64>,
}

impl HealthRow {
    /// As of `at`: windows that have passed no longer count as recent.
    fn health(self, at: i64) -> IntegrationHealth {
        let age = at - self.window_started_at;
        let (attempts, failures) = if age < WINDOW_MICROS {
            (
                self.attempts + self.previous_attempts,
                self.failures + self.previous_failures,
            )
        } else if age < 2 * WINDOW_MICROS {
            (self.attempts, self.failures)
        } else {
            (0, 0)
        };
        IntegrationHealth {
            recent_attempts: u64::try_from(attempts).unwrap_or(0),
            recent_success_rate: (attempts > 0)
                .then(|| (attempts - failures) as f64 / attempts as f64),
            last_attempt_at: Some(from_micros(self.last_attempt_at)),
            last_success_at: self.last_success_at.map(from_micros),
            last_failure_at: self.last_failure_at.map(from_micros),
            last_failure: self.last_failure,
            consecutive_failures: u32::try_from(self.consecutive_failures).unwrap_or(u32::MAX),
            failing_since: self.failing_since.map(from_micros),
            // Not the store's to know: the dispatcher's, filled in by the API.
            concurrency_limit: None,
        }
    }
}

/// The health of each of `ids` that has made an attempt.
pub(super) async fn of(
    db: &Db,
    ids: &[&IntegrationId],
) -> Result<HashMap<IntegrationId, IntegrationHealth>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let at = to_micros(now());
    let rows: Vec<HealthRow> = db
        .fetch_all(
            Statement::new(
                "SELECT integration_id, window_started_at, attempts, failures, previous_attempts,
                        previous_failures, last_attempt_at, last_success_at, last_failure_at,
                        last_failure, consecutive_failures, failing_since
                 FROM integration_health WHERE integration_id",
            )
            .any_of(ids),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.integration_id.clone(), row.health(at)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{UPSERT, WINDOW_MICROS};

    #[test]
    fn the_upsert_spells_the_window_as_it_is() {
        assert!(UPSERT.contains(&format!("+ {WINDOW_MICROS}\n")));
        assert!(UPSERT.contains(&format!("+ 2 * {WINDOW_MICROS} ")));
    }
}
