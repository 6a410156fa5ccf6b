use std::collections::BTreeSet;

use sqlx::AnyConnection;

use super::bulk::{self, Value};
use super::page::PageQuery;
use super::rows::MediaRow;
use super::{postgres, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{new_id, Invalid, Media, NewMedia, Page, PageRequest, Problem};
use crate::error::Result;

const COLUMNS: &str = "id, creator_id, platform, post_type, posted_at, ingested_at";

impl Store {
    /// Stores posts and queues each for evaluation, all in one transaction: every post or none.
    pub async fn insert_media(&self, posts: Vec<NewMedia>) -> Result<Vec<Media>> {
        let creators: BTreeSet<&str> = posts.iter().map(|p| p.creator_id.as_str()).collect();
        let creators: Vec<&str> = creators.into_iter().collect();
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
                id: new_id(),
                creator_id: p.creator_id,
                platform: p.platform,
                post_type: p.post_type,
                posted_at: p.posted_at,
                ingested_at,
            })
            .collect();
        let mut tx = self.begin_write("ingest").await?;
        insert_rows(&mut tx, &media).await?;
        self.announce(&mut tx, postgres::POSTS_CHANNEL).await?;
        tx.commit().await?;
        Ok(media)
    }

    pub async fn list_media(
        &self,
        creator_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Media>> {
        let select = format!("SELECT {COLUMNS} FROM media WHERE 1 = 1");
        let query = PageQuery::new(&select, "id").equal("creator_id", creator_id);
        self.list_page::<MediaRow, _>(query, page).await
    }
}

async fn insert_rows(conn: &mut AnyConnection, media: &[Media]) -> Result<()> {
    let rows: Vec<Vec<Value>> = media
        .iter()
        .map(|m| {
            vec![
                Value::Text(m.id.clone()),
                Value::Text(m.creator_id.clone()),
                Value::Text(m.platform.as_str().to_string()),
                Value::Text(m.post_type.as_str().to_string()),
                Value::Int(to_micros(m.posted_at)),
                Value::Int(to_micros(m.ingested_at)),
            ]
        })
        .collect();
    bulk::insert(conn, &format!("media ({COLUMNS})"), "", &rows).await?;
    let inbox: Vec<Vec<Value>> = media
        .iter()
        .map(|m| vec![Value::Text(m.id.clone())])
        .collect();
    bulk::insert(conn, "media_inbox (media_id)", "", &inbox).await
}
