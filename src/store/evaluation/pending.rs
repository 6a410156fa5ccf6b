//! `rule_posts`: posts counted toward a rule and not yet part of a reward, kept for rules that
//! need several posts.

use std::collections::HashMap;

use crate::domain::time::to_micros;
use crate::domain::{CreatorId, Media, MediaId, RuleId};
use crate::error::Result;
use crate::rules::{PairKey, Pending, Tally};
use crate::store::backend::Conn;
use crate::store::sql::rows::MediaRow;
use crate::store::sql::{write_row, Statement, Writes};

write_row! {
    /// A post counted toward a rule and not yet part of a reward.
    struct PendingPost<'a> {
        rule_id: &'a RuleId,
        media_id: &'a MediaId,
        creator_id: &'a CreatorId,
        posted_at: i64,
    }
}

/// Stores the new posts of the pairs that can still earn as pending.
pub(super) fn add<'a>(writes: &mut Writes<'a>, open: &[&'a Tally<'a>]) {
    let rows: Vec<PendingPost<'_>> = open
        .iter()
        .flat_map(|t| {
            t.new_posts.iter().map(|m| PendingPost {
                rule_id: &t.rule.id,
                media_id: &m.id,
                creator_id: &t.creator.id,
                posted_at: to_micros(m.posted_at),
            })
        })
        .collect();
    writes.insert("rule_posts", "ON CONFLICT DO NOTHING", rows);
}

write_row! {
    /// The posts a pair's tally can reach: its window.
    struct Reach<'a> {
        rule_id: &'a RuleId,
        creator_id: &'a CreatorId,
        reach_from: i64,
        reach_to: i64,
    }
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    rule_id: RuleId,
    #[sqlx(flatten)]
    media: MediaRow,
}

/// Each open pair's pending posts within its tally's reach, oldest first, in one statement for
/// the whole batch.
pub(super) async fn read(conn: &mut Conn<'_>, open: &[&Tally<'_>]) -> Result<Pending> {
    let reaches: Vec<Reach<'_>> = open
        .iter()
        .map(|t| {
            let (reach_from, reach_to) = t.reach();
            Reach {
                rule_id: &t.rule.id,
                creator_id: &t.creator.id,
                reach_from,
                reach_to,
            }
        })
        .collect();
    let rows: Vec<PendingRow> = conn
        .select_from(
            &reaches,
            "SELECT rp.rule_id, m.id, m.creator_id, m.platform, m.post_type, m.posted_at,
                    m.ingested_at, m.external_id, m.media_type",
            "JOIN rule_posts rp ON rp.rule_id = v.rule_id AND rp.creator_id = v.creator_id
                               AND rp.posted_at >= v.reach_from AND rp.posted_at <= v.reach_to
             JOIN media m ON m.id = rp.media_id
             ORDER BY rp.posted_at, rp.media_id",
        )
        .await?;
    let mut pending = Pending::new();
    for row in rows {
        let media = Media::try_from(row.media)?;
        pending
            .entry(PairKey {
                rule: row.rule_id,
                creator: media.creator_id.clone(),
            })
            .or_default()
            .push(media);
    }
    Ok(pending)
}

/// Takes out of the pending list the posts a reward used, and every post of a closed pair.
pub(super) async fn forget(
    conn: &mut Conn<'_>,
    used: &[(RuleId, MediaId)],
    closed: &[PairKey],
) -> Result<()> {
    let mut used_by_rule: HashMap<&RuleId, Vec<&MediaId>> = HashMap::new();
    for (rule, media) in used {
        used_by_rule.entry(rule).or_default().push(media);
    }
    for (rule, media_ids) in used_by_rule {
        conn.execute(
            Statement::new("DELETE FROM rule_posts WHERE rule_id = $1 AND media_id")
                .bind(rule)
                .any_of(media_ids),
        )
        .await?;
    }
    let mut closed_by_rule: HashMap<&RuleId, Vec<&CreatorId>> = HashMap::new();
    for pair in closed {
        closed_by_rule
            .entry(&pair.rule)
            .or_default()
            .push(&pair.creator);
    }
    for (rule, creator_ids) in closed_by_rule {
        conn.execute(
            Statement::new("DELETE FROM rule_posts WHERE rule_id = $1 AND creator_id")
                .bind(rule)
                .any_of(creator_ids),
        )
        .await?;
    }
    Ok(())
}
