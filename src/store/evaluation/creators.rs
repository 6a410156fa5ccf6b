//! Who posted: the creators an evaluation's payloads carry.

use std::collections::{BTreeSet, HashMap};

use crate::domain::{Creator, CreatorId};
use crate::error::Result;
use crate::store::backend::Conn;
use crate::store::sql::rows::{CreatorRow, CREATOR_COLUMNS};
use crate::store::sql::Statement;

/// The creators named (those that exist), with what a payload carries of them.
pub(super) async fn read(
    conn: &mut Conn<'_>,
    ids: &BTreeSet<&CreatorId>,
) -> Result<HashMap<CreatorId, Creator>> {
    let rows: Vec<CreatorRow> = conn
        .fetch_all(
            Statement::new(format!("SELECT {CREATOR_COLUMNS} FROM creators WHERE id")).any_of(ids),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let creator = Creator::from(row);
            (creator.id.clone(), creator)
        })
        .collect())
}
