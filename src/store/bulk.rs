//! Multi-row statements: one round trip for many rows, on both databases.

use sqlx::AnyConnection;

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
            query = match value {
                Value::Text(v) => query.bind(v.as_str()),
                Value::MaybeText(v) => query.bind(v.as_deref()),
                Value::Int(v) => query.bind(*v),
                Value::MaybeInt(v) => query.bind(*v),
            };
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
