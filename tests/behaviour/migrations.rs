//! A database written by an earlier version keeps its delivery log when the service upgrades it:
//! the status filter finds every delivery after the migration that moved it off an index; and an
//! SQLite database migrated when SQLite's files had numbers of their own upgrades cleanly.

use std::path::Path;

use crate::common::{Backend, TestDb};
use lc_webhooks::domain::{DeliveryFilter, DeliveryStatus, Order, PageRequest};
use lc_webhooks::store::Store;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

both_stores!(the_status_filter_finds_deliveries_written_before_the_upgrade);

/// SQLite's migration files before both folders numbered each change the same way: new number
/// to old (SQLite had no gaps).
const OLD_SQLITE_NUMBERS: [(i64, i64); 7] =
    [(3, 2), (4, 3), (5, 4), (6, 5), (7, 6), (9, 7), (10, 8)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_database_migrated_under_the_old_numbers_upgrades_cleanly() {
    // Fully migrated by the last release, and stopped halfway (old 0001 to 0003).
    for last_old in [8, 3] {
        let db = TestDb::create(Backend::Sqlite).await.expect("SQLite");
        let pool = crate::common::any_pool(&format!("{}?mode=rwc", db.url)).await;
        let older = tempfile::tempdir().expect("temp dir");
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        for entry in std::fs::read_dir(&folder).expect("migrations folder") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).expect("name");
            let (number, rest) = name.split_once('_').expect("NNNN_name.sql");
            let number: i64 = number.parse().expect("version");
            let old = OLD_SQLITE_NUMBERS
                .iter()
                .find(|(new, _)| *new == number)
                .map_or(number, |(_, old)| *old);
            if old <= last_old {
                let renamed = older.path().join(format!("{old:04}_{rest}"));
                std::fs::copy(&path, renamed).expect("copy");
            }
        }
        Migrator::new(older.path())
            .await
            .expect("old migrations")
            .run(&pool)
            .await
            .expect("old schema");
        sqlx::raw_sql(&format!(
            "INSERT INTO creators (id, email, created_at) VALUES ('{}', 'old@example.com', 0)",
            id("0c")
        ))
        .execute(&pool)
        .await
        .expect("a row written before the upgrade");

        let store = Store::connect(&db.url).await.expect("store");
        store.migrate().await.expect("upgrade");
        store
            .migrate()
            .await
            .expect("a second start changes nothing");
        let applied: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT version, CAST(success AS INTEGER) FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&pool)
        .await
        .expect("applied migrations");
        assert_eq!(
            applied,
            [
                (1, 1),
                (3, 1),
                (4, 1),
                (5, 1),
                (6, 1),
                (7, 1),
                (9, 1),
                (10, 1),
                (11, 1),
                (14, 1),
                (15, 1),
                (16, 1),
                (17, 1),
                (18, 1),
                (19, 1),
                (20, 1),
                (22, 1),
                (23, 1),
                (24, 1),
                (25, 1),
                (26, 1)
            ],
            "after old 0001 to {last_old:04}"
        );
        let page = PageRequest {
            limit: 50,
            cursor: None,
        };
        let creators = store.list_creators(&page).await.expect("creators");
        assert_eq!(creators.items.len(), 1, "the row written before is there");
        // The last migration's columns exist: an integration can be created and read back.
        let found = store.list_integrations(&page).await.expect("integrations");
        assert!(found.items.is_empty());
        store.close().await;
        pool.close().await;
    }
}

/// Applies the migrations of `backend` numbered below `before`, as an older version would have.
async fn migrate_as_of(pool: &AnyPool, backend: Backend, before: i64) {
    let folder = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let older = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(folder))
        .expect("migrations folder")
    {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name");
        let version: i64 = name
            .split('_')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("version");
        if version < before {
            std::fs::copy(&path, older.path().join(name)).expect("copy");
        }
    }
    Migrator::new(older.path())
        .await
        .expect("older migrations")
        .run(pool)
        .await
        .expect("older schema");
}

/// The id the older version's rows below give delivery `name`.
fn id(name: &str) -> String {
    format!("0190a000-0000-7000-8000-0000000000{name}")
}

async fn the_status_filter_finds_deliveries_written_before_the_upgrade(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let url = match backend {
        // The file does not exist yet.
        Backend::Sqlite => format!("{}?mode=rwc", db.url),
        Backend::Postgres => db.url.clone(),
    };
    let pool = crate::common::any_pool(&url).await;
    migrate_as_of(&pool, backend, 3).await;
    let (i, d1, d2, d3, d4) = (id("0a"), id("d1"), id("d2"), id("d3"), id("d4"));
    sqlx::raw_sql(&format!(
        "INSERT INTO integrations (id, name, url, api_key, auth_header, auth_prefix, active, created_at, updated_at)
             VALUES ('{i}', 'old', 'http://127.0.0.1:9/hook', 'key', 'Authorization', 'Bearer ', 1, 0, 0);
         INSERT INTO deliveries (id, integration_id, status, created_at)
             VALUES ('{d1}', '{i}', 'succeeded', 0), ('{d2}', '{i}', 'failed', 0),
                    ('{d3}', '{i}', 'pending', 0), ('{d4}', '{i}', 'failed', 0);
         INSERT INTO delivery_queue (delivery_id, integration_id, due_at) VALUES ('{d3}', '{i}', 0);",
    ))
    .execute(&pool)
    .await
    .expect("an older version's log");

    let store = Store::connect(&db.url).await.expect("store");
    store.migrate().await.expect("upgrade");
    let page = PageRequest {
        limit: 50,
        cursor: None,
    };
    for (status, expected) in [
        (DeliveryStatus::Succeeded, vec![id("d1")]),
        (DeliveryStatus::Failed, vec![id("d2"), id("d4")]),
        (DeliveryStatus::Pending, vec![id("d3")]),
    ] {
        let filter = DeliveryFilter {
            status: Some(status),
            order: Order::Asc,
            ..DeliveryFilter::default()
        };
        let listed = store.list_deliveries(&filter, &page).await.expect("list");
        let ids: Vec<String> = listed.items.iter().map(|d| d.id.to_string()).collect();
        assert_eq!(ids, expected, "{status:?}");
    }
    store.close().await;
    pool.close().await;
}
