//! The store: every SQL statement lives below this module.
//!
//! One interface ([`Store`]) over two databases. Both run the same portable SQL (`$n`
//! placeholders, integer timestamps, text ids) through sqlx's `Any` driver; what differs —
//! connecting, migrating, beginning a write, claiming deliveries, taking posts from the inbox,
//! housekeeping, notifying other instances — lives in [`sqlite`] and [`postgres`], chosen by
//! [`Dialect`].

mod backlog;
mod bulk;
mod config;
mod connect_failure;
mod creators;
mod deliveries;
mod evaluate;
mod fulfillments;
mod full;
mod health;
mod ids;
mod integrations;
mod media;
mod page;
mod postgres;
mod queue;
mod retention;
mod rows;
mod rules;
mod sqlite;
mod stats;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::any::{AnyArguments, AnyPoolOptions, AnyQueryResult};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Error, Result};
use crate::telemetry;

pub use backlog::Backlog;
pub use connect_failure::{describe_connect_failure, describe_database};
pub use evaluate::{Evaluated, Evaluation, Ingested, Lease, Leased};
pub use full::storage_full;
pub use integrations::IntegrationStates;
pub use postgres::forward_notifications;
pub use queue::{Claimed, Outcome, SendResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of_url(url: &str) -> Dialect {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        }
    }

    /// Placeholders for a statement whose only parameters are one list of `n` values. SQLite
    /// gets anonymous `?`, bound by position; sqlx binds numbered ones by name, and SQLite finds
    /// each name by a linear search, which made 500-id lists cost milliseconds.
    fn list(self, n: usize) -> String {
        self.list_from(0, n)
    }

    /// [`Dialect::list`] for the `n` parameters after `offset` others, in a statement whose
    /// parameters all come in such lists, in order.
    fn list_from(self, offset: usize, n: usize) -> String {
        match self {
            Dialect::Sqlite => vec!["?"; n].join(", "),
            Dialect::Postgres => placeholders(offset, n),
        }
    }

    /// Writer tasks worth running at once: SQLite has one writer, so more would only queue;
    /// PostgreSQL overlaps their round trips.
    pub fn concurrent_writers(self) -> usize {
        match self {
            Dialect::Sqlite => 1,
            Dialect::Postgres => 3,
        }
    }

    /// Tasks writing groups of posts at once: SQLite has one writer; on PostgreSQL two overlap
    /// their commits at low load, and still form large groups under load, where a third only
    /// split them into more commits (BENCHMARKS.md, "single posts").
    pub fn ingest_writers(self) -> usize {
        match self {
            Dialect::Sqlite => 1,
            Dialect::Postgres => 2,
        }
    }

    /// Posts one evaluation pass takes from the inbox: on SQLite's one writer fewer, larger
    /// transactions win; on PostgreSQL smaller ones (BENCHMARKS.md, "evaluation batch").
    pub fn evaluation_batch(self) -> u32 {
        match self {
            Dialect::Sqlite => 4000,
            Dialect::Postgres => 500,
        }
    }

    /// How often [`Store::maintain`] runs: SQLite's log copy-back and PostgreSQL's queue vacuum
    /// both keep up with one second of writes.
    pub fn maintenance_interval(self) -> Duration {
        Duration::from_secs(1)
    }

    /// Appended to a read inside a write transaction whose rows must not change before it
    /// commits; SQLite's one writer already excludes every other.
    fn lock_shared(self) -> &'static str {
        match self {
            Dialect::Postgres => "FOR SHARE",
            Dialect::Sqlite => "",
        }
    }

    /// Appended to a read inside a write transaction of rows it will rewrite.
    fn lock_exclusive(self) -> &'static str {
        match self {
            Dialect::Postgres => "FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }
}

/// What a write is for: labels its time at SQLite's one writer in `/metrics`, and picks
/// PostgreSQL's settings for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Ingest,
    Evaluate,
    Claim,
    Record,
    Release,
    Config,
    Retry,
    TestSend,
    Checkpoint,
    Retention,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Ingest => "ingest",
            Purpose::Evaluate => "evaluate",
            Purpose::Claim => "claim",
            Purpose::Record => "record",
            Purpose::Release => "release",
            Purpose::Config => "config",
            Purpose::Retry => "retry",
            Purpose::TestSend => "test_send",
            Purpose::Checkpoint => "checkpoint",
            Purpose::Retention => "retention",
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where writes go: on SQLite a pool of its own with one connection (see `sqlite::connect`);
    /// on PostgreSQL the same pool.
    writer: AnyPool,
    dialect: Dialect,
    /// SQLite takes one writer at a time and makes the others poll its lock, sleeping up to
    /// 100 ms between tries; queueing this process's writers here wakes the next one at once.
    write_gate: Option<Arc<Mutex<()>>>,
    /// The active rules and integrations as last read, with their version.
    config: Arc<std::sync::Mutex<Option<Arc<config::Config>>>>,
    options: StoreOptions,
    /// Since when writes fail for want of space (µs; 0: they do not), and when that was last
    /// logged: see `full`.
    full: Arc<full::FullState>,
}

/// How the store behaves, beyond where it is.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// An integration whose every attempt failed for this long (three at least) is disabled.
    pub disable_after: std::time::Duration,
    /// SQLite only: `PRAGMA max_page_count` on the writer, to bound the file (tests fill it).
    pub sqlite_max_pages: Option<u32>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            disable_after: std::time::Duration::from_secs(5 * 86_400),
            sqlite_max_pages: None,
        }
    }
}

/// A write transaction that holds the write gate (SQLite) until it commits or rolls back.
/// Fields drop in order: the transaction ends before the gate opens.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _gate: Option<WriteTurn>,
}

/// This process's turn at SQLite's one writer; how long it was held goes to `/metrics`.
struct WriteTurn {
    _guard: OwnedMutexGuard<()>,
    purpose: Purpose,
    since: Instant,
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        telemetry::write_gate_hold(self.purpose.label(), self.since);
    }
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect)
            .finish()
    }
}

impl Store {
    /// Connects to the database named by `url` (creating an SQLite file and its folder if needed).
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_with(url, StoreOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url);
        let (pool, writer) = match dialect {
            Dialect::Sqlite => sqlite::connect(url, options.sqlite_max_pages).await?,
            Dialect::Postgres => {
                let pool = postgres::connect(url, AnyPoolOptions::new()).await?;
                (pool.clone(), pool)
            }
        };
        let write_gate = (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Store {
            pool,
            writer,
            dialect,
            write_gate,
            config: Arc::default(),
            options,
            full: Arc::default(),
        })
    }

    /// Waits for this process's turn to write (SQLite); free on PostgreSQL.
    async fn write_gate(&self, purpose: Purpose) -> Option<WriteTurn> {
        let gate = self.write_gate.as_ref()?;
        let asked = Instant::now();
        let guard = gate.clone().lock_owned().await;
        telemetry::write_gate_wait(purpose.label(), asked);
        Some(WriteTurn {
            _guard: guard,
            purpose,
            since: Instant::now(),
        })
    }

    /// Runs one writing statement in this process's turn to write, and no longer.
    async fn execute_write<'q>(
        &self,
        purpose: Purpose,
        statement: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<AnyQueryResult> {
        let _gate = self.write_gate(purpose).await;
        Ok(statement.execute(&self.writer).await?)
    }

    /// Runs one statement that changes rules or integrations, with the config version's bump,
    /// in one transaction.
    async fn change_config<'q>(
        &self,
        statement: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<AnyQueryResult> {
        let mut tx = self.begin_write(Purpose::Config).await?;
        let done = statement.execute(&mut *tx).await?;
        config::bump(&mut tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Begins a transaction that writes, in this process's turn (SQLite) and with the
    /// settings `purpose` wants (PostgreSQL).
    async fn begin_write(&self, purpose: Purpose) -> Result<WriteTx> {
        let gate = self.write_gate(purpose).await;
        let tx = match self.dialect {
            Dialect::Sqlite => sqlite::begin_write(&self.writer).await?,
            Dialect::Postgres => postgres::begin_write(&self.writer, purpose).await?,
        };
        Ok(WriteTx { tx, _gate: gate })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.dialect {
            Dialect::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Dialect::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// True when the database answers a query within two seconds.
    pub async fn ping(&self) -> bool {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(2), query).await,
            Ok(Ok(_))
        )
    }

    /// Tells other instances about new work when the transaction commits (PostgreSQL's
    /// NOTIFY; one SQLite file has one service, which wakes its own tasks).
    async fn announce(&self, conn: &mut AnyConnection, channel: postgres::Channel) -> Result<()> {
        match self.dialect {
            Dialect::Postgres => postgres::notify(conn, channel).await,
            Dialect::Sqlite => Ok(()),
        }
    }

    /// Housekeeping the write path needs under constant load, run every
    /// [`Dialect::maintenance_interval`]: SQLite's write-ahead log checkpointed and trimmed;
    /// PostgreSQL's queue tables vacuumed.
    pub async fn maintain(&self) -> Result<()> {
        match self.dialect {
            Dialect::Sqlite => sqlite::maintain(self).await,
            Dialect::Postgres => postgres::maintain(&self.pool).await,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Ids among `ids` that name no creator.
    pub async fn unknown_creators<I: AsRef<str>>(&self, ids: &[I]) -> Result<Vec<String>> {
        let mut conn = self.pool.acquire().await?;
        missing(
            &mut conn,
            self.dialect,
            ids,
            "SELECT id FROM creators WHERE id IN",
            "",
        )
        .await
    }
}

/// Ids among `ids` that `find` (a query ending in `IN`, to which the list is appended, then
/// `suffix`) does not return, sorted.
async fn missing<I: AsRef<str>>(
    conn: &mut AnyConnection,
    dialect: Dialect,
    ids: &[I],
    find: &str,
    suffix: &str,
) -> Result<Vec<String>> {
    let mut found = std::collections::HashSet::new();
    // Every id is a UUID: anything else names nothing, and is not sent to the database (where
    // PostgreSQL refuses text holding a NUL byte).
    let ids_to_look_up: Vec<&str> = ids
        .iter()
        .map(AsRef::as_ref)
        .filter(|id| uuid::Uuid::try_parse(id).is_ok())
        .collect();
    for chunk in ids_to_look_up.chunks(500) {
        let sql = format!("{find} ({}) {suffix}", dialect.list(chunk.len()));
        let mut query = sqlx::query_as::<_, (String,)>(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        found.extend(
            query
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|(id,)| id),
        );
    }
    let mut missing: Vec<String> = ids
        .iter()
        .map(AsRef::as_ref)
        .filter(|id| !found.contains(*id))
        .map(str::to_string)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    Ok(missing)
}

/// Runs `attempt` again, a few times, when PostgreSQL broke a deadlock by failing it: a
/// transaction over many rows (deleting an integration settles all its pending deliveries) can
/// cross the dispatcher's batches of results, which lock some of the same rows.
async fn retry_deadlocks<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    const TRIES: u32 = 5;
    let mut tried = 1;
    loop {
        match attempt().await {
            Err(e) if tried < TRIES && is_deadlock(&e) => {
                tokio::time::sleep(Duration::from_millis(10 * u64::from(tried))).await;
                tried += 1;
            }
            done => return done,
        }
    }
}

fn is_deadlock(e: &Error) -> bool {
    matches!(e, Error::Database(sqlx::Error::Database(db)) if db.code().as_deref() == Some("40P01"))
}

/// `$1, $2, …` for `n` values starting after `offset` placeholders already used.
fn placeholders(offset: usize, n: usize) -> String {
    (offset + 1..=offset + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}
