use super::page::PageQuery;
use super::rows::CreatorRow;
use super::{Purpose, Store};
use crate::domain::time::{now, to_micros};
use crate::domain::{Creator, CreatorId, NewCreator, Page, PageRequest};
use crate::error::{Conflict, Error, Result};

pub(super) const COLUMNS: &str = "id, email, ig_username, tt_username, created_at";

impl Store {
    pub async fn create_creator(&self, new: NewCreator) -> Result<Creator> {
        let id = CreatorId::generate();
        let insert = sqlx::query(
            "INSERT INTO creators (id, email, ig_username, tt_username, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&id)
        .bind(new.email.as_str())
        .bind(new.ig_username.as_ref().map(|u| u.as_str()))
        .bind(new.tt_username.as_ref().map(|u| u.as_str()))
        .bind(to_micros(now()));
        let inserted = self.execute_write(Purpose::Config, insert).await?;
        if inserted.rows_affected() == 0 {
            return Err(Conflict::EmailTaken(new.email.as_str().to_string()).into());
        }
        self.creator(&id).await
    }

    pub async fn creator(&self, id: &CreatorId) -> Result<Creator> {
        sqlx::query_as::<_, CreatorRow>(&format!("SELECT {COLUMNS} FROM creators WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(Creator::from)
            .ok_or(Error::NotFound("creator"))
    }

    pub async fn list_creators(&self, page: &PageRequest) -> Result<Page<Creator>> {
        let select = format!("SELECT {COLUMNS} FROM creators WHERE 1 = 1");
        self.list_page::<CreatorRow, _>(PageQuery::new(&select, "id"), page)
            .await
    }
}
