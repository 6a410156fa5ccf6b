//! Fulfillments: the rewards granted, with the body their webhooks carry.

use std::collections::HashMap;

use serde_json::value::RawValue;

use super::backend::Db;
use super::page::{list_page, PageQuery};
use super::sql::Statement;
use crate::domain::time::from_micros;
use crate::domain::{
    CreatorId, Fulfillment, FulfillmentFilter, FulfillmentId, Month, Page, PageRequest, RuleId,
};
use crate::error::{Error, Result};

const COLUMNS: &str = "id, rule_id, creator_id, discount_code, payload, created_at, month, tier";

#[derive(sqlx::FromRow)]
struct FulfillmentRow {
    id: FulfillmentId,
    rule_id: RuleId,
    creator_id: CreatorId,
    discount_code: Option<String>,
    payload: String,
    created_at: i64,
    month: Option<String>,
    tier: Option<i64>,
}

impl TryFrom<FulfillmentRow> for Fulfillment {
    type Error = Error;
    fn try_from(r: FulfillmentRow) -> Result<Self> {
        Ok(Fulfillment {
            payload: RawValue::from_string(r.payload)?,
            id: r.id,
            rule_id: r.rule_id,
            creator_id: r.creator_id,
            discount_code: r.discount_code,
            created_at: from_micros(r.created_at),
            month: r
                .month
                .map(|m| Month::parse(&m).map_err(|e| Error::Corrupt(e.to_string())))
                .transpose()?,
            tier: r
                .tier
                .map(|t| u8::try_from(t).map_err(|_| Error::Corrupt(format!("tier {t}"))))
                .transpose()?,
        })
    }
}

/// How many rewards each of `rules` has granted, in one statement for the page (each count is
/// read from the `(rule_id, id)` index).
pub(super) async fn granted(db: &Db, rules: &[&RuleId]) -> Result<HashMap<RuleId, u64>> {
    let counts: Vec<(RuleId, i64)> = db
        .fetch_all(
            Statement::new("SELECT rule_id, COUNT(*) FROM fulfillments WHERE rule_id")
                .any_of(rules)
                .push(" GROUP BY rule_id"),
        )
        .await?;
    let mut granted: HashMap<RuleId, u64> = rules.iter().map(|r| ((*r).clone(), 0)).collect();
    for (rule, n) in counts {
        granted.insert(rule, u64::try_from(n).unwrap_or(0));
    }
    Ok(granted)
}

pub(super) async fn get(db: &Db, id: &FulfillmentId) -> Result<Fulfillment> {
    db.fetch_optional::<FulfillmentRow>(
        Statement::new(format!("SELECT {COLUMNS} FROM fulfillments WHERE id = $1")).bind(id),
    )
    .await?
    .ok_or(Error::NotFound("fulfillment"))?
    .try_into()
}

pub(super) async fn list(
    db: &Db,
    filter: &FulfillmentFilter,
    page: &PageRequest,
) -> Result<Page<Fulfillment>> {
    let select = format!("SELECT {COLUMNS} FROM fulfillments WHERE 1 = 1");
    let query = PageQuery::new(select, "id")
        .equal("creator_id", filter.creator_id.as_ref())
        .equal("rule_id", filter.rule_id.as_ref());
    list_page::<FulfillmentRow, _>(db, query, page).await
}
