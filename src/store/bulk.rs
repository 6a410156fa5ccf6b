//! Multi-row statements: one round trip for many rows, on both databases.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use super::Dialect;
use crate::error::Result;

/// A bound value of one of the store's column types.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
    MaybeInt(Option<i64>),
}

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
pub(super) async fn by_ids(
    conn: &mut AnyConnection,
    leading: &[Value],
    ids: &[&str],
    sql: impl Fn(&[String], &str) -> String,
) -> Result<u64> {
    let mut affected = 0;
    let dialect = Dialect::of_conn(conn);
    let lead: Vec<String> = (0..leading.len())
        .map(|i| dialect.list_from(i, 1))
        .collect();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let list = dialect.list_from(leading.len(), padded_len(chunk.len()));
        let statement = sql(&lead, &list);
        let mut query = sqlx::query(&statement);
        for value in leading {
            query = bind(query, value);
        }
        for id in padded(chunk) {
            query = query.bind(*id);
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

/// `INSERT INTO {head} VALUES (…), (…) {tail}` in as few statements as the bind limit allows.
pub(super) async fn insert(
    conn: &mut AnyConnection,
    head: &str,
    tail: &str,
    rows: &[Vec<Value>],
) -> Result<()> {
    for_chunks(conn, rows, |values| {
        format!("INSERT INTO {head} VALUES {values} {tail}")
    })
    .await
}

/// `UPDATE … FROM (VALUES …) AS v`: the statement names the columns `v.column1`, `v.column2`, ….
pub(super) async fn update_from_values(
    conn: &mut AnyConnection,
    sql: impl Fn(&str) -> String,
    rows: &[Vec<Value>],
) -> Result<()> {
    for_chunks(conn, rows, |values| sql(&format!("(VALUES {values}) AS v"))).await
}

async fn for_chunks(
    conn: &mut AnyConnection,
    rows: &[Vec<Value>],
    sql: impl Fn(&str) -> String,
) -> Result<()> {
    let Some(width) = rows.first().map(Vec::len).filter(|w| *w > 0) else {
        return Ok(());
    };
    let dialect = Dialect::of_conn(conn);
    let max_binds = match dialect {
        Dialect::Sqlite => MAX_BINDS,
        Dialect::Postgres => MAX_NUMBERED_BINDS,
    };
    for chunk in rows.chunks((max_binds / width).max(1)) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", dialect.list_from(r * width, width)))
            .collect();
        let statement = sql(&values.join(", "));
        let mut query = sqlx::query(&statement);
        for value in chunk.iter().flatten() {
            query = bind(query, value);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

fn bind<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    value: &'q Value,
) -> Query<'q, Any, AnyArguments<'q>> {
    match value {
        Value::Text(v) => query.bind(v.as_str()),
        Value::MaybeText(v) => query.bind(v.as_deref()),
        Value::Int(v) => query.bind(*v),
        Value::MaybeInt(v) => query.bind(*v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
