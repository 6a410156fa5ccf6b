//! Which lease owners are alive. Every running instance holds a lock the operating system or
//! the database lets go of the moment the process dies: on PostgreSQL a session-level advisory
//! lock (its key in `instances`), on SQLite an exclusive lock on a file beside the database
//! (`<database>-instances/<owner>`). An owner whose lock can be taken is dead, and its leases
//! are freed at once instead of running out (`--lease-time`, 60 s by default).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use tokio::task::JoinHandle;

use super::postgres::Postgres;
use super::sqlite::Sqlite;
use super::{Backend, Channel};
use crate::domain::time::{now, to_micros};
use crate::error::Result;
use crate::store::db::Purpose;
use crate::store::sql::claim::release_all_of;

/// This instance's proof of life, held until dropped or the process ends.
pub(crate) enum Liveness {
    /// The locked file. It stays when the lock goes (a clean stop too): the next instance to
    /// look finds it free, frees what leases it still names (none after a clean stop) and
    /// removes it.
    Sqlite { _file: File },
    /// The task keeping the advisory lock's connection; stopped when dropped.
    Postgres(JoinHandle<()>),
}

impl Drop for Liveness {
    fn drop(&mut self) {
        if let Liveness::Postgres(keeper) = self {
            keeper.abort();
        }
    }
}

/// The folder of the lock files beside an SQLite database file.
fn owners_dir(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-instances");
    PathBuf::from(name)
}

impl Sqlite {
    pub(super) async fn hold_liveness(&self, owner: &str) -> Result<Liveness> {
        let dir = owners_dir(self.path());
        let owner = owner.to_string();
        let held = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
            std::fs::create_dir_all(&dir)?;
            // Locked under a name no sweep looks at, then renamed: a sweep that found the file
            // before it was locked would take its owner for dead.
            let temp = dir.join(format!(".{owner}.new"));
            let file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&temp)?;
            file.try_lock().map_err(std::io::Error::from)?;
            std::fs::rename(&temp, dir.join(&owner))?;
            Ok(file)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(sqlx::Error::Io)?;
        Ok(Liveness::Sqlite { _file: held })
    }

    /// Frees the leases of every owner whose file is no longer locked; returns how many.
    pub(super) async fn free_dead_owners(&self, own: &str) -> Result<u64> {
        let dir = owners_dir(self.path());
        let own = own.to_string();
        let dead = tokio::task::spawn_blocking(move || dead_files(&dir, &own))
            .await
            .map_err(|e| sqlx::Error::Io(std::io::Error::other(e.to_string())))?;
        let mut freed = 0;
        for owner in dead {
            freed += self
                .execute_write(Purpose::Release, &release_all_of(&owner.name))
                .await?;
            // The leases are free: the file can go (still locked by us until dropped).
            let _ = std::fs::remove_file(&owner.path);
        }
        Ok(freed)
    }
}

/// A dead owner's file, locked by this process until dropped.
struct DeadOwner {
    name: String,
    path: PathBuf,
    _file: File,
}

fn dead_files(dir: &Path, own: &str) -> Vec<DeadOwner> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dead = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name == own || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file = match OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!(error = %e, file = %path.display(), "cannot open an instance's lock file");
                continue;
            }
        };
        match file.try_lock() {
            Ok(()) => dead.push(DeadOwner {
                name,
                path,
                _file: file,
            }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                tracing::warn!(error = %e, file = %path.display(), "cannot test an instance's lock file");
            }
        }
    }
    dead
}

/// How often the advisory lock's connection is checked; a lost one is reconnected and the lock
/// taken again (meanwhile other instances may free this one's leases: sends are at least once).
const KEEP_ALIVE: Duration = Duration::from_secs(1);

impl Postgres {
    pub(super) async fn hold_liveness(&self, owner: &str) -> Result<Liveness> {
        let pool = self.pool().clone();
        let mut key: i64 = rand::random();
        let conn = lock_connection(&pool, &mut key, true).await?;
        register(&pool, owner, key).await?;
        let owner = owner.to_string();
        Ok(Liveness::Postgres(tokio::spawn(keep_lock(
            pool, conn, owner, key,
        ))))
    }

    /// Frees the leases of every registered owner whose advisory lock is free; returns how
    /// many. The lock is tried for the transaction that frees them, so two instances never free
    /// the same owner's at once.
    pub(super) async fn free_dead_owners(&self, own: &str) -> Result<u64> {
        let others: Vec<(String, i64)> =
            sqlx::query_as("SELECT owner, lock_key FROM instances WHERE owner <> $1")
                .bind(own)
                .fetch_all(self.pool())
                .await?;
        let mut freed = 0;
        for (owner, key) in others {
            let mut tx = self.pool().begin().await?;
            let (dead,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            if !dead {
                tx.rollback().await?;
                continue;
            }
            let released = Self::execute(&mut tx, &release_all_of(&owner)).await?;
            sqlx::query("DELETE FROM instances WHERE owner = $1")
                .bind(&owner)
                .execute(&mut *tx)
                .await?;
            if released > 0 {
                Self::notify(&mut tx, Channel::Deliveries).await?;
            }
            tx.commit().await?;
            freed += released;
        }
        Ok(freed)
    }
}

/// A connection of its own (out of the pool) holding the session-level lock `key`. `fresh`:
/// the key may be changed if another session holds it (64 random bits: only by chance).
async fn lock_connection(pool: &PgPool, key: &mut i64, fresh: bool) -> Result<PgConnection> {
    let mut conn = pool.acquire().await?.detach();
    loop {
        let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(*key)
            .fetch_one(&mut conn)
            .await?;
        if locked {
            return Ok(conn);
        }
        if !fresh {
            return Err(sqlx::Error::Protocol(
                "this instance's advisory lock is held by another session".into(),
            )
            .into());
        }
        *key = rand::random();
    }
}

async fn register(pool: &PgPool, owner: &str, key: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO instances (owner, lock_key, started_at) VALUES ($1, $2, $3)
         ON CONFLICT (owner) DO UPDATE SET lock_key = excluded.lock_key",
    )
    .bind(owner)
    .bind(key)
    .bind(to_micros(now()))
    .execute(pool)
    .await?;
    Ok(())
}

/// Keeps the lock's connection alive, and takes the lock again on a new one if it was lost
/// (PostgreSQL restarted, say); re-registers, in case another instance took this one for dead.
async fn keep_lock(pool: PgPool, mut conn: PgConnection, owner: String, mut key: i64) {
    loop {
        tokio::time::sleep(KEEP_ALIVE).await;
        if sqlx::query("SELECT 1").execute(&mut conn).await.is_ok() {
            continue;
        }
        tracing::warn!("lost the connection holding this instance's lock; taking it again");
        conn = loop {
            match lock_connection(&pool, &mut key, false).await {
                Ok(c) => break c,
                Err(e) => {
                    tracing::debug!(error = %e, "advisory lock not taken yet");
                    tokio::time::sleep(KEEP_ALIVE).await;
                }
            }
        };
        while let Err(e) = register(&pool, &owner, key).await {
            tracing::warn!(error = %e, "could not register this instance again; will retry");
            tokio::time::sleep(KEEP_ALIVE).await;
        }
    }
}
