use std::collections::BTreeSet;

use sqlx::AnyConnection;

use super::bulk::{self, write_row};
use super::page::PageQuery;
use super::rows::MediaRow;
use super::{postgres, Dialect, Purpose, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{CreatorId, Invalid, Media, MediaId, NewMedia, Page, PageRequest, Problem};
use crate::error::Result;

const COLUMNS: &str = "id, creator_id, platform, post_type, posted_at, ingested_at";

impl Store {
    /// Stores posts and queues each in the inbox for the evaluator, all in one transaction: every
    /// post or none. (The API writes and evaluates at once: [`Store::ingest`].)
    pub async fn insert_media(&self, posts: Vec<NewMedia>) -> Result<Vec<Media>> {
        let creators: BTreeSet<&CreatorId> = posts.iter().map(|p| &p.creator_id).collect();
        let creators: Vec<&CreatorId> = creators.into_iter().collect();
        let unknown = self.unknown_creators(&creators).await?;
        if !unknown.is_empty() {
            return Err(Invalid::new(
                Problem::UnknownCreator,
                format!("no creator with id {}", unknown.join(", ")),
            )
            .into());
        }
        let ingested_at = now();
        let media: Vec<Media> = posts
            .into_iter()
            .map(|p| Media {
                id: MediaId::generate(),
                creator_id: p.creator_id,
                platform: p.platform,
                post_type: p.post_type,
                posted_at: p.posted_at,
                ingested_at,
            })
            .collect();
        let mut tx = self.begin_write(Purpose::Ingest).await?;
        insert_rows(&mut tx, self.dialect, &media).await?;
        self.announce(&mut tx, postgres::Channel::Posts).await?;
        tx.commit().await?;
        Ok(media)
    }

    pub async fn list_media(
        &self,
        creator_id: Option<&CreatorId>,
        page: &PageRequest,
    ) -> Result<Page<Media>> {
        let select = format!("SELECT {COLUMNS} FROM media WHERE 1 = 1");
        let query =
            PageQuery::new(&select, "id").equal("creator_id", creator_id.map(CreatorId::as_str));
        self.list_page::<MediaRow, _>(query, page).await
    }
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

/// Posts and their inbox rows: the evaluator takes them from there.
async fn insert_rows(conn: &mut AnyConnection, dialect: Dialect, media: &[Media]) -> Result<()> {
    insert_media_rows(conn, dialect, media).await?;
    let inbox: Vec<InboxInsert<'_>> = media
        .iter()
        .map(|m| InboxInsert { media_id: &m.id })
        .collect();
    bulk::insert(conn, dialect, "media_inbox", "", &inbox).await
}

/// The posts alone, for a transaction that evaluates them itself.
pub(super) async fn insert_media_rows(
    conn: &mut AnyConnection,
    dialect: Dialect,
    media: &[Media],
) -> Result<()> {
    let rows: Vec<MediaInsert<'_>> = media
        .iter()
        .map(|m| MediaInsert {
            id: &m.id,
            creator_id: &m.creator_id,
            platform: m.platform.as_str(),
            post_type: m.post_type.as_str(),
            posted_at: to_micros(m.posted_at),
            ingested_at: to_micros(m.ingested_at),
        })
        .collect();
    bulk::insert(conn, dialect, "media", "", &rows).await
}
