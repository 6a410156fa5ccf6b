use std::collections::BTreeSet;

use sqlx::{Any, Transaction};

use super::rows::MediaRow;
use super::{placeholders, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{new_id, Media, NewMedia, Page, PageRequest};
use crate::error::{Error, Result};

const COLUMNS: &str = "id, creator_id, platform, post_type, posted_at, ingested_at";
/// Rows per multi-row INSERT: well under both databases' limits on bound values.
const CHUNK: usize = 100;

impl Store {
    /// Stores posts and queues each for evaluation, all in one transaction: every post or none.
    pub async fn insert_media(&self, posts: Vec<NewMedia>) -> Result<Vec<Media>> {
        let creators: BTreeSet<&str> = posts.iter().map(|p| p.creator_id.as_str()).collect();
        let creators: Vec<&str> = creators.into_iter().collect();
        let unknown = self.unknown_creators(&creators).await?;
        if !unknown.is_empty() {
            return Err(Error::invalid(
                "unknown_creator",
                format!("no creator with id {}", unknown.join(", ")),
            ));
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
        let mut tx = self.pool.begin().await?;
        for chunk in media.chunks(CHUNK) {
            insert_chunk(&mut tx, chunk).await?;
        }
        tx.commit().await?;
        Ok(media)
    }

    pub async fn list_media(
        &self,
        creator_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Media>> {
        let rows = sqlx::query_as::<_, MediaRow>(&format!(
            "SELECT {COLUMNS} FROM media WHERE ($1 IS NULL OR creator_id = $1) AND ($2 IS NULL OR id > $2)
             ORDER BY id LIMIT $3"
        ))
        .bind(creator_id)
        .bind(page.cursor.as_deref())
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .into_iter()
            .map(Media::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |m: &Media| &m.id))
    }
}

// The media rows come first: a write as the transaction's first statement takes SQLite's
// write lock at once (waiting out the busy timeout) instead of failing on a lock upgrade.
async fn insert_chunk(tx: &mut Transaction<'_, Any>, chunk: &[Media]) -> Result<()> {
    let rows: Vec<String> = (0..chunk.len())
        .map(|i| format!("({})", placeholders(i * 6, 6)))
        .collect();
    let sql = format!("INSERT INTO media ({COLUMNS}) VALUES {}", rows.join(", "));
    let mut insert = sqlx::query(&sql);
    for m in chunk {
        insert = insert
            .bind(&m.id)
            .bind(&m.creator_id)
            .bind(m.platform.as_str())
            .bind(m.post_type.as_str())
            .bind(to_micros(m.posted_at))
            .bind(to_micros(m.ingested_at));
    }
    insert.execute(&mut **tx).await?;

    let sql = format!(
        "INSERT INTO media_inbox (media_id) VALUES {}",
        (1..=chunk.len())
            .map(|i| format!("(${i})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut queue = sqlx::query(&sql);
    for m in chunk {
        queue = queue.bind(&m.id);
    }
    queue.execute(&mut **tx).await?;
    Ok(())
}
