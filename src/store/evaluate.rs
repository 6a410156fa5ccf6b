//! Evaluating queued posts against the rules: one transaction claims a batch of posts, counts
//! them, and writes every fulfillment, its deliveries and the counted posts together.

use std::collections::{BTreeMap, HashMap};

use sqlx::AnyConnection;

use super::bulk::{self, padded, padded_len, Value};
use super::rows::{MediaRow, RuleRow};
use super::{placeholders, postgres, Dialect, Store, WriteTx};
use crate::domain::time::{from_micros, now, to_micros};
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

/// A reward earned in this pass, written with the others at the end.
struct Grant<'a> {
    rule: &'a Rule,
    creator: &'a Creator,
    medias: Vec<Media>,
}

impl Store {
    /// Evaluates up to `limit` queued posts. Each post leaves the inbox in the same transaction
    /// that records what it earned, so a post is evaluated exactly once, even across instances.
    pub async fn evaluate_inbox(&self, limit: u32) -> Result<Evaluation> {
        let Some((mut tx, rows)) = self.take_inbox(limit).await? else {
            return Ok(Evaluation::default());
        };
        let conn: &mut AnyConnection = &mut tx;
        let (posts, creators) = posts_and_creators(rows)?;
        let rules = active_rules(conn).await?;
        let integrations = active_integrations(conn).await?;

        // Posts by (creator, rule). The map's order is the lock order, the same in every
        // instance, so concurrent evaluations cannot deadlock.
        let mut pairs: BTreeMap<(&str, &str), (&Rule, Vec<&Media>)> = BTreeMap::new();
        for post in &posts {
            for rule in rules.iter().filter(|r| counts(r, post)) {
                pairs
                    .entry((post.creator_id.as_str(), rule.id.as_str()))
                    .or_insert_with(|| (rule, Vec::new()))
                    .1
                    .push(post);
            }
        }
        let mut grants = Vec::new();
        let mut tallies = Vec::new();
        for ((creator_id, _), (rule, new_posts)) in pairs {
            let creator = creators.get(creator_id).ok_or(Error::NotFound("creator"))?;
            // "Every post earns": nothing is shared between posts, so no lock and no bookkeeping;
            // the fulfillment_media key still refuses to count a post twice.
            if rule.repeatable && rule.count == 1 {
                grants.extend(new_posts.into_iter().map(|m| Grant {
                    rule,
                    creator,
                    medias: vec![m.clone()],
                }));
                continue;
            }
            tallies.push(Tally {
                rule,
                creator,
                new_posts,
            });
        }
        let rewarded = lock_progress(conn, &tallies).await?;
        tallies.retain(|t| {
            t.rule.repeatable
                || rewarded.get(&(t.rule.id.clone(), t.creator.id.clone())) == Some(&0)
        });
        for (tally, medias) in count_posts(conn, &tallies).await? {
            grants.push(Grant {
                rule: tally.rule,
                creator: tally.creator,
                medias,
            });
        }
        let deliveries = write_grants(conn, &grants, &integrations).await?;
        if deliveries > 0 {
            self.announce(conn, postgres::DELIVERIES_CHANNEL).await?;
        }
        tx.commit().await?;
        Ok(Evaluation {
            posts: posts.len(),
            fulfillments: grants.len(),
            deliveries,
        })
    }
}

/// A rule counts the posts that arrive while it is active.
fn counts(rule: &Rule, post: &Media) -> bool {
    rules::counts(rule, post.post_type, post.platform) && post.ingested_at >= rule.created_at
}

/// New posts of one creator toward one rule that keeps count between posts.
struct Tally<'a> {
    rule: &'a Rule,
    creator: &'a Creator,
    new_posts: Vec<&'a Media>,
}

/// (rule, creator) pairs per locking statement, within the bind limit.
const PAIRS_PER_STATEMENT: usize = 90;

/// Locks the (rule, creator) rows of `tallies`, in their order, and returns the rewards each
/// pair was granted so far. Evaluations of the same pair queue up behind the lock, so the count
/// that follows sees every post committed before, whichever instance wrote it; every instance
/// locks in the same (sorted) order, so they cannot deadlock.
async fn lock_progress(
    conn: &mut AnyConnection,
    tallies: &[Tally<'_>],
) -> Result<HashMap<(String, String), i64>> {
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
        let mut query = sqlx::query_as::<_, (String, String, i64)>(&sql);
        for t in chunk {
            query = query.bind(t.rule.id.as_str()).bind(t.creator.id.as_str());
        }
        for (rule_id, creator_id, n) in query.fetch_all(&mut *conn).await? {
            rewarded.insert((rule_id, creator_id), n);
        }
    }
    Ok(rewarded)
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    rule_id: String,
    #[sqlx(flatten)]
    media: MediaRow,
}

/// (rule, creator, from, to) per row: the window lookup's parameters, within the bind limit.
const WINDOWS_PER_STATEMENT: usize = 45;

/// Counts the new posts of every locked pair, in a few statements for the whole batch; returns
/// the groups of posts that earned, with their pair.
async fn count_posts<'t, 'a>(
    conn: &mut AnyConnection,
    tallies: &'t [Tally<'a>],
) -> Result<Vec<(&'t Tally<'a>, Vec<Media>)>> {
    if tallies.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Vec<Value>> = tallies
        .iter()
        .flat_map(|t| {
            t.new_posts.iter().map(|m| {
                vec![
                    Value::Text(t.rule.id.clone()),
                    Value::Text(m.id.clone()),
                    Value::Text(t.creator.id.clone()),
                    Value::Int(to_micros(m.posted_at)),
                ]
            })
        })
        .collect();
    bulk::insert(
        conn,
        "rule_posts (rule_id, media_id, creator_id, posted_at)",
        "ON CONFLICT DO NOTHING",
        &rows,
    )
    .await?;

    // Uncounted posts never formed a group among themselves, so a new group holds a new post and
    // lies within a window of it: what is further away is not read (a creator's leftovers under a
    // windowed rule only grow). Backdated posts still find old leftovers inside that range.
    let mut pending: HashMap<(String, String), Vec<Media>> = HashMap::new();
    for chunk in tallies.chunks(WINDOWS_PER_STATEMENT) {
        let windows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(i * 4, 4)))
            .collect();
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
            let (from, to) = reach(t.rule, &t.new_posts);
            query = query
                .bind(t.rule.id.as_str())
                .bind(t.creator.id.as_str())
                .bind(from)
                .bind(to);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let media = Media::try_from(row.media)?;
            pending
                .entry((row.rule_id, media.creator_id.clone()))
                .or_default()
                .push(media);
        }
    }

    let mut earned = Vec::new();
    let mut counted: HashMap<&str, Vec<String>> = HashMap::new();
    let mut spent: HashMap<&str, Vec<String>> = HashMap::new();
    let mut progress = Vec::new();
    for tally in tallies {
        let (rule, creator_id) = (tally.rule, tally.creator.id.as_str());
        let Some(posts) = pending.remove(&(rule.id.clone(), creator_id.to_string())) else {
            continue;
        };
        let candidates: Vec<Candidate> = posts
            .iter()
            .map(|m| Candidate {
                media_id: m.id.clone(),
                posted_at: to_micros(m.posted_at),
            })
            .collect();
        let groups = rules::earned_groups(rule, &candidates, (!rule.repeatable).then_some(1));
        if groups.is_empty() {
            continue;
        }
        let by_id: HashMap<&str, &Media> = posts.iter().map(|m| (m.id.as_str(), m)).collect();
        let medias: Vec<Vec<Media>> = groups
            .iter()
            .map(|g| {
                g.iter()
                    .filter_map(|c| by_id.get(c.media_id.as_str()).map(|m| (*m).clone()))
                    .collect()
            })
            .collect();
        if rule.repeatable {
            counted
                .entry(rule.id.as_str())
                .or_default()
                .extend(medias.iter().flatten().map(|m| m.id.clone()));
        } else {
            // The reward is spent: the leftovers can never count.
            spent
                .entry(rule.id.as_str())
                .or_default()
                .push(creator_id.to_string());
        }
        progress.push(vec![
            Value::Text(rule.id.clone()),
            Value::Text(creator_id.to_string()),
            Value::Int(medias.len() as i64),
        ]);
        earned.extend(medias.into_iter().map(|m| (tally, m)));
    }
    // Counted posts leave by id; a spent pair's leftovers leave with it, by creator.
    for (rule_id, media_ids) in &counted {
        forget_rule_posts(conn, rule_id, "media_id", media_ids).await?;
    }
    for (rule_id, creator_ids) in &spent {
        forget_rule_posts(conn, rule_id, "creator_id", creator_ids).await?;
    }
    bulk::update_from_values(
        conn,
        |v| {
            format!(
                "UPDATE rule_progress SET rewarded = rule_progress.rewarded + v.column3 FROM {v}
                 WHERE rule_progress.rule_id = v.column1 AND rule_progress.creator_id = v.column2"
            )
        },
        &progress,
    )
    .await?;
    Ok(earned)
}

/// Deletes the `rule_posts` of `rule_id` whose `column` is one of `values`.
async fn forget_rule_posts(
    conn: &mut AnyConnection,
    rule_id: &str,
    column: &str,
    values: &[String],
) -> Result<()> {
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let rule = [Value::Text(rule_id.to_string())];
    bulk::by_ids(conn, &rule, &values, |rule, values| {
        format!(
            "DELETE FROM rule_posts WHERE rule_id = {} AND {column} IN ({values})",
            rule[0]
        )
    })
    .await?;
    Ok(())
}

/// The `posted_at` range (µs) a group with one of `new_posts` can span: everything without a window.
fn reach(rule: &Rule, new_posts: &[&Media]) -> (i64, i64) {
    let Some(window) = rules::window_micros(rule) else {
        return (i64::MIN, i64::MAX);
    };
    let times = new_posts.iter().map(|m| to_micros(m.posted_at));
    let first = times.clone().min().unwrap_or(i64::MAX);
    let last = times.max().unwrap_or(i64::MIN);
    (first.saturating_sub(window), last.saturating_add(window))
}

/// Writes the fulfillments with their payloads, marks their posts counted and queues one
/// delivery per target integration, in a few multi-row statements. Returns the deliveries queued.
async fn write_grants(
    conn: &mut AnyConnection,
    grants: &[Grant<'_>],
    integrations: &[String],
) -> Result<usize> {
    let at = to_micros(now());
    let mut fulfillments = Vec::with_capacity(grants.len());
    let mut counted = Vec::new();
    let mut deliveries = Vec::new();
    let mut queue = Vec::new();
    for grant in grants {
        let (rule, creator) = (grant.rule, grant.creator);
        let id = new_id();
        let code = match &rule.reward {
            Reward::DiscountCode { code_prefix } => {
                Some(rules::discount_code(code_prefix.as_deref()))
            }
            Reward::None => None,
        };
        let body = Payload::for_fulfillment(&id, creator, code.clone(), &grant.medias).to_body()?;
        let once_key = (!rule.repeatable).then(|| format!("{}:{}", rule.id, creator.id));
        for m in &grant.medias {
            counted.push(vec![
                Value::Text(rule.id.clone()),
                Value::Text(m.id.clone()),
                Value::Text(id.clone()),
            ]);
        }
        for integration_id in targets(rule, integrations) {
            let delivery_id = new_id();
            deliveries.push(vec![
                Value::Text(delivery_id.clone()),
                Value::Text(id.clone()),
                Value::Text(integration_id.clone()),
                Value::Text("pending".into()),
                Value::Int(at),
                Value::Int(at),
            ]);
            queue.push(vec![
                Value::Text(delivery_id),
                Value::Text(integration_id.clone()),
                Value::Int(at),
            ]);
        }
        fulfillments.push(vec![
            Value::Text(id),
            Value::Text(rule.id.clone()),
            Value::Text(creator.id.clone()),
            Value::MaybeText(code),
            Value::MaybeText(once_key),
            Value::Text(body),
            Value::Int(at),
        ]);
    }
    bulk::insert(
        conn,
        "fulfillments (id, rule_id, creator_id, discount_code, once_key, payload, created_at)",
        "",
        &fulfillments,
    )
    .await?;
    bulk::insert(
        conn,
        "fulfillment_media (rule_id, media_id, fulfillment_id)",
        "",
        &counted,
    )
    .await?;
    bulk::insert(
        conn,
        "deliveries (id, fulfillment_id, integration_id, status, next_attempt_at, created_at)",
        "",
        &deliveries,
    )
    .await?;
    bulk::insert(
        conn,
        "delivery_queue (delivery_id, integration_id, due_at)",
        "",
        &queue,
    )
    .await?;
    Ok(deliveries.len())
}

/// The integrations a rule's rewards go to: those it names, or every active one.
fn targets<'a>(rule: &'a Rule, active: &'a [String]) -> impl Iterator<Item = &'a String> {
    active.iter().filter(|id| {
        rule.integration_ids
            .as_ref()
            .is_none_or(|named| named.contains(id))
    })
}

impl Store {
    /// Opens the evaluation's transaction with up to `limit` posts taken out of the inbox, or
    /// `None` when it is empty.
    async fn take_inbox(&self, limit: u32) -> Result<Option<(WriteTx, Vec<InboxRow>)>> {
        if self.dialect == Dialect::Sqlite {
            // Read beside the one writer, which then only deletes the posts by key. Another
            // process (a second service on the file) may have taken some meanwhile: then the
            // posts are read again in the writer's turn.
            let rows = read_inbox(&mut *self.pool.acquire().await?, limit).await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut tx = self.begin_write("evaluate").await?;
            if leave_inbox(&mut tx, &rows).await? == rows.len() as u64 {
                return Ok(Some((tx, rows)));
            }
            tx.rollback().await?;
        }
        // In the writer's turn: the claim is a delete, of rows no other instance holds
        // (PostgreSQL); then the posts it took are read.
        let mut tx = self.begin_write("evaluate").await?;
        if let Some(settings) = self.dialect.evaluation_settings() {
            sqlx::query(settings).execute(&mut *tx).await?;
        }
        let taken: Vec<(String,)> = sqlx::query_as(&format!(
            "DELETE FROM media_inbox WHERE media_id {} RETURNING media_id",
            self.dialect.in_claimed(&format!(
                "SELECT media_id FROM media_inbox ORDER BY media_id LIMIT {limit}"
            ))
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
            self.dialect.list(padded_len(taken.len()))
        );
        let mut query = sqlx::query_as::<_, InboxRow>(&sql);
        for (id,) in padded(&taken) {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&mut *tx).await?;
        Ok(Some((tx, rows)))
    }
}

/// A post with its creator's columns.
const INBOX_COLUMNS: &str = "m.id, m.creator_id, m.platform, m.post_type, m.posted_at, \
     m.ingested_at, c.email, c.ig_username, c.tt_username, c.created_at AS creator_created_at";

#[derive(sqlx::FromRow)]
struct InboxRow {
    #[sqlx(flatten)]
    media: MediaRow,
    email: String,
    ig_username: Option<String>,
    tt_username: Option<String>,
    creator_created_at: i64,
}

/// The oldest `limit` posts in the inbox, with their creators joined in: one read, where SQLite's
/// connection thread hands over each row separately (a wake of the reading task per row).
/// `CROSS JOIN` makes SQLite walk the inbox in order (with plain joins it planned a scan of every
/// post and a sort).
async fn read_inbox(conn: &mut AnyConnection, limit: u32) -> Result<Vec<InboxRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {INBOX_COLUMNS} FROM media_inbox i CROSS JOIN media m CROSS JOIN creators c
         WHERE m.id = i.media_id AND c.id = m.creator_id
         ORDER BY i.media_id LIMIT {limit}"
    ))
    .fetch_all(conn)
    .await?)
}

/// Deletes the posts' inbox rows; returns how many there were still.
async fn leave_inbox(conn: &mut AnyConnection, rows: &[InboxRow]) -> Result<u64> {
    let ids: Vec<&str> = rows.iter().map(|r| r.media.id.as_str()).collect();
    bulk::by_ids(conn, &[], &ids, |_, ids| {
        format!("DELETE FROM media_inbox WHERE media_id IN ({ids})")
    })
    .await
}

fn posts_and_creators(rows: Vec<InboxRow>) -> Result<(Vec<Media>, HashMap<String, Creator>)> {
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

async fn active_integrations(conn: &mut AnyConnection) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM integrations WHERE active = 1 AND deleted = 0 ORDER BY id")
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
