//! Keyset pagination shared by every list: items after the cursor id, one extra row to know
//! whether there is a next page.

use super::backend::{Db, FromRows};
use super::sql::statement::{Arg, Value};
use super::sql::Statement;
use crate::domain::{Order, Page, PageRequest};
use crate::error::{Error, Result};

/// Anything listed by id.
pub(super) trait Keyed {
    fn key(&self) -> String;
}

/// One page's statement: `select` (`SELECT … FROM … WHERE <condition>`) narrowed by the
/// conditions given, walked by `key` in `order` from the cursor. Only the conditions that have
/// a value are written into the statement: with a catch-all `($1 IS NULL OR column = $1)`
/// SQLite (and a generic PostgreSQL plan) walked the whole table in id order;
/// `column = $1 AND id > $2` walks the `(column, id)` index from the cursor. `key` is the item's
/// id, or a column equal to it in a table `select` joins the item to.
pub(super) struct PageQuery<'a> {
    sql: String,
    key: &'a str,
    values: Vec<Value<'a>>,
    order: Order,
}

impl<'a> PageQuery<'a> {
    pub(super) fn new(select: impl Into<String>, key: &'a str) -> Self {
        PageQuery {
            sql: select.into(),
            key,
            values: Vec::new(),
            order: Order::Asc,
        }
    }

    pub(super) fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// `AND column op value`, when there is a value.
    pub(super) fn condition<T: Arg<'a>>(
        mut self,
        column: &str,
        op: &str,
        value: Option<T>,
    ) -> Self {
        if let Some(value) = value {
            self.values.push(value.value());
            self.sql
                .push_str(&format!(" AND {column} {op} ${}", self.values.len()));
        }
        self
    }

    /// `AND {sql($n)}`, when there is a value: a condition with the value somewhere inside.
    pub(super) fn condition_with<T: Arg<'a>>(
        mut self,
        sql: impl Fn(&str) -> String,
        value: Option<T>,
    ) -> Self {
        if let Some(value) = value {
            self.values.push(value.value());
            let placeholder = format!("${}", self.values.len());
            self.sql.push_str(&format!(" AND {}", sql(&placeholder)));
        }
        self
    }

    pub(super) fn equal<T: Arg<'a>>(self, column: &str, value: Option<T>) -> Self {
        self.condition(column, "=", value)
    }

    /// The statement for the page after `cursor`, of `limit` rows.
    pub(super) fn finish(self, cursor: Option<&'a str>, limit: i64) -> Statement<'a> {
        let key = self.key;
        let (after, direction) = match self.order {
            Order::Asc => (">", "ASC"),
            Order::Desc => ("<", "DESC"),
        };
        let PageQuery {
            mut sql, values, ..
        } = self.condition(key, after, cursor);
        sql.push_str(&format!(
            " ORDER BY {key} {direction} LIMIT ${}",
            values.len() + 1
        ));
        values
            .into_iter()
            .fold(Statement::new(sql), Statement::bind)
            .bind(limit)
    }
}

/// One page of `query`'s rows.
pub(super) async fn list_page<R, T>(
    db: &Db,
    query: PageQuery<'_>,
    page: &PageRequest,
) -> Result<Page<T>>
where
    R: FromRows,
    T: TryFrom<R> + Keyed,
    Error: From<<T as TryFrom<R>>::Error>,
{
    let statement = query.finish(page.cursor.as_deref(), i64::from(page.limit) + 1);
    let items = db
        .fetch_all::<R>(statement)
        .await?
        .into_iter()
        .map(T::try_from)
        .collect::<Result<Vec<T>, _>>()?;
    Ok(Page::from_rows(items, page.limit, |t: &T| t.key()))
}

macro_rules! keyed {
    ($($t:ty),+) => { $(impl Keyed for $t { fn key(&self) -> String { self.id.to_string() } })+ };
}

keyed!(
    crate::domain::Integration,
    crate::domain::Creator,
    crate::domain::Program,
    crate::domain::Media,
    crate::domain::Rule,
    crate::domain::Fulfillment,
    crate::domain::Delivery,
    crate::domain::Event,
    crate::domain::Sale
);

impl Keyed for crate::domain::CreatorView {
    fn key(&self) -> String {
        self.creator.id.to_string()
    }
}

/// A program's members are listed by creator.
impl Keyed for crate::domain::Member {
    fn key(&self) -> String {
        self.creator_id.to_string()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use sqlx::{Connection, SqliteConnection};

    use super::PageQuery;
    use crate::domain::Order;
    use crate::store::sql::statement::Value;

    /// SQLite's plan for the page of `query` after a cursor, on the migrated schema.
    pub(in crate::store) async fn sqlite_page_plan(query: PageQuery<'_>) -> String {
        let mut conn = SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut conn)
            .await
            .expect("migrations");
        let statement = query.finish(Some("cursor"), 51);
        let explain = format!("EXPLAIN QUERY PLAN {}", statement.text(|_, _| {}));
        let mut plan = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for value in statement.args() {
            plan = match value {
                Value::Text(v) => plan.bind(v.as_deref()),
                Value::Int(v) => plan.bind(*v),
                Value::List(_) => unreachable!("a page has no lists"),
            };
        }
        let rows = plan.fetch_all(&mut conn).await.expect("plan");
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
    }

    #[tokio::test]
    async fn a_filtered_page_walks_the_filters_index_from_the_cursor() {
        for (column, index) in [
            ("integration_id", "deliveries_by_integration"),
            ("fulfillment_id", "deliveries_by_fulfillment"),
        ] {
            for order in [Order::Asc, Order::Desc] {
                let query = PageQuery::new("SELECT id FROM deliveries WHERE 1 = 1", "id")
                    .equal(column, Some("x"))
                    .order(order);
                let plan = sqlite_page_plan(query).await;
                let after = if order == Order::Asc { ">" } else { "<" };
                assert!(
                    plan.contains(&format!("{index} ({column}=? AND id{after}?)")),
                    "{column} {order:?}: {plan}"
                );
                assert!(!plan.contains("TEMP B-TREE"), "{column} {order:?}: {plan}");
            }
        }
    }

    #[test]
    fn placeholders_follow_the_conditions_given() {
        let statement = PageQuery::new("SELECT id FROM t WHERE 1 = 1", "id")
            .equal("a", None::<&str>)
            .equal("b", Some("B"))
            .condition("c", ">=", Some(7_i64))
            .order(Order::Desc)
            .finish(Some("K"), 51);
        assert_eq!(
            statement.text(|_, _| {}),
            "SELECT id FROM t WHERE 1 = 1 AND b = $1 AND c >= $2 AND id < $3 ORDER BY id DESC LIMIT $4"
        );
        assert_eq!(
            statement.args(),
            [
                Value::Text(Some("B".into())),
                Value::Int(Some(7)),
                Value::Text(Some("K".into())),
                Value::Int(Some(51))
            ]
        );
    }
}
