//! Creators: who posts.

use super::backend::Db;
use super::db::Purpose;
use super::page::{list_page, PageQuery};
use super::sql::rows::{CreatorRow, CREATOR_COLUMNS};
use super::sql::Statement;
use crate::domain::time::{now, to_micros};
use crate::domain::{Creator, CreatorId, NewCreator, Page, PageRequest};
use crate::error::{Conflict, Error, Result};

pub(super) async fn create(db: &Db, new: NewCreator) -> Result<CreatorId> {
    let id = CreatorId::generate();
    let insert = Statement::new(
        "INSERT INTO creators (id, email, ig_username, tt_username, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(&id)
    .bind(new.email.as_str())
    .bind(new.ig_username.as_ref().map(|u| u.as_str()))
    .bind(new.tt_username.as_ref().map(|u| u.as_str()))
    .bind(to_micros(now()));
    if db.execute_write(Purpose::Config, insert).await? == 0 {
        return Err(Conflict::EmailTaken(new.email.as_str().to_string()).into());
    }
    Ok(id)
}

pub(super) async fn get(db: &Db, id: &CreatorId) -> Result<Creator> {
    db.fetch_optional::<CreatorRow>(
        Statement::new(format!(
            "SELECT {CREATOR_COLUMNS} FROM creators WHERE id = $1"
        ))
        .bind(id),
    )
    .await?
    .map(Creator::from)
    .ok_or(Error::NotFound("creator"))
}

pub(super) async fn list(db: &Db, page: &PageRequest) -> Result<Page<Creator>> {
    let select = format!("SELECT {CREATOR_COLUMNS} FROM creators WHERE 1 = 1");
    list_page::<CreatorRow, _>(db, PageQuery::new(select, "id"), page).await
}
