//! Posts: written by `import` into the inbox for the evaluator, or by the API together with
//! their evaluation (`evaluation/`).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::backend::{Channel, Conn, Db};
use super::db::Purpose;
use super::page::{list_page, PageQuery};
use super::sql::rows::{MediaRow, MEDIA_COLUMNS};
use super::sql::{write_row, Statement};
use crate::domain::time::{now, to_micros};
use crate::domain::{
    CreatorId, Invalid, Media, MediaId, MediaType, NewMedia, Page, PageRequest, Platform, Posted,
    Problem,
};
use crate::error::{Error, Result};

/// Stores posts and queues each in the inbox for the evaluator, all in one transaction: every
/// post or none. A post whose `(platform, externalId)` is already stored (or comes earlier in
/// `posts`) is answered with the stored one and not queued again: it is evaluated once.
pub(super) async fn insert(db: &Db, posts: Vec<NewMedia>) -> Result<Vec<Posted>> {
    let creators: BTreeSet<&CreatorId> = posts.iter().map(|p| &p.creator_id).collect();
    let unknown = unknown_creators(db, &creators).await?;
    if !unknown.is_empty() {
        return Err(Invalid::new(
            Problem::UnknownCreator,
            format!("no creator with id {}", unknown.join(", ")),
        )
        .into());
    }
    let ingested_at = now();
    let media: Vec<Media> = posts.iter().map(|p| p.to_media(ingested_at)).collect();
    let mut tx = db.begin_write(Purpose::Ingest).await?;
    let mut conn = tx.conn();
    let posted = store_keyed(&mut conn, media).await?;
    conn.insert("media", "", &post_rows(unkeyed(&posted)))
        .await?;
    let inbox: Vec<InboxInsert<'_>> = posted
        .iter()
        .filter(|p| p.created)
        .map(|p| InboxInsert {
            media_id: &p.media.id,
        })
        .collect();
    conn.insert("media_inbox", "", &inbox).await?;
    if !inbox.is_empty() {
        conn.notify(Channel::Posts).await?;
    }
    tx.commit().await?;
    Ok(posted)
}

/// The new posts without a platform id: those [`store_keyed`] left for the caller to write.
pub(super) fn unkeyed(posted: &[Posted]) -> impl Iterator<Item = &Media> {
    posted
        .iter()
        .filter(|p| p.created && p.media.external_id.is_none())
        .map(|p| &p.media)
}

/// The conflict a post's platform id meets: the partial unique index of migration 0015.
const ONE_POST_PER_KEY: &str =
    "ON CONFLICT (platform, external_id) WHERE external_id IS NOT NULL DO NOTHING RETURNING id";

/// Writes, in `conn`'s transaction, the posts that carry a platform id, each key once; a key
/// already stored (by an earlier write, another request or instance, even one committing right
/// now) is not written again, and the post stored under it answers instead. Returns each post of
/// `posts` as it is answered; a post without a platform id is returned as new and not written:
/// the caller writes it with whatever else it writes (no round trip here when no post has one).
pub(super) async fn store_keyed(conn: &mut Conn<'_>, posts: Vec<Media>) -> Result<Vec<Posted>> {
    if posts.iter().all(|p| p.external_id.is_none()) {
        return Ok(posts
            .into_iter()
            .map(|media| Posted {
                media,
                created: true,
            })
            .collect());
    }
    // The first post of each key in `posts` is the one written; later ones repeat it.
    let mut first: HashMap<(Platform, &str), usize> = HashMap::new();
    for (i, post) in posts.iter().enumerate() {
        if let Some(key) = post.external_key() {
            first.entry(key).or_insert(i);
        }
    }
    let mut keyed: Vec<&Media> = first.values().map(|&i| &posts[i]).collect();
    // Every writer inserts its keys in one order, so two writers never wait for each other's.
    keyed.sort_unstable_by(|a, b| {
        (a.platform.as_str(), &a.external_id).cmp(&(b.platform.as_str(), &b.external_id))
    });
    let written: Vec<(MediaId,)> = conn
        .insert_returning("media", ONE_POST_PER_KEY, &post_rows(keyed.iter().copied()))
        .await?;
    let written: HashSet<MediaId> = written.into_iter().map(|(id,)| id).collect();
    let lost: Vec<KeyRow<'_>> = keyed
        .iter()
        .filter(|m| !written.contains(&m.id))
        .filter_map(|m| {
            m.external_key().map(|(platform, external_id)| KeyRow {
                platform: platform.as_str(),
                external_id,
            })
        })
        .collect();
    let stored: Vec<MediaRow> = conn
        .select_from(
            &lost,
            "SELECT m.id, m.creator_id, m.platform, m.post_type, m.posted_at, m.ingested_at,
                    m.external_id, m.media_type",
            "JOIN media m ON m.platform = v.platform AND m.external_id = v.external_id",
        )
        .await?;
    let mut stored_by_key: HashMap<(Platform, String), Media> = HashMap::new();
    for row in stored {
        let media = Media::try_from(row)?;
        if let Some(id) = media.external_id.clone() {
            stored_by_key.insert((media.platform, id), media);
        }
    }
    let answers: Vec<Option<Posted>> = posts
        .iter()
        .enumerate()
        .map(|(i, post)| {
            let Some(key) = post.external_key() else {
                return Ok(None);
            };
            let winner = &posts[first[&key]];
            if written.contains(&winner.id) {
                return Ok(Some(Posted {
                    media: winner.clone(),
                    created: first[&key] == i,
                }));
            }
            let stored = stored_by_key
                .get(&(key.0, key.1.to_string()))
                .ok_or_else(|| {
                    Error::Corrupt(format!(
                        "externalId {} conflicted, and no post holds it",
                        key.1.escape_debug()
                    ))
                })?;
            Ok(Some(Posted {
                media: stored.clone(),
                created: false,
            }))
        })
        .collect::<Result<_>>()?;
    Ok(posts
        .into_iter()
        .zip(answers)
        .map(|(media, answer)| {
            answer.unwrap_or(Posted {
                media,
                created: true,
            })
        })
        .collect())
}

/// The ids among `ids` that name no creator, sorted.
async fn unknown_creators(db: &Db, ids: &BTreeSet<&CreatorId>) -> Result<Vec<String>> {
    let found: Vec<(CreatorId,)> = db
        .fetch_all(Statement::new("SELECT id FROM creators WHERE id").any_of(ids))
        .await?;
    let found: HashSet<CreatorId> = found.into_iter().map(|(id,)| id).collect();
    Ok(ids
        .iter()
        .filter(|id| !found.contains(**id))
        .map(ToString::to_string)
        .collect())
}

pub(super) async fn list(
    db: &Db,
    creator_id: Option<&CreatorId>,
    page: &PageRequest,
) -> Result<Page<Media>> {
    let select = format!("SELECT {MEDIA_COLUMNS} FROM media WHERE 1 = 1");
    let query = PageQuery::new(select, "id").equal("creator_id", creator_id);
    list_page::<MediaRow, _>(db, query, page).await
}

write_row! {
    /// A post as stored.
    struct MediaInsert<'a> {
        id: &'a MediaId,
        creator_id: &'a CreatorId,
        platform: &'static str,
        post_type: &'static str,
        posted_at: i64,
        ingested_at: i64,
        external_id: Option<&'a str>,
        media_type: Option<&'static str>,
    }
}

write_row! {
    /// A post's platform id, to find the post stored under it.
    struct KeyRow<'a> {
        platform: &'static str,
        external_id: &'a str,
    }
}

write_row! {
    /// A post waiting to be evaluated.
    struct InboxInsert<'a> {
        media_id: &'a MediaId,
    }
}

/// The posts as rows of `media`.
pub(super) fn post_rows<'a>(media: impl IntoIterator<Item = &'a Media>) -> Vec<MediaInsert<'a>> {
    media
        .into_iter()
        .map(|m| MediaInsert {
            id: &m.id,
            creator_id: &m.creator_id,
            platform: m.platform.as_str(),
            post_type: m.post_type.as_str(),
            posted_at: to_micros(m.posted_at),
            ingested_at: to_micros(m.ingested_at),
            external_id: m.external_id.as_deref(),
            media_type: m.media_type.map(MediaType::as_str),
        })
        .collect()
}
