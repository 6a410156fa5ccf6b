//! Multi-row statements: one round trip for many rows, on both databases. Each table write has
//! a row type declared with [`write_row!`], its columns beside its fields.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use super::Dialect;
use crate::error::Result;

pub(super) type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// A value a statement compares with or writes, bound as its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bound<'a> {
    Text(&'a str),
    Int(i64),
}

impl<'a> Bound<'a> {
    pub(super) fn bind(self, query: AnyQuery<'a>) -> AnyQuery<'a> {
        match self {
            Bound::Text(v) => query.bind(v),
            Bound::Int(v) => query.bind(v),
        }
    }
}

/// One row of a table write: its columns, in order, and their values bound in that order.
/// Serialised (an object keyed by column), it is one element of a PostgreSQL insert's JSON.
pub(super) trait Row: serde::Serialize {
    const COLUMNS: &'static [&'static str];
    /// Each column's PostgreSQL type, for reading the rows back out of JSON.
    const PG_TYPES: &'static [&'static str];
    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q>;
}

/// The PostgreSQL type a field is written as.
pub(super) trait PgType {
    const NAME: &'static str;
}

impl PgType for str {
    const NAME: &'static str = "text";
}
impl PgType for String {
    const NAME: &'static str = "text";
}
impl PgType for i64 {
    const NAME: &'static str = "bigint";
}
impl<T: PgType + ?Sized> PgType for &T {
    const NAME: &'static str = T::NAME;
}
impl<T: PgType> PgType for Option<T> {
    const NAME: &'static str = T::NAME;
}
macro_rules! text_ids {
    ($($id:ty),+) => {$(impl PgType for $id { const NAME: &'static str = "text"; })+};
}
text_ids!(
    crate::domain::CreatorId,
    crate::domain::DeliveryId,
    crate::domain::FulfillmentId,
    crate::domain::IntegrationId,
    crate::domain::MediaId,
    crate::domain::RuleId
);

/// Declares a row type whose columns are its field names, in order.
macro_rules! write_row {
    ($(#[$doc:meta])* struct $name:ident<$lt:lifetime> { $($field:ident: $ty:ty,)+ }) => {
        $(#[$doc])*
        #[derive(serde::Serialize)]
        pub(super) struct $name<$lt> {
            $(pub(super) $field: $ty,)+
        }

        impl<$lt> $crate::store::bulk::Row for $name<$lt> {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            const PG_TYPES: &'static [&'static str] =
                &[$(<$ty as $crate::store::bulk::PgType>::NAME),+];

            fn bind<'q>(
                &'q self,
                query: $crate::store::bulk::AnyQuery<'q>,
            ) -> $crate::store::bulk::AnyQuery<'q> {
                query$(.bind(&self.$field))+
            }
        }
    };
}
pub(super) use write_row;

/// Bound values per statement, well under both databases' limits.
const MAX_BINDS: usize = 960;
/// On PostgreSQL, fewer: its placeholders are numbered (`$n`), and sqlx binds numbered
/// placeholders by name, looking each name up in a linear list, so binding costs grow with
/// the square of the parameters in one statement. SQLite gets anonymous `?` instead.
const MAX_NUMBERED_BINDS: usize = 180;

/// Ids per statement of [`by_ids`].
const IDS_PER_STATEMENT: usize = 500;

/// Runs one statement per chunk of `ids`: `sql(lead, list)` gets the placeholders of `leading`
/// (to be used in that order, before the list) and the chunk's placeholder list. Returns the
/// rows affected.
pub(super) async fn by_ids<I: AsRef<str>>(
    conn: &mut AnyConnection,
    dialect: Dialect,
    leading: &[Bound<'_>],
    ids: &[I],
    sql: impl Fn(&[String], &str) -> String,
) -> Result<u64> {
    let mut affected = 0;
    let lead: Vec<String> = (0..leading.len())
        .map(|i| dialect.list_from(i, 1))
        .collect();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let list = dialect.list_from(leading.len(), padded_len(chunk.len()));
        let statement = sql(&lead, &list);
        let mut query = sqlx::query(&statement);
        for value in leading {
            query = value.bind(query);
        }
        for id in padded(chunk) {
            query = query.bind(id.as_ref());
        }
        affected += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(affected)
}

/// An `IN` list's length rounded up to a power of two: a few statement shapes instead of one
/// per length, so each connection prepares (and PostgreSQL plans) them once.
pub(super) fn padded_len(n: usize) -> usize {
    n.next_power_of_two().max(8)
}

/// `items` repeated at the end up to [`padded_len`]; a repeat in an `IN` list changes nothing.
pub(super) fn padded<T>(items: &[T]) -> impl Iterator<Item = &T> {
    let extra = items.last().into_iter().cycle();
    items
        .iter()
        .chain(extra)
        .take(padded_len(items.len()).max(items.len()))
}

/// `INSERT INTO table (R's columns) VALUES (…), (…) {tail}` in as few statements as the bind
/// limit allows.
pub(super) async fn insert<R: Row>(
    conn: &mut AnyConnection,
    dialect: Dialect,
    table: &str,
    tail: &str,
    rows: &[R],
) -> Result<()> {
    let columns = R::COLUMNS.join(", ");
    // PostgreSQL: whole chunks as `VALUES` (one statement shape, prepared once), the rest as
    // JSON (one shape too), so no row count prepares a statement of its own.
    let (listed, rest) = match dialect {
        Dialect::Postgres => rows.split_at(rows.len() - rows.len() % rows_per_chunk::<R>(dialect)),
        Dialect::Sqlite => (rows, &rows[rows.len()..]),
    };
    for_chunks(conn, dialect, listed, |values| {
        format!("INSERT INTO {table} ({columns}) VALUES {values} {tail}")
    })
    .await?;
    insert_from_json(conn, table, &columns, tail, rest).await
}

/// Rows per statement of a `VALUES` list, as the bind limit allows.
fn rows_per_chunk<R: Row>(dialect: Dialect) -> usize {
    let max_binds = match dialect {
        Dialect::Sqlite => MAX_BINDS,
        Dialect::Postgres => MAX_NUMBERED_BINDS,
    };
    (max_binds / R::COLUMNS.len().max(1)).max(1)
}

/// PostgreSQL: the rows as one JSON parameter, read back by `jsonb_to_recordset`. The
/// statement's text is the same whatever the number of rows, so each connection prepares it
/// once, where a `VALUES` list of each length was parsed and planned anew: with one post per
/// request, groups of every size did that for every table (BENCHMARKS.md, issue 13).
async fn insert_from_json<R: Row>(
    conn: &mut AnyConnection,
    table: &str,
    columns: &str,
    tail: &str,
    rows: &[R],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let typed: Vec<String> = R::COLUMNS
        .iter()
        .zip(R::PG_TYPES)
        .map(|(c, t)| format!("{c} {t}"))
        .collect();
    let statement = format!(
        "INSERT INTO {table} ({columns}) SELECT {columns}
         FROM jsonb_to_recordset($1::jsonb) AS v({}) {tail}",
        typed.join(", ")
    );
    sqlx::query(&statement)
        .bind(serde_json::to_string(rows)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `statement` (an `UPDATE … FROM v WHERE …`) over the rows as `(VALUES …) AS v`, where it
/// names their values `v.<column>`. The values stay a plain subquery, read by position
/// (`v.column1`, …): SQLite ran the same update a quarter slower with the rows as a named CTE.
pub(super) async fn with_values<R: Row>(
    conn: &mut AnyConnection,
    dialect: Dialect,
    rows: &[R],
    statement: &str,
) -> Result<()> {
    let statement = by_position(statement, R::COLUMNS);
    for_chunks(conn, dialect, rows, |values| {
        statement.replacen("FROM v", &format!("FROM (VALUES {values}) AS v"), 1)
    })
    .await
}

/// `statement` with each `v.<column>` written `v.column<n>`, `n` its place in `columns`.
fn by_position(statement: &str, columns: &[&str]) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut rest = statement;
    while let Some(at) = rest.find("v.") {
        let starts_word = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        match columns.iter().position(|c| *c == name) {
            Some(i) if starts_word => out.push_str(&format!("v.column{}", i + 1)),
            _ => {
                out.push_str("v.");
                out.push_str(name);
            }
        }
        rest = &after[name_len..];
    }
    out.push_str(rest);
    out
}

async fn for_chunks<R: Row>(
    conn: &mut AnyConnection,
    dialect: Dialect,
    rows: &[R],
    sql: impl Fn(&str) -> String,
) -> Result<()> {
    let width = R::COLUMNS.len();
    if rows.is_empty() || width == 0 {
        return Ok(());
    }
    for chunk in rows.chunks(rows_per_chunk::<R>(dialect)) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", dialect.list_from(r * width, width)))
            .collect();
        let statement = sql(&values.join(", "));
        let mut query = sqlx::query(&statement);
        for row in chunk {
            query = row.bind(query);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    write_row! {
        /// A row for the test below.
        struct Pair<'a> {
            name: &'a str,
            count: i64,
        }
    }

    #[test]
    fn a_row_lists_its_columns_in_field_order() {
        assert_eq!(Pair::COLUMNS, ["name", "count"]);
        assert_eq!(Pair::PG_TYPES, ["text", "bigint"]);
        let _ = Pair {
            name: "n",
            count: 1,
        };
    }

    #[test]
    fn values_are_named_by_column_and_read_by_position() {
        let sql = by_position(
            "UPDATE t SET a = v.count, b = v.name FROM v WHERE t.id = v.name AND rv.name = 1",
            Pair::COLUMNS,
        );
        assert_eq!(
            sql,
            "UPDATE t SET a = v.column2, b = v.column1 FROM v WHERE t.id = v.column1 AND rv.name = 1"
        );
    }

    #[test]
    fn in_lists_are_padded_with_their_last_item() {
        assert_eq!(padded_len(1), 8);
        assert_eq!(padded_len(9), 16);
        assert_eq!(padded_len(256), 256);
        let three: Vec<&i32> = padded(&[1, 2, 3]).collect();
        assert_eq!(three, [&1, &2, &3, &3, &3, &3, &3, &3]);
        assert_eq!(padded::<i32>(&[]).count(), 0);
    }
}
