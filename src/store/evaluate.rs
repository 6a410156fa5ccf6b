//! Carrying out an evaluation: in the transaction that wrote the posts (the API's, see
//! [`Store::ingest`]) or that took them from the inbox (`import`'s), lock the pairs the rule
//! engine names, read what it asks for, and write what it decided — every fulfillment, its
//! deliveries and the counted posts together. The decisions are `rules`'s.

use sqlx::AnyConnection;
use std::collections::{BTreeSet, HashMap, HashSet};

use super::bulk::{self, padded, padded_len, write_row, Bound};
use super::config::Config;
use super::rows::{CreatorRow, MediaRow};
use super::{placeholders, postgres, sqlite, Dialect, Purpose, Store, WriteTx};
use crate::domain::time::{from_micros, now, to_micros};
use crate::domain::{
    Claimed, Creator, CreatorId, DeliveryId, DeliveryStatus, FulfillmentId, IntegrationId, Invalid,
    Lease, Leased, Media, MediaId, NewMedia, PayloadFormat, Problem, RuleId,
};
use crate::error::Result;
use crate::rules::{self, Award, PairKey, Pending, Tally};

/// What one evaluation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    pub posts: usize,
    pub fulfillments: usize,
    pub deliveries: usize,
}

/// An evaluation's counts, and the deliveries it leased (none without a [`Lease`]).
#[derive(Debug, Default)]
pub struct Evaluated {
    pub evaluation: Evaluation,
    pub leased: Leased,
}

/// What a group of requests' posts became: each request's posts as stored (or why they were
/// refused, writing none of them), and the evaluation of all of them.
#[derive(Debug, Default)]
pub struct Ingested {
    pub results: Vec<std::result::Result<Vec<Media>, Invalid>>,
    pub evaluated: Evaluated,
}

impl Store {
    /// Writes the posts of several requests and evaluates them, in one transaction: a `201`
    /// then means the rewards they earned are committed, and their deliveries can go out at
    /// once. A request naming an unknown creator is refused whole; the others go on. Posts
    /// written so never enter the inbox: each is evaluated exactly once, here.
    pub async fn ingest(
        &self,
        requests: &[Vec<NewMedia>],
        lease: Option<&Lease>,
    ) -> Result<Ingested> {
        let mut tx = self.begin_write(Purpose::Ingest).await?;
        let conn: &mut AnyConnection = &mut tx;
        let wanted: BTreeSet<&CreatorId> =
            requests.iter().flatten().map(|p| &p.creator_id).collect();
        let creators = read_creators(conn, self.dialect, &wanted).await?;
        let ingested_at = now();
        let mut results = Vec::with_capacity(requests.len());
        let mut posts = Vec::new();
        for request in requests {
            let mut unknown: Vec<&str> = request
                .iter()
                .filter(|p| !creators.contains_key(&p.creator_id))
                .map(|p| p.creator_id.as_str())
                .collect();
            if !unknown.is_empty() {
                unknown.sort_unstable();
                unknown.dedup();
                results.push(Err(Invalid::new(
                    Problem::UnknownCreator,
                    format!("no creator with id {}", unknown.join(", ")),
                )));
                continue;
            }
            let media: Vec<Media> = request
                .iter()
                .map(|p| Media {
                    id: MediaId::generate(),
                    creator_id: p.creator_id.clone(),
                    platform: p.platform,
                    post_type: p.post_type,
                    posted_at: p.posted_at,
                    ingested_at,
                })
                .collect();
            posts.extend(media.iter().cloned());
            results.push(Ok(media));
        }
        if posts.is_empty() {
            tx.rollback().await?;
            return Ok(Ingested {
                results,
                evaluated: Evaluated::default(),
            });
        }
        super::media::insert_media_rows(conn, self.dialect, &posts).await?;
        let evaluated = self.evaluate(conn, &posts, &creators, lease).await?;
        tx.commit().await?;
        Ok(Ingested { results, evaluated })
    }

    /// Evaluates up to `limit` posts from the inbox (those `import` wrote). Each post leaves the
    /// inbox in the same transaction that records what it earned, so a post is evaluated exactly
    /// once, even across instances.
    pub async fn evaluate_inbox(&self, limit: u32, lease: Option<&Lease>) -> Result<Evaluated> {
        let taken = match self.dialect {
            Dialect::Sqlite => sqlite::take_inbox(self, limit).await?,
            Dialect::Postgres => postgres::take_inbox(self, limit).await?,
        };
        let Some((mut tx, rows)) = taken else {
            return Ok(Evaluated::default());
        };
        let (posts, creators) = posts_and_creators(rows)?;
        let evaluated = self.evaluate(&mut tx, &posts, &creators, lease).await?;
        tx.commit().await?;
        Ok(evaluated)
    }

    /// Evaluates `posts` in the caller's transaction, as the rule engine decides.
    async fn evaluate(
        &self,
        conn: &mut AnyConnection,
        posts: &[Media],
        creators: &HashMap<CreatorId, Creator>,
        lease: Option<&Lease>,
    ) -> Result<Evaluated> {
        let dialect = self.dialect;
        let config = self.config(conn).await?;
        let matched = rules::match_posts(posts, creators, &config.rules)?;
        if dialect == Dialect::Postgres && !matched.tallies.is_empty() {
            postgres::before_counting(conn).await?;
        }
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
            .map(|grant| {
                grant.award(&config.integrations, |id| {
                    config.formats.get(id).copied().unwrap_or_default()
                })
            })
            .collect::<Result<Vec<Award>>>()?;
        let since = std::time::Instant::now();
        let at = now();
        let until = lease
            .map(|l| to_micros(at) + i64::try_from(l.length.as_micros()).unwrap_or(i64::MAX / 2));
        let held = &config.disabled;
        let deliveries =
            write_awards(conn, dialect, &awards, to_micros(at), lease, until, held).await?;
        // Deliveries leased here go to this instance's dispatcher; others are announced.
        if deliveries > 0 && lease.is_none() {
            self.announce(conn, postgres::Channel::Deliveries).await?;
        }
        let leased = Leased {
            since,
            deliveries: match lease {
                Some(lease) => leased(&awards, &config, lease),
                None => Vec::new(),
            },
        };
        Ok(Evaluated {
            evaluation: Evaluation {
                posts: posts.len(),
                fulfillments: awards.len(),
                deliveries,
            },
            leased,
        })
    }
}

/// The deliveries of `awards`, as the dispatcher that holds their lease sends them.
fn leased(awards: &[Award], config: &Config, lease: &Lease) -> Vec<Claimed> {
    awards
        .iter()
        .flat_map(|award| {
            award
                .deliveries
                .iter()
                .filter(|(_, integration_id, _)| !config.disabled.contains(integration_id))
                .filter_map(|(delivery_id, integration_id, format)| {
                    let body = match format {
                        PayloadFormat::Posts => award.posts_body.clone()?,
                        PayloadFormat::Medias => award.body.clone(),
                    };
                    Some(Claimed {
                        delivery_id: delivery_id.clone(),
                        attempt_number: 1,
                        single_attempt: false,
                        lease_owner: lease.owner.clone(),
                        target: config.targets.get(integration_id)?.clone(),
                        body,
                    })
                })
        })
        .collect()
}

/// The creators named, with what a payload carries of them.
async fn read_creators(
    conn: &mut AnyConnection,
    dialect: Dialect,
    ids: &BTreeSet<&CreatorId>,
) -> Result<HashMap<CreatorId, Creator>> {
    let ids: Vec<&CreatorId> = ids
        .iter()
        .copied()
        .filter(|id| CreatorId::is_well_formed(id.as_str()))
        .collect();
    let mut creators = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT {} FROM creators WHERE id IN ({})",
            super::creators::COLUMNS,
            dialect.list(padded_len(chunk.len()))
        );
        let mut query = sqlx::query_as::<_, CreatorRow>(&sql);
        for id in padded(chunk) {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let creator = Creator::from(row);
            creators.insert(creator.id.clone(), creator);
        }
    }
    Ok(creators)
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
    /// A delivery of a reward to one integration, in the log; with the `posts` body for an
    /// integration that takes it (else the fulfillment's body is sent).
    struct DeliveryInsert<'a> {
        id: &'a DeliveryId,
        fulfillment_id: &'a FulfillmentId,
        integration_id: &'a IntegrationId,
        status: &'static str,
        next_attempt_at: i64,
        created_at: i64,
        payload: Option<&'a str>,
    }
}

write_row! {
    /// A delivery waiting to be sent, or leased already to the evaluating instance.
    struct QueueInsert<'a> {
        delivery_id: &'a DeliveryId,
        integration_id: &'a IntegrationId,
        due_at: i64,
        lease_until: i64,
        lease_owner: Option<&'a str>,
    }
}

/// Writes the fulfillments with their payloads, marks their posts counted and queues their
/// deliveries (leased until `until` with a lease, unless their integration is `held`:
/// disabled), in a few multi-row statements. Returns the deliveries queued.
async fn write_awards(
    conn: &mut AnyConnection,
    dialect: Dialect,
    awards: &[Award],
    at: i64,
    lease: Option<&Lease>,
    until: Option<i64>,
    held: &HashSet<IntegrationId>,
) -> Result<usize> {
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
        for (delivery_id, integration_id, format) in &award.deliveries {
            deliveries.push(DeliveryInsert {
                payload: match format {
                    PayloadFormat::Posts => award.posts_body.as_deref(),
                    PayloadFormat::Medias => None,
                },
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
                // A disabled integration's delivery waits unleased, for any instance to claim
                // once it is re-enabled.
                lease_until: until
                    .filter(|_| !held.contains(integration_id))
                    .unwrap_or(0),
                lease_owner: lease
                    .filter(|_| !held.contains(integration_id))
                    .map(|l| l.owner.as_str()),
            });
        }
    }
    bulk::insert(conn, dialect, "fulfillments", "", &fulfillments).await?;
    bulk::insert(conn, dialect, "fulfillment_media", "", &counted).await?;
    bulk::insert(conn, dialect, "deliveries", "", &deliveries).await?;
    bulk::insert(conn, dialect, "delivery_queue", "", &queue).await?;
    Ok(deliveries.len())
}
