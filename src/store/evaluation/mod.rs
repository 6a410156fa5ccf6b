//! Carrying out an evaluation: in the transaction that wrote the posts (the API's, [`ingest`])
//! or that took them from the inbox (`import`'s, [`evaluate_inbox`]), lock the pairs the rule
//! engine names, read what it asks for, and write what it decided — every fulfillment, its
//! deliveries and the counted posts together. The decisions are `rules`'s; each file here
//! writes one part of them:
//!
//! - `creators.rs`: who posted, as a payload carries them;
//! - `eligibility.rs`: their profiles and memberships, for rules with LoudCrowd's options;
//! - `progress.rs`: `rule_progress`, the lock on each (rule, creator) pair and its rewards so far;
//! - `pending.rs`: `rule_posts`, posts counted toward a rule and not yet part of a reward;
//! - `awards.rs`: the fulfillments, the posts they counted, their deliveries and queue rows;
//! - `tagged.rs`: each post's `post.tagged` event and its deliveries, when anything subscribes.

mod awards;
mod creators;
mod eligibility;
mod month_run;
mod pending;
mod progress;
mod tagged;

pub(crate) use creators::CreatorCache;

use std::collections::{BTreeSet, HashMap};

pub(super) use month_run::{monthly_rule, run_month};
use tracing::Instrument;

use super::backend::{Channel, Conn, Db, WriteTx};
use super::config::{Config, ConfigCache};
use super::db::Purpose;
use super::media;
use super::sql::{inbox, Writes};
use crate::domain::time::{now, to_micros};
use crate::domain::{Creator, CreatorId, Invalid, Lease, Leased, Media, NewMedia, Posted, Problem};
use crate::error::{Error, Result};
use crate::rules::{self, Award, Counted, Progress, Tally};
use crate::traces;

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
    pub results: Vec<std::result::Result<Vec<Posted>, Invalid>>,
    pub evaluated: Evaluated,
}

/// Writes the posts of several requests and evaluates them, in one transaction: a `201` then
/// means the rewards they earned are committed, and their deliveries can go out at once. A
/// request naming an unknown creator is refused whole; the others go on. Posts written so never
/// enter the inbox: each is evaluated exactly once, here.
///
/// On PostgreSQL the transaction begins only if the rules keep count (which locks pairs); else
/// the posts with all they earned are written in one statement that commits itself: one round
/// trip when every creator named has a current copy in `cache` (the statement checks), two when
/// they are read first.
pub(super) async fn ingest(
    db: &Db,
    config: &ConfigCache,
    cache: &CreatorCache,
    requests: &[Vec<NewMedia>],
    lease: Option<&Lease>,
) -> Result<Ingested> {
    if db.is_postgres() {
        match ingest_once(db, config, cache, requests, lease, true).await {
            Err(Error::StaleCopy) => {
                let wanted: BTreeSet<&CreatorId> =
                    requests.iter().flatten().map(|p| &p.creator_id).collect();
                cache.forget(&wanted);
            }
            done => return done,
        }
    }
    ingest_once(db, config, cache, requests, lease, false).await
}

/// [`ingest`], from the cached copies when `copies` and they are all there.
async fn ingest_once(
    db: &Db,
    config: &ConfigCache,
    cache: &CreatorCache,
    requests: &[Vec<NewMedia>],
    lease: Option<&Lease>,
    copies: bool,
) -> Result<Ingested> {
    let mut tx = db.begin_deferred(Purpose::Ingest).await?;
    let wanted: BTreeSet<&CreatorId> = requests.iter().flatten().map(|p| &p.creator_id).collect();
    let cached = copies
        .then(|| config.cached_version())
        .flatten()
        .and_then(|version| cache.all_of(&wanted, version));
    let (creators, version) = match cached {
        Some((creators, guard)) => {
            let version = Some(guard.config_version);
            tx = tx.guarded(guard);
            (creators, version)
        }
        None => creators::read(&mut tx.conn(), &wanted, cache).await?,
    };
    let ingested_at = now();
    // Each request's posts, as a range of `all`, or why it was refused.
    let mut ranges = Vec::with_capacity(requests.len());
    let mut all = Vec::new();
    for request in requests {
        let mut unknown: Vec<String> = request
            .iter()
            .filter(|p| !creators.contains_key(&p.creator_id))
            .map(|p| p.creator_id.to_string())
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            unknown.dedup();
            ranges.push(Err(Invalid::new(
                Problem::UnknownCreator,
                format!("no creator with id {}", unknown.join(", ")),
            )));
            continue;
        }
        let start = all.len();
        all.extend(request.iter().map(|p| p.to_media(ingested_at)));
        ranges.push(Ok(start..all.len()));
    }
    let Some(version) = version.filter(|_| !all.is_empty()) else {
        tx.rollback().await?;
        return Ok(Ingested {
            results: answers(ranges, Vec::new()),
            evaluated: Evaluated::default(),
        });
    };
    // Posts with a platform id are written first, in the transaction (begun for them), so that
    // one already stored, or stored at this moment by another writer, is not counted again.
    // Posts without one are written with the evaluation's other rows, as before.
    if all.iter().any(|m| m.external_id.is_some()) {
        tx = tx.begun(false).await?;
    }
    let posted = media::store_keyed(&mut tx.conn(), all).await?;
    let posts: Vec<Media> = posted
        .iter()
        .filter(|p| p.created)
        .map(|p| p.media.clone())
        .collect();
    if posts.is_empty() {
        tx.commit().await?;
        return Ok(Ingested {
            results: answers(ranges, posted),
            evaluated: Evaluated::default(),
        });
    }
    let config = config.at(&mut tx.conn(), version).await?;
    let evaluated = evaluate(tx, &config, &posts, true, &creators, lease).await?;
    Ok(Ingested {
        results: answers(ranges, posted),
        evaluated,
    })
}

/// Each request's answer: its range of `posted`, or why it was refused.
fn answers(
    ranges: Vec<std::result::Result<std::ops::Range<usize>, Invalid>>,
    posted: Vec<Posted>,
) -> Vec<std::result::Result<Vec<Posted>, Invalid>> {
    let mut posted = posted.into_iter();
    ranges
        .into_iter()
        .map(|range| range.map(|r| posted.by_ref().take(r.len()).collect()))
        .collect()
}

/// Evaluates up to `limit` posts from the inbox (those `import` wrote). Each post leaves the
/// inbox in the same transaction that records what it earned, so a post is evaluated exactly
/// once, even across instances.
pub(super) async fn evaluate_inbox(
    db: &Db,
    config: &ConfigCache,
    limit: u32,
    lease: Option<&Lease>,
) -> Result<Evaluated> {
    let Some((mut tx, rows)) = db.take_inbox(limit).await? else {
        return Ok(Evaluated::default());
    };
    let (posts, creators) = inbox::into_posts(rows)?;
    let config = config.current(&mut tx.conn()).await?;
    evaluate(tx, &config, &posts, false, &creators, lease).await
}

/// Evaluates `posts` in `tx`, as the rule engine decides, writing them too if `new` (those
/// without a platform id: [`media::store_keyed`] wrote the others), and commits. What the
/// evaluation writes goes in one batch of inserts at the end; only rules that keep count read
/// and write before it. In a span of its own when tracing is on.
async fn evaluate(
    tx: WriteTx,
    config: &Config,
    posts: &[Media],
    new: bool,
    creators: &HashMap<CreatorId, Creator>,
    lease: Option<&Lease>,
) -> Result<Evaluated> {
    if !traces::on() {
        return decide(tx, config, posts, new, creators, lease, None).await;
    }
    let span = tracing::info_span!("evaluate", posts = posts.len());
    // Stored with each reward: its deliveries' attempts, claimed later by any instance, are
    // children of this span.
    let traceparent = traces::traceparent(&span);
    decide(
        tx,
        config,
        posts,
        new,
        creators,
        lease,
        traceparent.as_deref(),
    )
    .instrument(span)
    .await
}

async fn decide(
    mut tx: WriteTx,
    config: &Config,
    posts: &[Media],
    new: bool,
    creators: &HashMap<CreatorId, Creator>,
    lease: Option<&Lease>,
    traceparent: Option<&str>,
) -> Result<Evaluated> {
    let new_posts: Vec<&Media> = if new {
        posts.iter().filter(|m| m.external_id.is_none()).collect()
    } else {
        Vec::new()
    };
    let about = eligibility::read(&mut tx.conn(), &config.rules, posts).await?;
    let matched = rules::match_posts(posts, creators, &config.rules, &about)?;
    let counted = if matched.tallies.is_empty() {
        Counted::default()
    } else {
        tx = tx.begun(true).await?;
        count(&mut tx.conn(), &matched.tallies, &new_posts).await?
    };

    let awards = matched
        .instant
        .iter()
        .chain(&counted.grants)
        .map(|grant| {
            grant.award(&config.integrations, |id, event_type| {
                config.receives(id, event_type)
            })
        })
        .collect::<Result<Vec<Award>>>()?;
    let tagged = tagged::Tagged::of(config, posts, creators)?;
    let since = std::time::Instant::now();
    let at = to_micros(now());
    let until = lease.map(|l| at + i64::try_from(l.length.as_micros()).unwrap_or(i64::MAX / 2));
    let mut writes = Writes::default();
    if matched.tallies.is_empty() {
        writes.insert("media", "", media::post_rows(new_posts.iter().copied()));
    }
    let deliveries = awards::add(
        &mut writes,
        &awards,
        at,
        lease,
        until,
        &config.disabled,
        traceparent,
    ) + tagged.add(&mut writes, at, lease, until, config, traceparent);
    // Deliveries leased here go to this instance's dispatcher; others are announced, when the
    // transaction that queues them commits.
    if deliveries > 0 && lease.is_none() {
        tx = tx.begun(false).await?;
        tx.conn().notify(Channel::Deliveries).await?;
    }
    tx.finish(&writes).await?;
    let leased = Leased {
        since,
        deliveries: match lease {
            Some(lease) => {
                let mut handed = awards::handed_over(&awards, config, lease, traceparent);
                // Their first attempts join the post's trace here; a retry reads it from the
                // event's row.
                let mut events = tagged.handed_over(config, lease);
                for claimed in &mut events {
                    claimed.traceparent = traceparent.map(str::to_string);
                }
                handed.extend(events);
                handed
            }
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

/// For the rules that keep count: locks each pair, stores the new posts (`new_posts`, and those
/// counted as pending), reads each pair's pending posts and counts them.
async fn count<'a>(
    conn: &mut Conn<'_>,
    tallies: &'a [Tally<'a>],
    new_posts: &[&'a Media],
) -> Result<Counted<'a>> {
    let progress = progress::lock(conn, tallies).await?;
    let open: Vec<(&Tally<'_>, Progress)> = tallies
        .iter()
        .map(|t| (t, progress.get(&t.key()).copied().unwrap_or_default()))
        .filter(|(t, p)| t.can_earn(p.rewarded))
        .collect();
    let open_tallies: Vec<&Tally<'_>> = open.iter().map(|(t, _)| *t).collect();
    let mut writes = Writes::default();
    writes.insert("media", "", media::post_rows(new_posts.iter().copied()));
    pending::add(&mut writes, &open_tallies);
    conn.insert_all(&writes).await?;
    let pending = pending::read(conn, &open_tallies).await?;
    let counted = rules::count(&open, pending);
    pending::forget(conn, &counted.used, &counted.closed).await?;
    progress::add_rewarded(conn, &counted.rewarded).await?;
    progress::set_last_counted(conn, &counted.last_counted).await?;
    Ok(counted)
}
