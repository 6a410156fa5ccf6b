//! Back to work after `kill -9`, without waiting for leases to run out: a restarted instance,
//! or a surviving one on the same PostgreSQL database, frees the dead instance's leases at once.
//! Every instance runs with a lease of 600 s, ten times this file's longest wait, so these
//! tests pass only if the dead owner's leases are freed without their expiry. Resends stay
//! within what the dead instance had in flight.

use std::time::Duration;

use serde_json::json;

use crate::both_stores;
use crate::common::{Backend, Receiver, Reply, Script, TestDb};
use crate::support::{every_post_earns, first_receipt_of_repeats, wait_for_distinct, Service};

both_stores!(a_restart_after_kill_nine_sends_everything_without_waiting_for_leases);

const WAIT: Duration = Duration::from_secs(60);
/// Sends at once, in all: the most a kill may cut off, so the most that may be sent again.
const IN_FLIGHT: usize = 16;
const POSTS: usize = 300;

fn flags() -> [(&'static str, &'static str); 2] {
    [("--lease-time", "600s"), ("--max-in-flight", "16")]
}

/// One integration at `receiver`, a rule every post earns, `POSTS` posts by one creator in
/// three batches, all through `service`, which therefore holds every delivery's lease.
async fn earn_rewards(service: &Service, receiver: &Receiver) {
    let creator = every_post_earns(service, receiver).await;
    for chunk in 0..3 {
        let media: Vec<_> = (0..POSTS / 3)
            .map(|i| json!({"creatorId": creator, "postType": "STORY", "postedAt": format!("2024-01-0{}T00:00:{:02}Z", chunk + 1, i % 60)}))
            .collect();
        service
            .post("/v1/media/batch", json!({ "media": media }))
            .await;
    }
}

/// Every reward granted once and delivered, and no more sent twice than were in flight.
async fn nothing_lost(service: &Service, receiver: &Receiver) {
    wait_for_distinct(receiver, POSTS, WAIT).await;
    service.wait_until_settled(POSTS, WAIT).await;
    assert_eq!(service.get_all("/v1/fulfillments").await.len(), POSTS);
    let repeats = first_receipt_of_repeats(receiver).len();
    assert!(
        repeats <= IN_FLIGHT,
        "{repeats} webhooks were sent twice; at most {IN_FLIGHT} were in flight at the kill"
    );
}

async fn a_restart_after_kill_nine_sends_everything_without_waiting_for_leases(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let receiver =
        Receiver::start(Script::always(Reply::ok().after(Duration::from_millis(20)))).await;
    let service = Service::spawn(&db, &flags()).await;
    earn_rewards(&service, &receiver).await;
    receiver.wait_for(20, WAIT).await;
    let port = service.port;
    service.kill_nine();
    let seen_at_kill = receiver.count();
    assert!(
        seen_at_kill < POSTS,
        "the kill came too late to test anything ({seen_at_kill} sent)"
    );
    let service = Service::spawn_on(&db, port, &flags()).await;
    nothing_lost(&service, &receiver).await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_survivor_sends_a_killed_instances_work_without_waiting_for_leases() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let receiver =
        Receiver::start(Script::always(Reply::ok().after(Duration::from_millis(20)))).await;
    let survivor = Service::spawn(&db, &flags()).await;
    let victim = Service::spawn(&db, &flags()).await;
    earn_rewards(&victim, &receiver).await;
    receiver.wait_for(20, WAIT).await;
    victim.kill_nine();
    let seen_at_kill = receiver.count();
    assert!(
        seen_at_kill < POSTS,
        "the kill came too late to test anything ({seen_at_kill} sent)"
    );
    nothing_lost(&survivor, &receiver).await;
    survivor.stop().await;
}
