//! SQLite specifics: the file and its folder, WAL mode, waiting on locks instead of failing.

use std::path::Path;
use std::time::Duration;

use std::collections::HashSet;

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor, Transaction};

use super::bulk::{self, Bound};
use super::evaluate::{read_inbox, take_and_read, InboxRow};
use super::queue::{skip_clause, ClaimRequest, ClaimRow, CLAIM_SELECT};
use super::{placeholders, Dialect, Purpose, Store, WriteTx};
use crate::domain::DeliveryId;
use crate::error::Result;

/// Connections for reads: the API's lists and lookups, and what claims and evaluations read
/// before the writer takes its turn.
const READERS: u32 = 4;

/// Two pools on one file: readers, and the one connection every write goes through. In WAL mode
/// a connection drops its whole page cache whenever another connection has written since its
/// last transaction; with writes spread over the pool, nearly every write started cold and read
/// its pages back from the file. One writer connection keeps the hot pages (queue, index roots)
/// cached between transactions.
pub(super) async fn connect(url: &str, max_pages: Option<u32>) -> Result<(AnyPool, AnyPool)> {
    if in_memory(url) {
        // Each connection would open a database of its own: the writer's rows unseen by readers.
        return Err(sqlx::Error::Configuration(
            "an in-memory SQLite database is not shared between connections; give a file, \
             e.g. sqlite://data/lc-webhooks.db"
                .into(),
        )
        .into());
    }
    let readers = open(url, READERS, None).await?;
    let writer = open(url, 1, max_pages).await?;
    Ok((readers, writer))
}

async fn open(url: &str, connections: u32, max_pages: Option<u32>) -> Result<AnyPool> {
    let url = with_create_mode(url);
    if let Some(dir) = file_path(&url).and_then(|p| p.parent().map(Path::to_path_buf)) {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(&dir).map_err(sqlx::Error::Io)?;
        }
    }
    let pool = AnyPoolOptions::new()
        .max_connections(connections)
        // A ping before every checkout costs a round trip per statement; a dead connection
        // fails its statement instead, and every caller retries or reports it.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if let Some(pages) = max_pages {
                    conn.execute(format!("PRAGMA max_page_count = {pages}").as_str())
                        .await?;
                }
                // WAL lets readers run beside the writer; a busy timeout makes a second writer
                // (another connection, or `lc-webhooks import`) wait for the lock instead of failing.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA busy_timeout = 30000").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA cache_size = -8000").await?;
                // After a checkpoint that restarts the log, cut the file back to this size.
                conn.execute("PRAGMA journal_size_limit = 67108864").await?;
                // No checkpoint inside a commit: it would run while this process's one writer
                // waits. `Store::maintain` copies the log back beside the writer instead (every
                // second in the service, every few batches in `import`).
                conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    Ok(pool)
}

/// The write lock from the start: a transaction that read first and then wrote would fail, not
/// wait, if another process (`import`) wrote in between.
pub(super) async fn begin_write(writer: &AnyPool) -> Result<Transaction<'static, Any>> {
    Ok(writer.begin_with("BEGIN IMMEDIATE").await?)
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

pub(super) async fn maintain(store: &Store) -> Result<()> {
    let (_, log_frames, copied): (i64, i64, i64) =
        sqlx::query_as(COPY_BACK).fetch_one(&store.pool).await?;
    // Only once everything is copied back: the writer's turn then only waits for readers, it
    // copies nothing.
    if log_frames > RESTART_AFTER_FRAMES && copied == log_frames {
        store
            .execute_write(Purpose::Checkpoint, sqlx::query(RESTART))
            .await?;
    }
    Ok(())
}

/// The due deliveries are read on a reader connection, beside the one writer, which then only
/// leases them by key. A row another process leased or this one settled since the read is not
/// leased again: the lease re-checks that each row is still due and free.
pub(super) async fn claim(store: &Store, claim: &ClaimRequest<'_>) -> Result<Vec<ClaimRow>> {
    let sql = format!(
        "{CLAIM_SELECT} WHERE q.due_at <= $1 AND q.lease_until <= $1 {}
         ORDER BY q.due_at LIMIT $2",
        skip_clause("q.integration_id", 2, claim.skip)
    );
    let mut query = sqlx::query_as::<_, ClaimRow>(&sql)
        .bind(claim.at)
        .bind(i64::from(claim.limit));
    for id in claim.skip {
        query = query.bind(id);
    }
    let mut rows = query.fetch_all(&store.pool).await?;
    if rows.is_empty() {
        return Ok(rows);
    }
    let ids: Vec<&DeliveryId> = rows.iter().map(|r| &r.id).collect();
    let lease = [
        Bound::Int(claim.until),
        Bound::Text(claim.owner),
        Bound::Int(claim.at),
        Bound::Int(claim.at),
    ];
    let mut tx = store.begin_write(Purpose::Claim).await?;
    let leased = bulk::by_ids(&mut tx, Dialect::Sqlite, &lease, &ids, |p, ids| {
        format!(
            "UPDATE delivery_queue SET lease_until = {}, lease_owner = {}
             WHERE due_at <= {} AND lease_until <= {} AND delivery_id IN ({ids})",
            p[0], p[1], p[2], p[3]
        )
    })
    .await?;
    if leased < ids.len() as u64 {
        let sql = format!(
            "SELECT delivery_id FROM delivery_queue
             WHERE lease_owner = $1 AND lease_until = $2 AND delivery_id IN ({})",
            placeholders(2, ids.len())
        );
        let mut query = sqlx::query_as::<_, (DeliveryId,)>(&sql)
            .bind(claim.owner)
            .bind(claim.until);
        for id in &ids {
            query = query.bind(*id);
        }
        let ours: HashSet<DeliveryId> = query
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(id,)| id)
            .collect();
        rows.retain(|r| ours.contains(&r.id));
    }
    tx.commit().await?;
    Ok(rows)
}

/// The evaluation's transaction, with up to `limit` posts taken out of the inbox. The posts are
/// read beside the one writer, which then only deletes their inbox rows by key. Another process
/// (a second service on the file) may have taken some meanwhile: then the posts are taken again
/// in the writer's turn.
pub(super) async fn take_inbox(
    store: &Store,
    limit: u32,
) -> Result<Option<(WriteTx, Vec<InboxRow>)>> {
    let rows = read_inbox(&mut *store.pool.acquire().await?, limit).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut tx = store.begin_write(Purpose::Evaluate).await?;
    let ids: Vec<&str> = rows.iter().map(|r| r.media.id.as_str()).collect();
    let left = bulk::by_ids(&mut tx, Dialect::Sqlite, &[], &ids, |_, ids| {
        format!("DELETE FROM media_inbox WHERE media_id IN ({ids})")
    })
    .await?;
    if left == rows.len() as u64 {
        return Ok(Some((tx, rows)));
    }
    tx.rollback().await?;
    take_and_read(
        store,
        &format!("IN (SELECT media_id FROM media_inbox ORDER BY media_id LIMIT {limit})"),
    )
    .await
}

fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Without `mode=rwc` SQLite refuses to create a missing file.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || in_memory(url) {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
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

    /// Per-connection state (a temporary table) seen by the next write: both ran on the one
    /// writer connection, whose page cache therefore stays warm between transactions.
    #[tokio::test]
    async fn every_write_goes_through_one_connection() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let store = Store::connect(&url).await.expect("store");
        store
            .execute_write(
                Purpose::Config,
                sqlx::query("CREATE TEMP TABLE mine (x INTEGER)"),
            )
            .await
            .expect("temp table");
        for _ in 0..8 {
            let mut tx = store.begin_write(Purpose::Config).await.expect("write");
            sqlx::query("INSERT INTO temp.mine VALUES (1)")
                .execute(&mut *tx)
                .await
                .expect("the writer's own temp table");
            tx.commit().await.expect("commit");
        }
        let mut tx = store.begin_write(Purpose::Config).await.expect("write");
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM temp.mine")
            .fetch_one(&mut *tx)
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
        let store = Store::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("store");
        let write = |sql: &'static str| store.execute_write(Purpose::Config, sqlx::query(sql));
        write("CREATE TABLE filler (x BLOB)").await.expect("table");
        for _ in 0..400 {
            write("INSERT INTO filler VALUES (randomblob(16384))")
                .await
                .expect("row");
        }
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let before = size();
        assert!(before < 1_000_000, "a commit checkpointed: {before} bytes");
        store.maintain().await.expect("maintenance");
        assert!(
            size() > 5_000_000,
            "database file {before} bytes before maintenance, {} after",
            size()
        );
    }

    #[tokio::test]
    async fn an_in_memory_database_is_refused_with_a_reason() {
        let err = Store::connect("sqlite::memory:")
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("in-memory"), "{err}");
    }

    #[test]
    fn a_missing_file_is_created() {
        assert_eq!(
            with_create_mode("sqlite://data/x.db"),
            "sqlite://data/x.db?mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://x.db?cache=shared"),
            "sqlite://x.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://x.db?mode=ro"),
            "sqlite://x.db?mode=ro"
        );
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
}
