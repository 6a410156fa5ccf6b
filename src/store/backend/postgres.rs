//! PostgreSQL: several instances share one database, claim rows without waiting for each other
//! and wake each other with `NOTIFY`.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgSslMode};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{watch, Notify};

use super::{take_and_read, Backend, Channel, FromRows, Guard, ReadConn, Tuning, WriteTx};
use crate::error::{Error, Result};
use crate::store::db::Purpose;
use crate::store::sql::claim::{ClaimRequest, ClaimRow, CLAIM_COLUMNS, CLAIM_JOINS};
use crate::store::sql::inbox::InboxRow;
use crate::store::sql::statement::{Clause, Value};
use crate::store::sql::{Row, Statement, Writes};

/// `disk_full`: out of space.
pub(super) fn out_of_space(refusal: &dyn DatabaseError) -> bool {
    refusal.code().as_deref() == Some("53100")
}

/// `deadlock_detected`: PostgreSQL failed this transaction to break a deadlock.
pub(super) fn deadlock(refusal: &dyn DatabaseError) -> bool {
    refusal.code().as_deref() == Some("40P01")
}

/// Whether `url` names a PostgreSQL database.
pub(super) fn names(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub(crate) struct Postgres {
    pool: PgPool,
}

/// How to connect to `url`. A URL naming a loopback host and no `sslmode` (nor `PGSSLMODE`)
/// connects without TLS: libpq's default, `prefer`, would encrypt traffic that never leaves the
/// machine, at about 6 % of the posts one instance takes at low load (BENCHMARKS.md). Any
/// `sslmode` given is kept, and other hosts keep `prefer`.
fn connect_options(url: &str) -> Result<PgConnectOptions> {
    let options: PgConnectOptions = url.parse()?;
    let env_names_mode = std::env::var_os("PGSSLMODE").is_some();
    if !without_tls(url, options.get_host(), env_names_mode) {
        return Ok(options);
    }
    Ok(options.ssl_mode(PgSslMode::Disable))
}

/// Whether a connection to `host` through `url` goes without TLS: loopback, and no mode named
/// by the URL or (`env_names_mode`) by `PGSSLMODE`.
fn without_tls(url: &str, host: &str, env_names_mode: bool) -> bool {
    let url_names_mode = url::Url::parse(url)
        .map(|u| {
            u.query_pairs()
                .any(|(k, _)| k == "sslmode" || k == "ssl-mode")
        })
        .unwrap_or(true);
    !url_names_mode && !env_names_mode && loopback(host)
}

fn loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

macro_rules! bind_columns_into {
    ($query:expr, $rows:expr) => {
        bind_columns!($query, columns($rows))
    };
}

macro_rules! bind_columns {
    ($query:expr, $columns:expr) => {{
        let mut query = $query;
        for column in $columns {
            query = match column {
                Column::Text(v) => query.bind(v),
                Column::Int(v) => query.bind(v),
            };
        }
        query
    }};
}

/// A write transaction not begun yet (`Backend::begin_deferred`): a pooled connection whose
/// statements commit one by one, until [`Deferred::begin`].
pub(crate) struct Deferred {
    conn: PoolConnection<sqlx::Postgres>,
    pool: PgPool,
    /// What [`Deferred::finish`] commits under (a `SELECT` of `set_config` calls).
    settings: Option<&'static str>,
    /// The copies the writes were built from, checked by the statement that writes them.
    guard: Option<Guard>,
}

impl Deferred {
    pub(super) fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    pub(super) fn guard(&mut self, guard: Guard) {
        self.guard = Some(guard);
    }

    /// Every insert of `writes` in one statement that commits on its own, under the purpose's
    /// settings: with them, the inserts are the `WITH` parts and the settings the statement
    /// itself, since a local setting holds until the statement's own commit. Without the
    /// bookkeeping settings, the health write waited for the WAL flush (5 ms here) holding its
    /// integration's row, and other instances' writes waited behind it (BENCHMARKS.md).
    pub(super) async fn finish(mut self, writes: &Writes<'_>) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        if let Some(guard) = &self.guard {
            let (parts, next) = insert_parts(writes, GUARDED);
            let sql = format!(
                "WITH guard AS ({}), {} SELECT ok FROM guard",
                guard_select(next),
                with_parts(&parts)
            );
            let query = bind_columns!(sqlx::query_scalar(&sql), columns_of_all(writes));
            let current: bool = bind_guard(query, guard).fetch_one(&mut *self.conn).await?;
            return if current {
                Ok(())
            } else {
                Err(Error::StaleCopy)
            };
        }
        let sql = match self.settings {
            Some(settings) => format!(
                "WITH {} {settings}",
                with_parts(&insert_parts(writes, "").0)
            ),
            None => insert_all_text(writes),
        };
        execute_inserts(&mut self.conn, &sql, writes).await
    }

    /// The transaction, on a connection of the pool (most often this one, handed back).
    pub(super) async fn begin(
        self,
        counting: bool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let Deferred {
            conn, pool, guard, ..
        } = self;
        drop(conn);
        let mut tx = begin(&pool, counting.then_some(EVALUATION_SETTINGS)).await?;
        if let Some(guard) = guard {
            let sql = guard_select(1);
            let current: bool = bind_guard(sqlx::query_scalar(&sql), &guard)
                .fetch_one(&mut *tx)
                .await?;
            if !current {
                return Err(Error::StaleCopy);
            }
        }
        Ok(tx)
    }
}

/// What a guarded statement's inserts add: they write only if the copies are current.
const GUARDED: &str = " WHERE (SELECT ok FROM guard)";

/// `ok`: every creator still has the row version copied (`xmin` changes with each update, and a
/// deleted one is missing) and the config's version is the one used. Its three arguments are
/// numbered from `first`: the creators' ids, their row versions, the config's version.
fn guard_select(first: usize) -> String {
    let (ids, versions, config) = (first, first + 1, first + 2);
    format!(
        "SELECT (SELECT count(*) FROM creators c
                 WHERE c.id = ANY(${ids}::text[])
                   AND (c.id, c.xmin::text::bigint) IN
                       (SELECT * FROM UNNEST(${ids}::text[], ${versions}::bigint[])))
                = cardinality(${ids}::text[])
            AND COALESCE((SELECT version FROM config_version WHERE id = 1) = ${config}::bigint,
                         false) AS ok"
    )
}

fn bind_guard<'q>(
    query: sqlx::query::QueryScalar<'q, sqlx::Postgres, bool, sqlx::postgres::PgArguments>,
    guard: &'q Guard,
) -> sqlx::query::QueryScalar<'q, sqlx::Postgres, bool, sqlx::postgres::PgArguments> {
    query
        .bind(&guard.creator_ids)
        .bind(&guard.row_versions)
        .bind(guard.config_version)
}

/// `BEGIN` and the transaction's settings in one round trip: a simple query may hold several
/// statements.
async fn begin(
    pool: &PgPool,
    settings: Option<&'static str>,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    Ok(match settings {
        Some(settings) => pool.begin_with(format!("BEGIN; {settings}")).await?,
        None => pool.begin().await?,
    })
}

impl Postgres {
    pub(super) async fn connect(url: &str) -> Result<Postgres> {
        // One plain connection first: the pool retries a refused connection until its acquire
        // timeout and then reports only that it timed out; this reports why, at once.
        let options = connect_options(url)?;
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A ping before every checkout costs a round trip per statement; a dead connection
            // fails its statement instead, and every caller retries or reports it.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Postgres { pool })
    }

    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Wakes this instance's evaluator and dispatcher when any instance (or `import`) commits
    /// new work, instead of waiting for the next poll. Notifications lost while reconnecting
    /// are harmless: polling still finds the work.
    pub(super) async fn forward_notifications(
        &self,
        posts: Arc<Notify>,
        deliveries: Arc<Notify>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        while !*shutdown.borrow() {
            let mut listener = match PgListener::connect_with(&self.pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed; relying on polling for now");
                    tokio::select! {
                        _ = tokio::time::sleep(LISTEN_RETRY) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
            };
            if let Err(e) = listener
                .listen_all([channel(Channel::Posts), channel(Channel::Deliveries)])
                .await
            {
                tracing::warn!(error = %e, "LISTEN failed; relying on polling for now");
                tokio::select! {
                    _ = tokio::time::sleep(LISTEN_RETRY) => continue,
                    _ = shutdown.changed() => return,
                }
            }
            loop {
                tokio::select! {
                    received = listener.recv() => match received {
                        Ok(n) if n.channel() == channel(Channel::Posts) => posts.notify_one(),
                        Ok(_) => deliveries.notify_one(),
                        Err(e) => {
                            tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                            break;
                        }
                    },
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

/// The pause before listening again after a failure: polling covers the gap meanwhile.
const LISTEN_RETRY: Duration = Duration::from_secs(2);

fn channel(channel: Channel) -> &'static str {
    match channel {
        Channel::Posts => "lc_webhooks_posts",
        Channel::Deliveries => "lc_webhooks_deliveries",
    }
}

/// Rows another instance is working on are passed over rather than waited for.
const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";

/// Run first in the claim's transaction. The claim filters on `due_at <= now`, at the live end
/// of the index: planned for each value, PostgreSQL 15 probes that end, walking every dead row
/// the queue's churn leaves there (seen taking 460 ms per claim); a generic plan never probes.
const CLAIM_SETTINGS: &str = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true), \
     set_config('synchronous_commit', 'off', true), \
     set_config('enable_seqscan', 'off', true)";

/// Run first in the dispatcher's bookkeeping transactions (leases, attempt results): no wait
/// for the WAL flush. Losing such a commit in a database crash only means a delivery is sent
/// again when its lease runs out, which at-least-once allows. Rewards are never committed so.
const BOOKKEEPING_SETTINGS: &str = "SELECT set_config('synchronous_commit', 'off', true), \
     set_config('enable_seqscan', 'off', true)";

/// Run first in an evaluation's transaction (one that takes posts from the inbox), and before
/// an ingest's evaluation counts posts toward rules that keep count: those statements join the
/// pending posts by key. An ingest whose rules need no counting only inserts, and saves the round
/// trip.
const EVALUATION_SETTINGS: &str = "SELECT set_config('enable_seqscan', 'off', true)";

// Why `enable_seqscan = off` on the hot path: every statement there touches a few rows by key,
// but each connection keeps its prepared statements, and a plan made while a table was
// small (a fresh database, before autovacuum's first ANALYZE a minute later) scans the whole
// table ever after: seen as 20 million rows read in a 100,000-delivery run.

/// Every claim walks `delivery_queue_due` from its oldest end, where settled rows leave their
/// dead entries until a vacuum clears them. Autovacuum looks once a minute at best; by then a
/// busy queue has left a hundred thousand dead rows there (seen: 2,400 index entries and 1,200
/// heap rows read per claim). `SKIP_LOCKED`: an instance already vacuuming is enough.
const VACUUM_QUEUES: &str = "VACUUM (SKIP_LOCKED) delivery_queue, media_inbox";

/// `= ANY(ARRAY({select} FOR UPDATE SKIP LOCKED))`: the rows `select` picks, locked without
/// waiting for those other instances hold. An array built once: as `IN (subquery)`, a plan
/// made while the table looked empty (statistics from a vacuum) re-ran the subquery for every
/// row, seen taking 2.5 s per claim and claiming 3,000 rows under `LIMIT 500`.
fn claimed_by_us(select: &str) -> String {
    format!("= ANY(ARRAY({select} {SKIP_LOCKED}))")
}

macro_rules! bind {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Value::Text(v) => query.bind(v.as_deref()),
                Value::Int(v) => query.bind(*v),
                Value::List(items) => query.bind(items.as_slice()),
            };
        }
        query
    }};
}

impl Backend for Postgres {
    type Connection = PgConnection;

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn read(&self) -> Result<ReadConn> {
        Ok(ReadConn::Postgres(self.pool.acquire().await?))
    }

    async fn begin_write(&self, purpose: Purpose) -> Result<WriteTx> {
        let settings = match purpose {
            Purpose::Claim => Some(CLAIM_SETTINGS),
            Purpose::Record => Some(BOOKKEEPING_SETTINGS),
            Purpose::Evaluate => Some(EVALUATION_SETTINGS),
            _ => None,
        };
        Ok(WriteTx {
            tx: super::Tx::Postgres(begin(&self.pool, settings).await?),
            _turn: None,
        })
    }

    async fn begin_deferred(&self, purpose: Purpose) -> Result<WriteTx> {
        let deferred = Deferred {
            conn: self.pool.acquire().await?,
            pool: self.pool.clone(),
            // The attempts' health and chart counts, written before their batch, whose commit
            // flushes them with it (the WAL is written in order).
            settings: (purpose == Purpose::Record).then_some(BOOKKEEPING_SETTINGS),
            guard: None,
        };
        Ok(WriteTx {
            tx: super::Tx::PostgresDeferred(deferred),
            _turn: None,
        })
    }

    async fn execute_write(&self, _: Purpose, statement: &Statement<'_>) -> Result<u64> {
        let mut conn = self.pool.acquire().await?;
        Self::execute(&mut conn, statement).await
    }

    /// One statement: the lease over due rows no other instance has locked, returning what
    /// a send needs of each.
    async fn claim(&self, claim: &ClaimRequest<'_>) -> Result<Vec<ClaimRow>> {
        let mut tx = self.begin_write(Purpose::Claim).await?;
        let skip = if claim.skip.is_empty() {
            ""
        } else {
            "AND integration_id <> ALL($5)"
        };
        let due = format!(
            "SELECT delivery_id FROM delivery_queue
             WHERE due_at <= $3 AND lease_until <= $3 {skip}
             ORDER BY due_at LIMIT $4"
        );
        let mut lease = Statement::new(format!(
            "UPDATE delivery_queue q SET lease_until = $1, lease_owner = $2 FROM {CLAIM_JOINS}
             WHERE q.delivery_id {} AND d.id = q.delivery_id
             RETURNING {CLAIM_COLUMNS}",
            claimed_by_us(&due)
        ))
        .bind(claim.until)
        .bind(claim.owner)
        .bind(claim.at)
        .bind(i64::from(claim.limit));
        if !claim.skip.is_empty() {
            lease = lease.bind_list(claim.skip);
        }
        let rows = tx.conn().fetch_all(lease).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// A delete of rows no other instance holds, then a read of the posts it took.
    async fn take_inbox(&self, limit: u32) -> Result<Option<(WriteTx, Vec<InboxRow>)>> {
        let tx = self.begin_write(Purpose::Evaluate).await?;
        let oldest = format!("SELECT media_id FROM media_inbox ORDER BY media_id LIMIT {limit}");
        let take = Statement::new(format!(
            "DELETE FROM media_inbox WHERE media_id {} RETURNING media_id",
            claimed_by_us(&oldest)
        ));
        take_and_read(tx, take).await
    }

    async fn maintain(&self) -> Result<()> {
        sqlx::raw_sql(VACUUM_QUEUES).execute(&self.pool).await?;
        Ok(())
    }

    /// Several writers overlap their round trips; two ingest writers overlap their commits at
    /// low load and still form large groups under load, where a third only split them; smaller
    /// evaluation transactions win (BENCHMARKS.md).
    fn tuning(&self) -> Tuning {
        Tuning {
            concurrent_writers: 3,
            ingest_writers: 2,
            evaluation_batch: 500,
            maintenance_interval: Duration::from_secs(1),
        }
    }

    async fn fetch_all<R: FromRows>(
        conn: &mut PgConnection,
        statement: &Statement<'_>,
    ) -> Result<Vec<R>> {
        let text = text(statement);
        let query = bind!(sqlx::query_as::<_, R>(&text), statement.args());
        Ok(query.fetch_all(conn).await?)
    }

    async fn fetch_optional<R: FromRows>(
        conn: &mut PgConnection,
        statement: &Statement<'_>,
    ) -> Result<Option<R>> {
        let text = text(statement);
        let query = bind!(sqlx::query_as::<_, R>(&text), statement.args());
        Ok(query.fetch_optional(conn).await?)
    }

    async fn execute(conn: &mut PgConnection, statement: &Statement<'_>) -> Result<u64> {
        let text = text(statement);
        let query = bind!(sqlx::query(&text), statement.args());
        Ok(query.execute(conn).await?.rows_affected())
    }

    async fn insert<R: Row>(
        conn: &mut PgConnection,
        table: &str,
        tail: &str,
        rows: &[R],
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM {} {tail}",
            R::COLUMNS.join(", "),
            unnest::<R>()
        );
        bind_columns_into!(sqlx::query(&sql), rows)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn insert_all(conn: &mut PgConnection, writes: &Writes<'_>) -> Result<()> {
        execute_inserts(conn, &insert_all_text(writes), writes).await
    }

    async fn insert_returning<R: Row, O: FromRows>(
        conn: &mut PgConnection,
        table: &str,
        tail: &str,
        rows: &[R],
    ) -> Result<Vec<O>> {
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM {} {tail}",
            R::COLUMNS.join(", "),
            unnest::<R>()
        );
        Ok(bind_columns_into!(sqlx::query_as::<_, O>(&sql), rows)
            .fetch_all(conn)
            .await?)
    }

    async fn update_from<R: Row>(
        conn: &mut PgConnection,
        rows: &[R],
        head: &str,
        tail: &str,
    ) -> Result<()> {
        let sql = format!(
            "{head} FROM {} AS v({}) {tail}",
            unnest::<R>(),
            R::COLUMNS.join(", ")
        );
        bind_columns_into!(sqlx::query(&sql), rows)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn select_from<R: Row, O: FromRows>(
        conn: &mut PgConnection,
        rows: &[R],
        head: &str,
        tail: &str,
    ) -> Result<Vec<O>> {
        let sql = format!(
            "{head} FROM {} AS v({}) {tail}",
            unnest::<R>(),
            R::COLUMNS.join(", ")
        );
        Ok(bind_columns_into!(sqlx::query_as::<_, O>(&sql), rows)
            .fetch_all(conn)
            .await?)
    }

    async fn notify(conn: &mut PgConnection, to: Channel) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(channel(to))
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn before_counting(conn: &mut PgConnection) -> Result<()> {
        sqlx::query(EVALUATION_SETTINGS).execute(conn).await?;
        Ok(())
    }
}

/// The statement's text as PostgreSQL spells it: a list as one array parameter.
fn text<'s>(statement: &'s Statement<'_>) -> Cow<'s, str> {
    statement.text(|clause, sql| {
        let _ = match clause {
            Clause::AnyOf(n) => write!(sql, " = ANY(${n})"),
            Clause::NoneOf(n) => write!(sql, " <> ALL(${n})"),
            Clause::ForUpdate => write!(sql, " FOR UPDATE"),
            Clause::ForShare => write!(sql, " FOR SHARE"),
        };
    })
}

/// `UNNEST($1::text[], $2::bigint[], …)`: a batch of rows as one typed array per column. The
/// statement's text is the same whatever the number of rows, so each connection prepares it
/// once.
fn unnest<R: Row>() -> String {
    unnest_from(R::PG_TYPES, 1)
}

/// [`unnest`] with its arrays numbered from `$first`.
fn unnest_from(pg_types: &[&str], first: usize) -> String {
    let arrays: Vec<String> = pg_types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}[]", first + i))
        .collect();
    format!("UNNEST({})", arrays.join(", "))
}

/// Every insert of `writes` in one statement: the first ones as data-modifying `WITH` parts,
/// the last as the statement itself. PostgreSQL runs each part once, and checks foreign keys at
/// the end of the statement, so the order of the parts does not matter.
fn insert_all_text(writes: &Writes<'_>) -> String {
    let (mut parts, _) = insert_parts(writes, "");
    let last = parts.pop().unwrap_or_default();
    if parts.is_empty() {
        return last;
    }
    format!("WITH {} {last}", with_parts(&parts))
}

/// `sql`, made of the inserts of `writes`, with their columns bound.
async fn execute_inserts(conn: &mut PgConnection, sql: &str, writes: &Writes<'_>) -> Result<()> {
    bind_columns!(sqlx::query(sql), columns_of_all(writes))
        .execute(conn)
        .await?;
    Ok(())
}

/// Each insert of `writes`, their arrays numbered on from one to the next, their rows kept
/// `where` (empty, or a clause with its leading space); and the number of the next argument.
fn insert_parts(writes: &Writes<'_>, r#where: &str) -> (Vec<String>, usize) {
    let mut parts = Vec::new();
    let mut next = 1;
    for batch in writes.batches() {
        parts.push(format!(
            "INSERT INTO {} ({}) SELECT * FROM {}{} {}",
            batch.table(),
            batch.columns().join(", "),
            unnest_from(batch.pg_types(), next),
            r#where,
            batch.tail()
        ));
        next += batch.columns().len();
    }
    (parts, next)
}

/// `w0 AS (…), w1 AS (…)`: `parts` as the parts of a `WITH`.
fn with_parts(parts: &[String]) -> String {
    let with: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| format!("w{i} AS ({part})"))
        .collect();
    with.join(", ")
}

/// One array per column of `rows`.
enum Column<'a> {
    Text(Vec<Option<Cow<'a, str>>>),
    Int(Vec<Option<i64>>),
}

fn columns<R: Row>(rows: &[R]) -> Vec<Column<'_>> {
    let width = R::COLUMNS.len();
    let mut values = Vec::with_capacity(rows.len() * width);
    for row in rows {
        row.values(&mut values);
    }
    split(R::PG_TYPES, values)
}

/// The columns of every batch of `writes`, one after another.
fn columns_of_all<'a>(writes: &'a Writes<'_>) -> Vec<Column<'a>> {
    let mut all = Vec::new();
    for batch in writes.batches() {
        let mut values = Vec::with_capacity(batch.len() * batch.columns().len());
        batch.values(&mut values);
        all.extend(split(batch.pg_types(), values));
    }
    all
}

/// Row-major `values` as one array per column of `pg_types`.
fn split<'a>(pg_types: &[&str], values: Vec<Value<'a>>) -> Vec<Column<'a>> {
    let width = pg_types.len().max(1);
    let rows = values.len() / width;
    let mut columns: Vec<Column<'_>> = pg_types
        .iter()
        .map(|t| match *t {
            "bigint" => Column::Int(Vec::with_capacity(rows)),
            _ => Column::Text(Vec::with_capacity(rows)),
        })
        .collect();
    for (i, value) in values.into_iter().enumerate() {
        match (&mut columns[i % width], value) {
            (Column::Text(column), Value::Text(v)) => column.push(v),
            (Column::Int(column), Value::Int(v)) => column.push(v),
            // A field whose value does not match its declared type: `write_row!` rules it out.
            (Column::Text(column), _) => column.push(None),
            (Column::Int(column), _) => column.push(None),
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::write_row;

    /// Loopback without an `sslmode` skips TLS; a mode named by the URL or `PGSSLMODE`, and
    /// other hosts, are left alone. Decided apart from the environment, so it runs anywhere.
    #[test]
    fn loopback_connects_without_tls_unless_told() {
        let host = |url: &str| {
            url.parse::<PgConnectOptions>()
                .map(|o| o.get_host().to_string())
                .unwrap_or_default()
        };
        let skips = |url: &str, env: bool| without_tls(url, &host(url), env);
        for url in [
            "postgres://postgres@127.0.0.1:5432/db",
            "postgres://postgres@localhost/db",
            "postgres://postgres@[::1]:5432/db",
            "postgresql://u@127.0.0.2/db?application_name=lc",
        ] {
            assert!(skips(url, false), "{url}");
            assert!(!skips(url, true), "{url} with PGSSLMODE");
        }
        for url in [
            "postgres://postgres@127.0.0.1:5432/db?sslmode=require",
            "postgres://postgres@127.0.0.1:5432/db?ssl-mode=prefer",
            "postgres://postgres@db.example.com/db",
            "postgres://postgres@10.0.0.5/db",
        ] {
            assert!(!skips(url, false), "{url}");
        }
        // A mode named in the URL is the one used.
        let options = connect_options("postgres://postgres@127.0.0.1/db?sslmode=require");
        assert!(matches!(
            options.map(|o| o.get_ssl_mode()),
            Ok(PgSslMode::Require)
        ));
    }

    /// A list is one array parameter, and locks are written where the statement asks for them.
    #[test]
    fn a_list_is_one_array_parameter() {
        let ids = ["a", "b", "c"];
        let statement = Statement::new("SELECT id FROM rules WHERE deleted = 0 AND id")
            .any_of(ids)
            .push(" AND integration_id")
            .none_of(ids)
            .for_update();
        assert_eq!(
            text(&statement),
            "SELECT id FROM rules WHERE deleted = 0 AND id = ANY($1) AND integration_id <> ALL($2) FOR UPDATE"
        );
    }

    write_row! {
        /// A row for the test below.
        struct Pair<'a> {
            name: &'a str,
            count: i64,
        }
    }

    /// A batch of rows is one typed array per column, in their order, whatever their number.
    #[test]
    fn rows_go_as_one_array_per_column() {
        assert_eq!(unnest::<Pair<'_>>(), "UNNEST($1::text[], $2::bigint[])");
        let rows = [
            Pair {
                name: "a",
                count: 1,
            },
            Pair {
                name: "b",
                count: 2,
            },
        ];
        match columns(&rows).as_slice() {
            [Column::Text(names), Column::Int(counts)] => {
                assert_eq!(names, &[Some("a".into()), Some("b".into())]);
                assert_eq!(counts, &[Some(1), Some(2)]);
            }
            _ => panic!("one text and one integer column"),
        }
    }

    /// Inserts into several tables are one statement: the first as `WITH` parts, their arrays
    /// numbered on from one table to the next; one table alone is a plain insert.
    #[test]
    fn inserts_into_several_tables_are_one_statement() {
        let pairs = || {
            vec![Pair {
                name: "a",
                count: 1,
            }]
        };
        let mut writes = Writes::default();
        writes.insert("one", "", pairs());
        assert_eq!(
            insert_all_text(&writes),
            "INSERT INTO one (name, count) SELECT * FROM UNNEST($1::text[], $2::bigint[]) "
        );
        writes.insert("two", "ON CONFLICT DO NOTHING", pairs());
        writes.insert("three", "", Vec::<Pair<'_>>::new());
        assert_eq!(
            insert_all_text(&writes),
            "WITH w0 AS (INSERT INTO one (name, count) SELECT * FROM UNNEST($1::text[], $2::bigint[]) ) \
             INSERT INTO two (name, count) SELECT * FROM UNNEST($3::text[], $4::bigint[]) ON CONFLICT DO NOTHING"
        );
        assert_eq!(columns_of_all(&writes).len(), 4);
        let (guarded, next) = insert_parts(&writes, GUARDED);
        assert_eq!(
            guarded[1],
            "INSERT INTO two (name, count) SELECT * FROM UNNEST($3::text[], $4::bigint[]) \
             WHERE (SELECT ok FROM guard) ON CONFLICT DO NOTHING"
        );
        assert_eq!(next, 5, "the guard's arguments come after the columns'");
        assert!(
            guard_select(next).contains("$5::text[]") && guard_select(next).contains("$7::bigint")
        );
    }
}
