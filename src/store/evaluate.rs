//! Evaluating queued posts against the rules: one transaction claims a batch of posts, counts
//! them, and writes every fulfillment, its deliveries and the counted posts together.

use std::collections::{BTreeMap, HashMap};

use sqlx::AnyConnection;

use super::bulk::{self, Value};
use super::rows::{CreatorRow, MediaRow, RuleRow};
use super::{placeholders, postgres, Dialect, Store};
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
        let mut tx = self.begin_write("evaluate").await?;
        let conn: &mut AnyConnection = &mut tx;
        // PostgreSQL only: SQLite runs no settings, so the claim below is still its first statement.
        if let Some(settings) = self.dialect.evaluation_settings() {
            sqlx::query(settings).execute(&mut *conn).await?;
        }
        // The claim is the first statement and a write: on SQLite it takes the write lock at
        // once; on PostgreSQL another instance skips the rows this one holds.
        let claimed: Vec<(String,)> = sqlx::query_as(&format!(
            "DELETE FROM media_inbox WHERE media_id {} RETURNING media_id",
            self.dialect.in_claimed(&format!(
                "SELECT media_id FROM media_inbox ORDER BY media_id LIMIT {limit}"
            ))
        ))
        .fetch_all(&mut *conn)
        .await?;
        if claimed.is_empty() {
            tx.rollback().await?;
            return Ok(Evaluation::default());
        }
        let ids: Vec<String> = claimed.into_iter().map(|(id,)| id).collect();
        let posts = load_media(conn, &ids).await?;
        let rules = active_rules(conn).await?;
        let integrations = active_integrations(conn).await?;
        let creator_ids: Vec<&str> = posts.iter().map(|p| p.creator_id.as_str()).collect();
        let creators = load_creators(conn, &creator_ids).await?;

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

/// Deletes the `rule_posts` of `rule_id` whose `column` is one of `values`, 500 to a statement.
async fn forget_rule_posts(
    conn: &mut AnyConnection,
    rule_id: &str,
    column: &str,
    values: &[String],
) -> Result<()> {
    for chunk in values.chunks(500) {
        let sql = format!(
            "DELETE FROM rule_posts WHERE rule_id = $1 AND {column} IN ({})",
            placeholders(1, chunk.len())
        );
        let mut delete = sqlx::query(&sql).bind(rule_id);
        for value in chunk {
            delete = delete.bind(value.as_str());
        }
        delete.execute(&mut *conn).await?;
    }
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

async fn load_media(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<Media>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, creator_id, platform, post_type, posted_at, ingested_at FROM media WHERE id IN ({})",
        Dialect::of_conn(conn).list(ids.len())
    );
    let mut query = sqlx::query_as::<_, MediaRow>(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(Media::try_from)
        .collect()
}

async fn load_creators(conn: &mut AnyConnection, ids: &[&str]) -> Result<HashMap<String, Creator>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT id, email, ig_username, tt_username, created_at FROM creators WHERE id IN ({})",
        Dialect::of_conn(conn).list(ids.len())
    );
    let mut query = sqlx::query_as::<_, CreatorRow>(&sql);
    for id in ids {
        query = query.bind(id);
    }
    Ok(query
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(|r| (r.id.clone(), Creator::from(r)))
        .collect())
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
