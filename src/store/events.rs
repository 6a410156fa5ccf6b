//! Events: every event is a row written in the transaction that causes it, and its deliveries
//! to the integrations that subscribe to its type are queued in that transaction too, to go
//! out like a reward's (same queue, retries, log, signature, replay and `webhook-id` rules).
//! A reward's event is its fulfillment, read from `fulfillments` (no row of its own: one more
//! row and three index entries per reward cost batch ingest a quarter of its speed); the others
//! are written here, with their rendered body (a `post.tagged` by the evaluation, `tagged.rs`).

use std::sync::Arc;

use serde_json::value::RawValue;

use super::backend::{Channel, Conn, Db};
use super::config::{Config, ConfigCache, VERSION};
use super::page::{Keyed, PageQuery};
use super::sql::rows::{CreatorRow, CREATOR_COLUMNS};
use super::sql::{write_row, Statement, Writes};
use crate::domain::time::{self, from_micros, to_micros};
use crate::domain::{
    Creator, CreatorId, DeliveryId, DeliveryStatus, Event, EventFilter, EventId, EventType,
    IntegrationId, Invalid, Page, PageRequest, Problem,
};
use crate::error::{Error, Result};

write_row! {
    /// An event other than a reward, with its body.
    struct EventInsert<'a> {
        id: &'a EventId,
        event_type: &'static str,
        creator_id: &'a CreatorId,
        body: &'a str,
        created_at: i64,
    }
}

write_row! {
    /// A delivery of an event other than a reward: it carries its body, as a Test send does.
    struct EventDeliveryInsert<'a> {
        id: &'a DeliveryId,
        event_id: &'a EventId,
        integration_id: &'a IntegrationId,
        status: &'static str,
        next_attempt_at: i64,
        created_at: i64,
        payload: &'a str,
        event_type: &'static str,
    }
}

write_row! {
    /// Its queue row, unleased: any instance's dispatcher claims it.
    struct EventQueueInsert<'a> {
        delivery_id: &'a DeliveryId,
        integration_id: &'a IntegrationId,
        due_at: i64,
    }
}

/// An event other than a reward, rendered, to write with the change that causes it.
pub(super) struct NewEvent {
    pub(super) id: EventId,
    pub(super) event_type: EventType,
    pub(super) creator_id: CreatorId,
    pub(super) body: String,
}

/// Writes `events` and queues a delivery of each to every integration of `config` subscribed
/// to its type, in the caller's transaction; announces them to other instances when that
/// commits. Returns the deliveries queued (the caller wakes this instance's dispatcher).
pub(super) async fn add(
    conn: &mut Conn<'_>,
    config: &Config,
    events: &[NewEvent],
    at: i64,
) -> Result<usize> {
    // Each delivery: its event, its integration and its id.
    let targets: Vec<(&NewEvent, &IntegrationId, DeliveryId)> = events
        .iter()
        .flat_map(|event| {
            config
                .subscribers(event.event_type)
                .into_iter()
                .map(move |integration| (event, integration, DeliveryId::generate()))
        })
        .collect();
    // The dispatcher claims by the system's clock, so the queue is due by it too; the service's
    // clock (a test's) dates only the event.
    let due = to_micros(time::now());
    let mut writes = Writes::default();
    let rows = events
        .iter()
        .map(|event| EventInsert {
            id: &event.id,
            event_type: event.event_type.as_str(),
            creator_id: &event.creator_id,
            body: &event.body,
            created_at: at,
        })
        .collect();
    writes.insert("events", "", rows);
    let deliveries = targets
        .iter()
        .map(|(event, integration_id, id)| EventDeliveryInsert {
            id,
            event_id: &event.id,
            integration_id,
            status: DeliveryStatus::Pending.as_str(),
            next_attempt_at: due,
            created_at: at,
            payload: &event.body,
            event_type: event.event_type.as_str(),
        })
        .collect();
    writes.insert("deliveries", "", deliveries);
    let queue = targets
        .iter()
        .map(|(_, integration_id, id)| EventQueueInsert {
            delivery_id: id,
            integration_id,
            due_at: due,
        })
        .collect();
    writes.insert("delivery_queue", "", queue);
    conn.insert_all(&writes).await?;
    if !targets.is_empty() {
        conn.notify(Channel::Deliveries).await?;
    }
    Ok(targets.len())
}

#[derive(sqlx::FromRow)]
struct CreatorWithVersion {
    #[sqlx(flatten)]
    creator: CreatorRow,
    config_version: i64,
}

/// The creator an event is about, with the config its deliveries are decided by, in one
/// statement (the config is read again only when it changed). A creator id that names no
/// creator is valid input the current state refuses.
pub(super) async fn creator_and_config(
    conn: &mut Conn<'_>,
    cache: &ConfigCache,
    creator: &CreatorId,
) -> Result<(Creator, Arc<Config>)> {
    let row: Option<CreatorWithVersion> = conn
        .fetch_optional(
            Statement::new(format!(
                "SELECT {CREATOR_COLUMNS}, {VERSION} FROM creators WHERE id = $1"
            ))
            .bind(creator),
        )
        .await?;
    let Some(row) = row else {
        return Err(Invalid::new(
            Problem::UnknownCreator,
            format!("no creator with id {creator}"),
        )
        .into());
    };
    let config = cache.at(conn, row.config_version).await?;
    Ok((Creator::from(row.creator), config))
}

/// Events other than rewards, as [`EventRow`]s.
const EVENT_ROWS: &str =
    "SELECT e.id, e.event_type, e.creator_id, e.body, e.created_at FROM events e WHERE 1 = 1";

/// Rewards as events ([`EventRow`]s): a fulfillment with a month is a monthly one.
const REWARD_ROWS: &str = "SELECT f.id, \
     CASE WHEN f.month IS NULL THEN 'reward.instant' ELSE 'reward.monthly' END AS event_type, \
     f.creator_id, f.payload AS body, f.created_at FROM fulfillments f WHERE 1 = 1";

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    event_type: String,
    creator_id: CreatorId,
    body: Option<String>,
    created_at: i64,
}

impl TryFrom<EventRow> for Event {
    type Error = Error;
    fn try_from(r: EventRow) -> Result<Self> {
        Ok(Event {
            event_type: EventType::parse(&r.event_type)
                .ok_or_else(|| Error::Corrupt(format!("event type {}", r.event_type)))?,
            payload: RawValue::from_string(r.body.unwrap_or_else(|| "null".into()))?,
            id: r.id,
            creator_id: r.creator_id,
            created_at: from_micros(r.created_at),
        })
    }
}

/// Events, oldest first, of one type and/or one creator: rewards from `fulfillments`, the others
/// from `events`, each walked on its own index from the cursor and merged by id (ids of both are
/// UUIDv7s, ordered by time).
pub(super) async fn list(db: &Db, filter: &EventFilter, page: &PageRequest) -> Result<Page<Event>> {
    let limit = i64::from(page.limit) + 1;
    let cursor = page.cursor.as_deref();
    let creator = filter.creator_id.as_ref();
    let rewards = match filter.event_type {
        None => Some(PageQuery::new(REWARD_ROWS, "f.id")),
        Some(EventType::RewardInstant) => Some(PageQuery::new(
            format!("{REWARD_ROWS} AND f.month IS NULL"),
            "f.id",
        )),
        Some(EventType::RewardMonthly) => Some(PageQuery::new(
            format!("{REWARD_ROWS} AND f.month IS NOT NULL"),
            "f.id",
        )),
        Some(_) => None,
    };
    let others = match filter.event_type {
        Some(t) if t.is_reward() => None,
        t => {
            Some(PageQuery::new(EVENT_ROWS, "e.id").equal("e.event_type", t.map(EventType::as_str)))
        }
    };
    let mut rows: Vec<EventRow> = Vec::new();
    if let Some(query) = rewards {
        let query = query.equal("f.creator_id", creator);
        rows.extend(
            db.fetch_all::<EventRow>(query.finish(cursor, limit))
                .await?,
        );
    }
    if let Some(query) = others {
        let query = query.equal("e.creator_id", creator);
        rows.extend(
            db.fetch_all::<EventRow>(query.finish(cursor, limit))
                .await?,
        );
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let items = rows
        .into_iter()
        .map(Event::try_from)
        .collect::<Result<Vec<Event>>>()?;
    Ok(Page::from_rows(items, page.limit, Keyed::key))
}
