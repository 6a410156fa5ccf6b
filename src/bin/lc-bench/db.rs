//! Direct database access, for the size of the delivery log and backlog progress, and the
//! bulk set-up of workloads that would take too long through the API.

use anyhow::Result;
use sqlx::Connection;

pub(crate) enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    pub(crate) async fn connect(url: &str) -> Result<Db> {
        if url.starts_with("postgres") {
            Ok(Db::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await?,
            ))
        } else {
            Ok(Db::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await?,
            ))
        }
    }

    pub(crate) async fn count(&self, sql: &str) -> Result<i64> {
        Ok(match self {
            Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await?,
            Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await?,
        })
    }

    /// Writes `n` already-evaluated posts for `creator` (no inbox rows), in one statement.
    pub(crate) async fn prefill(&self, creator: &str, n: u64) -> Result<()> {
        let n = i64::try_from(n)?;
        match self {
            Db::Sqlite(p) => {
                sqlx::query(
                    "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ?1)
                     INSERT INTO media (id, creator_id, platform, post_type, posted_at, ingested_at)
                     SELECT 'history-' || x, ?2, 'INSTAGRAM', 'STORY', 0, 0 FROM g",
                )
                .bind(n)
                .bind(creator)
                .execute(p)
                .await?;
            }
            Db::Postgres(p) => {
                sqlx::query(
                    "INSERT INTO media (id, creator_id, platform, post_type, posted_at, ingested_at)
                     SELECT 'history-' || g, $2, 'INSTAGRAM', 'STORY', 0, 0 FROM generate_series(1, $1) g",
                )
                .bind(n)
                .bind(creator)
                .execute(p)
                .await?;
            }
        }
        Ok(())
    }

    /// Inserts `rows` into `table` in one transaction, a few hundred rows a statement: the
    /// set-up of 100,000 members in seconds rather than 100,000 requests.
    pub(crate) async fn insert_rows(
        &self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Cell>],
    ) -> Result<()> {
        // Well below either store's limit on bound values in one statement.
        let per_statement = (20_000 / columns.len().max(1)).clamp(1, 1000);
        match self {
            Db::Sqlite(p) => {
                let mut tx = p.begin().await?;
                for chunk in rows.chunks(per_statement) {
                    let sql = insert_sql(table, columns, chunk.len(), |_| "?".to_string());
                    let mut q = sqlx::query(&sql);
                    for cell in chunk.iter().flatten() {
                        q = match cell {
                            Cell::Text(t) => q.bind(t.as_str()),
                            Cell::Int(i) => q.bind(*i),
                            Cell::Null => q.bind(None::<i64>),
                        };
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Db::Postgres(p) => {
                let mut tx = p.begin().await?;
                for chunk in rows.chunks(per_statement) {
                    let sql = insert_sql(table, columns, chunk.len(), |n| format!("${n}"));
                    let mut q = sqlx::query(&sql);
                    for cell in chunk.iter().flatten() {
                        q = match cell {
                            Cell::Text(t) => q.bind(t.as_str()),
                            Cell::Int(i) => q.bind(*i),
                            Cell::Null => q.bind(None::<i64>),
                        };
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Backlog at each stage: posts not yet evaluated, deliveries queued, attempts recorded.
    pub(crate) async fn progress(&self) -> String {
        let inbox = self.count("SELECT COUNT(*) FROM media_inbox").await;
        let queued = self.count("SELECT COUNT(*) FROM delivery_queue").await;
        let attempts = self.count("SELECT COUNT(*) FROM attempts").await;
        match (inbox, queued, attempts) {
            (Ok(i), Ok(q), Ok(a)) => {
                format!("inbox(unevaluated)={i} queue(pending)={q} attempts_recorded={a}")
            }
            _ => "db progress unavailable".to_string(),
        }
    }
}

/// One value of a row [`Db::insert_rows`] writes.
pub(crate) enum Cell {
    Text(String),
    Int(i64),
    Null,
}

/// `INSERT INTO table (columns) VALUES (…), (…)` for `rows` rows, placeholders numbered from 1.
fn insert_sql(
    table: &str,
    columns: &[&str],
    rows: usize,
    placeholder: impl Fn(usize) -> String,
) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&placeholder(n));
        }
        sql.push(')');
    }
    sql
}

pub(crate) async fn create_pg_database(admin_url: &str, name: &str) -> Result<()> {
    run_as_admin(admin_url, &format!("CREATE DATABASE {name}")).await
}

pub(crate) async fn drop_pg_database(admin_url: &str, name: &str) -> Result<()> {
    run_as_admin(
        admin_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await
}

/// One statement on a connection of its own, closed afterwards.
async fn run_as_admin(admin_url: &str, sql: &str) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(sql).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

pub(crate) fn with_database(admin_url: &str, db: &str) -> Result<String> {
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{db}"));
    Ok(url.to_string())
}
