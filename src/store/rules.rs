use super::rows::RuleRow;
use super::{flag, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{new_id, NewRule, Page, PageRequest, Rule};
use crate::error::{Error, Result};

pub(super) const COLUMNS: &str =
    "id, name, post_types, platforms, count, window_days, repeatable, reward, \
     integration_ids, active, created_at, updated_at";

impl Store {
    pub async fn create_rule(&self, new: NewRule) -> Result<Rule> {
        let id = new_id();
        sqlx::query(&format!(
            "INSERT INTO rules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
        ))
        .bind(&id)
        .bind(&new.name)
        .bind(serde_json::to_string(&new.post_types)?)
        .bind(new.platforms.as_ref().map(serde_json::to_string).transpose()?)
        .bind(i64::from(new.count))
        .bind(new.window_days.map(i64::from))
        .bind(flag(new.repeatable))
        .bind(serde_json::to_string(&new.reward)?)
        .bind(new.integration_ids.as_ref().map(serde_json::to_string).transpose()?)
        .bind(flag(new.active))
        .bind(to_micros(now()))
        .execute(&self.pool)
        .await?;
        self.rule(&id).await
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
        self.list_page::<RuleRow, _>(&select, &[], page).await
    }

    /// Stores every field of `rule` (read, patched and validated by the caller).
    pub async fn update_rule(&self, rule: &Rule) -> Result<Rule> {
        let id = rule.id.as_str();
        let done = sqlx::query(
            "UPDATE rules SET name = $2, post_types = $3, platforms = $4, count = $5, window_days = $6,
                repeatable = $7, reward = $8, integration_ids = $9, active = $10, updated_at = $11
             WHERE id = $1 AND deleted = 0",
        )
        .bind(id)
        .bind(&rule.name)
        .bind(serde_json::to_string(&rule.post_types)?)
        .bind(rule.platforms.as_ref().map(serde_json::to_string).transpose()?)
        .bind(i64::from(rule.count))
        .bind(rule.window_days.map(i64::from))
        .bind(flag(rule.repeatable))
        .bind(serde_json::to_string(&rule.reward)?)
        .bind(rule.integration_ids.as_ref().map(serde_json::to_string).transpose()?)
        .bind(flag(rule.active))
        .bind(to_micros(now()))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("rule"));
        }
        self.rule(id).await
    }

    /// Hides the rule; its fulfillments stay readable.
    pub async fn delete_rule(&self, id: &str) -> Result<()> {
        let done = sqlx::query("UPDATE rules SET deleted = 1, active = 0, updated_at = $2 WHERE id = $1 AND deleted = 0")
            .bind(id)
            .bind(to_micros(now()))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("rule"));
        }
        Ok(())
    }
}
