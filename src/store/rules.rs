//! Rules: what earns a reward, and where it is sent.

use super::backend::{Conn, Db};
use super::config;
use super::db::Purpose;
use super::page::{list_page, PageQuery};
use super::sql::rows::{RuleRow, RULE_COLUMNS};
use super::sql::Statement;
use crate::domain::time::{now, to_micros};
use crate::domain::{
    IntegrationId, Invalid, NewRule, Page, PageRequest, Problem, ProgramId, Rule, RuleId, RulePatch,
};
use crate::error::{Conflict, Error, Result};

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

pub(super) async fn create(db: &Db, new: NewRule) -> Result<Rule> {
    let id = RuleId::generate();
    let mut tx = db.begin_write(Purpose::Config).await?;
    let mut conn = tx.conn();
    if let Some(ids) = &new.integration_ids {
        refuse_unknown_integrations(&mut conn, ids).await?;
    }
    if let Some(program) = &new.options.program_id {
        refuse_unknown_program(&mut conn, program).await?;
    }
    let options = &new.options;
    let insert = Statement::new(format!(
        "INSERT INTO rules ({RULE_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $21)
         RETURNING {RULE_COLUMNS}"
    ))
    .bind(&id)
    .bind(new.name.as_str())
    .bind(json(&new.post_types)?)
    .bind(new.platforms.as_ref().map(json).transpose()?)
    // A monthly rule has no count or reward of its own (its tiers do): placeholders, never read.
    .bind(i64::from(new.count.unwrap_or(0)))
    .bind(new.window_days.map(i64::from))
    .bind(new.repeatable)
    .bind(json(&new.reward)?)
    .bind(new.integration_ids.as_ref().map(json).transpose()?)
    .bind(new.active)
    .bind(to_micros(new.created_at))
    .bind(options.program_id.as_ref())
    .bind(options.buffer_days.map(i64::from))
    .bind(options.fulfillment_limit.map(i64::from))
    .bind(options.timeframe_days.map(i64::from))
    .bind(json(&options.segments)?)
    .bind(options.min_followers.map(i64::from))
    .bind(json(&options.media_types)?)
    .bind(new.schedule.as_str())
    .bind(new.tiers.as_ref().map(json).transpose()?)
    .bind(new.time_zone.map(|z| z.as_str()));
    let row: RuleRow = conn.fetch_one(insert).await?;
    config::bump(&mut conn).await?;
    tx.commit().await?;
    row.try_into()
}

pub(super) async fn get(db: &Db, id: &RuleId) -> Result<Rule> {
    db.fetch_optional::<RuleRow>(
        Statement::new(format!(
            "SELECT {RULE_COLUMNS} FROM rules WHERE id = $1 AND deleted = 0"
        ))
        .bind(id),
    )
    .await?
    .ok_or(Error::NotFound("rule"))?
    .try_into()
}

pub(super) async fn list(db: &Db, page: &PageRequest) -> Result<Page<Rule>> {
    let select = format!("SELECT {RULE_COLUMNS} FROM rules WHERE deleted = 0");
    list_page::<RuleRow, _>(db, PageQuery::new(select, "id"), page).await
}

/// Changes the fields `patch` gives, in one statement: what it leaves out is not read and
/// written back, so concurrent patches of different fields all take effect. The rule as
/// changed must still hold together (a limit on a rule earned once, a timeframe without a
/// program): else nothing changes.
pub(super) async fn update(db: &Db, id: &RuleId, patch: RulePatch) -> Result<Rule> {
    let mut tx = db.begin_write(Purpose::Config).await?;
    let mut conn = tx.conn();
    if let Some(Some(ids)) = &patch.integration_ids {
        refuse_unknown_integrations(&mut conn, ids).await?;
    }
    let options = &patch.options;
    if let Some(Some(program)) = &options.program_id {
        refuse_unknown_program(&mut conn, program).await?;
    }
    // A nullable field: whether the patch gives it, and its new value (maybe null).
    let given = |v: Option<Option<String>>| (v.is_some(), v.flatten());
    let (platforms_given, platforms) = given(
        patch
            .platforms
            .map(|p| p.as_ref().map(json).transpose())
            .transpose()?,
    );
    let (ids_given, ids) = given(
        patch
            .integration_ids
            .map(|i| i.as_ref().map(json).transpose())
            .transpose()?,
    );
    let update = Statement::new(format!(
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
            updated_at = $14,
            program_id = CASE WHEN $15 = 1 THEN $16 ELSE program_id END,
            buffer_days = CASE WHEN $17 = 1 THEN $18 ELSE buffer_days END,
            fulfillment_limit = CASE WHEN $19 = 1 THEN $20 ELSE fulfillment_limit END,
            timeframe_days = CASE WHEN $21 = 1 THEN $22 ELSE timeframe_days END,
            segments = COALESCE($23, segments),
            min_followers = CASE WHEN $24 = 1 THEN $25 ELSE min_followers END,
            media_types = COALESCE($26, media_types),
            tiers = COALESCE($27, tiers),
            time_zone = CASE WHEN $28 = 1 THEN $29 ELSE time_zone END
         WHERE id = $1 AND deleted = 0
         RETURNING {RULE_COLUMNS}"
    ))
    .bind(id)
    .bind(patch.name.as_ref().map(|n| n.as_str()))
    .bind(patch.post_types.as_ref().map(json).transpose()?)
    .bind(platforms_given)
    .bind(platforms)
    .bind(patch.count.map(i64::from))
    .bind(patch.window_days.is_some())
    .bind(patch.window_days.flatten().map(i64::from))
    .bind(patch.repeatable)
    .bind(patch.reward.as_ref().map(json).transpose()?)
    .bind(ids_given)
    .bind(ids)
    .bind(patch.active)
    .bind(to_micros(now()))
    .bind(options.program_id.is_some())
    .bind(options.program_id.as_ref().and_then(Option::as_ref))
    .bind(options.buffer_days.is_some())
    .bind(options.buffer_days.flatten().map(i64::from))
    .bind(options.fulfillment_limit.is_some())
    .bind(options.fulfillment_limit.flatten().map(i64::from))
    .bind(options.timeframe_days.is_some())
    .bind(options.timeframe_days.flatten().map(i64::from))
    .bind(options.segments.as_ref().map(json).transpose()?)
    .bind(options.min_followers.is_some())
    .bind(options.min_followers.flatten().map(i64::from))
    .bind(options.media_types.as_ref().map(json).transpose()?)
    .bind(patch.tiers.as_ref().map(json).transpose()?)
    .bind(patch.time_zone.is_some())
    .bind(patch.time_zone.flatten().map(|z| z.as_str()));
    let row: RuleRow = conn
        .fetch_optional(update)
        .await?
        .ok_or(Error::NotFound("rule"))?;
    let rule = Rule::try_from(row)?;
    if matches!(options.fulfillment_limit, Some(Some(_))) {
        count_rewards_so_far(&mut conn, id).await?;
    }
    // Checked on the rule as changed (concurrent patches included): what it refuses depends on
    // the stored rule, a 409; the transaction rolls back and nothing changes.
    rule.options
        .check(rule.repeatable)
        .map_err(Conflict::RuleOptions)?;
    config::bump(&mut conn).await?;
    tx.commit().await?;
    Ok(rule)
}

/// A rule where every post earned at once kept no count of its rewards; given a Fulfillment
/// Limit, it counts them from now on, starting from the fulfillments it granted so far.
async fn count_rewards_so_far(conn: &mut Conn<'_>, rule: &RuleId) -> Result<()> {
    conn.execute(
        Statement::new(
            "INSERT INTO rule_progress (rule_id, creator_id, rewarded)
             SELECT rule_id, creator_id, COUNT(*) FROM fulfillments WHERE rule_id = $1
             GROUP BY rule_id, creator_id
             ON CONFLICT (rule_id, creator_id) DO UPDATE SET rewarded = CASE
                WHEN excluded.rewarded > rule_progress.rewarded THEN excluded.rewarded
                ELSE rule_progress.rewarded END",
        )
        .bind(rule),
    )
    .await?;
    Ok(())
}

/// Refuses a program id that names no live program, inside the write that stores it, the
/// program read for share (PostgreSQL): a program deleted meanwhile waits for this write and
/// then finds the rule naming it (409), or is refused here.
async fn refuse_unknown_program(conn: &mut Conn<'_>, id: &ProgramId) -> Result<()> {
    let known: Option<(ProgramId,)> = conn
        .fetch_optional(
            Statement::new("SELECT id FROM programs WHERE deleted = 0 AND id = $1")
                .bind(id)
                .for_share(),
        )
        .await?;
    if known.is_none() {
        return Err(
            Invalid::new(Problem::UnknownProgram, format!("no program with id {id}")).into(),
        );
    }
    Ok(())
}

/// Hides the rule; its fulfillments stay readable.
pub(super) async fn delete(db: &Db, id: &RuleId) -> Result<()> {
    let delete = Statement::new(
        "UPDATE rules SET deleted = 1, active = 0, updated_at = $2 WHERE id = $1 AND deleted = 0",
    )
    .bind(id)
    .bind(to_micros(now()));
    if config::change(db, delete).await? == 0 {
        return Err(Error::NotFound("rule"));
    }
    Ok(())
}

/// Refuses ids that name no live integration. Inside the write that stores them, with the
/// integrations read for share (PostgreSQL), so an integration deleted meanwhile either waits
/// for this write (and then takes its id out of the rule) or is refused here.
async fn refuse_unknown_integrations(conn: &mut Conn<'_>, ids: &[IntegrationId]) -> Result<()> {
    let known: Vec<(IntegrationId,)> = conn
        .fetch_all(
            Statement::new("SELECT id FROM integrations WHERE deleted = 0 AND id")
                .any_of(ids)
                .for_share(),
        )
        .await?;
    let known: std::collections::HashSet<IntegrationId> =
        known.into_iter().map(|(id,)| id).collect();
    let mut unknown: Vec<String> = ids
        .iter()
        .filter(|id| !known.contains(id))
        .map(ToString::to_string)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    unknown.dedup();
    Err(Invalid::new(
        Problem::UnknownIntegration,
        format!("no integration with id {}", unknown.join(", ")),
    )
    .into())
}
