//! The months of monthly rules: those run (`rule_runs`), and where each rule's automatic
//! schedule stands (`rules.schedule_last_run`). Running a month is `evaluation::month_run`.

use chrono::{DateTime, Utc};

use super::backend::Db;
use super::db::Purpose;
use super::sql::Statement;
use crate::domain::time::from_micros;
use crate::domain::{Month, RuleId, RuleRun, RunStarter};
use crate::error::{Error, Result};

/// A monthly rule as its schedule needs it.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub rule_id: RuleId,
    pub zone: chrono_tz::Tz,
    pub created_at: DateTime<Utc>,
    /// The latest month the schedule has run; `None` before its first.
    pub last_run: Option<Month>,
}

fn month(raw: &str) -> Result<Month> {
    Month::parse(raw).map_err(|e| Error::Corrupt(e.to_string()))
}

/// The months run of rule `id`, newest first.
pub(super) async fn list(db: &Db, id: &RuleId) -> Result<Vec<RuleRun>> {
    let rows: Vec<(String, i64, String, i64)> = db
        .fetch_all(
            Statement::new(
                "SELECT month, fulfillments, started_by, run_at FROM rule_runs
                 WHERE rule_id = $1 ORDER BY month DESC",
            )
            .bind(id),
        )
        .await?;
    rows.into_iter()
        .map(|(m, fulfillments, started_by, run_at)| {
            Ok(RuleRun {
                month: month(&m)?,
                fulfillments: u64::try_from(fulfillments).unwrap_or(0),
                started_by: RunStarter::parse(&started_by)
                    .ok_or_else(|| Error::Corrupt(format!("run started by {started_by}")))?,
                run_at: from_micros(run_at),
            })
        })
        .collect()
}

/// Every active monthly rule, with its zone (its own, its program's, else UTC).
pub(super) async fn scheduled(db: &Db) -> Result<Vec<Scheduled>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: RuleId,
        time_zone: Option<String>,
        program_zone: Option<String>,
        created_at: i64,
        schedule_last_run: Option<String>,
    }
    let rows: Vec<Row> = db
        .fetch_all(Statement::new(
            "SELECT r.id, r.time_zone,
                    (SELECT p.time_zone FROM programs p WHERE p.id = r.program_id) AS program_zone,
                    r.created_at, r.schedule_last_run
             FROM rules r
             WHERE r.schedule = 'MONTHLY' AND r.active = 1 AND r.deleted = 0
             ORDER BY r.id",
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            let zone = r
                .time_zone
                .or(r.program_zone)
                .and_then(|z| z.parse().ok())
                .unwrap_or(chrono_tz::UTC);
            Ok(Scheduled {
                rule_id: r.id,
                zone,
                created_at: from_micros(r.created_at),
                last_run: r.schedule_last_run.as_deref().map(month).transpose()?,
            })
        })
        .collect()
}

/// Moves rule `id`'s schedule from `from` to `to`, if it still stands at `from` (another
/// instance may have moved it meanwhile). Returns whether it moved.
pub(super) async fn advance(db: &Db, id: &RuleId, from: Option<Month>, to: Month) -> Result<bool> {
    let from = from.map(|m| m.to_string());
    let moved = db
        .execute_write(
            Purpose::MonthRun,
            Statement::new(
                "UPDATE rules SET schedule_last_run = $2
                 WHERE id = $1 AND (schedule_last_run = $3
                    OR (schedule_last_run IS NULL AND $4 = 1))",
            )
            .bind(id)
            .bind(to.to_string())
            .bind(from.clone())
            .bind(from.is_none()),
        )
        .await?;
    Ok(moved > 0)
}
