//! What differs by database, and only that. Both run the same SQL for ~80 % of the store (the
//! statements in `store/*.rs`); [`Backend`] lists the rest — connecting and migrating, beginning
//! a write, claiming deliveries, taking posts from the inbox, writing many rows at once, lists
//! of values and row locks, notifying other instances, housekeeping and tuning — and
//! `sqlite.rs` and `postgres.rs` each carry it out their way, on sqlx's native drivers.
//!
//! Everything above this folder sees one [`Db`] and one [`Conn`]: it never learns which
//! database it runs on.

mod connect_failure;
mod liveness;
mod postgres;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, PgConnection, SqliteConnection};
use tokio::sync::{watch, Notify};

pub use connect_failure::{describe_connect_failure, describe_database};
pub(crate) use liveness::Liveness;

use super::db::{Purpose, WriteTurn};
use super::sql::claim::{ClaimRequest, ClaimRow};
use super::sql::inbox::{self, InboxRow};
use super::sql::{Row, Statement, Writes};
use crate::domain::MediaId;
use crate::error::{Error, Result};

/// Which database refused a write for want of space, if that is what `e` says.
pub fn storage_full(e: &Error) -> Option<&'static str> {
    let Error::Database(sqlx::Error::Database(refusal)) = e else {
        return None;
    };
    if postgres::out_of_space(refusal.as_ref()) {
        Some("PostgreSQL")
    } else if sqlite::out_of_space(refusal.as_ref()) {
        Some("SQLite")
    } else {
        None
    }
}

/// Whether the database broke a deadlock by failing this transaction: only PostgreSQL, whose
/// transactions lock rows; SQLite's one writer never waits for another.
pub(crate) fn is_deadlock(e: &Error) -> bool {
    matches!(e, Error::Database(sqlx::Error::Database(refusal)) if postgres::deadlock(refusal.as_ref()))
}

/// A row type either database can return.
pub(crate) trait FromRows:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> FromRows for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// Everything that differs by database. `Self::Connection` is the database's own connection.
pub(crate) trait Backend {
    type Connection;

    /// Applies the migrations of `migrations/<database>`.
    async fn migrate(&self) -> Result<()>;
    async fn close(&self);
    /// A connection for reads.
    async fn read(&self) -> Result<ReadConn>;
    /// A transaction that writes: in this process's turn at SQLite's one writer, with the
    /// settings `purpose` wants on PostgreSQL.
    async fn begin_write(&self, purpose: Purpose) -> Result<WriteTx>;
    /// [`Backend::begin_write`] where a database can wait: on PostgreSQL nothing is sent until
    /// [`WriteTx::begun`], and a write that turns out to be one statement commits on its own.
    async fn begin_deferred(&self, purpose: Purpose) -> Result<WriteTx>;
    /// One writing statement in the writer's turn, and no longer.
    async fn execute_write(&self, purpose: Purpose, statement: &Statement<'_>) -> Result<u64>;
    /// Leases due deliveries; several instances may claim at once.
    async fn claim(&self, claim: &ClaimRequest<'_>) -> Result<Vec<ClaimRow>>;
    /// Opens an evaluation's transaction with up to `limit` posts taken out of the inbox (and
    /// read with their creators); `None` when the inbox is empty.
    async fn take_inbox(&self, limit: u32) -> Result<Option<(WriteTx, Vec<InboxRow>)>>;
    /// Housekeeping the write path needs under constant load.
    async fn maintain(&self) -> Result<()>;
    fn tuning(&self) -> Tuning;

    /// `statement`'s rows: its text as this database spells it, its arguments as their types.
    async fn fetch_all<R: FromRows>(
        conn: &mut Self::Connection,
        statement: &Statement<'_>,
    ) -> Result<Vec<R>>;
    async fn fetch_optional<R: FromRows>(
        conn: &mut Self::Connection,
        statement: &Statement<'_>,
    ) -> Result<Option<R>>;
    /// Runs `statement`; the rows it changed.
    async fn execute(conn: &mut Self::Connection, statement: &Statement<'_>) -> Result<u64>;
    /// `INSERT INTO {table} (R's columns) <rows> {tail}`, in as few statements as it takes.
    async fn insert<R: Row>(
        conn: &mut Self::Connection,
        table: &str,
        tail: &str,
        rows: &[R],
    ) -> Result<()>;
    /// Every insert of `writes`, in as few statements as it takes.
    async fn insert_all(conn: &mut Self::Connection, writes: &Writes<'_>) -> Result<()>;
    /// [`Backend::insert`], returning what `tail` (a `RETURNING …`) names, in the rows' order.
    async fn insert_returning<R: Row, O: FromRows>(
        conn: &mut Self::Connection,
        table: &str,
        tail: &str,
        rows: &[R],
    ) -> Result<Vec<O>>;
    /// `{head} FROM <rows> AS v {tail}` (an `UPDATE`), where the statement names the rows'
    /// values `v.<column>`.
    async fn update_from<R: Row>(
        conn: &mut Self::Connection,
        rows: &[R],
        head: &str,
        tail: &str,
    ) -> Result<()>;
    /// `{head} FROM <rows> AS v {tail}` (a `SELECT`), its result rows in order for each
    /// statement it takes.
    async fn select_from<R: Row, O: FromRows>(
        conn: &mut Self::Connection,
        rows: &[R],
        head: &str,
        tail: &str,
    ) -> Result<Vec<O>>;
    /// Tells the other instances about new work when the transaction commits.
    async fn notify(conn: &mut Self::Connection, channel: Channel) -> Result<()>;
    /// Before an evaluation counts posts toward rules: settings for the statements that join
    /// pending posts by key.
    async fn before_counting(conn: &mut Self::Connection) -> Result<()>;
}

/// How the service runs its tasks on this database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Writer tasks worth running at once (the dispatcher's result writers, evaluators).
    pub concurrent_writers: usize,
    /// Tasks writing groups of API posts at once.
    pub ingest_writers: usize,
    /// Posts one evaluation pass takes from the inbox.
    pub evaluation_batch: u32,
    /// How often the store's housekeeping runs.
    pub maintenance_interval: Duration,
}

/// What wakes the other instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    /// Posts wait in the inbox.
    Posts,
    /// Deliveries were queued.
    Deliveries,
}

/// The database a store runs on, chosen once from its URL.
pub(crate) enum Db {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// Runs `$body` with `$b` bound to whichever backend `$db` holds.
macro_rules! each {
    ($db:expr, $b:ident => $body:expr) => {
        match $db {
            Db::Sqlite($b) => $body,
            Db::Postgres($b) => $body,
        }
    };
}

impl Db {
    /// Connects to the database named by `url` (creating an SQLite file and its folder if
    /// needed). `sqlite_max_pages` bounds an SQLite file (tests fill it).
    pub(crate) async fn connect(url: &str, sqlite_max_pages: Option<u32>) -> Result<Db> {
        Ok(if postgres::names(url) {
            Db::Postgres(postgres::Postgres::connect(url).await?)
        } else {
            Db::Sqlite(sqlite::Sqlite::connect(url, sqlite_max_pages).await?)
        })
    }

    /// The database's name, for logs.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "SQLite",
            Db::Postgres(_) => "PostgreSQL",
        }
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        each!(self, b => b.migrate().await)
    }

    pub(crate) async fn close(&self) {
        each!(self, b => b.close().await)
    }

    pub(crate) async fn read(&self) -> Result<ReadConn> {
        each!(self, b => b.read().await)
    }

    pub(crate) async fn begin_write(&self, purpose: Purpose) -> Result<WriteTx> {
        each!(self, b => b.begin_write(purpose).await)
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    pub(crate) async fn begin_deferred(&self, purpose: Purpose) -> Result<WriteTx> {
        each!(self, b => b.begin_deferred(purpose).await)
    }

    pub(crate) async fn execute_write(
        &self,
        purpose: Purpose,
        statement: Statement<'_>,
    ) -> Result<u64> {
        each!(self, b => b.execute_write(purpose, &statement).await)
    }

    pub(crate) async fn claim(&self, claim: &ClaimRequest<'_>) -> Result<Vec<ClaimRow>> {
        each!(self, b => b.claim(claim).await)
    }

    pub(crate) async fn take_inbox(&self, limit: u32) -> Result<Option<(WriteTx, Vec<InboxRow>)>> {
        each!(self, b => b.take_inbox(limit).await)
    }

    pub(crate) async fn maintain(&self) -> Result<()> {
        each!(self, b => b.maintain().await)
    }

    pub(crate) fn tuning(&self) -> Tuning {
        each!(self, b => b.tuning())
    }

    /// Marks this instance (`owner`) alive until the returned lock is dropped or the process
    /// dies (`liveness.rs`).
    pub(crate) async fn hold_liveness(&self, owner: &str) -> Result<Liveness> {
        each!(self, b => b.hold_liveness(owner).await)
    }

    /// Frees the leases of every other owner that is no longer alive; how many were freed.
    pub(crate) async fn free_dead_owners(&self, own: &str) -> Result<u64> {
        each!(self, b => b.free_dead_owners(own).await)
    }

    /// Wakes this instance's evaluator and dispatcher when any instance (or `import`) commits
    /// new work, until `shutdown`. Only PostgreSQL is shared by several instances: on SQLite
    /// this returns at once.
    pub(crate) async fn forward_notifications(
        &self,
        posts: Arc<Notify>,
        deliveries: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
    ) {
        if let Db::Postgres(b) = self {
            b.forward_notifications(posts, deliveries, shutdown).await;
        }
    }

    /// `statement`'s rows, read on a reader connection.
    pub(crate) async fn fetch_all<R: FromRows>(&self, statement: Statement<'_>) -> Result<Vec<R>> {
        self.read().await?.conn().fetch_all(statement).await
    }

    pub(crate) async fn fetch_optional<R: FromRows>(
        &self,
        statement: Statement<'_>,
    ) -> Result<Option<R>> {
        self.read().await?.conn().fetch_optional(statement).await
    }

    pub(crate) async fn fetch_one<R: FromRows>(&self, statement: Statement<'_>) -> Result<R> {
        self.read().await?.conn().fetch_one(statement).await
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A connection of either database, for SQL both share.
pub(crate) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// Runs `$body` with `$c` bound to the connection and `$B` to its backend's type.
macro_rules! on {
    ($conn:expr, $B:ident, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => {
                type $B = sqlite::Sqlite;
                $body
            }
            Conn::Postgres($c) => {
                type $B = postgres::Postgres;
                $body
            }
        }
    };
}

impl Conn<'_> {
    pub(crate) async fn fetch_all<R: FromRows>(
        &mut self,
        statement: Statement<'_>,
    ) -> Result<Vec<R>> {
        on!(self, B, c => B::fetch_all(c, &statement).await)
    }

    pub(crate) async fn fetch_optional<R: FromRows>(
        &mut self,
        statement: Statement<'_>,
    ) -> Result<Option<R>> {
        on!(self, B, c => B::fetch_optional(c, &statement).await)
    }

    pub(crate) async fn fetch_one<R: FromRows>(&mut self, statement: Statement<'_>) -> Result<R> {
        self.fetch_optional(statement)
            .await?
            .ok_or_else(|| sqlx::Error::RowNotFound.into())
    }

    pub(crate) async fn execute(&mut self, statement: Statement<'_>) -> Result<u64> {
        on!(self, B, c => B::execute(c, &statement).await)
    }

    pub(crate) async fn insert<R: Row>(
        &mut self,
        table: &str,
        tail: &str,
        rows: &[R],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        on!(self, B, c => B::insert(c, table, tail, rows).await)
    }

    pub(crate) async fn insert_all(&mut self, writes: &Writes<'_>) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        on!(self, B, c => B::insert_all(c, writes).await)
    }

    pub(crate) async fn insert_returning<R: Row, O: FromRows>(
        &mut self,
        table: &str,
        tail: &str,
        rows: &[R],
    ) -> Result<Vec<O>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        on!(self, B, c => B::insert_returning(c, table, tail, rows).await)
    }

    pub(crate) async fn update_from<R: Row>(
        &mut self,
        rows: &[R],
        head: &str,
        tail: &str,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        on!(self, B, c => B::update_from(c, rows, head, tail).await)
    }

    pub(crate) async fn select_from<R: Row, O: FromRows>(
        &mut self,
        rows: &[R],
        head: &str,
        tail: &str,
    ) -> Result<Vec<O>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        on!(self, B, c => B::select_from(c, rows, head, tail).await)
    }

    pub(crate) async fn notify(&mut self, channel: Channel) -> Result<()> {
        on!(self, B, c => B::notify(c, channel).await)
    }

    pub(crate) async fn before_counting(&mut self) -> Result<()> {
        on!(self, B, c => B::before_counting(c).await)
    }
}

/// A pooled connection for reads.
pub(crate) enum ReadConn {
    Sqlite(PoolConnection<sqlx::Sqlite>),
    Postgres(PoolConnection<sqlx::Postgres>),
}

impl ReadConn {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            ReadConn::Sqlite(c) => Conn::Sqlite(c),
            ReadConn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// The copies (of creators, of the config's version) a PostgreSQL write was built from instead
/// of reading them: the statement that writes checks them, and writes nothing if one changed
/// ([`crate::error::Error::StaleCopy`]).
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    pub creator_ids: Vec<String>,
    pub row_versions: Vec<i64>,
    pub config_version: i64,
}

/// A write transaction, holding this process's turn at SQLite's one writer until it commits
/// or rolls back. Fields drop in order: the transaction ends before the turn does.
pub(crate) struct WriteTx {
    tx: Tx,
    _turn: Option<WriteTurn>,
}

enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    /// PostgreSQL before its `BEGIN`: each statement commits on its own until [`WriteTx::begun`].
    PostgresDeferred(postgres::Deferred),
}

impl WriteTx {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        WriteTx::conn_of(&mut self.tx)
    }

    /// Checks `guard` when it writes (a PostgreSQL write not begun yet; others ignore it).
    pub(crate) fn guarded(mut self, guard: Guard) -> WriteTx {
        if let Tx::PostgresDeferred(d) = &mut self.tx {
            d.guard(guard);
        }
        self
    }

    /// The transaction, begun if it was deferred; with the settings for counting posts toward
    /// rules if `counting` (the round trip `BEGIN` takes carries them on PostgreSQL).
    pub(crate) async fn begun(self, counting: bool) -> Result<WriteTx> {
        let tx = match self.tx {
            Tx::PostgresDeferred(d) => Tx::Postgres(d.begin(counting).await?),
            mut tx => {
                if counting {
                    WriteTx::conn_of(&mut tx).before_counting().await?;
                }
                tx
            }
        };
        Ok(WriteTx {
            tx,
            _turn: self._turn,
        })
    }

    fn conn_of(tx: &mut Tx) -> Conn<'_> {
        match tx {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
            Tx::PostgresDeferred(d) => Conn::Postgres(d.conn()),
        }
    }

    /// The last inserts, then the commit: one statement that commits itself if the
    /// transaction was never begun.
    pub(crate) async fn finish(self, writes: &Writes<'_>) -> Result<()> {
        let mut tx = match self.tx {
            Tx::PostgresDeferred(d) => return d.finish(writes).await,
            tx => WriteTx {
                tx,
                _turn: self._turn,
            },
        };
        tx.conn().insert_all(writes).await?;
        tx.commit().await
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self.tx {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
            // Every statement committed as it ran.
            Tx::PostgresDeferred(_) => {}
        }
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<()> {
        match self.tx {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
            Tx::PostgresDeferred(_) => {}
        }
        Ok(())
    }
}

/// In `tx` (an evaluation's), deletes the inbox rows `take` picks (returning their ids) and
/// reads their posts with their creators; `None`, and no transaction, when it picks none.
async fn take_and_read(
    mut tx: WriteTx,
    take: Statement<'_>,
) -> Result<Option<(WriteTx, Vec<InboxRow>)>> {
    let taken: Vec<(MediaId,)> = tx.conn().fetch_all(take).await?;
    if taken.is_empty() {
        tx.rollback().await?;
        return Ok(None);
    }
    let ids: Vec<MediaId> = taken.into_iter().map(|(id,)| id).collect();
    let rows = tx.conn().fetch_all(inbox::posts(&ids)).await?;
    Ok(Some((tx, rows)))
}
