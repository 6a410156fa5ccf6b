//! `rule_progress`: one row per (rule, creator) pair, the lock evaluations of that pair queue
//! behind, and the rewards it was granted so far.

use std::collections::HashMap;

use crate::domain::{CreatorId, RuleId};
use crate::error::Result;
use crate::rules::{PairKey, Tally};
use crate::store::backend::Conn;
use crate::store::sql::write_row;

write_row! {
    /// A pair to lock.
    struct Pair<'a> {
        rule_id: &'a RuleId,
        creator_id: &'a CreatorId,
    }
}

/// Locks the pairs of `tallies`, in their order, and returns the rewards each was granted so
/// far. Evaluations of the same pair queue up behind the lock, so the count that follows sees
/// every post committed before, whichever instance wrote it; every instance locks in the same
/// order, so they cannot deadlock.
pub(super) async fn lock(
    conn: &mut Conn<'_>,
    tallies: &[Tally<'_>],
) -> Result<HashMap<PairKey, u32>> {
    let pairs: Vec<Pair<'_>> = tallies
        .iter()
        .map(|t| Pair {
            rule_id: &t.rule.id,
            creator_id: &t.creator.id,
        })
        .collect();
    let locked: Vec<(RuleId, CreatorId, i64)> = conn
        .insert_returning(
            "rule_progress",
            "ON CONFLICT (rule_id, creator_id) DO UPDATE SET rewarded = rule_progress.rewarded
             RETURNING rule_id, creator_id, rewarded",
            &pairs,
        )
        .await?;
    Ok(locked
        .into_iter()
        .map(|(rule, creator, n)| {
            (
                PairKey { rule, creator },
                u32::try_from(n).unwrap_or(u32::MAX),
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
