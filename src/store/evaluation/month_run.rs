//! Running a month of a monthly rule: every creator who may earn it, a chunk at a time, their
//! posts of the month read and judged by the rule engine (`rules::month_earned`), and each
//! creator who reached a tier granted one fulfillment, with its posts and deliveries, exactly as
//! an instant reward is written.
//!
//! Exactly once: a fulfillment names its month, and the unique index on (rule, creator, month)
//! refuses a second one, whichever instance, restart or concurrent run writes it. A month run to
//! its end grants nothing more; a run that finds one cut short grants only what is missing.
//! Memory stays flat: [`CHUNK`] creators per read and per transaction, paged by id.

use std::collections::HashMap;

use super::awards;
use crate::domain::time::{from_micros, to_micros};
use crate::domain::{
    Creator, CreatorId, FulfillmentId, Media, MemberStatus, Month, Profile, ProgramId, Rule,
    RuleId, RunStarter, Standing,
};
use crate::error::{Conflict, Error, Result};
use crate::rules::monthly::{has_ended, month_bounds};
use crate::rules::{self, Award, Eligibility, Grant};
use crate::store::backend::{Channel, Db};
use crate::store::config::ConfigCache;
use crate::store::db::Purpose;
use crate::store::sql::rows::{MediaRow, RuleRow, MEDIA_COLUMNS, RULE_COLUMNS};
use crate::store::sql::{write_row, Statement, Writes};
use crate::traces;
use tracing::Instrument;

/// Creators read, judged and written per transaction.
const CHUNK: i64 = 500;

/// A creator who may earn, with what the rule's options read about them.
#[derive(sqlx::FromRow)]
struct CandidateRow {
    id: CreatorId,
    email: String,
    ig_username: Option<String>,
    tt_username: Option<String>,
    created_at: i64,
    followers: Option<i64>,
    segments: String,
    /// When they were approved into the rule's program (`NULL` without a program).
    approved_at: Option<i64>,
}

write_row! {
    /// A monthly reward: its month and tier beside what an instant one has.
    struct MonthlyFulfillmentInsert<'a> {
        id: &'a FulfillmentId,
        rule_id: &'a RuleId,
        creator_id: &'a CreatorId,
        discount_code: Option<&'a str>,
        payload: &'a str,
        created_at: i64,
        month: &'a str,
        tier: i64,
        traceparent: Option<&'a str>,
    }
}

/// A second fulfillment for a (rule, creator, month) is not written: the row already there
/// stands, and the award is dropped with its posts and deliveries.
const ONCE_A_MONTH: &str = "ON CONFLICT (rule_id, month, creator_id) WHERE month IS NOT NULL \
     DO NOTHING RETURNING id";

/// A monthly rule, with the zone its months are counted in.
pub(crate) struct MonthlyRule {
    pub(crate) rule: Rule,
    pub(crate) zone: chrono_tz::Tz,
}

/// The live rule `id` if it is monthly, with its zone (its own, its program's, else UTC).
pub(crate) async fn monthly_rule(db: &Db, id: &RuleId) -> Result<MonthlyRule> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        rule: RuleRow,
        program_zone: Option<String>,
    }
    let row: Row = db
        .fetch_optional(
            Statement::new(format!(
                "SELECT {RULE_COLUMNS}, (SELECT p.time_zone FROM programs p \
                 WHERE p.id = rules.program_id) AS program_zone \
                 FROM rules WHERE id = $1 AND deleted = 0"
            ))
            .bind(id),
        )
        .await?
        .ok_or(Error::NotFound("rule"))?;
    let rule = Rule::try_from(row.rule)?;
    if rule.tiers.is_none() {
        return Err(Conflict::NotMonthly.into());
    }
    let program = row.program_zone.and_then(|z| z.parse().ok());
    Ok(MonthlyRule {
        zone: rule.zone(program),
        rule,
    })
}

/// Runs `month` of the monthly rule `id` as it stands at `now`: refused (409) if the month has
/// not ended in the rule's zone. Returns the fulfillments this run granted (0 for a month
/// already run), and records the run in `rule_runs`.
pub(crate) async fn run_month(
    db: &Db,
    config: &ConfigCache,
    id: &RuleId,
    month: Month,
    started_by: RunStarter,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64> {
    let MonthlyRule { rule, zone } = monthly_rule(db, id).await?;
    if !has_ended(month, zone, now) {
        return Err(Conflict::MonthNotEnded(month.to_string()).into());
    }
    let month_name = month.to_string();
    // A month run to its end grants nothing new, even for posts that arrived since: only a run
    // cut short (no row yet) is completed.
    if was_run(db, id, &month_name).await? {
        return Ok(0);
    }
    let bounds = month_bounds(month, zone);
    let (start, end) = (to_micros(bounds.start), to_micros(bounds.end));
    // With tracing on, the run is a span (a child of the request or schedule tick that started
    // it) and each reward it grants keeps its traceparent, so every attempt joins the run's trace.
    let span = if traces::on() {
        tracing::info_span!("month_run", rule = %id, month = %month_name)
    } else {
        tracing::Span::none()
    };
    let traceparent = traces::traceparent(&span);
    let run = Run {
        rule: &rule,
        month: &month_name,
        bounds: (start, end),
        traceparent: traceparent.as_deref(),
    };
    let chunks = async {
        let mut after = String::new();
        let mut granted = 0u64;
        loop {
            let chunk = candidates(db, &rule, &after).await?;
            let Some(last) = chunk.last() else {
                break;
            };
            after = last.id.to_string();
            let full = chunk.len() as i64 == CHUNK;
            granted += run_chunk(db, config, &run, chunk).await?;
            if !full {
                break;
            }
        }
        record_run(db, id, &month_name, started_by).await?;
        Ok(granted)
    };
    chunks.instrument(span).await
}

/// What every chunk of one month run shares.
struct Run<'a> {
    rule: &'a Rule,
    month: &'a str,
    /// The month's first and last µs (exclusive) in the rule's zone.
    bounds: (i64, i64),
    traceparent: Option<&'a str>,
}

/// The next [`CHUNK`] creators after `after` (by id) who may earn: the approved members of the
/// rule's program, or, without one, every creator.
async fn candidates(db: &Db, rule: &Rule, after: &str) -> Result<Vec<CandidateRow>> {
    let statement = match &rule.options.program_id {
        Some(program) => Statement::new(
            "SELECT c.id, c.email, c.ig_username, c.tt_username, c.created_at, c.followers,
                    c.segments, m.approved_at
             FROM members m JOIN creators c ON c.id = m.creator_id
             WHERE m.program_id = $1 AND m.status = $2 AND m.creator_id > $3
               -- Said of both sides: PostgreSQL would merge-join creators from the first.
               AND c.id > $3
             ORDER BY m.creator_id LIMIT $4",
        )
        .bind(program)
        .bind(MemberStatus::Approved.as_str())
        .bind(after)
        .bind(CHUNK),
        None => Statement::new(
            "SELECT id, email, ig_username, tt_username, created_at, followers, segments,
                    CAST(NULL AS BIGINT) AS approved_at
             FROM creators WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(CHUNK),
    };
    db.fetch_all(statement).await
}

/// Judges one chunk of creators and writes, in one transaction, what they earned.
async fn run_chunk(
    db: &Db,
    config: &ConfigCache,
    run: &Run<'_>,
    chunk: Vec<CandidateRow>,
) -> Result<u64> {
    let Run {
        rule,
        month,
        bounds: (start, end),
        traceparent,
    } = *run;
    // Creators granted the month already (by an earlier or concurrent run) are not judged
    // again: a month run twice costs a read per chunk. The unique index still decides. Read as
    // the chunk's range of ids, a range of the index whatever the planner's statistics say (a
    // list of ids it may filter instead, reading the whole month's rows for every chunk).
    let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
        return Ok(0);
    };
    let granted: Vec<(CreatorId,)> = db
        .fetch_all(
            Statement::new(
                "SELECT creator_id FROM fulfillments WHERE rule_id = $1 AND month = $2 \
                 AND creator_id >= $3 AND creator_id <= $4",
            )
            .bind(&rule.id)
            .bind(month)
            .bind(&first.id)
            .bind(&last.id),
        )
        .await?;
    let granted: std::collections::HashSet<CreatorId> =
        granted.into_iter().map(|(id,)| id).collect();
    let chunk: Vec<CandidateRow> = chunk
        .into_iter()
        .filter(|c| !granted.contains(&c.id))
        .collect();
    if chunk.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&CreatorId> = chunk.iter().map(|c| &c.id).collect();
    // A post this rule counted already (in another month, before its zone was changed) counts
    // once: counting it again would break the (rule, post) key and stall every later run.
    let rows: Vec<MediaRow> = db
        .fetch_all(
            Statement::new(format!(
                "SELECT {MEDIA_COLUMNS} FROM media
                 WHERE posted_at >= $1 AND posted_at < $2
                 AND NOT EXISTS (SELECT 1 FROM fulfillment_media fm
                                 WHERE fm.rule_id = $3 AND fm.media_id = media.id)
                 AND creator_id"
            ))
            .bind(start)
            .bind(end)
            .bind(&rule.id)
            .any_of(ids.iter().copied())
            .push(" ORDER BY creator_id, posted_at, id"),
        )
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut posts: HashMap<CreatorId, Vec<Media>> = HashMap::new();
    for row in rows {
        let media = Media::try_from(row)?;
        posts
            .entry(media.creator_id.clone())
            .or_default()
            .push(media);
    }
    let about = eligibility(rule.options.program_id.as_ref(), &chunk)?;
    let creators: Vec<Creator> = chunk
        .into_iter()
        .filter(|c| posts.contains_key(&c.id))
        .map(|c| Creator {
            id: c.id,
            email: c.email,
            ig_username: c.ig_username,
            tt_username: c.tt_username,
            created_at: from_micros(c.created_at),
        })
        .collect();

    let mut tx = db.begin_write(Purpose::MonthRun).await?;
    let config = config.current(&mut tx.conn()).await?;
    let mut awards: Vec<(Award, u8)> = Vec::new();
    for creator in &creators {
        let Some(month_posts) = posts.get(&creator.id) else {
            continue;
        };
        let Some(earned) = rules::month_earned(rule, month_posts, &about) else {
            continue;
        };
        let grant = Grant {
            rule,
            creator,
            medias: earned.medias,
        };
        let award = grant.award_of(earned.reward, &config.integrations, |id, event_type| {
            config.receives(id, event_type)
        })?;
        awards.push((award, earned.tier.get()));
    }
    if awards.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let at = to_micros(crate::domain::time::now());
    let rows: Vec<MonthlyFulfillmentInsert<'_>> = awards
        .iter()
        .map(|(award, tier)| MonthlyFulfillmentInsert {
            id: &award.fulfillment_id,
            rule_id: &award.rule_id,
            creator_id: &award.creator_id,
            discount_code: award.discount_code.as_deref(),
            payload: &award.body,
            created_at: at,
            month,
            tier: i64::from(*tier),
            traceparent,
        })
        .collect();
    let written: Vec<(FulfillmentId,)> = tx
        .conn()
        .insert_returning("fulfillments", ONCE_A_MONTH, &rows)
        .await?;
    let written: std::collections::HashSet<FulfillmentId> =
        written.into_iter().map(|(id,)| id).collect();
    let new = awards
        .iter()
        .map(|(award, _)| award)
        .filter(|award| written.contains(&award.fulfillment_id));
    let mut writes = Writes::default();
    let deliveries =
        awards::add_posts_and_deliveries(&mut writes, new, at, None, None, &config.disabled);
    tx.conn().insert_all(&writes).await?;
    if deliveries > 0 {
        tx.conn().notify(Channel::Deliveries).await?;
    }
    tx.commit().await?;
    Ok(written.len() as u64)
}

/// What the rule's options read about a chunk of creators: their profiles, and their approval
/// into the rule's program (every one of them is an approved member when it names one).
fn eligibility(program: Option<&ProgramId>, chunk: &[CandidateRow]) -> Result<Eligibility> {
    let mut about = Eligibility::default();
    for c in chunk {
        about.profiles.insert(
            c.id.clone(),
            Profile {
                followers: c.followers.and_then(|f| u32::try_from(f).ok()),
                segments: serde_json::from_str(&c.segments)?,
            },
        );
        if let Some(program) = program {
            about.members.entry(program.clone()).or_default().insert(
                c.id.clone(),
                Standing {
                    status: MemberStatus::Approved,
                    approved_at: c.approved_at.map(from_micros),
                },
            );
        }
    }
    Ok(about)
}

/// Whether `month` of `rule` was run to its end.
async fn was_run(db: &Db, rule: &RuleId, month: &str) -> Result<bool> {
    let row: Option<(i64,)> = db
        .fetch_optional(
            Statement::new("SELECT fulfillments FROM rule_runs WHERE rule_id = $1 AND month = $2")
                .bind(rule)
                .bind(month),
        )
        .await?;
    Ok(row.is_some())
}

/// Records that `month` was run to its end: the first run to finish writes the row (who
/// started it, when). Its count is the month's fulfillments, so grants committed by a run cut
/// short, and by runs at the same time, are counted too.
async fn record_run(db: &Db, rule: &RuleId, month: &str, started_by: RunStarter) -> Result<()> {
    let mut tx = db.begin_write(Purpose::MonthRun).await?;
    tx.conn()
        .execute(
            Statement::new(
                "INSERT INTO rule_runs (rule_id, month, fulfillments, started_by, run_at)
                 VALUES ($1, $2,
                         (SELECT COUNT(*) FROM fulfillments WHERE rule_id = $1 AND month = $2),
                         $3, $4)
                 ON CONFLICT (rule_id, month) DO UPDATE SET fulfillments = excluded.fulfillments",
            )
            .bind(rule)
            .bind(month)
            .bind(started_by.as_str())
            .bind(to_micros(crate::domain::time::now())),
        )
        .await?;
    tx.commit().await
}
