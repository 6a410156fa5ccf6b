//! What is waiting: posts not yet evaluated and deliveries not yet settled, read for `/metrics`.

use super::backend::Db;
use super::sql::Statement;
use crate::error::Result;
use crate::telemetry::Backlog;

/// Both counts read from the small tables only (pending rows), never from the log.
pub(super) async fn read(db: &Db) -> Result<Backlog> {
    let (posts,): (i64,) = db
        .fetch_one(Statement::new("SELECT COUNT(*) FROM media_inbox"))
        .await?;
    let (deliveries, earliest_due_micros): (i64, Option<i64>) = db
        .fetch_one(Statement::new(
            "SELECT COUNT(*), MIN(due_at) FROM delivery_queue",
        ))
        .await?;
    Ok(Backlog {
        posts,
        deliveries,
        earliest_due_micros,
    })
}
