//! Keyset pagination shared by every list: items after the cursor id, one extra row to know
//! whether there is a next page.

use sqlx::any::AnyRow;
use sqlx::FromRow;

use super::Store;
use crate::domain::{Page, PageRequest};
use crate::error::{Error, Result};

/// Anything listed by id.
pub(super) trait Keyed {
    fn key(&self) -> &str;
}

impl Store {
    /// Runs `select` (`SELECT … FROM … WHERE …` using `$1…$n` for `filters`) one page at a time.
    pub(super) async fn list_page<R, T>(
        &self,
        select: &str,
        filters: &[Option<&str>],
        page: &PageRequest,
    ) -> Result<Page<T>>
    where
        R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        T: TryFrom<R> + Keyed,
        Error: From<<T as TryFrom<R>>::Error>,
    {
        let (cursor, limit) = (filters.len() + 1, filters.len() + 2);
        let sql = format!(
            "{select} AND (${cursor} IS NULL OR id > ${cursor}) ORDER BY id LIMIT ${limit}"
        );
        let mut query = sqlx::query_as::<_, R>(&sql);
        for value in filters {
            query = query.bind(*value);
        }
        let rows = query
            .bind(page.cursor.as_deref())
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let items = rows
            .into_iter()
            .map(T::try_from)
            .collect::<Result<Vec<T>, _>>()?;
        Ok(Page::from_rows(items, page.limit, |t: &T| t.key()))
    }
}

macro_rules! keyed {
    ($($t:ty),+) => { $(impl Keyed for $t { fn key(&self) -> &str { &self.id } })+ };
}

keyed!(
    crate::domain::Integration,
    crate::domain::Creator,
    crate::domain::Media,
    crate::domain::Rule,
    crate::domain::Fulfillment,
    crate::domain::Delivery
);
