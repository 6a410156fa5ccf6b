//! What is waiting: posts not yet evaluated and deliveries not yet settled, read for `/metrics`.

use super::Store;
use crate::error::Result;
use crate::telemetry::Backlog;

impl Store {
    /// Both counts read from the small tables only (pending rows), never from the log.
    pub async fn backlog(&self) -> Result<Backlog> {
        let (posts,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM media_inbox")
            .fetch_one(&self.pool)
            .await?;
        let (deliveries, earliest_due_micros): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MIN(due_at) FROM delivery_queue")
                .fetch_one(&self.pool)
                .await?;
        Ok(Backlog {
            posts,
            deliveries,
            earliest_due_micros,
        })
    }
}
