use std::time::Duration;

use chrono::{DateTime, Utc};

use super::page::PageQuery;
use super::rows::IntegrationRow;
use super::{config, flag, retry_deadlocks, Dialect, Purpose, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{
    AuthHeader, AuthPrefix, DeliveryStatus, Integration, IntegrationId, IntegrationPatch, Name,
    NewIntegration, Page, PageRequest, PayloadFormat, Secret, SendTarget, WebhookUrl,
};
use crate::error::{Error, Result};

pub(super) const COLUMNS: &str =
    "id, name, url, api_key, auth_header, auth_prefix, signing_secret, active, payload_format,
     disabled_reason, disabled_at, created_at, updated_at";

/// What the dispatcher needs to know of the integrations: which take sends, which are paused
/// (their queued deliveries wait) and which were deleted lately (nothing of theirs is sent).
#[derive(Debug, Default, Clone)]
pub struct IntegrationStates {
    pub active: Vec<IntegrationId>,
    pub paused: Vec<IntegrationId>,
    pub deleted: Vec<IntegrationId>,
}

impl Store {
    /// Every live integration by state, and those deleted within `deleted_within`.
    pub async fn integration_states(&self, deleted_within: Duration) -> Result<IntegrationStates> {
        let window = chrono::Duration::from_std(deleted_within).unwrap_or(chrono::Duration::MAX);
        let deleted_since = now()
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let rows: Vec<(IntegrationId, i64, i64)> = sqlx::query_as(
            "SELECT id, active, deleted FROM integrations WHERE deleted = 0 OR updated_at >= $1",
        )
        .bind(to_micros(deleted_since))
        .fetch_all(&self.pool)
        .await?;
        let mut states = IntegrationStates::default();
        for (id, active, deleted) in rows {
            match (active != 0, deleted != 0) {
                (_, true) => states.deleted.push(id),
                (true, false) => states.active.push(id),
                (false, false) => states.paused.push(id),
            }
        }
        Ok(states)
    }

    pub async fn create_integration(&self, new: NewIntegration) -> Result<Integration> {
        let id = IntegrationId::generate();
        let at = to_micros(now());
        let insert = sqlx::query(
            "INSERT INTO integrations (id, name, url, api_key, auth_header, auth_prefix, signing_secret, active, payload_format, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $9, $9)",
        )
        .bind(&id)
        .bind(new.name.as_str())
        .bind(new.url.as_str())
        .bind(new.api_key.expose())
        .bind(new.auth_header.into_inner())
        .bind(new.auth_prefix.into_inner())
        .bind(new.signing_secret.as_ref().map(Secret::expose))
        .bind(flag(new.active))
        .bind(at)
        .bind(new.payload_format.as_str());
        self.change_config(insert).await?;
        self.integration(&id).await
    }

    async fn integration_row(&self, id: &IntegrationId) -> Result<IntegrationRow> {
        sqlx::query_as::<_, IntegrationRow>(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE id = $1 AND deleted = 0"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("integration"))
    }

    pub async fn integration(&self, id: &IntegrationId) -> Result<Integration> {
        let mut integration = Integration::from(self.integration_row(id).await?);
        if let Some(health) = self.health_of(&[id]).await?.remove(id) {
            integration.health = health;
        }
        Ok(integration)
    }

    /// The integration with its secrets, for sending, and the body format it takes.
    pub async fn send_target(&self, id: &IntegrationId) -> Result<(SendTarget, PayloadFormat)> {
        let r = self.integration_row(id).await?;
        let format = r.format();
        let target = SendTarget {
            integration_id: r.id,
            url: r.url,
            auth_header: r.auth_header,
            auth_prefix: r.auth_prefix,
            api_key: Secret::new(r.api_key),
            signing_secret: r.signing_secret.map(Secret::new),
        };
        Ok((target, format))
    }

    pub async fn list_integrations(&self, page: &PageRequest) -> Result<Page<Integration>> {
        let select = format!("SELECT {COLUMNS} FROM integrations WHERE deleted = 0");
        let mut page = self
            .list_page::<IntegrationRow, Integration>(PageQuery::new(&select, "id"), page)
            .await?;
        let ids: Vec<&IntegrationId> = page.items.iter().map(|i| &i.id).collect();
        let mut health = self.health_of(&ids).await?;
        for integration in &mut page.items {
            if let Some(h) = health.remove(&integration.id) {
                integration.health = h;
            }
        }
        Ok(page)
    }

    pub async fn update_integration(
        &self,
        id: &IntegrationId,
        patch: IntegrationPatch,
    ) -> Result<Integration> {
        if patch.active == Some(true) {
            // Re-enabled after an automatic disable: its run of failures starts afresh, or the
            // next failure alone would disable it again.
            let reset = sqlx::query(
                "UPDATE integration_health SET consecutive_failures = 0, failing_since = NULL
                 WHERE integration_id = $1 AND integration_id IN
                    (SELECT id FROM integrations WHERE id = $1 AND disabled_reason IS NOT NULL)",
            )
            .bind(id);
            self.execute_write(Purpose::Config, reset).await?;
        }
        let secret_given = patch.signing_secret.is_some();
        let secret = patch.signing_secret.flatten();
        let update = sqlx::query(
            "UPDATE integrations SET
                name = COALESCE($2, name),
                url = COALESCE($3, url),
                api_key = COALESCE($4, api_key),
                auth_header = COALESCE($5, auth_header),
                auth_prefix = COALESCE($6, auth_prefix),
                signing_secret = CASE WHEN $7 = 1 THEN $8 ELSE signing_secret END,
                active = COALESCE($9, active),
                payload_format = COALESCE($11, payload_format),
                disabled_reason = CASE WHEN $9 IS NULL THEN disabled_reason END,
                disabled_at = CASE WHEN $9 IS NULL THEN disabled_at END,
                updated_at = $10
             WHERE id = $1 AND deleted = 0",
        )
        .bind(id)
        .bind(patch.name.map(Name::into_inner))
        .bind(patch.url.as_ref().map(WebhookUrl::as_str))
        .bind(patch.api_key.as_ref().map(Secret::expose))
        .bind(patch.auth_header.map(AuthHeader::into_inner))
        .bind(patch.auth_prefix.map(AuthPrefix::into_inner))
        .bind(flag(secret_given))
        .bind(secret.as_ref().map(Secret::expose))
        .bind(patch.active.map(flag))
        .bind(to_micros(now()))
        .bind(patch.payload_format.map(PayloadFormat::as_str));
        let done = self.change_config(update).await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("integration"));
        }
        self.integration(id).await
    }

    /// Hides the integration, settles its pending deliveries as failed (the log stays) and takes
    /// it out of the rules that name it.
    pub async fn delete_integration(&self, id: &IntegrationId) -> Result<()> {
        retry_deadlocks(|| self.try_delete_integration(id)).await
    }

    async fn try_delete_integration(&self, id: &IntegrationId) -> Result<()> {
        let mut tx = self.begin_write(Purpose::Config).await?;
        let done = sqlx::query("UPDATE integrations SET deleted = 1, active = 0, updated_at = $2 WHERE id = $1 AND deleted = 0")
            .bind(id)
            .bind(to_micros(now()))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("integration"));
        }
        // In id order, as the dispatcher's result batches lock them: fewer deadlocks to retry.
        sqlx::query(&format!(
            "SELECT id FROM deliveries
             WHERE id IN (SELECT delivery_id FROM delivery_queue WHERE integration_id = $1)
             ORDER BY id {}",
            self.dialect.lock_exclusive()
        ))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET status = $2, next_attempt_at = NULL, last_error = 'integration deleted'
             WHERE id IN (SELECT delivery_id FROM delivery_queue WHERE integration_id = $1)",
        )
        .bind(id)
        .bind(DeliveryStatus::Failed.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO failed_deliveries (delivery_id)
             SELECT delivery_id FROM delivery_queue WHERE integration_id = $1
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM delivery_queue WHERE integration_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        forget_in_rules(&mut tx, self.dialect, id).await?;
        config::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Takes a deleted integration's id out of every rule that names it. A rule left with an empty
/// list sends to no integration: it is not widened to all of them.
async fn forget_in_rules(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    id: &IntegrationId,
) -> Result<()> {
    // Ids are UUIDs: `"<id>"` occurs in a rule's JSON list only as that id. The rows are
    // locked: a PATCH of the same list meanwhile is not overwritten with the list read here.
    let naming: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT id, integration_ids FROM rules WHERE deleted = 0 AND integration_ids LIKE $1 {}",
        dialect.lock_exclusive()
    ))
    .bind(format!("%\"{id}\"%"))
    .fetch_all(&mut *conn)
    .await?;
    let at = to_micros(now());
    for (rule_id, ids) in naming {
        let mut ids: Vec<IntegrationId> = serde_json::from_str(&ids)?;
        ids.retain(|i| i != id);
        sqlx::query("UPDATE rules SET integration_ids = $2, updated_at = $3 WHERE id = $1")
            .bind(rule_id)
            .bind(serde_json::to_string(&ids)?)
            .bind(at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
