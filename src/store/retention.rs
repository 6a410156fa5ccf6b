//! Retention: the attempts of settled deliveries, with their response bodies, are deleted once
//! old; the deliveries keep their summary and fulfillments are never deleted.

use chrono::{DateTime, Utc};

use super::backend::Db;
use super::db::Purpose;
use super::sql::Statement;
use crate::domain::time::to_micros;
use crate::error::Result;

/// Deletes up to `limit` attempts made before `cutoff` of deliveries no longer pending, oldest
/// first, in one short write. Returns how many.
pub(super) async fn delete_old_attempts(db: &Db, cutoff: DateTime<Utc>, limit: u32) -> Result<u64> {
    let delete = Statement::new(
        "DELETE FROM attempts WHERE (delivery_id, number) IN (
            SELECT a.delivery_id, a.number FROM attempts a
            WHERE a.started_at < $1
              AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.delivery_id = a.delivery_id)
            ORDER BY a.started_at LIMIT $2)",
    )
    .bind(to_micros(cutoff))
    .bind(i64::from(limit));
    db.execute_write(Purpose::Retention, delete).await
}
