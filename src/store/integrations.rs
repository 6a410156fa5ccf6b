//! Integrations: the receivers rewards are sent to.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::backend::{is_deadlock, Conn, Db};
use super::config;
use super::db::Purpose;
use super::health;
use super::page::{list_page, PageQuery};
use super::sql::rows::{IntegrationRow, INTEGRATION_COLUMNS};
use super::sql::Statement;
use crate::domain::time::{from_micros, now, to_micros};
use crate::domain::{
    AuthHeader, AuthPrefix, DeliveryStatus, EventTypes, Integration, IntegrationId,
    IntegrationLimits, IntegrationPatch, Name, NewIntegration, Page, PageRequest, PayloadFormat,
    Secret, SecretRotation, SendTarget, WebhookUrl,
};
use crate::error::{Error, Result};

/// What the dispatcher needs to know of the integrations: which take sends, which are paused
/// (their queued deliveries wait) and which were deleted lately (nothing of theirs is sent).
#[derive(Debug, Default, Clone)]
pub struct IntegrationStates {
    pub active: Vec<IntegrationId>,
    pub paused: Vec<IntegrationId>,
    pub deleted: Vec<IntegrationId>,
    /// The limits of those that set any.
    pub limits: HashMap<IntegrationId, IntegrationLimits>,
}

pub(super) async fn states(db: &Db, deleted_within: Duration) -> Result<IntegrationStates> {
    let window = chrono::Duration::from_std(deleted_within).unwrap_or(chrono::Duration::MAX);
    let deleted_since = now()
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    type StateRow = (IntegrationId, i64, i64, Option<i64>, Option<i64>);
    let rows: Vec<StateRow> = db
        .fetch_all(
            Statement::new(
                "SELECT id, active, deleted, max_concurrency, max_per_second FROM integrations
                 WHERE deleted = 0 OR updated_at >= $1",
            )
            .bind(to_micros(deleted_since)),
        )
        .await?;
    let mut states = IntegrationStates::default();
    for (id, active, deleted, max_concurrency, max_per_second) in rows {
        let limits = IntegrationLimits {
            max_concurrency: max_concurrency.and_then(|n| u32::try_from(n).ok()),
            max_per_second: max_per_second.and_then(|n| u32::try_from(n).ok()),
        };
        if limits != IntegrationLimits::default() {
            states.limits.insert(id.clone(), limits);
        }
        match (active != 0, deleted != 0) {
            (_, true) => states.deleted.push(id),
            (true, false) => states.active.push(id),
            (false, false) => states.paused.push(id),
        }
    }
    Ok(states)
}

pub(super) async fn create(db: &Db, new: NewIntegration) -> Result<IntegrationId> {
    let id = IntegrationId::generate();
    let insert = Statement::new(
        "INSERT INTO integrations (id, name, url, api_key, auth_header, auth_prefix, signing_secret,
                                   active, payload_format, max_concurrency, max_per_second,
                                   created_at, updated_at, event_types)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $11, $12, $9, $9, $13)",
    )
    .bind(&id)
    .bind(new.name.as_str())
    .bind(new.url.as_str())
    .bind(new.api_key.expose())
    .bind(new.auth_header.into_inner())
    .bind(new.auth_prefix.into_inner())
    .bind(new.signing_secret.as_ref().map(Secret::expose))
    .bind(new.active)
    .bind(to_micros(now()))
    .bind(new.payload_format.as_str())
    .bind(new.limits.max_concurrency.map(i64::from))
    .bind(new.limits.max_per_second.map(i64::from))
    .bind(new.event_types.to_json());
    config::change(db, insert).await?;
    Ok(id)
}

async fn row(db: &Db, id: &IntegrationId) -> Result<IntegrationRow> {
    db.fetch_optional(
        Statement::new(format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = $1 AND deleted = 0"
        ))
        .bind(id),
    )
    .await?
    .ok_or(Error::NotFound("integration"))
}

pub(super) async fn get(db: &Db, id: &IntegrationId) -> Result<Integration> {
    let mut integration = Integration::from(row(db, id).await?);
    if let Some(health) = health::of(db, &[id]).await?.remove(id) {
        integration.health = health;
    }
    Ok(integration)
}

/// The integration with its secrets, for sending, and the body format it takes.
pub(super) async fn send_target(
    db: &Db,
    id: &IntegrationId,
) -> Result<(SendTarget, PayloadFormat)> {
    let r = row(db, id).await?;
    let format = r.format();
    Ok((r.target.into_target(r.id), format))
}

pub(super) async fn list(db: &Db, page: &PageRequest) -> Result<Page<Integration>> {
    let select = format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE deleted = 0");
    let mut page =
        list_page::<IntegrationRow, Integration>(db, PageQuery::new(select, "id"), page).await?;
    let ids: Vec<&IntegrationId> = page.items.iter().map(|i| &i.id).collect();
    let mut health = health::of(db, &ids).await?;
    for integration in &mut page.items {
        if let Some(h) = health.remove(&integration.id) {
            integration.health = h;
        }
    }
    Ok(page)
}

/// Changes the fields `patch` gives, in one transaction with the config version's bump.
pub(super) async fn update(db: &Db, id: &IntegrationId, patch: IntegrationPatch) -> Result<()> {
    let mut tx = db.begin_write(Purpose::Config).await?;
    let mut conn = tx.conn();
    if patch.active == Some(true) {
        // Re-enabled after an automatic disable: its run of failures starts afresh, or the
        // next failure alone would disable it again.
        conn.execute(
            Statement::new(
                "UPDATE integration_health SET consecutive_failures = 0, failing_since = NULL
                 WHERE integration_id = $1 AND integration_id IN
                    (SELECT id FROM integrations WHERE id = $1 AND disabled_reason IS NOT NULL)",
            )
            .bind(id),
        )
        .await?;
    }
    let secret_given = patch.signing_secret.is_some();
    let secret = patch.signing_secret.flatten();
    let update = Statement::new(
        "UPDATE integrations SET
            name = COALESCE($2, name),
            url = COALESCE($3, url),
            api_key = COALESCE($4, api_key),
            auth_header = COALESCE($5, auth_header),
            auth_prefix = COALESCE($6, auth_prefix),
            signing_secret = CASE WHEN $7 = 1 THEN $8 ELSE signing_secret END,
            previous_signing_secret = CASE WHEN $7 = 1 THEN NULL ELSE previous_signing_secret END,
            previous_secret_expires_at =
                CASE WHEN $7 = 1 THEN NULL ELSE previous_secret_expires_at END,
            active = COALESCE($9, active),
            payload_format = COALESCE($11, payload_format),
            max_concurrency = CASE WHEN $12 = 1 THEN $13 ELSE max_concurrency END,
            max_per_second = CASE WHEN $14 = 1 THEN $15 ELSE max_per_second END,
            disabled_reason = CASE WHEN $9 IS NULL THEN disabled_reason END,
            disabled_at = CASE WHEN $9 IS NULL THEN disabled_at END,
            event_types = COALESCE($16, event_types),
            updated_at = $10
         WHERE id = $1 AND deleted = 0",
    )
    .bind(id)
    .bind(patch.name.map(Name::into_inner))
    .bind(patch.url.as_ref().map(WebhookUrl::as_str))
    .bind(patch.api_key.as_ref().map(Secret::expose))
    .bind(patch.auth_header.map(AuthHeader::into_inner))
    .bind(patch.auth_prefix.map(AuthPrefix::into_inner))
    .bind(secret_given)
    .bind(secret.as_ref().map(Secret::expose))
    .bind(patch.active)
    .bind(to_micros(now()))
    .bind(patch.payload_format.map(PayloadFormat::as_str))
    .bind(patch.max_concurrency.is_some())
    .bind(patch.max_concurrency.flatten().map(i64::from))
    .bind(patch.max_per_second.is_some())
    .bind(patch.max_per_second.flatten().map(i64::from))
    .bind(patch.event_types.as_ref().map(EventTypes::to_json));
    if conn.execute(update).await? == 0 {
        tx.rollback().await?;
        return Err(Error::NotFound("integration"));
    }
    config::bump(&mut conn).await?;
    tx.commit().await
}

/// Rotates the signing secret: the current one (if any) becomes the previous one, signed with
/// as well until the grace period ends; a previous one still in its grace is dropped. With no
/// grace the old secret is not kept at all. Returns when the replaced secret expires, `None` if
/// the integration had no secret. Like every change of integrations it bumps the config
/// version, so the dispatcher's cached targets carry the new secrets: no read per attempt.
pub(super) async fn rotate_secret(
    db: &Db,
    id: &IntegrationId,
    rotation: SecretRotation,
) -> Result<Option<DateTime<Utc>>> {
    let mut tx = db.begin_write(Purpose::Config).await?;
    let mut conn = tx.conn();
    let at = to_micros(rotation.at);
    let expires = to_micros(rotation.previous_expires_at());
    // Every right-hand side reads the row as it was before this statement.
    let update = Statement::new(
        "UPDATE integrations SET
            previous_signing_secret = CASE WHEN $4 > $3 THEN signing_secret END,
            previous_secret_expires_at = CASE WHEN signing_secret IS NOT NULL THEN $4 END,
            signing_secret = $2,
            signing_secret_rotated_at = $3,
            updated_at = $5
         WHERE id = $1 AND deleted = 0",
    )
    .bind(id)
    .bind(rotation.new_secret.expose())
    .bind(at)
    .bind(expires)
    .bind(to_micros(now()));
    if conn.execute(update).await? == 0 {
        tx.rollback().await?;
        return Err(Error::NotFound("integration"));
    }
    let (expires_at,): (Option<i64>,) = conn
        .fetch_one(
            Statement::new("SELECT previous_secret_expires_at FROM integrations WHERE id = $1")
                .bind(id),
        )
        .await?;
    config::bump(&mut conn).await?;
    tx.commit().await?;
    Ok(expires_at.map(from_micros))
}

/// Hides the integration, settles its pending deliveries as failed (the log stays) and takes
/// it out of the rules that name it.
pub(super) async fn delete(db: &Db, id: &IntegrationId) -> Result<()> {
    retry_deadlocks(|| try_delete(db, id)).await
}

async fn try_delete(db: &Db, id: &IntegrationId) -> Result<()> {
    let mut tx = db.begin_write(Purpose::Config).await?;
    let mut conn = tx.conn();
    let done = conn
        .execute(
            Statement::new(
                "UPDATE integrations SET deleted = 1, active = 0, updated_at = $2
                 WHERE id = $1 AND deleted = 0",
            )
            .bind(id)
            .bind(to_micros(now())),
        )
        .await?;
    if done == 0 {
        return Err(Error::NotFound("integration"));
    }
    // In id order, as the dispatcher's result batches lock them: fewer deadlocks to retry.
    conn.execute(
        Statement::new(
            "SELECT id FROM deliveries
             WHERE id IN (SELECT delivery_id FROM delivery_queue WHERE integration_id = $1)
             ORDER BY id",
        )
        .bind(id)
        .for_update(),
    )
    .await?;
    conn.execute(
        Statement::new(
            "UPDATE deliveries SET status = $2, next_attempt_at = NULL, last_error = 'integration deleted'
             WHERE id IN (SELECT delivery_id FROM delivery_queue WHERE integration_id = $1)",
        )
        .bind(id)
        .bind(DeliveryStatus::Failed.as_str()),
    )
    .await?;
    conn.execute(
        Statement::new(
            "INSERT INTO failed_deliveries (delivery_id)
             SELECT delivery_id FROM delivery_queue WHERE integration_id = $1
             ON CONFLICT DO NOTHING",
        )
        .bind(id),
    )
    .await?;
    conn.execute(Statement::new("DELETE FROM delivery_queue WHERE integration_id = $1").bind(id))
        .await?;
    forget_in_rules(&mut conn, id).await?;
    config::bump(&mut conn).await?;
    tx.commit().await
}

/// Takes a deleted integration's id out of every rule that names it. A rule left with an empty
/// list sends to no integration: it is not widened to all of them.
async fn forget_in_rules(conn: &mut Conn<'_>, id: &IntegrationId) -> Result<()> {
    // Ids are UUIDs: `"<id>"` occurs in a rule's JSON list only as that id. The rows are
    // locked: a PATCH of the same list meanwhile is not overwritten with the list read here.
    let naming: Vec<(String, String)> = conn
        .fetch_all(
            Statement::new(
                "SELECT id, integration_ids FROM rules WHERE deleted = 0 AND integration_ids LIKE $1",
            )
            .bind(format!("%\"{id}\"%"))
            .for_update(),
        )
        .await?;
    let at = to_micros(now());
    for (rule_id, ids) in naming {
        let mut ids: Vec<IntegrationId> = serde_json::from_str(&ids)?;
        ids.retain(|i| i != id);
        conn.execute(
            Statement::new("UPDATE rules SET integration_ids = $2, updated_at = $3 WHERE id = $1")
                .bind(rule_id)
                .bind(serde_json::to_string(&ids)?)
                .bind(at),
        )
        .await?;
    }
    Ok(())
}

/// Runs `attempt` again, a few times, when the database broke a deadlock by failing it: a
/// transaction over many rows (deleting an integration settles all its pending deliveries) can
/// cross the dispatcher's batches of results, which lock some of the same rows.
async fn retry_deadlocks<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    const TRIES: u32 = 5;
    let mut tried = 1;
    loop {
        match attempt().await {
            Err(e) if tried < TRIES && is_deadlock(&e) => {
                tokio::time::sleep(Duration::from_millis(10 * u64::from(tried))).await;
                tried += 1;
            }
            done => return done,
        }
    }
}
