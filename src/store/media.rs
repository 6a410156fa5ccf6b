//! Posts: written by `import` into the inbox for the evaluator, or by the API together with
//! their evaluation (`evaluation/`).

use std::collections::{BTreeSet, HashSet};

use super::backend::{Channel, Db};
use super::db::Purpose;
use super::page::{list_page, PageQuery};
use super::sql::rows::{MediaRow, MEDIA_COLUMNS};
use super::sql::{write_row, Statement};
use crate::domain::time::{now, to_micros};
use crate::domain::{CreatorId, Invalid, Media, MediaId, NewMedia, Page, PageRequest, Problem};
use crate::error::Result;

/// Stores posts and queues each in the inbox for the evaluator, all in one transaction: every
/// post or none.
pub(super) async fn insert(db: &Db, posts: Vec<NewMedia>) -> Result<Vec<Media>> {
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
    conn.insert("media", "", &post_rows(&media)).await?;
    let inbox: Vec<InboxInsert<'_>> = media
        .iter()
        .map(|m| InboxInsert { media_id: &m.id })
        .collect();
    conn.insert("media_inbox", "", &inbox).await?;
    conn.notify(Channel::Posts).await?;
    tx.commit().await?;
    Ok(media)
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
    }
}

write_row! {
    /// A post waiting to be evaluated.
    struct InboxInsert<'a> {
        media_id: &'a MediaId,
    }
}

/// The posts as rows of `media`.
pub(super) fn post_rows(media: &[Media]) -> Vec<MediaInsert<'_>> {
    media
        .iter()
        .map(|m| MediaInsert {
            id: &m.id,
            creator_id: &m.creator_id,
            platform: m.platform.as_str(),
            post_type: m.post_type.as_str(),
            posted_at: to_micros(m.posted_at),
            ingested_at: to_micros(m.ingested_at),
        })
        .collect()
}
