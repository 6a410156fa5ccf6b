//! What an evaluation reads of the posts it takes from the inbox: each post with its creator.
//! How they are taken differs by database (`backend/`); these reads are shared.

use std::collections::HashMap;

use super::rows::MediaRow;
use super::statement::Statement;
use crate::domain::time::from_micros;
use crate::domain::{Creator, CreatorId, Media, MediaId};
use crate::error::Result;

/// A post with its creator's columns.
const INBOX_COLUMNS: &str = "m.id, m.creator_id, m.platform, m.post_type, m.posted_at, \
     m.ingested_at, m.external_id, m.media_type, c.email, c.ig_username, c.tt_username, c.created_at AS creator_created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct InboxRow {
    #[sqlx(flatten)]
    pub(crate) media: MediaRow,
    email: String,
    ig_username: Option<String>,
    tt_username: Option<String>,
    creator_created_at: i64,
}

/// The oldest `limit` posts in the inbox, with their creators joined in: one read, where SQLite's
/// connection thread hands over each row separately (a wake of the reading task per row).
/// `CROSS JOIN` makes SQLite walk the inbox in order (with plain joins it planned a scan of every
/// post and a sort).
pub(crate) fn oldest(limit: u32) -> Statement<'static> {
    Statement::new(format!(
        "SELECT {INBOX_COLUMNS} FROM media_inbox i CROSS JOIN media m CROSS JOIN creators c
         WHERE m.id = i.media_id AND c.id = m.creator_id
         ORDER BY i.media_id LIMIT {limit}"
    ))
}

/// The posts of `ids` with their creators.
pub(crate) fn posts(ids: &[MediaId]) -> Statement<'_> {
    Statement::new(format!(
        "SELECT {INBOX_COLUMNS} FROM media m JOIN creators c ON c.id = m.creator_id WHERE m.id"
    ))
    .any_of(ids)
}

/// The posts, and their creators by id.
pub(crate) fn into_posts(rows: Vec<InboxRow>) -> Result<(Vec<Media>, HashMap<CreatorId, Creator>)> {
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
