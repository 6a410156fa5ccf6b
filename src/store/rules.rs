use super::rows::RuleRow;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use super::{flag, placeholders, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{new_id, NewRule, Page, PageRequest, Rule};
use crate::error::{Error, Result};

pub(super) const COLUMNS: &str =
    "id, name, post_types, platforms, count, window_days, repeatable, reward, \
     integration_ids, active, created_at, updated_at";

impl Store {
    pub async fn create_rule(&self, new: NewRule) -> Result<Rule> {
        let at = now();
        let rule = Rule {
            id: new_id(),
            name: new.name,
            post_types: new.post_types,
            platforms: new.platforms,
            count: new.count,
            window_days: new.window_days,
            repeatable: new.repeatable,
            reward: new.reward,
            integration_ids: new.integration_ids,
            active: new.active,
            created_at: at,
            updated_at: at,
        };
        let values = placeholders(0, 12);
        let sql = format!("INSERT INTO rules ({COLUMNS}) VALUES ({values})");
        let insert = bind_rule(sqlx::query(&sql), &rule)?;
        self.execute_write("config", insert).await?;
        self.rule(&rule.id).await
    }

    pub async fn rule(&self, id: &str) -> Result<Rule> {
        sqlx::query_as::<_, RuleRow>(&format!(
            "SELECT {COLUMNS} FROM rules WHERE id = $1 AND deleted = 0"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("rule"))?
        .try_into()
    }

    pub async fn list_rules(&self, page: &PageRequest) -> Result<Page<Rule>> {
        let select = format!("SELECT {COLUMNS} FROM rules WHERE deleted = 0");
        self.list_page::<RuleRow, _>(&select, "id", &[], page).await
    }

    /// Stores every field of `rule` (read, patched and validated by the caller).
    pub async fn update_rule(&self, rule: &Rule) -> Result<Rule> {
        let updated = Rule {
            updated_at: now(),
            ..rule.clone()
        };
        let sql = "UPDATE rules SET name = $2, post_types = $3, platforms = $4, count = $5, window_days = $6,
                repeatable = $7, reward = $8, integration_ids = $9, active = $10, created_at = $11, updated_at = $12
             WHERE id = $1 AND deleted = 0";
        let update = bind_rule(sqlx::query(sql), &updated)?;
        let done = self.execute_write("config", update).await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("rule"));
        }
        self.rule(&rule.id).await
    }

    /// Hides the rule; its fulfillments stay readable.
    pub async fn delete_rule(&self, id: &str) -> Result<()> {
        let delete = sqlx::query("UPDATE rules SET deleted = 1, active = 0, updated_at = $2 WHERE id = $1 AND deleted = 0")
            .bind(id)
            .bind(to_micros(now()));
        let done = self.execute_write("config", delete).await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("rule"));
        }
        Ok(())
    }
}

/// Binds a rule's columns in [`COLUMNS`] order, as `$1` to `$12`.
fn bind_rule<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    rule: &Rule,
) -> Result<Query<'q, Any, AnyArguments<'q>>> {
    Ok(query
        .bind(rule.id.clone())
        .bind(rule.name.clone())
        .bind(serde_json::to_string(&rule.post_types)?)
        .bind(
            rule.platforms
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        )
        .bind(i64::from(rule.count))
        .bind(rule.window_days.map(i64::from))
        .bind(flag(rule.repeatable))
        .bind(serde_json::to_string(&rule.reward)?)
        .bind(
            rule.integration_ids
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        )
        .bind(flag(rule.active))
        .bind(to_micros(rule.created_at))
        .bind(to_micros(rule.updated_at)))
}
