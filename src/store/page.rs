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
    /// Runs `select` (`SELECT … FROM … WHERE <condition>`) one page at a time, narrowed by each
    /// `(column, value)` filter that has a value. Only the filters given are written into the
    /// statement: with a catch-all `($1 IS NULL OR column = $1)` SQLite (and a generic PostgreSQL
    /// plan) walked the whole table in id order; `column = $1 AND id > $2` walks the
    /// `(column, id)` index from the cursor. `key` is the column pages are walked by: the
    /// item's id, or a column equal to it in a table `select` joins the item to.
    pub(super) async fn list_page<R, T>(
        &self,
        select: &str,
        key: &str,
        filters: &[(&str, Option<&str>)],
        page: &PageRequest,
    ) -> Result<Page<T>>
    where
        R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        T: TryFrom<R> + Keyed,
        Error: From<<T as TryFrom<R>>::Error>,
    {
        let (sql, values) = page_sql(select, key, filters, page.cursor.as_deref());
        let mut query = sqlx::query_as::<_, R>(&sql);
        for value in values {
            query = query.bind(value);
        }
        let rows = query
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

/// The statement for one page, and the values for its placeholders but the last (the limit).
pub(super) fn page_sql<'a>(
    select: &str,
    key: &str,
    filters: &[(&str, Option<&'a str>)],
    cursor: Option<&'a str>,
) -> (String, Vec<&'a str>) {
    let mut sql = select.to_string();
    let mut values = Vec::new();
    for (column, value) in filters {
        if let Some(value) = value {
            values.push(*value);
            sql.push_str(&format!(" AND {column} = ${}", values.len()));
        }
    }
    if let Some(cursor) = cursor {
        values.push(cursor);
        sql.push_str(&format!(" AND {key} > ${}", values.len()));
    }
    sql.push_str(&format!(" ORDER BY {key} LIMIT ${}", values.len() + 1));
    (sql, values)
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

#[cfg(test)]
pub(super) mod tests {
    use sqlx::{Connection, SqliteConnection};

    use super::page_sql;

    /// SQLite's plan for the page after a cursor of `select` walked by `key`, narrowed by
    /// `filters`, on the migrated schema.
    pub(in crate::store) async fn sqlite_page_plan(
        select: &str,
        key: &str,
        filters: &[(&str, Option<&str>)],
    ) -> String {
        let mut conn = SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut conn)
            .await
            .expect("migrations");
        let (sql, values) = page_sql(select, key, filters, Some("cursor"));
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for value in values {
            query = query.bind(value);
        }
        let rows = query.bind(51_i64).fetch_all(&mut conn).await.expect("plan");
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
    }

    /// SQLite's plan for one page of deliveries filtered by `column`, after a cursor.
    async fn plan(column: &str) -> String {
        sqlite_page_plan(
            "SELECT id FROM deliveries WHERE 1 = 1",
            "id",
            &[(column, Some("x"))],
        )
        .await
    }

    #[tokio::test]
    async fn a_filtered_page_walks_the_filters_index_from_the_cursor() {
        for (column, index) in [
            ("integration_id", "deliveries_by_integration"),
            ("fulfillment_id", "deliveries_by_fulfillment"),
        ] {
            let plan = plan(column).await;
            assert!(
                plan.contains(&format!("{index} ({column}=? AND id>?)")),
                "{column}: {plan}"
            );
        }
    }

    #[test]
    fn placeholders_follow_the_filters_given() {
        let (sql, values) = page_sql(
            "SELECT id FROM t WHERE 1 = 1",
            "id",
            &[("a", None), ("b", Some("B")), ("c", Some("C"))],
            Some("K"),
        );
        assert_eq!(
            sql,
            "SELECT id FROM t WHERE 1 = 1 AND b = $1 AND c = $2 AND id > $3 ORDER BY id LIMIT $4"
        );
        assert_eq!(values, ["B", "C", "K"]);
    }
}
