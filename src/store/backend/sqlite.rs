//! SQLite: one file, one writer. Readers run beside the writer (WAL); every write goes through
//! one connection, queued at this process's write gate.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

use super::{take_and_read, Backend, Channel, FromRows, ReadConn, Tuning, WriteTx};
use crate::domain::DeliveryId;
use crate::error::Result;
use crate::store::db::{Purpose, WriteGate};
use crate::store::sql::claim::{ClaimRequest, ClaimRow, CLAIM_COLUMNS, CLAIM_JOINS};
use crate::store::sql::inbox::{self, InboxRow};
use crate::store::sql::statement::{Clause, Value};
use crate::store::sql::{Row, Statement, Writes};

/// Connections for reads: the API's lists and lookups, and what claims and evaluations read
/// before the writer takes its turn.
const READERS: u32 = 4;

/// Bound values per statement of a batch write, well under SQLite's limit.
const MAX_BINDS: usize = 960;

pub(crate) struct Sqlite {
    readers: SqlitePool,
    /// Every write goes through this pool's one connection. In WAL mode a connection drops its
    /// whole page cache whenever another connection has written since its last transaction;
    /// with writes spread over a pool, nearly every write started cold and read its pages back
    /// from the file. One writer connection keeps the hot pages (queue, index roots) cached.
    writer: SqlitePool,
    gate: WriteGate,
    /// The database file: instances' lock files live beside it (`liveness.rs`).
    path: PathBuf,
}

impl Sqlite {
    pub(super) async fn connect(url: &str, max_pages: Option<u32>) -> Result<Sqlite> {
        if in_memory(url) {
            // Each connection would open a database of its own: the writer's rows unseen by
            // readers.
            return Err(sqlx::Error::Configuration(
                "an in-memory SQLite database is not shared between connections; give a file, \
                 e.g. sqlite://data/lc-webhooks.db"
                    .into(),
            )
            .into());
        }
        let path = file_path(url).map(Path::to_path_buf).unwrap_or_default();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
            }
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // WAL lets readers run beside the writer; a busy timeout makes a second writer
            // (`lc-webhooks import`) wait for the lock instead of failing.
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30))
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .pragma("cache_size", "-8000")
            // After a checkpoint that restarts the log, cut the file back to this size.
            .pragma("journal_size_limit", "67108864")
            // No checkpoint inside a commit: it would run while this process's one writer
            // waits. `maintain` copies the log back beside the writer instead (every second in
            // the service, every few batches in `import`).
            .pragma("wal_autocheckpoint", "0");
        let readers = pool(options.clone(), READERS).await?;
        let writer = match max_pages {
            Some(pages) => pool(options.pragma("max_page_count", pages.to_string()), 1).await?,
            None => pool(options, 1).await?,
        };
        Ok(Sqlite {
            readers,
            writer,
            gate: WriteGate::default(),
            path,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

/// `SQLITE_FULL`: the disk, or `max_page_count`, is full.
pub(super) fn out_of_space(refusal: &dyn DatabaseError) -> bool {
    refusal.code().as_deref() == Some("13")
        || refusal.message().contains("database or disk is full")
}

async fn pool(options: SqliteConnectOptions, connections: u32) -> Result<SqlitePool> {
    Ok(SqlitePoolOptions::new()
        .max_connections(connections)
        // A ping before every checkout costs a round trip per statement; a dead connection
        // fails its statement instead, and every caller retries or reports it.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await?)
}

/// SQLite's migrations once had numbers of their own; now each change has the same number in
/// both folders (`0003` is `failed_deliveries` on both). SQLite has no `0002` (PostgreSQL's
/// autovacuum settings) and no `0008` (its index is in `0007`). Old number, new number, and the
/// description sqlx keeps for it.
const RENUMBERED: [(i64, i64, &str); 7] = [
    (2, 3, "failed deliveries"),
    (3, 4, "config version"),
    (4, 5, "attempt headers"),
    (5, 6, "integration health"),
    (6, 7, "ready for production"),
    (7, 9, "creators by lower email"),
    (8, 10, "attempt stats"),
];

/// A database migrated under the old numbers records them in `_sqlx_migrations`: each is moved
/// to its new number (last first, so none collides) before the migrations run, so nothing is
/// applied twice and every checksum still matches its file.
async fn renumber_old_migrations(writer: &SqlitePool) -> Result<()> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let (recorded,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *tx)
    .await?;
    if recorded == 1 {
        for (old, new, description) in RENUMBERED.iter().rev() {
            sqlx::query(
                "UPDATE _sqlx_migrations SET version = $2 WHERE version = $1 AND description = $3",
            )
            .bind(old)
            .bind(new)
            .bind(description)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Copies committed pages from the write-ahead log into the database file. PASSIVE: it runs on
/// a reader connection beside the writer and never waits for anyone, so checkpoint work (page
/// copies, the file's sync) stays off the one writer's path. Returns (busy, log frames,
/// frames copied).
const COPY_BACK: &str = "PRAGMA wal_checkpoint(PASSIVE)";

/// Log frames (4 KiB each) past which the log is restarted from the writer's turn.
const RESTART_AFTER_FRAMES: i64 = 8192;

/// The log starts over by itself once fully copied back and no reader still uses it; under
/// constant load that moment may not come, and the file would only grow. A RESTART checkpoint,
/// in the writer's turn, waits (briefly: transactions here are short) for readers to move on, so
/// that the log starts over and `journal_size_limit` trims it.
const RESTART: &str = "PRAGMA wal_checkpoint(RESTART)";

/// Binds each argument as its type; a list as one JSON text, which `json_each` reads.
macro_rules! bind {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Value::Text(v) => query.bind(v.as_deref()),
                Value::Int(v) => query.bind(*v),
                Value::List(items) => query.bind(serde_json::to_string(items)?),
            };
        }
        query
    }};
}

impl Backend for Sqlite {
    type Connection = SqliteConnection;

    async fn migrate(&self) -> Result<()> {
        renumber_old_migrations(&self.writer).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.writer)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }

    async fn read(&self) -> Result<ReadConn> {
        Ok(ReadConn::Sqlite(self.readers.acquire().await?))
    }

    /// The write lock from the start: a transaction that read first and then wrote would fail,
    /// not wait, if another process (`import`) wrote in between.
    async fn begin_write(&self, purpose: Purpose) -> Result<WriteTx> {
        let turn = self.gate.turn(purpose).await;
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx {
            tx: super::Tx::Sqlite(tx),
            _turn: Some(turn),
        })
    }

    /// The one writer runs in-process: nothing to save by waiting.
    async fn begin_deferred(&self, purpose: Purpose) -> Result<WriteTx> {
        self.begin_write(purpose).await
    }

    async fn execute_write(&self, purpose: Purpose, statement: &Statement<'_>) -> Result<u64> {
        let _turn = self.gate.turn(purpose).await;
        let mut conn = self.writer.acquire().await?;
        Self::execute(&mut conn, statement).await
    }

    /// The due deliveries are read on a reader connection, beside the one writer, which then
    /// only leases them by key. A row another process leased or this one settled since the read
    /// is not leased again: the lease re-checks that each row is still due and free.
    async fn claim(&self, claim: &ClaimRequest<'_>) -> Result<Vec<ClaimRow>> {
        let mut due = Statement::new(format!(
            "SELECT {CLAIM_COLUMNS} FROM delivery_queue q CROSS JOIN {CLAIM_JOINS}
             WHERE d.id = q.delivery_id AND q.due_at <= $1 AND q.lease_until <= $1"
        ))
        .bind(claim.at)
        .bind(i64::from(claim.limit));
        if !claim.skip.is_empty() {
            due = due.push(" AND q.integration_id").none_of(claim.skip);
        }
        let due = due.push(" ORDER BY q.due_at LIMIT $2");
        let mut rows: Vec<ClaimRow> = self.read().await?.conn().fetch_all(due).await?;
        if rows.is_empty() {
            return Ok(rows);
        }
        let ids: Vec<&DeliveryId> = rows.iter().map(|r| &r.id).collect();
        let mut tx = self.begin_write(Purpose::Claim).await?;
        let lease = Statement::new(
            "UPDATE delivery_queue SET lease_until = $1, lease_owner = $2
             WHERE due_at <= $3 AND lease_until <= $3 AND delivery_id",
        )
        .bind(claim.until)
        .bind(claim.owner)
        .bind(claim.at)
        .any_of(&ids);
        let leased = tx.conn().execute(lease).await?;
        if leased < ids.len() as u64 {
            let ours = Statement::new(
                "SELECT delivery_id FROM delivery_queue
                 WHERE lease_owner = $1 AND lease_until = $2 AND delivery_id",
            )
            .bind(claim.owner)
            .bind(claim.until)
            .any_of(&ids);
            let ours: HashSet<DeliveryId> = tx
                .conn()
                .fetch_all::<(DeliveryId,)>(ours)
                .await?
                .into_iter()
                .map(|(id,)| id)
                .collect();
            rows.retain(|r| ours.contains(&r.id));
        }
        tx.commit().await?;
        Ok(rows)
    }

    /// The posts are read beside the one writer, which then only deletes their inbox rows by
    /// key. Another process (a second service on the file) may have taken some meanwhile: then
    /// the posts are taken again in the writer's turn.
    async fn take_inbox(&self, limit: u32) -> Result<Option<(WriteTx, Vec<InboxRow>)>> {
        let rows: Vec<InboxRow> = self
            .read()
            .await?
            .conn()
            .fetch_all(inbox::oldest(limit))
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut tx = self.begin_write(Purpose::Evaluate).await?;
        let take = Statement::new("DELETE FROM media_inbox WHERE media_id")
            .any_of(rows.iter().map(|r| &r.media.id));
        if tx.conn().execute(take).await? == rows.len() as u64 {
            return Ok(Some((tx, rows)));
        }
        tx.rollback().await?;
        let tx = self.begin_write(Purpose::Evaluate).await?;
        let take = Statement::new(format!(
            "DELETE FROM media_inbox WHERE media_id IN
                (SELECT media_id FROM media_inbox ORDER BY media_id LIMIT {limit})
             RETURNING media_id"
        ));
        take_and_read(tx, take).await
    }

    async fn maintain(&self) -> Result<()> {
        let (_, log_frames, copied): (i64, i64, i64) =
            sqlx::query_as(COPY_BACK).fetch_one(&self.readers).await?;
        // Only once everything is copied back: the writer's turn then only waits for readers, it
        // copies nothing.
        if log_frames > RESTART_AFTER_FRAMES && copied == log_frames {
            self.execute_write(Purpose::Checkpoint, &Statement::new(RESTART))
                .await?;
        }
        Ok(())
    }

    /// One writer: more writer tasks would only queue; fewer, larger evaluation transactions
    /// win (BENCHMARKS.md).
    fn tuning(&self) -> Tuning {
        Tuning {
            concurrent_writers: 1,
            ingest_writers: 1,
            evaluation_batch: 4000,
            maintenance_interval: Duration::from_secs(1),
        }
    }

    async fn fetch_all<R: FromRows>(
        conn: &mut SqliteConnection,
        statement: &Statement<'_>,
    ) -> Result<Vec<R>> {
        let text = text(statement);
        let query = bind!(sqlx::query_as::<_, R>(&text), statement.args());
        Ok(query.fetch_all(conn).await?)
    }

    async fn fetch_optional<R: FromRows>(
        conn: &mut SqliteConnection,
        statement: &Statement<'_>,
    ) -> Result<Option<R>> {
        let text = text(statement);
        let query = bind!(sqlx::query_as::<_, R>(&text), statement.args());
        Ok(query.fetch_optional(conn).await?)
    }

    async fn execute(conn: &mut SqliteConnection, statement: &Statement<'_>) -> Result<u64> {
        let text = text(statement);
        let query = bind!(sqlx::query(&text), statement.args());
        Ok(query.execute(conn).await?.rows_affected())
    }

    async fn insert<R: Row>(
        conn: &mut SqliteConnection,
        table: &str,
        tail: &str,
        rows: &[R],
    ) -> Result<()> {
        for chunk in rows.chunks(rows_per_statement::<R>()) {
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES {} {tail}",
                R::COLUMNS.join(", "),
                values(chunk)
            );
            let values = row_values(chunk);
            bind!(sqlx::query(&sql), &values)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn insert_all(conn: &mut SqliteConnection, writes: &Writes<'_>) -> Result<()> {
        for batch in writes.batches() {
            let width = batch.columns().len().max(1);
            let mut all = Vec::with_capacity(batch.len() * width);
            batch.values(&mut all);
            for chunk in all.chunks((MAX_BINDS / width).max(1) * width) {
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES {} {}",
                    batch.table(),
                    batch.columns().join(", "),
                    placeholders(width, chunk.len() / width),
                    batch.tail()
                );
                bind!(sqlx::query(&sql), chunk).execute(&mut *conn).await?;
            }
        }
        Ok(())
    }

    async fn insert_returning<R: Row, O: FromRows>(
        conn: &mut SqliteConnection,
        table: &str,
        tail: &str,
        rows: &[R],
    ) -> Result<Vec<O>> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(rows_per_statement::<R>()) {
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES {} {tail}",
                R::COLUMNS.join(", "),
                values(chunk)
            );
            let values = row_values(chunk);
            out.extend(
                bind!(sqlx::query_as::<_, O>(&sql), &values)
                    .fetch_all(&mut *conn)
                    .await?,
            );
        }
        Ok(out)
    }

    async fn update_from<R: Row>(
        conn: &mut SqliteConnection,
        rows: &[R],
        head: &str,
        tail: &str,
    ) -> Result<()> {
        for chunk in rows.chunks(rows_per_statement::<R>()) {
            let sql = format!("{head} FROM {} {tail}", relation(chunk));
            let values = row_values(chunk);
            bind!(sqlx::query(&sql), &values)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn select_from<R: Row, O: FromRows>(
        conn: &mut SqliteConnection,
        rows: &[R],
        head: &str,
        tail: &str,
    ) -> Result<Vec<O>> {
        let mut out = Vec::new();
        for chunk in rows.chunks(rows_per_statement::<R>()) {
            let sql = format!("{head} FROM {} {tail}", relation(chunk));
            let values = row_values(chunk);
            out.extend(
                bind!(sqlx::query_as::<_, O>(&sql), &values)
                    .fetch_all(&mut *conn)
                    .await?,
            );
        }
        Ok(out)
    }

    /// One SQLite file has one service, which wakes its own tasks.
    async fn notify(_: &mut SqliteConnection, _: Channel) -> Result<()> {
        Ok(())
    }

    async fn before_counting(_: &mut SqliteConnection) -> Result<()> {
        Ok(())
    }
}

/// The statement's text as SQLite spells it: a list as `IN (SELECT value FROM json_each($n))`
/// (one parameter, one statement shape whatever the list's length), no row locks (the one
/// writer excludes every other).
fn text<'s>(statement: &'s Statement<'_>) -> std::borrow::Cow<'s, str> {
    statement.text(|clause, sql| {
        let _ = match clause {
            Clause::AnyOf(n) => write!(sql, " IN (SELECT value FROM json_each(${n}))"),
            Clause::NoneOf(n) => write!(sql, " NOT IN (SELECT value FROM json_each(${n}))"),
            Clause::ForUpdate | Clause::ForShare => Ok(()),
        };
    })
}

/// Rows per statement of a batch write, as the bind limit allows.
fn rows_per_statement<R: Row>() -> usize {
    (MAX_BINDS / R::COLUMNS.len().max(1)).max(1)
}

/// `(?, ?), (?, ?)`: anonymous placeholders, bound by position. Numbered ones are found by name,
/// which SQLite does by a linear search: hundreds of them cost milliseconds.
fn values<R: Row>(rows: &[R]) -> String {
    placeholders(R::COLUMNS.len(), rows.len())
}

/// [`values`] for `rows` rows of `width` columns.
fn placeholders(width: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; rows].join(", ")
}

/// The rows as a table `v` whose columns are named as `R`'s: a plain `VALUES` list, renamed in a
/// subquery (a named CTE made the same update a quarter slower).
fn relation<R: Row>(rows: &[R]) -> String {
    let names: Vec<String> = R::COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("column{} AS {c}", i + 1))
        .collect();
    format!(
        "(SELECT {} FROM (VALUES {})) AS v",
        names.join(", "),
        values(rows)
    )
}

fn row_values<R: Row>(rows: &[R]) -> Vec<Value<'_>> {
    let mut values = Vec::with_capacity(rows.len() * R::COLUMNS.len());
    for row in rows {
        row.values(&mut values);
    }
    values
}

fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

fn file_path(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn file_store(dir: &tempfile::TempDir, name: &str) -> Sqlite {
        let url = format!("sqlite://{}", dir.path().join(name).display());
        Sqlite::connect(&url, None).await.expect("store")
    }

    /// Per-connection state (a temporary table) seen by the next write: both ran on the one
    /// writer connection, whose page cache therefore stays warm between transactions.
    #[tokio::test]
    async fn every_write_goes_through_one_connection() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = file_store(&dir, "w.db").await;
        db.execute_write(
            Purpose::Config,
            &Statement::new("CREATE TEMP TABLE mine (x INTEGER)"),
        )
        .await
        .expect("temp table");
        for _ in 0..8 {
            let mut tx = db.begin_write(Purpose::Config).await.expect("write");
            tx.conn()
                .execute(Statement::new("INSERT INTO temp.mine VALUES (1)"))
                .await
                .expect("the writer's own temp table");
            tx.commit().await.expect("commit");
        }
        let mut tx = db.begin_write(Purpose::Config).await.expect("write");
        let (n,): (i64,) = tx
            .conn()
            .fetch_one(Statement::new("SELECT COUNT(*) FROM temp.mine"))
            .await
            .expect("count");
        assert_eq!(n, 8);
        tx.rollback().await.expect("rollback");
    }

    /// Commits leave their pages in the log, even past SQLite's default auto-checkpoint of 1,000
    /// pages; `maintain` copies them into the database file.
    #[tokio::test]
    async fn maintenance_copies_the_log_back_into_the_database_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("m.db");
        let db = file_store(&dir, "m.db").await;
        let write = |sql: &'static str| {
            let db = &db;
            async move {
                db.execute_write(Purpose::Config, &Statement::new(sql))
                    .await
            }
        };
        write("CREATE TABLE filler (x BLOB)").await.expect("table");
        for _ in 0..400 {
            write("INSERT INTO filler VALUES (randomblob(16384))")
                .await
                .expect("row");
        }
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let before = size();
        assert!(before < 1_000_000, "a commit checkpointed: {before} bytes");
        db.maintain().await.expect("maintenance");
        assert!(
            size() > 5_000_000,
            "database file {before} bytes before maintenance, {} after",
            size()
        );
    }

    #[tokio::test]
    async fn an_in_memory_database_is_refused_with_a_reason() {
        let Err(err) = Sqlite::connect("sqlite::memory:", None).await else {
            panic!("an in-memory database was accepted");
        };
        assert!(err.to_string().contains("in-memory"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_file_and_its_folder_are_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new/folder/x.db");
        Sqlite::connect(&format!("sqlite://{}", path.display()), None)
            .await
            .expect("store");
        assert!(path.exists(), "{} was not created", path.display());
    }

    #[test]
    fn the_folder_comes_from_the_url() {
        assert_eq!(
            file_path("sqlite://data/x.db?mode=rwc"),
            Some(Path::new("data/x.db"))
        );
        assert_eq!(
            file_path("sqlite:///tmp/a/x.db"),
            Some(Path::new("/tmp/a/x.db"))
        );
        assert_eq!(file_path("sqlite::memory:"), None);
    }

    /// A list is one JSON parameter: the statement's text is the same whatever its length.
    #[test]
    fn a_list_is_one_parameter_read_by_json_each() {
        let ids = ["a", "b", "c"];
        let statement = Statement::new("DELETE FROM media_inbox WHERE media_id")
            .any_of(ids)
            .for_update();
        assert_eq!(
            text(&statement),
            "DELETE FROM media_inbox WHERE media_id IN (SELECT value FROM json_each($1))"
        );
    }
}
