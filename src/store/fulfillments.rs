use std::collections::HashMap;

use serde_json::value::RawValue;

use super::page::PageQuery;
use super::Store;
use crate::domain::time::from_micros;
use crate::domain::{
    CreatorId, Fulfillment, FulfillmentFilter, FulfillmentId, Page, PageRequest, RuleId,
};
use crate::error::{Error, Result};

const COLUMNS: &str = "id, rule_id, creator_id, discount_code, payload, created_at";

#[derive(sqlx::FromRow)]
struct FulfillmentRow {
    id: FulfillmentId,
    rule_id: RuleId,
    creator_id: CreatorId,
    discount_code: Option<String>,
    payload: String,
    created_at: i64,
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
        })
    }
}

impl Store {
    /// How many rewards each of `rules` has granted (an index count per rule).
    pub async fn rewards_granted(&self, rules: &[&RuleId]) -> Result<HashMap<RuleId, u64>> {
        let mut granted = HashMap::new();
        for rule in rules {
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM fulfillments WHERE rule_id = $1")
                    .bind(*rule)
                    .fetch_one(&self.pool)
                    .await?;
            granted.insert((*rule).clone(), u64::try_from(n).unwrap_or(0));
        }
        Ok(granted)
    }

    pub async fn fulfillment(&self, id: &FulfillmentId) -> Result<Fulfillment> {
        sqlx::query_as::<_, FulfillmentRow>(&format!(
            "SELECT {COLUMNS} FROM fulfillments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("fulfillment"))?
        .try_into()
    }

    pub async fn list_fulfillments(
        &self,
        filter: &FulfillmentFilter,
        page: &PageRequest,
    ) -> Result<Page<Fulfillment>> {
        let select = format!("SELECT {COLUMNS} FROM fulfillments WHERE 1 = 1");
        let query = PageQuery::new(&select, "id")
            .equal(
                "creator_id",
                filter.creator_id.as_ref().map(CreatorId::as_str),
            )
            .equal("rule_id", filter.rule_id.as_ref().map(RuleId::as_str));
        self.list_page::<FulfillmentRow, _>(query, page).await
    }
}
