//! PostgreSQL claims stay a few index lookups whatever the planner's statistics say. A vacuum of
//! an empty queue tells the planner the table is empty; a claim written as `IN (subquery)` was
//! then planned as a loop that ran its subquery once per row of the table.

use std::time::Duration;

use crate::common::{wait_until, Backend, TestDb, WAIT};
use lc_webhooks::store::Store;
use sqlx::AnyPool;

const ROWS: usize = 2000;

/// Index entries read in `table`'s indexes so far, as reported by the backends that read them.
async fn index_entries_read(pool: &AnyPool, table: &str) -> i64 {
    let (read,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(SUM(idx_tup_read), 0)::BIGINT FROM pg_stat_user_indexes WHERE relname = $1",
    )
    .bind(table)
    .fetch_one(pool)
    .await
    .expect("index statistics");
    read
}

/// A store whose `table` was vacuumed empty, then filled with `ROWS` rows by `fill`.
async fn store_with_stale_statistics(table: &str, fill: &str) -> Option<(TestDb, Store, AnyPool)> {
    let db = TestDb::create(Backend::Postgres).await?;
    let store = Store::connect(&db.url).await.expect("store");
    store.migrate().await.expect("migrate");
    let pool = crate::common::any_pool(&db.url).await;
    sqlx::raw_sql(&format!("VACUUM {table}"))
        .execute(&pool)
        .await
        .expect("vacuum the empty table");
    sqlx::query(fill)
        .bind(i64::try_from(ROWS).expect("row count"))
        .execute(&pool)
        .await
        .expect("fill");
    Some((db, store, pool))
}

/// Closes `store` (its backends report their statistics as they exit) and returns the index
/// entries they read in `table`.
async fn entries_read_by(store: Store, pool: &AnyPool, table: &str) -> i64 {
    store.close().await;
    wait_until(WAIT, "index statistics reported", || async {
        let read = index_entries_read(pool, table).await;
        (read > 0).then_some(read)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_posts_claim_looks_each_post_up_once_after_a_vacuum_of_an_empty_inbox() {
    let Some((_db, store, pool)) = store_with_stale_statistics(
        "media_inbox",
        "WITH c AS (INSERT INTO creators (id, email, created_at)
                    VALUES ('0190a000-0000-7000-8000-000000000002', 'c@example.com', 0)),
              ids AS (SELECT '0190a000-0000-7000-8001-' || lpad(to_hex(g), 12, '0') AS id
                      FROM generate_series(1, $1) g),
              m AS (INSERT INTO media (id, creator_id, platform, post_type, posted_at, ingested_at)
                    SELECT id, '0190a000-0000-7000-8000-000000000002', 'INSTAGRAM', 'STORY', 0, 0
                    FROM ids)
         INSERT INTO media_inbox (media_id) SELECT id FROM ids",
    )
    .await
    else {
        return;
    };
    // No rules: the pass takes the posts and counts nothing, which is all this needs.
    store.evaluate_inbox(500, None).await.expect("evaluate");
    // The pick walks 500 entries and the delete looks 500 up; the loop read ~800,000.
    let read = entries_read_by(store, &pool, "media_inbox").await;
    assert!(read <= 1500, "{read} index entries read to claim 500 posts");
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM media_inbox")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(left, i64::try_from(ROWS - 500).expect("count"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deliveries_claim_looks_each_delivery_up_once_after_a_vacuum_of_an_empty_queue() {
    let Some((_db, store, pool)) = store_with_stale_statistics(
        "delivery_queue",
        "WITH i AS (INSERT INTO integrations (id, name, url, api_key, auth_header, auth_prefix,
                                              active, created_at, updated_at)
                    VALUES ('0190a000-0000-7000-8000-000000000001', 'i', 'http://127.0.0.1:9/',
                            'key', 'Authorization', 'Bearer ', 1, 0, 0)),
              ids AS (SELECT gen_random_uuid()::text AS id FROM generate_series(1, $1)),
              d AS (INSERT INTO deliveries (id, integration_id, status, payload, created_at)
                    SELECT id, '0190a000-0000-7000-8000-000000000001', 'pending', '{}', 0 FROM ids)
         INSERT INTO delivery_queue (delivery_id, integration_id, due_at)
         SELECT id, '0190a000-0000-7000-8000-000000000001', 0 FROM ids",
    )
    .await
    else {
        return;
    };
    let claimed = store
        .claim_due(200, Duration::from_secs(60), "instance", &[])
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 200);
    // The pick walks 200 entries of the due index and the lease looks 200 up by key; the loop
    // read hundreds of thousands.
    let read = entries_read_by(store, &pool, "delivery_queue").await;
    assert!(
        read <= 600,
        "{read} index entries read to claim 200 deliveries"
    );
    let (leased,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM delivery_queue WHERE lease_owner = 'instance'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(leased, 200);
}
