//! Who posted: the creators an evaluation's payloads carry.

use std::collections::{BTreeSet, HashMap};

use crate::domain::{Creator, CreatorId};
use crate::error::Result;
use crate::store::backend::Conn;
use crate::store::config::VERSION;
use crate::store::sql::rows::{CreatorRow, CREATOR_COLUMNS};
use crate::store::sql::Statement;

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    creator: CreatorRow,
    config_version: i64,
}

/// The creators named (those that exist), with what a payload carries of them, and the config's
/// version, in one statement; no version if none of them exists.
pub(super) async fn read(
    conn: &mut Conn<'_>,
    ids: &BTreeSet<&CreatorId>,
) -> Result<(HashMap<CreatorId, Creator>, Option<i64>)> {
    let rows: Vec<Row> = conn
        .fetch_all(
            Statement::new(format!(
                "SELECT {CREATOR_COLUMNS}, {VERSION} FROM creators WHERE id"
            ))
            .any_of(ids),
        )
        .await?;
    let version = rows.first().map(|r| r.config_version);
    let creators = rows
        .into_iter()
        .map(|row| {
            let creator = Creator::from(row.creator);
            (creator.id.clone(), creator)
        })
        .collect();
    Ok((creators, version))
}
