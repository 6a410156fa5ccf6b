//! Leases at the store: a result from an instance whose lease ran out and was taken over does
//! not overwrite the new holder's delivery; a dead instance's leases are freed at once, a live
//! one's kept.

use std::time::Duration;

use crate::common::{wait_until, Backend, Receiver, TestApp, WAIT};
use chrono::Utc;
use lc_webhooks::dispatch::RetrySchedule;
use lc_webhooks::domain::{DeliveryId, Id, IntegrationId, Outcome, SendResult};
use lc_webhooks::store::Store;
use serde_json::json;
use sqlx::AnyPool;

both_stores!(
    a_result_after_the_lease_was_taken_over_leaves_the_delivery_to_the_new_holder,
    a_dead_owners_leases_are_freed_at_once_and_a_live_ones_kept,
);

fn result(
    integration_id: &IntegrationId,
    delivery_id: &str,
    number: u32,
    owner: &str,
    outcome: Outcome,
) -> SendResult {
    SendResult {
        delivery_id: DeliveryId::parse(delivery_id).expect("an id"),
        integration_id: integration_id.clone(),
        request_headers: Default::default(),
        attempt_number: number,
        lease_owner: owner.to_string(),
        started_at: Utc::now(),
        duration_ms: 1,
        response_status: Some(if outcome == Outcome::Succeeded {
            200
        } else {
            500
        }),
        response_body: None,
        error: None,
        outcome,
        test: false,
    }
}

async fn status_of(pool: &AnyPool, id: &str) -> (String, i64) {
    sqlx::query_as("SELECT status, attempt_count FROM deliveries WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("delivery row")
}

/// A database holding one pending delivery (one failed attempt, its retry an hour away),
/// with no service running: (its url, the delivery's id).
async fn one_pending_delivery(
    backend: Backend,
) -> Option<(std::sync::Arc<crate::common::TestDb>, String)> {
    let app = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse("1h").expect("schedule");
    })
    .await?;
    let rx = Receiver::always(500).await;
    app.create_integration(&rx.url(), "lease-key", json!({}))
        .await;
    app.create_rule(json!({"count": 1})).await;
    let c = app.create_creator("dead@example.com", None, None).await;
    app.post_media(c["id"].as_str().unwrap(), "STORY", json!({}))
        .await;
    let id = wait_until(WAIT, "first attempt logged", || async {
        let d = app.deliveries("").await.into_iter().next()?;
        (d["attemptCount"] == 1).then(|| d["id"].as_str().map(str::to_string))?
    })
    .await;
    let db = app.db.clone();
    app.stop().await;
    Some((db, id))
}

async fn a_dead_owners_leases_are_freed_at_once_and_a_live_ones_kept(backend: Backend) {
    let Some((db, id)) = one_pending_delivery(backend).await else {
        return;
    };
    let store = Store::connect(&db.url).await.expect("store");
    let pool = crate::common::any_pool(&db.url).await;
    sqlx::query("UPDATE delivery_queue SET due_at = 0")
        .execute(&pool)
        .await
        .expect("make due");
    let survivor = store.hold_liveness("survivor").await.expect("survivor");
    let victim = store.hold_liveness("victim").await.expect("victim");
    // Leased for far longer than this test waits: only the owner's death can free it.
    let leased = store
        .claim_due(10, Duration::from_secs(3600), "victim", &[])
        .await
        .expect("claim");
    assert_eq!(leased.len(), 1);
    assert_eq!(
        store.free_dead_owners("survivor").await.expect("look"),
        0,
        "a live owner's lease was freed"
    );
    let none = store
        .claim_due(10, Duration::from_secs(60), "survivor", &[])
        .await
        .expect("claim");
    assert!(none.is_empty(), "a live owner's delivery was claimed again");

    // The victim dies: its lock goes with it.
    drop(victim);
    let freed = wait_until(WAIT, "the dead owner's lease freed", || async {
        let n = store.free_dead_owners("survivor").await.expect("look");
        (n > 0).then_some(n)
    })
    .await;
    assert_eq!(freed, 1);
    let taken = store
        .claim_due(10, Duration::from_secs(60), "survivor", &[])
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1, "the freed delivery is claimable at once");
    assert_eq!(taken[0].delivery_id.to_string(), id);
    assert_eq!(
        store.free_dead_owners("survivor").await.expect("look"),
        0,
        "the survivor's own lease is kept"
    );
    drop(survivor);
    pool.close().await;
    store.close().await;
}

async fn a_result_after_the_lease_was_taken_over_leaves_the_delivery_to_the_new_holder(
    backend: Backend,
) {
    let Some((db, id)) = one_pending_delivery(backend).await else {
        return;
    };

    let store = Store::connect(&db.url).await.expect("store");
    let pool = crate::common::any_pool(&db.url).await;
    sqlx::query("UPDATE delivery_queue SET due_at = 0")
        .execute(&pool)
        .await
        .expect("make due");

    // Instance A's lease runs out mid-send; instance B takes the delivery over.
    let a = store
        .claim_due(10, Duration::from_millis(1), "instance-a", &[])
        .await
        .expect("claim a");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].attempt_number, 2);
    let integration = a[0].target.integration_id.clone();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let b = store
        .claim_due(10, Duration::from_secs(60), "instance-b", &[])
        .await
        .expect("claim b");
    assert_eq!(b.len(), 1, "an expired lease is claimable");
    assert_eq!(b[0].delivery_id.to_string(), id);

    // A's late success is logged but is not A's to settle.
    store
        .record(&[result(
            &integration,
            &id,
            2,
            "instance-a",
            Outcome::Succeeded,
        )])
        .await
        .expect("record a");
    assert_eq!(status_of(&pool, &id).await, ("pending".to_string(), 1));

    // B's result is the one that counts: a retry, still queued, still pending.
    let later = Utc::now() + chrono::Duration::hours(1);
    store
        .record(&[result(
            &integration,
            &id,
            2,
            "instance-b",
            Outcome::RetryAt(later),
        )])
        .await
        .expect("record b");
    assert_eq!(status_of(&pool, &id).await, ("pending".to_string(), 2));
    let (queued,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM delivery_queue WHERE delivery_id = $1 AND lease_owner IS NULL",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .expect("queue row");
    assert_eq!(queued, 1, "the retry is queued, unleased");
    let (logged,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM attempts WHERE delivery_id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .expect("attempts");
    assert_eq!(logged, 2, "attempt 2 is logged once");
    pool.close().await;
    store.close().await;
}
