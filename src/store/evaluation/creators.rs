//! Who posted: the creators an evaluation's payloads carry, and (on PostgreSQL) the copies kept
//! of them so that an API group need not read them first.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use crate::domain::{Creator, CreatorId};
use crate::error::Result;
use crate::store::backend::{Conn, Guard};
use crate::store::config::VERSION;
use crate::store::sql::rows::{CreatorRow, CREATOR_COLUMNS};
use crate::store::sql::Statement;

/// Copies kept at most; past it the cache starts over.
const CACHED_CREATORS: usize = 100_000;

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    creator: CreatorRow,
    config_version: i64,
    /// PostgreSQL's `xmin`: it changes whenever the row does. None on SQLite.
    row_version: Option<i64>,
}

/// The creators named (those that exist), with what a payload carries of them, and the config's
/// version, in one statement; no version if none of them exists. On PostgreSQL each creator's
/// row version too, kept in `cache`.
pub(super) async fn read(
    conn: &mut Conn<'_>,
    ids: &BTreeSet<&CreatorId>,
    cache: &CreatorCache,
) -> Result<(HashMap<CreatorId, Creator>, Option<i64>)> {
    let row_version = match conn {
        Conn::Postgres(_) => "xmin::text::bigint",
        Conn::Sqlite(_) => "NULL",
    };
    let rows: Vec<Row> = conn
        .fetch_all(
            Statement::new(format!(
                "SELECT {CREATOR_COLUMNS}, {VERSION}, {row_version} AS row_version
                 FROM creators WHERE id"
            ))
            .any_of(ids),
        )
        .await?;
    let version = rows.first().map(|r| r.config_version);
    let creators: HashMap<CreatorId, Creator> = rows
        .into_iter()
        .map(|row| {
            let creator = Creator::from(row.creator);
            if let Some(row_version) = row.row_version {
                cache.keep(&creator, row_version);
            }
            (creator.id.clone(), creator)
        })
        .collect();
    Ok((creators, version))
}

/// Creators as last read on PostgreSQL, each with its row version. An API group whose creators
/// are all here skips reading them: its one statement writes only if every copy is still current
/// and the config's version is the one it used ([`Guard`]), and is done again after a read if not.
#[derive(Debug, Default)]
pub(crate) struct CreatorCache(Mutex<HashMap<CreatorId, (Creator, i64)>>);

impl CreatorCache {
    fn keep(&self, creator: &Creator, row_version: i64) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CACHED_CREATORS && !map.contains_key(&creator.id) {
            map.clear();
        }
        map.insert(creator.id.clone(), (creator.clone(), row_version));
    }

    /// Copies of every creator named and the guard that checks them, or `None` if one is
    /// missing.
    pub(super) fn all_of(
        &self,
        ids: &BTreeSet<&CreatorId>,
        config_version: i64,
    ) -> Option<(HashMap<CreatorId, Creator>, Guard)> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut creators = HashMap::with_capacity(ids.len());
        let mut guard = Guard {
            creator_ids: Vec::with_capacity(ids.len()),
            row_versions: Vec::with_capacity(ids.len()),
            config_version,
        };
        for id in ids {
            let (creator, row_version) = map.get(*id)?;
            creators.insert((*id).clone(), creator.clone());
            guard.creator_ids.push(id.to_string());
            guard.row_versions.push(*row_version);
        }
        Some((creators, guard))
    }

    /// Drops the copies of `ids` (one of them was stale).
    pub(super) fn forget(&self, ids: &BTreeSet<&CreatorId>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for id in ids {
            map.remove(*id);
        }
    }
}
