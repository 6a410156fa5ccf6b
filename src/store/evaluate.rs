//! Evaluating queued posts against the rules: one transaction claims the posts, counts them,
//! and writes every fulfillment, its deliveries and the counted posts together.

use std::collections::HashMap;

use sqlx::{Any, Transaction};

use super::rows::{CreatorRow, MediaRow, RuleRow};
use super::{placeholders, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{new_id, Creator, Media, Reward, Rule};
use crate::error::{Error, Result};
use crate::payload::Payload;
use crate::rules::{self, Candidate};

/// What one pass over the inbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    pub posts: usize,
    pub fulfillments: usize,
    pub deliveries: usize,
}

impl Store {
    /// Evaluates up to `limit` queued posts. Each post leaves the inbox in the same transaction
    /// that records what it earned, so a post is evaluated exactly once, even across instances.
    pub async fn evaluate_inbox(&self, limit: u32) -> Result<Evaluation> {
        let mut tx = self.pool.begin().await?;
        // The claim is the first statement and a write: on SQLite it takes the write lock at
        // once; on PostgreSQL another instance skips the rows this one holds.
        let claimed: Vec<(String,)> = sqlx::query_as(&format!(
            "DELETE FROM media_inbox WHERE media_id IN
                (SELECT media_id FROM media_inbox ORDER BY media_id LIMIT $1 {})
             RETURNING media_id",
            self.dialect.skip_locked()
        ))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if claimed.is_empty() {
            tx.rollback().await?;
            return Ok(Evaluation::default());
        }
        let ids: Vec<String> = claimed.into_iter().map(|(id,)| id).collect();
        let mut posts = load_media(&mut tx, &ids).await?;
        // A fixed lock order (creator, then rule) keeps concurrent instances from deadlocking.
        posts.sort_by(|a, b| (&a.creator_id, &a.id).cmp(&(&b.creator_id, &b.id)));

        let rules = active_rules(&mut tx).await?;
        let integrations = active_integrations(&mut tx).await?;
        let mut creators: HashMap<String, Creator> = HashMap::new();
        let mut report = Evaluation {
            posts: posts.len(),
            ..Evaluation::default()
        };
        for post in &posts {
            for rule in &rules {
                if !rules::counts(rule, post.post_type, post.platform)
                    || post.ingested_at < rule.created_at
                {
                    continue;
                }
                let creator = match creators.get(&post.creator_id) {
                    Some(c) => c.clone(),
                    None => {
                        let c = load_creator(&mut tx, &post.creator_id).await?;
                        creators.insert(c.id.clone(), c.clone());
                        c
                    }
                };
                let targets = targets(rule, &integrations);
                let (fulfillments, deliveries) =
                    count_post(&mut tx, rule, &creator, post, &targets).await?;
                report.fulfillments += fulfillments;
                report.deliveries += deliveries;
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// Counts `post` toward `rule` and grants whatever that completes. Returns (fulfillments, deliveries).
async fn count_post(
    tx: &mut Transaction<'_, Any>,
    rule: &Rule,
    creator: &Creator,
    post: &Media,
    targets: &[String],
) -> Result<(usize, usize)> {
    // Lock the (rule, creator) row: evaluations of the same pair queue up behind it, so the
    // count below sees every post committed before, whichever instance wrote it.
    sqlx::query(
        "INSERT INTO rule_progress (rule_id, creator_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(&rule.id)
    .bind(&creator.id)
    .execute(&mut **tx)
    .await?;
    let (rewarded,): (i64,) = sqlx::query_as(
        "UPDATE rule_progress SET rewarded = rewarded WHERE rule_id = $1 AND creator_id = $2 RETURNING rewarded",
    )
    .bind(&rule.id)
    .bind(&creator.id)
    .fetch_one(&mut **tx)
    .await?;
    if !rule.repeatable && rewarded > 0 {
        return Ok((0, 0));
    }
    sqlx::query(
        "INSERT INTO rule_posts (rule_id, media_id, creator_id, posted_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&rule.id)
    .bind(&post.id)
    .bind(&creator.id)
    .bind(to_micros(post.posted_at))
    .execute(&mut **tx)
    .await?;
    let pending: Vec<Media> = sqlx::query_as::<_, MediaRow>(
        "SELECT m.id, m.creator_id, m.platform, m.post_type, m.posted_at, m.ingested_at
         FROM rule_posts rp JOIN media m ON m.id = rp.media_id
         WHERE rp.rule_id = $1 AND rp.creator_id = $2 ORDER BY rp.posted_at, rp.media_id",
    )
    .bind(&rule.id)
    .bind(&creator.id)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(Media::try_from)
    .collect::<Result<_>>()?;
    let candidates: Vec<Candidate> = pending
        .iter()
        .map(|m| Candidate {
            media_id: m.id.clone(),
            posted_at: to_micros(m.posted_at),
        })
        .collect();
    let grants_left = (!rule.repeatable).then_some(1);
    let groups = rules::earned_groups(rule, &candidates, grants_left);
    if groups.is_empty() {
        return Ok((0, 0));
    }
    let by_id: HashMap<&str, &Media> = pending.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut deliveries = 0;
    for group in &groups {
        let medias: Vec<Media> = group
            .iter()
            .filter_map(|c| by_id.get(c.media_id.as_str()).map(|m| (*m).clone()))
            .collect();
        deliveries += grant(tx, rule, creator, &medias, targets).await?;
    }
    sqlx::query(
        "UPDATE rule_progress SET rewarded = rewarded + $3 WHERE rule_id = $1 AND creator_id = $2",
    )
    .bind(&rule.id)
    .bind(&creator.id)
    .bind(groups.len() as i64)
    .execute(&mut **tx)
    .await?;
    if !rule.repeatable {
        // The reward is spent: the leftovers can never count.
        sqlx::query("DELETE FROM rule_posts WHERE rule_id = $1 AND creator_id = $2")
            .bind(&rule.id)
            .bind(&creator.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok((groups.len(), deliveries))
}

/// Writes one fulfillment with its payload, marks its posts counted, and queues its deliveries.
async fn grant(
    tx: &mut Transaction<'_, Any>,
    rule: &Rule,
    creator: &Creator,
    medias: &[Media],
    targets: &[String],
) -> Result<usize> {
    let id = new_id();
    let code = match &rule.reward {
        Reward::DiscountCode { code_prefix } => Some(rules::discount_code(code_prefix.as_deref())),
        Reward::None => None,
    };
    let body = Payload::for_fulfillment(&id, creator, code.clone(), medias).to_body()?;
    let at = to_micros(now());
    let once_key = (!rule.repeatable).then(|| format!("{}:{}", rule.id, creator.id));
    sqlx::query(
        "INSERT INTO fulfillments (id, rule_id, creator_id, discount_code, once_key, payload, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&rule.id)
    .bind(&creator.id)
    .bind(&code)
    .bind(&once_key)
    .bind(&body)
    .bind(at)
    .execute(&mut **tx)
    .await?;

    let media_ids: Vec<&str> = medias.iter().map(|m| m.id.as_str()).collect();
    let rows: Vec<String> = (0..media_ids.len())
        .map(|i| format!("($1, $2, {})", placeholders(2 + i, 1)))
        .collect();
    let sql = format!(
        "INSERT INTO fulfillment_media (rule_id, fulfillment_id, media_id) VALUES {}",
        rows.join(", ")
    );
    let mut counted = sqlx::query(&sql).bind(&rule.id).bind(&id);
    for m in &media_ids {
        counted = counted.bind(*m);
    }
    counted.execute(&mut **tx).await?;
    let sql = format!(
        "DELETE FROM rule_posts WHERE rule_id = $1 AND media_id IN ({})",
        placeholders(1, media_ids.len())
    );
    let mut uncount = sqlx::query(&sql).bind(&rule.id);
    for m in &media_ids {
        uncount = uncount.bind(*m);
    }
    uncount.execute(&mut **tx).await?;

    for integration_id in targets {
        let delivery_id = new_id();
        sqlx::query(
            "INSERT INTO deliveries (id, fulfillment_id, integration_id, status, next_attempt_at, created_at)
             VALUES ($1, $2, $3, 'pending', $4, $4)",
        )
        .bind(&delivery_id)
        .bind(&id)
        .bind(integration_id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO delivery_queue (delivery_id, integration_id, due_at) VALUES ($1, $2, $3)",
        )
        .bind(&delivery_id)
        .bind(integration_id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(targets.len())
}

/// The integrations a rule's rewards go to: those it names, or every active one.
fn targets(rule: &Rule, active: &[String]) -> Vec<String> {
    match &rule.integration_ids {
        Some(named) => active
            .iter()
            .filter(|id| named.contains(id))
            .cloned()
            .collect(),
        None => active.to_vec(),
    }
}

async fn load_media(tx: &mut Transaction<'_, Any>, ids: &[String]) -> Result<Vec<Media>> {
    let sql = format!(
        "SELECT id, creator_id, platform, post_type, posted_at, ingested_at FROM media WHERE id IN ({})",
        placeholders(0, ids.len())
    );
    let mut query = sqlx::query_as::<_, MediaRow>(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(Media::try_from)
        .collect()
}

async fn active_rules(tx: &mut Transaction<'_, Any>) -> Result<Vec<Rule>> {
    sqlx::query_as::<_, RuleRow>(&format!(
        "SELECT {} FROM rules WHERE active = 1 AND deleted = 0 ORDER BY id",
        super::rules::COLUMNS
    ))
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(Rule::try_from)
    .collect()
}

async fn active_integrations(tx: &mut Transaction<'_, Any>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM integrations WHERE active = 1 AND deleted = 0 ORDER BY id")
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

async fn load_creator(tx: &mut Transaction<'_, Any>, id: &str) -> Result<Creator> {
    sqlx::query_as::<_, CreatorRow>(
        "SELECT id, email, ig_username, tt_username, created_at FROM creators WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .map(Creator::from)
    .ok_or(Error::NotFound("creator"))
}
