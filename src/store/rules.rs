use sqlx::AnyConnection;

use super::page::PageQuery;
use super::rows::RuleRow;
use super::{config, flag, Dialect, Purpose, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{
    IntegrationId, Invalid, NewRule, Page, PageRequest, Problem, Rule, RuleId, RulePatch,
};
use crate::error::{Error, Result};

pub(super) const COLUMNS: &str =
    "id, name, post_types, platforms, count, window_days, repeatable, reward, \
     integration_ids, active, created_at, updated_at";

impl Store {
    pub async fn create_rule(&self, new: NewRule) -> Result<Rule> {
        let id = RuleId::generate();
        let at = to_micros(now());
        let mut tx = self.begin_write(Purpose::Config).await?;
        if let Some(ids) = &new.integration_ids {
            refuse_unknown_integrations(&mut tx, self.dialect, ids).await?;
        }
        let row: RuleRow = sqlx::query_as(&format!(
            "INSERT INTO rules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
             RETURNING {COLUMNS}"
        ))
        .bind(&id)
        .bind(new.name.as_str())
        .bind(serde_json::to_string(&new.post_types)?)
        .bind(new.platforms.as_ref().map(serde_json::to_string).transpose()?)
        .bind(i64::from(new.count))
        .bind(new.window_days.map(i64::from))
        .bind(flag(new.repeatable))
        .bind(serde_json::to_string(&new.reward)?)
        .bind(new.integration_ids.as_ref().map(serde_json::to_string).transpose()?)
        .bind(flag(new.active))
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        config::bump(&mut tx).await?;
        tx.commit().await?;
        row.try_into()
    }

    pub async fn rule(&self, id: &RuleId) -> Result<Rule> {
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
        self.list_page::<RuleRow, _>(PageQuery::new(&select, "id"), page)
            .await
    }

    /// Changes the fields `patch` gives, in one statement: what it leaves out is not read and
    /// written back, so concurrent patches of different fields all take effect.
    pub async fn update_rule(&self, id: &RuleId, patch: RulePatch) -> Result<Rule> {
        let mut tx = self.begin_write(Purpose::Config).await?;
        if let Some(Some(ids)) = &patch.integration_ids {
            refuse_unknown_integrations(&mut tx, self.dialect, ids).await?;
        }
        let json = |v: Option<Option<String>>| (flag(v.is_some()), v.flatten());
        let (platforms_given, platforms) = json(
            patch
                .platforms
                .map(|p| p.as_ref().map(serde_json::to_string).transpose())
                .transpose()?,
        );
        let (ids_given, ids) = json(
            patch
                .integration_ids
                .map(|i| i.as_ref().map(serde_json::to_string).transpose())
                .transpose()?,
        );
        let window_given = flag(patch.window_days.is_some());
        let row: Option<RuleRow> = sqlx::query_as(&format!(
            "UPDATE rules SET
                name = COALESCE($2, name),
                post_types = COALESCE($3, post_types),
                platforms = CASE WHEN $4 = 1 THEN $5 ELSE platforms END,
                count = COALESCE($6, count),
                window_days = CASE WHEN $7 = 1 THEN $8 ELSE window_days END,
                repeatable = COALESCE($9, repeatable),
                reward = COALESCE($10, reward),
                integration_ids = CASE WHEN $11 = 1 THEN $12 ELSE integration_ids END,
                active = COALESCE($13, active),
                updated_at = $14
             WHERE id = $1 AND deleted = 0
             RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(patch.name.as_ref().map(|n| n.as_str()))
        .bind(
            patch
                .post_types
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        )
        .bind(platforms_given)
        .bind(platforms)
        .bind(patch.count.map(i64::from))
        .bind(window_given)
        .bind(patch.window_days.flatten().map(i64::from))
        .bind(patch.repeatable.map(flag))
        .bind(
            patch
                .reward
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        )
        .bind(ids_given)
        .bind(ids)
        .bind(patch.active.map(flag))
        .bind(to_micros(now()))
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.ok_or(Error::NotFound("rule"))?;
        config::bump(&mut tx).await?;
        tx.commit().await?;
        row.try_into()
    }

    /// Hides the rule; its fulfillments stay readable.
    pub async fn delete_rule(&self, id: &RuleId) -> Result<()> {
        let delete = sqlx::query("UPDATE rules SET deleted = 1, active = 0, updated_at = $2 WHERE id = $1 AND deleted = 0")
            .bind(id)
            .bind(to_micros(now()));
        let done = self.change_config(delete).await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("rule"));
        }
        Ok(())
    }
}

/// Refuses ids that name no live integration. Inside the write that stores them, with the
/// integrations read for share (PostgreSQL), so an integration deleted meanwhile either waits
/// for this write (and then takes its id out of the rule) or is refused here.
async fn refuse_unknown_integrations(
    conn: &mut AnyConnection,
    dialect: Dialect,
    ids: &[IntegrationId],
) -> Result<()> {
    let unknown = super::missing(
        conn,
        dialect,
        ids,
        "SELECT id FROM integrations WHERE deleted = 0 AND id IN",
        dialect.lock_shared(),
    )
    .await?;
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Invalid::new(
        Problem::UnknownIntegration,
        format!("no integration with id {}", unknown.join(", ")),
    )
    .into())
}
