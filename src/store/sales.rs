//! Sales: one per order id, written with their `sale.created` event in one transaction.

use chrono::{DateTime, Utc};

use super::backend::{Conn, Db};
use super::config::ConfigCache;
use super::db::Purpose;
use super::events::{self, NewEvent};
use super::page::{list_page, PageQuery};
use super::sql::Statement;
use crate::domain::time::{from_micros, to_micros};
use crate::domain::{
    Amount, CreatorId, Currency, EventId, EventType, NewSale, Page, PageRequest, Sale, SaleId,
};
use crate::error::{Error, Result};
use crate::payload::events::SaleEventBody;

const COLUMNS: &str = "id, creator_id, order_id, amount, currency, sold_at, created_at";

#[derive(sqlx::FromRow)]
struct SaleRow {
    id: SaleId,
    creator_id: CreatorId,
    order_id: String,
    amount: String,
    currency: String,
    sold_at: i64,
    created_at: i64,
}

impl TryFrom<SaleRow> for Sale {
    type Error = Error;
    fn try_from(r: SaleRow) -> Result<Self> {
        Ok(Sale {
            amount: Amount::parse(&r.amount)
                .map_err(|_| Error::Corrupt(format!("sale amount {}", r.amount)))?,
            currency: Currency::parse(&r.currency)
                .map_err(|_| Error::Corrupt(format!("sale currency {}", r.currency)))?,
            id: r.id,
            creator_id: r.creator_id,
            order_id: r.order_id,
            sold_at: from_micros(r.sold_at),
            created_at: from_micros(r.created_at),
        })
    }
}

/// A sale recorded: whether this call wrote it, the sale as stored, and the deliveries of its
/// event queued.
pub struct Recorded {
    pub new: bool,
    pub sale: Sale,
    pub queued: usize,
}

/// Writes the sale unless one with its order id is stored (then answers with that one, and no
/// second event): two at once meet on the unique order id, and one writes.
pub(super) async fn record(
    db: &Db,
    cache: &ConfigCache,
    new: NewSale,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let mut tx = db.begin_write(Purpose::Sale).await?;
    let mut conn = tx.conn();
    let (creator, config) = events::creator_and_config(&mut conn, cache, &new.creator_id).await?;
    let id = SaleId::generate();
    let at = to_micros(now);
    let written: Option<SaleRow> = conn
        .fetch_optional(
            Statement::new(format!(
                "INSERT INTO sales ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (order_id) DO NOTHING RETURNING {COLUMNS}"
            ))
            .bind(&id)
            .bind(&new.creator_id)
            .bind(new.order_id.as_str())
            .bind(new.amount.to_decimal_string())
            .bind(new.currency.as_str())
            .bind(to_micros(new.sold_at))
            .bind(at),
        )
        .await?;
    let recorded = match written {
        Some(row) => {
            let sale = Sale::try_from(row)?;
            let event_id = EventId::generate();
            let event = NewEvent {
                body: SaleEventBody::to_body(&event_id.to_string(), &creator, &sale)?,
                id: event_id,
                event_type: EventType::SaleCreated,
                creator_id: sale.creator_id.clone(),
            };
            let queued = events::add(&mut conn, &config, &[event], at).await?;
            Recorded {
                new: true,
                sale,
                queued,
            }
        }
        None => Recorded {
            new: false,
            sale: by_order_id(&mut conn, new.order_id.as_str()).await?,
            queued: 0,
        },
    };
    tx.commit().await?;
    Ok(recorded)
}

async fn by_order_id(conn: &mut Conn<'_>, order_id: &str) -> Result<Sale> {
    conn.fetch_optional::<SaleRow>(
        Statement::new(format!("SELECT {COLUMNS} FROM sales WHERE order_id = $1")).bind(order_id),
    )
    .await?
    .ok_or(Error::NotFound("sale"))?
    .try_into()
}

/// Sales, oldest first, optionally of one creator.
pub(super) async fn list(
    db: &Db,
    creator: Option<&CreatorId>,
    page: &PageRequest,
) -> Result<Page<Sale>> {
    let select = format!("SELECT {COLUMNS} FROM sales WHERE 1 = 1");
    let query = PageQuery::new(select, "id").equal("creator_id", creator);
    list_page::<SaleRow, _>(db, query, page).await
}
