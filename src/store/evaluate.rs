//! Carrying out an evaluation: one transaction takes a batch of posts from the inbox, locks the
//! pairs the rule engine names, reads what it asks for, and writes what it decided — every
//! fulfillment, its deliveries and the counted posts together. The decisions are `rules`'s.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::bulk::{self, padded, padded_len, write_row, Bound};
use super::rows::{MediaRow, RuleRow};
use super::{placeholders, postgres, sqlite, Dialect, Purpose, Store, WriteTx};
use crate::domain::time::{from_micros, now, to_micros};
use crate::domain::{
    Creator, CreatorId, DeliveryId, DeliveryStatus, FulfillmentId, IntegrationId, Media, MediaId,
    Rule, RuleId,
};
use crate::error::Result;
use crate::rules::{self, Award, PairKey, Pending, Tally};

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
        let taken = match self.dialect {
            Dialect::Sqlite => sqlite::take_inbox(self, limit).await?,
            Dialect::Postgres => postgres::take_inbox(self, limit).await?,
        };
        let Some((mut tx, rows)) = taken else {
            return Ok(Evaluation::default());
        };
        let dialect = self.dialect;
        let conn: &mut AnyConnection = &mut tx;
        let (posts, creators) = posts_and_creators(rows)?;
        let rules = active_rules(conn).await?;
        let integrations = active_integrations(conn).await?;

        let matched = rules::match_posts(&posts, &creators, &rules)?;
        let rewarded = lock_progress(conn, &matched.tallies).await?;
        let open: Vec<&Tally<'_>> = matched
            .tallies
            .iter()
            .filter(|t| t.can_earn(rewarded.get(&t.key()).copied().unwrap_or(0)))
            .collect();
        add_pending(conn, dialect, &open).await?;
        let pending = read_pending(conn, &open).await?;
        let counted = rules::count(&open, pending);
        forget_pending(conn, dialect, &counted.used, &counted.closed).await?;
        add_rewarded(conn, dialect, &counted.rewarded).await?;

        let awards = matched
            .instant
            .iter()
            .chain(&counted.grants)
            .map(|grant| grant.award(&integrations))
            .collect::<Result<Vec<Award>>>()?;
        let deliveries = write_awards(conn, dialect, &awards).await?;
        if deliveries > 0 {
            self.announce(conn, postgres::Channel::Deliveries).await?;
        }
        tx.commit().await?;
        Ok(Evaluation {
            posts: posts.len(),
            fulfillments: awards.len(),
            deliveries,
        })
    }
}

/// A post with its creator's columns.
const INBOX_COLUMNS: &str = "m.id, m.creator_id, m.platform, m.post_type, m.posted_at, \
     m.ingested_at, c.email, c.ig_username, c.tt_username, c.created_at AS creator_created_at";

#[derive(sqlx::FromRow)]
pub(super) struct InboxRow {
    #[sqlx(flatten)]
    pub(super) media: MediaRow,
    email: String,
    ig_username: Option<String>,
    tt_username: Option<String>,
    creator_created_at: i64,
}

/// The oldest `limit` posts in the inbox, with their creators joined in: one read, where SQLite's
/// connection thread hands over each row separately (a wake of the reading task per row).
/// `CROSS JOIN` makes SQLite walk the inbox in order (with plain joins it planned a scan of every
/// post and a sort).
pub(super) async fn read_inbox(conn: &mut AnyConnection, limit: u32) -> Result<Vec<InboxRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {INBOX_COLUMNS} FROM media_inbox i CROSS JOIN media m CROSS JOIN creators c
         WHERE m.id = i.media_id AND c.id = m.creator_id
         ORDER BY i.media_id LIMIT {limit}"
    ))
    .fetch_all(conn)
    .await?)
}

/// Opens the evaluation's transaction, takes the inbox rows `chosen` picks (the end of
/// `WHERE media_id …`) and reads their posts with their creators; `None` when it picks none.
pub(super) async fn take_and_read(
    store: &Store,
    chosen: &str,
) -> Result<Option<(WriteTx, Vec<InboxRow>)>> {
    let mut tx = store.begin_write(Purpose::Evaluate).await?;
    let taken: Vec<(MediaId,)> = sqlx::query_as(&format!(
        "DELETE FROM media_inbox WHERE media_id {chosen} RETURNING media_id"
    ))
    .fetch_all(&mut *tx)
    .await?;
    if taken.is_empty() {
        tx.rollback().await?;
        return Ok(None);
    }
    let sql = format!(
        "SELECT {INBOX_COLUMNS} FROM media m JOIN creators c ON c.id = m.creator_id
         WHERE m.id IN ({})",
        store.dialect.list(padded_len(taken.len()))
    );
    let mut query = sqlx::query_as::<_, InboxRow>(&sql);
    for (id,) in padded(&taken) {
        query = query.bind(id);
    }
    let rows = query.fetch_all(&mut *tx).await?;
    Ok(Some((tx, rows)))
}

fn posts_and_creators(rows: Vec<InboxRow>) -> Result<(Vec<Media>, HashMap<CreatorId, Creator>)> {
    let mut creators = HashMap::new();
    let mut posts = Vec::with_capacity(rows.len());
    for row in rows {
        creators
            .entry(row.media.creator_id.clone())
            .or_insert_with(|| Creator {
                id: row.media.creator_id.clone(),
                email: row.email,
                ig_username: row.ig_username,
                tt_username: row.tt_username,
                created_at: from_micros(row.creator_created_at),
            });
        posts.push(Media::try_from(row.media)?);
    }
    Ok((posts, creators))
}

async fn active_rules(conn: &mut AnyConnection) -> Result<Vec<Rule>> {
    sqlx::query_as::<_, RuleRow>(&format!(
        "SELECT {} FROM rules WHERE active = 1 AND deleted = 0 ORDER BY id",
        super::rules::COLUMNS
    ))
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(Rule::try_from)
    .collect()
}

async fn active_integrations(conn: &mut AnyConnection) -> Result<Vec<IntegrationId>> {
    let rows: Vec<(IntegrationId,)> =
        sqlx::query_as("SELECT id FROM integrations WHERE active = 1 AND deleted = 0 ORDER BY id")
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// (rule, creator) pairs per locking statement, within the bind limit.
const PAIRS_PER_STATEMENT: usize = 90;

/// Locks the pairs of `tallies`, in their order, and returns the rewards each was granted so
/// far. Evaluations of the same pair queue up behind the lock, so the count that follows sees
/// every post committed before, whichever instance wrote it; every instance locks in the same
/// order, so they cannot deadlock.
async fn lock_progress(
    conn: &mut AnyConnection,
    tallies: &[Tally<'_>],
) -> Result<HashMap<PairKey, u32>> {
    let mut rewarded = HashMap::new();
    for chunk in tallies.chunks(PAIRS_PER_STATEMENT) {
        let pairs: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(i * 2, 2)))
            .collect();
        let sql = format!(
            "INSERT INTO rule_progress (rule_id, creator_id) VALUES {}
             ON CONFLICT (rule_id, creator_id) DO UPDATE SET rewarded = rule_progress.rewarded
             RETURNING rule_id, creator_id, rewarded",
            pairs.join(", ")
        );
        let mut query = sqlx::query_as::<_, (RuleId, CreatorId, i64)>(&sql);
        for t in chunk {
            query = query.bind(&t.rule.id).bind(&t.creator.id);
        }
        for (rule, creator, n) in query.fetch_all(&mut *conn).await? {
            rewarded.insert(
                PairKey { rule, creator },
                u32::try_from(n).unwrap_or(u32::MAX),
            );
        }
    }
    Ok(rewarded)
}

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
async fn add_pending(
    conn: &mut AnyConnection,
    dialect: Dialect,
    open: &[&Tally<'_>],
) -> Result<()> {
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
    bulk::insert(conn, dialect, "rule_posts", "ON CONFLICT DO NOTHING", &rows).await
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    rule_id: RuleId,
    #[sqlx(flatten)]
    media: MediaRow,
}

/// (rule, creator, from, to) per row: the window lookup's parameters, within the bind limit.
const WINDOWS_PER_STATEMENT: usize = 45;

/// Each open pair's pending posts within its tally's reach, oldest first, in a few statements
/// for the whole batch.
async fn read_pending(conn: &mut AnyConnection, open: &[&Tally<'_>]) -> Result<Pending> {
    let mut pending = Pending::new();
    for chunk in open.chunks(WINDOWS_PER_STATEMENT) {
        let windows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(i * 4, 4)))
            .collect();
        // (rule, creator, reach from, reach to) as column1 to column4.
        let sql = format!(
            "SELECT rp.rule_id, m.id, m.creator_id, m.platform, m.post_type, m.posted_at, m.ingested_at
             FROM (VALUES {}) AS w
             JOIN rule_posts rp ON rp.rule_id = w.column1 AND rp.creator_id = w.column2
                               AND rp.posted_at >= w.column3 AND rp.posted_at <= w.column4
             JOIN media m ON m.id = rp.media_id
             ORDER BY rp.posted_at, rp.media_id",
            windows.join(", ")
        );
        let mut query = sqlx::query_as::<_, PendingRow>(&sql);
        for t in chunk {
            let (from, to) = t.reach();
            query = query
                .bind(&t.rule.id)
                .bind(&t.creator.id)
                .bind(from)
                .bind(to);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let media = Media::try_from(row.media)?;
            pending
                .entry(PairKey {
                    rule: row.rule_id,
                    creator: media.creator_id.clone(),
                })
                .or_default()
                .push(media);
        }
    }
    Ok(pending)
}

/// Takes out of the pending list the posts a reward used, and every post of a closed pair.
async fn forget_pending(
    conn: &mut AnyConnection,
    dialect: Dialect,
    used: &[(RuleId, MediaId)],
    closed: &[PairKey],
) -> Result<()> {
    let mut used_by_rule: HashMap<&RuleId, Vec<&MediaId>> = HashMap::new();
    for (rule, media) in used {
        used_by_rule.entry(rule).or_default().push(media);
    }
    for (rule, media_ids) in used_by_rule {
        forget_rule_posts(conn, dialect, rule, "media_id", &media_ids).await?;
    }
    let mut closed_by_rule: HashMap<&RuleId, Vec<&CreatorId>> = HashMap::new();
    for pair in closed {
        closed_by_rule
            .entry(&pair.rule)
            .or_default()
            .push(&pair.creator);
    }
    for (rule, creator_ids) in closed_by_rule {
        forget_rule_posts(conn, dialect, rule, "creator_id", &creator_ids).await?;
    }
    Ok(())
}

/// Deletes the `rule_posts` of `rule` whose `column` is one of `values`.
async fn forget_rule_posts<I: AsRef<str>>(
    conn: &mut AnyConnection,
    dialect: Dialect,
    rule: &RuleId,
    column: &str,
    values: &[I],
) -> Result<()> {
    let rule = [Bound::Text(rule.as_str())];
    bulk::by_ids(conn, dialect, &rule, values, |rule, values| {
        format!(
            "DELETE FROM rule_posts WHERE rule_id = {} AND {column} IN ({values})",
            rule[0]
        )
    })
    .await?;
    Ok(())
}

write_row! {
    /// Rewards a batch granted to one pair.
    struct Rewarded<'a> {
        rule_id: &'a RuleId,
        creator_id: &'a CreatorId,
        rewarded: i64,
    }
}

async fn add_rewarded(
    conn: &mut AnyConnection,
    dialect: Dialect,
    rewarded: &[(PairKey, u32)],
) -> Result<()> {
    let rows: Vec<Rewarded<'_>> = rewarded
        .iter()
        .map(|(pair, n)| Rewarded {
            rule_id: &pair.rule,
            creator_id: &pair.creator,
            rewarded: i64::from(*n),
        })
        .collect();
    bulk::with_values(
        conn,
        dialect,
        &rows,
        "UPDATE rule_progress SET rewarded = rule_progress.rewarded + v.rewarded FROM v
         WHERE rule_progress.rule_id = v.rule_id AND rule_progress.creator_id = v.creator_id",
    )
    .await
}

write_row! {
    /// A reward granted, with the body its webhooks send.
    struct FulfillmentInsert<'a> {
        id: &'a FulfillmentId,
        rule_id: &'a RuleId,
        creator_id: &'a CreatorId,
        discount_code: Option<&'a str>,
        once_key: Option<&'a str>,
        payload: &'a str,
        created_at: i64,
    }
}

write_row! {
    /// A post a reward counted: the key refuses to count it twice for one rule.
    struct CountedPost<'a> {
        rule_id: &'a RuleId,
        media_id: &'a MediaId,
        fulfillment_id: &'a FulfillmentId,
    }
}

write_row! {
    /// A delivery of a reward to one integration, in the log.
    struct DeliveryInsert<'a> {
        id: &'a DeliveryId,
        fulfillment_id: &'a FulfillmentId,
        integration_id: &'a IntegrationId,
        status: &'static str,
        next_attempt_at: i64,
        created_at: i64,
    }
}

write_row! {
    /// A delivery waiting to be sent.
    struct QueueInsert<'a> {
        delivery_id: &'a DeliveryId,
        integration_id: &'a IntegrationId,
        due_at: i64,
    }
}

/// Writes the fulfillments with their payloads, marks their posts counted and queues their
/// deliveries, in a few multi-row statements. Returns the deliveries queued.
async fn write_awards(
    conn: &mut AnyConnection,
    dialect: Dialect,
    awards: &[Award],
) -> Result<usize> {
    let at = to_micros(now());
    let mut fulfillments = Vec::with_capacity(awards.len());
    let mut counted = Vec::new();
    let mut deliveries = Vec::new();
    let mut queue = Vec::new();
    for award in awards {
        fulfillments.push(FulfillmentInsert {
            id: &award.fulfillment_id,
            rule_id: &award.rule_id,
            creator_id: &award.creator_id,
            discount_code: award.discount_code.as_deref(),
            once_key: award.once_key.as_deref(),
            payload: &award.body,
            created_at: at,
        });
        counted.extend(award.media_ids.iter().map(|media_id| CountedPost {
            rule_id: &award.rule_id,
            media_id,
            fulfillment_id: &award.fulfillment_id,
        }));
        for (delivery_id, integration_id) in &award.deliveries {
            deliveries.push(DeliveryInsert {
                id: delivery_id,
                fulfillment_id: &award.fulfillment_id,
                integration_id,
                status: DeliveryStatus::Pending.as_str(),
                next_attempt_at: at,
                created_at: at,
            });
            queue.push(QueueInsert {
                delivery_id,
                integration_id,
                due_at: at,
            });
        }
    }
    bulk::insert(conn, dialect, "fulfillments", "", &fulfillments).await?;
    bulk::insert(conn, dialect, "fulfillment_media", "", &counted).await?;
    bulk::insert(conn, dialect, "deliveries", "", &deliveries).await?;
    bulk::insert(conn, dialect, "delivery_queue", "", &queue).await?;
    Ok(deliveries.len())
}
