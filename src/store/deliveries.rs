//! The delivery log: each webhook to each integration, its attempts, and sending one again.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::backend::{Channel, Db};
use super::db::Purpose;
use super::page::{list_page, PageQuery};
use super::sql::rows::{
    AttemptRow, DeliveryRow, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, DELIVERY_REWARD_JOINS,
};
use super::sql::Statement;
use crate::domain::time::{now, to_micros};
use crate::domain::{
    Attempt, Delivery, DeliveryDetail, DeliveryFilter, DeliveryId, DeliveryStatus, EventType,
    IntegrationId, Page, PageRequest,
};
use crate::error::{Conflict, Error, Result};

pub(super) async fn get(db: &Db, id: &DeliveryId) -> Result<Delivery> {
    db.fetch_optional::<DeliveryRow>(
        Statement::new(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d {DELIVERY_REWARD_JOINS} WHERE d.id = $1"
        ))
        .bind(id),
    )
    .await?
    .ok_or(Error::NotFound("delivery"))?
    .try_into()
}

/// The delivery with its body and every attempt, oldest first.
pub(super) async fn detail(db: &Db, id: &DeliveryId) -> Result<DeliveryDetail> {
    let delivery = get(db, id).await?;
    let (body,): (Option<String>,) = db
        .fetch_one(
            Statement::new(
                "SELECT COALESCE(d.payload, f.payload) FROM deliveries d
                 LEFT JOIN fulfillments f ON f.id = d.fulfillment_id WHERE d.id = $1",
            )
            .bind(id),
        )
        .await?;
    let attempts = db
        .fetch_all::<AttemptRow>(
            Statement::new(format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = $1 ORDER BY number"
            ))
            .bind(id),
        )
        .await?
        .into_iter()
        .map(Attempt::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok(DeliveryDetail {
        delivery,
        payload: RawValue::from_string(body.unwrap_or_else(|| "null".into()))?,
        attempts,
    })
}

pub(super) async fn list(
    db: &Db,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<Delivery>> {
    let (select, key) = listing(filter.status);
    let after = filter.created_after.map(to_micros);
    let before = filter.created_before.map(to_micros);
    let (id_from, id_until) = (after.map(id_floor), before.map(id_ceiling));
    let query = PageQuery::new(select, key)
        .equal("d.integration_id", filter.integration_id.as_ref())
        .equal("d.fulfillment_id", filter.fulfillment_id.as_ref())
        // The id range keeps the walk on the key's index; `created_at` is the exact test.
        .condition(key, ">=", id_from)
        .condition(key, "<", id_until)
        .condition("d.created_at", ">=", after)
        .condition("d.created_at", "<", before)
        .condition_with(email_filter, filter.email.as_ref().map(|e| e.as_str()))
        // No index of its own: the walk stays on the key's index and skips other types.
        .equal("d.event_type", filter.event_type.map(EventType::as_str))
        .order(filter.order);
    list_page::<DeliveryRow, _>(db, query, page).await
}

/// How many deliveries are pending and how many failed, read from the small tables.
pub(super) async fn counts(db: &Db) -> Result<(u64, u64)> {
    let (pending,): (i64,) = db
        .fetch_one(Statement::new("SELECT COUNT(*) FROM delivery_queue"))
        .await?;
    let (failed,): (i64,) = db
        .fetch_one(Statement::new("SELECT COUNT(*) FROM failed_deliveries"))
        .await?;
    Ok((
        u64::try_from(pending).unwrap_or(0),
        u64::try_from(failed).unwrap_or(0),
    ))
}

/// Queues one more attempt of a settled delivery, now, under the same id.
pub(super) async fn retry(db: &Db, id: &DeliveryId) -> Result<()> {
    let at = to_micros(now());
    let mut tx = db.begin_write(Purpose::Retry).await?;
    let mut conn = tx.conn();
    let updated = conn
        .execute(
            Statement::new(
                "UPDATE deliveries SET status = $3, next_attempt_at = $2
                 WHERE id = $1 AND status <> $3
                   AND integration_id IN (SELECT id FROM integrations WHERE deleted = 0)",
            )
            .bind(id)
            .bind(at)
            .bind(DeliveryStatus::Pending.as_str()),
        )
        .await?;
    if updated == 0 {
        tx.rollback().await?;
        let current = get(db, id).await?;
        return Err(match current.status {
            DeliveryStatus::Pending => Conflict::DeliveryPending,
            _ => Conflict::IntegrationDeleted,
        }
        .into());
    }
    conn.execute(
        Statement::new(
            "INSERT INTO delivery_queue (delivery_id, integration_id, due_at, single_attempt)
             SELECT id, integration_id, $2, 1 FROM deliveries WHERE id = $1",
        )
        .bind(id)
        .bind(at),
    )
    .await?;
    conn.execute(Statement::new("DELETE FROM failed_deliveries WHERE delivery_id = $1").bind(id))
        .await?;
    conn.notify(Channel::Deliveries).await?;
    tx.commit().await
}

/// Queues again, for one attempt each, the integration's failed deliveries (not test
/// sends) created at or after `since`. Returns how many.
pub(super) async fn replay_failed(
    db: &Db,
    id: &IntegrationId,
    since: DateTime<Utc>,
) -> Result<u64> {
    let at = to_micros(now());
    let since = to_micros(since);
    let mut tx = db.begin_write(Purpose::Retry).await?;
    let mut conn = tx.conn();
    // Locked: a deletion meanwhile waits for this replay, or this one sees it and stops,
    // so no queue row is left behind for a deleted integration.
    let live: Option<(IntegrationId,)> = conn
        .fetch_optional(
            Statement::new("SELECT id FROM integrations WHERE id = $1 AND deleted = 0")
                .bind(id)
                .for_update(),
        )
        .await?;
    if live.is_none() {
        return Err(Error::NotFound("integration"));
    }
    let failed = "SELECT d.id FROM deliveries d JOIN failed_deliveries f ON f.delivery_id = d.id
         WHERE d.integration_id = $1 AND d.created_at >= $2 AND d.test = 0 AND d.status = $3";
    conn.execute(
        Statement::new(format!(
            "INSERT INTO delivery_queue (delivery_id, integration_id, due_at, single_attempt)
             SELECT id, $1, $4, 1 FROM ({failed}) AS replayed WHERE 1 = 1
             ON CONFLICT DO NOTHING"
        ))
        .bind(id)
        .bind(since)
        .bind(DeliveryStatus::Failed.as_str())
        .bind(at),
    )
    .await?;
    let replayed = conn
        .execute(
            Statement::new(format!(
                // The outer status test is the one PostgreSQL checks again after waiting for a
                // concurrent replay: what it queued is not counted twice.
                "UPDATE deliveries SET status = $4, next_attempt_at = $5
                 WHERE status = $3 AND id IN (SELECT id FROM ({failed}) AS replayed)"
            ))
            .bind(id)
            .bind(since)
            .bind(DeliveryStatus::Failed.as_str())
            .bind(DeliveryStatus::Pending.as_str())
            .bind(at),
        )
        .await?;
    conn.execute(
        Statement::new(
            "DELETE FROM failed_deliveries WHERE delivery_id IN
                (SELECT delivery_id FROM delivery_queue WHERE integration_id = $1)",
        )
        .bind(id),
    )
    .await?;
    if replayed > 0 {
        conn.notify(Channel::Deliveries).await?;
    }
    tx.commit().await?;
    Ok(replayed)
}

/// Logs a test send before it goes out; it is not queued, the caller sends it at once.
pub(super) async fn create_test(
    db: &Db,
    integration_id: &IntegrationId,
    event_type: EventType,
    body: &str,
) -> Result<DeliveryId> {
    let id = DeliveryId::generate();
    let insert = Statement::new(
        "INSERT INTO deliveries
         (id, integration_id, status, next_attempt_at, payload, test, created_at, event_type)
         VALUES ($1, $2, $5, $3, $4, 1, $3, $6)",
    )
    .bind(&id)
    .bind(integration_id)
    .bind(to_micros(now()))
    .bind(body)
    .bind(DeliveryStatus::Pending.as_str())
    .bind(event_type.as_str());
    db.execute_write(Purpose::TestSend, insert).await?;
    Ok(id)
}

/// Deliveries of the rewards and other events of the creator whose email is `email` (a
/// placeholder), whatever its case (`Ana@Example.com` finds `ana@example.com`): the creator found
/// by the index on `LOWER(email)`, their deliveries by their fulfillments' and events' indexes.
fn email_filter(email: &str) -> String {
    format!(
        "(d.fulfillment_id IN (SELECT fe.id FROM creators ce JOIN fulfillments fe
          ON fe.creator_id = ce.id WHERE LOWER(ce.email) = LOWER({email}))
         OR d.event_id IN (SELECT ev.id FROM creators cv JOIN events ev
          ON ev.creator_id = cv.id WHERE LOWER(cv.email) = LOWER({email})))"
    )
}

/// A delivery's id is a UUIDv7 made within moments of its `created_at`: its first 48 bits are
/// that time in milliseconds. Ids are compared as text, which orders them by that time.
const ID_TIME_SLACK_MS: i64 = 60_000;

/// The smallest id a delivery created at or after `micros` can have.
fn id_floor(micros: i64) -> String {
    id_at_ms(micros.div_euclid(1000) - ID_TIME_SLACK_MS)
}

/// An id above every id of a delivery created before `micros`.
fn id_ceiling(micros: i64) -> String {
    id_at_ms(micros.div_euclid(1000) + ID_TIME_SLACK_MS)
}

/// The lowest UUIDv7 text of millisecond `ms` (clamped to the 48 bits it has).
fn id_at_ms(ms: i64) -> String {
    let ms = ms.clamp(0, (1 << 48) - 1);
    format!(
        "{:08x}-{:04x}-0000-0000-000000000000",
        ms >> 16,
        ms & 0xffff
    )
}

/// The statement listing deliveries of one status (or all), and the column its pages walk.
/// `deliveries` has no index on `status` (every result would move its entry): pending ones are
/// walked in the queue, failed ones in `failed_deliveries`, succeeded ones (most of the log) in
/// the log itself. `CROSS JOIN` keeps SQLite walking the small table in key order. A Test
/// send is pending only while its one attempt is in flight (it has no queue row): not listed
/// as pending meanwhile.
fn listing(status: Option<DeliveryStatus>) -> (String, &'static str) {
    let (c, j) = (DELIVERY_COLUMNS, DELIVERY_REWARD_JOINS);
    match status {
        None => (
            format!("SELECT {c} FROM deliveries d {j} WHERE 1 = 1"),
            "d.id",
        ),
        Some(status @ DeliveryStatus::Succeeded) => (
            format!(
                "SELECT {c} FROM deliveries d {j} WHERE d.status = '{}'",
                status.as_str()
            ),
            "d.id",
        ),
        Some(status @ DeliveryStatus::Pending) => (
            format!(
                "SELECT {c} FROM delivery_queue q CROSS JOIN deliveries d {j}
                 WHERE d.id = q.delivery_id AND d.status = '{}'",
                status.as_str()
            ),
            "q.delivery_id",
        ),
        Some(status @ DeliveryStatus::Failed) => (
            format!(
                "SELECT {c} FROM failed_deliveries x CROSS JOIN deliveries d {j}
                 WHERE d.id = x.delivery_id AND d.status = '{}'",
                status.as_str()
            ),
            "x.delivery_id",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{email_filter, id_at_ms, id_ceiling, id_floor, listing};
    use crate::domain::{time, DeliveryId, DeliveryStatus};
    use crate::store::page::tests::sqlite_page_plan;
    use crate::store::page::PageQuery;

    /// SQLite's plan for a page of deliveries of `status` after a cursor.
    async fn plan(status: DeliveryStatus, integration: Option<&str>) -> String {
        let (select, key) = listing(Some(status));
        sqlite_page_plan(PageQuery::new(select, key).equal("d.integration_id", integration)).await
    }

    #[test]
    fn an_id_made_now_lies_between_the_bounds_of_now() {
        let at = time::to_micros(time::now());
        let id = DeliveryId::generate().to_string();
        assert!(id_floor(at) <= id, "{} > {id}", id_floor(at));
        assert!(id < id_ceiling(at), "{id} >= {}", id_ceiling(at));
        assert!(id_at_ms(1) < id_at_ms(2));
        assert_eq!(id_at_ms(-5), "00000000-0000-0000-0000-000000000000");
    }

    #[tokio::test]
    async fn the_email_filter_finds_the_creator_by_the_lower_case_index() {
        let (select, key) = listing(None);
        let query =
            PageQuery::new(select, key).condition_with(email_filter, Some("Ana@Example.com"));
        let plan = sqlite_page_plan(query).await;
        assert!(
            plan.contains("creators_by_lower_email (<expr>=?)"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN ce"), "{plan}");
        assert!(!plan.contains("SCAN cv"), "{plan}");
        // Each kind of delivery through its own index, not a walk of the log.
        assert!(plan.contains("deliveries_by_fulfillment"), "{plan}");
        assert!(plan.contains("deliveries_by_event"), "{plan}");
    }

    #[tokio::test]
    async fn a_status_page_walks_its_own_table_from_the_cursor() {
        for (status, integration, walk) in [
            (
                DeliveryStatus::Pending,
                None,
                "sqlite_autoindex_delivery_queue_1 (delivery_id>?)",
            ),
            (
                DeliveryStatus::Pending,
                Some("i"),
                "sqlite_autoindex_delivery_queue_1 (delivery_id>?)",
            ),
            (
                DeliveryStatus::Failed,
                None,
                "sqlite_autoindex_failed_deliveries_1 (delivery_id>?)",
            ),
            (
                DeliveryStatus::Succeeded,
                None,
                "sqlite_autoindex_deliveries_1 (id>?)",
            ),
            (
                DeliveryStatus::Succeeded,
                Some("i"),
                "deliveries_by_integration (integration_id=? AND id>?)",
            ),
        ] {
            let plan = plan(status, integration).await;
            assert!(plan.contains(walk), "{status:?}, {integration:?}: {plan}");
            assert!(
                !plan.contains("TEMP B-TREE"),
                "{status:?}, {integration:?}: {plan}"
            );
        }
    }
}
