//! `rule_progress`: one row per (rule, creator) pair, the lock evaluations of that pair queue
//! behind, and the rewards it was granted so far.

use std::collections::HashMap;

use crate::domain::{CreatorId, RuleId};
use crate::error::Result;
use crate::rules::{PairKey, Progress, Tally};
use crate::store::backend::Conn;
use crate::store::sql::write_row;

write_row! {
    /// A pair to lock.
    struct Pair<'a> {
        rule_id: &'a RuleId,
        creator_id: &'a CreatorId,
    }
}

/// Locks the pairs of `tallies`, in their order, and returns each one's progress: the rewards
/// it was granted so far, and the last post they counted. Evaluations of the same pair queue up
/// behind the lock, so the count that follows sees every post committed before, whichever
/// instance wrote it; every instance locks in the same order, so they cannot deadlock.
pub(super) async fn lock(
    conn: &mut Conn<'_>,
    tallies: &[Tally<'_>],
) -> Result<HashMap<PairKey, Progress>> {
    let pairs: Vec<Pair<'_>> = tallies
        .iter()
        .map(|t| Pair {
            rule_id: &t.rule.id,
            creator_id: &t.creator.id,
        })
        .collect();
    let locked: Vec<(RuleId, CreatorId, i64, Option<i64>)> = conn
        .insert_returning(
            "rule_progress",
            "ON CONFLICT (rule_id, creator_id) DO UPDATE SET rewarded = rule_progress.rewarded
             RETURNING rule_id, creator_id, rewarded, last_counted_at",
            &pairs,
        )
        .await?;
    Ok(locked
        .into_iter()
        .map(|(rule, creator, n, last_counted_at)| {
            (
                PairKey { rule, creator },
                Progress {
                    rewarded: u32::try_from(n).unwrap_or(u32::MAX),
                    last_counted_at,
                },
            )
        })
        .collect())
}

write_row! {
    /// Rewards a batch granted to one pair.
    struct Rewarded<'a> {
        rule_id: &'a RuleId,
        creator_id: &'a CreatorId,
        rewarded: i64,
    }
}

/// Adds the rewards a batch granted to each pair's count.
pub(super) async fn add_rewarded(conn: &mut Conn<'_>, rewarded: &[(PairKey, u32)]) -> Result<()> {
    let rows: Vec<Rewarded<'_>> = rewarded
        .iter()
        .map(|(pair, n)| Rewarded {
            rule_id: &pair.rule,
            creator_id: &pair.creator,
            rewarded: i64::from(*n),
        })
        .collect();
    conn.update_from(
        &rows,
        "UPDATE rule_progress SET rewarded = rule_progress.rewarded + v.rewarded",
        "WHERE rule_progress.rule_id = v.rule_id AND rule_progress.creator_id = v.creator_id",
    )
    .await
}

write_row! {
    /// The last post a pair's rewards counted, for its Buffer Limit.
    struct LastCounted<'a> {
        rule_id: &'a RuleId,
        creator_id: &'a CreatorId,
        last_counted_at: i64,
    }
}

/// Keeps the last post each pair's rewards counted (rules with a Buffer Limit only: nothing to
/// write, no statement, for the others).
pub(super) async fn set_last_counted(conn: &mut Conn<'_>, last: &[(PairKey, i64)]) -> Result<()> {
    if last.is_empty() {
        return Ok(());
    }
    let rows: Vec<LastCounted<'_>> = last
        .iter()
        .map(|(pair, at)| LastCounted {
            rule_id: &pair.rule,
            creator_id: &pair.creator,
            last_counted_at: *at,
        })
        .collect();
    conn.update_from(
        &rows,
        "UPDATE rule_progress SET last_counted_at = v.last_counted_at",
        "WHERE rule_progress.rule_id = v.rule_id AND rule_progress.creator_id = v.creator_id",
    )
    .await
}
