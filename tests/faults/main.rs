//! Fault tolerance with real processes: kill -9 and restart, several instances on one
//! PostgreSQL database, hanging, resetting and down receivers beside a healthy one, Retry-After,
//! SIGTERM; in `recovery.rs`, a dead instance's leases taken over without waiting for them.

#[path = "../common/mod.rs"]
mod common;
mod recovery;
mod support;

use std::collections::HashMap;
use std::time::Duration;

use common::{Backend, Receiver, Reply, Script, TestDb};
use serde_json::json;
use support::{
    distinct_ids, every_post_earns, first_receipt_of_repeats, wait_for_distinct, Service,
};

both_stores!(
    kill_nine_mid_run_loses_nothing,
    hanging_receiver_does_not_hold_up_a_healthy_one,
    resetting_and_down_receivers_do_not_hold_up_a_healthy_one,
    retry_after_is_waited_out,
    sigterm_finishes_the_send_in_flight_and_exits_zero,
);

const WAIT: Duration = Duration::from_secs(60);

/// `n` posts by `creator` in one batch request.
async fn post_reels(service: &Service, creator: &str, n: usize) {
    let media: Vec<_> = (0..n)
        .map(|_| json!({"creatorId": creator, "postType": "REEL"}))
        .collect();
    service
        .post("/v1/media/batch", json!({ "media": media }))
        .await;
}

async fn kill_nine_mid_run_loses_nothing(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let receiver =
        Receiver::start(Script::always(Reply::ok().after(Duration::from_millis(20)))).await;
    let service = Service::spawn(&db, &[("--max-in-flight", "16")]).await;
    let creator = every_post_earns(&service, &receiver).await;
    let posts = 300;
    for chunk in 0..3 {
        let media: Vec<_> = (0..posts / 3)
            .map(|i| json!({"creatorId": creator, "postType": "STORY", "postedAt": format!("2024-01-0{}T00:00:{:02}Z", chunk + 1, i % 60)}))
            .collect();
        service
            .post("/v1/media/batch", json!({ "media": media }))
            .await;
    }
    receiver.wait_for(20, WAIT).await;
    let port = service.port;
    service.kill_nine();
    let killed_at = std::time::Instant::now();
    let seen_at_kill = receiver.count();
    assert!(
        seen_at_kill < posts,
        "the kill came too late to test anything ({seen_at_kill} sent)"
    );

    let service = Service::spawn_on(&db, port, &[("--max-in-flight", "16")]).await;
    wait_for_distinct(&receiver, posts, WAIT).await;
    service.wait_until_settled(posts, WAIT).await;
    let fulfillments = service.get_all("/v1/fulfillments").await;
    assert_eq!(
        fulfillments.len(),
        posts,
        "each post earned exactly once across the crash"
    );
    let deliveries = service.get_all("/v1/deliveries?status=succeeded").await;
    assert_eq!(deliveries.len(), posts);
    // At least once: only sends in flight at the kill, or answered just before it and not yet
    // recorded, may be sent again.
    let repeats = first_receipt_of_repeats(&receiver);
    assert!(
        repeats
            .iter()
            .all(|first| killed_at.duration_since(*first) < Duration::from_secs(1)),
        "a webhook answered well before the kill was sent again"
    );
    assert!(
        repeats.len() < posts / 2,
        "{} of {posts} webhooks were sent twice",
        repeats.len()
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_grant_each_reward_once_and_send_each_webhook_once() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let receiver = Receiver::start(Script::always(Reply::ok())).await;
    let a = Service::spawn(&db, &[]).await;
    let b = Service::spawn(&db, &[]).await;
    let c = Service::spawn(&db, &[]).await;
    a.create_integration("receiver", &receiver.url()).await;
    a.post(
        "/v1/rules",
        json!({"name": "2 Story posts", "postTypes": ["STORY"], "count": 2, "reward": {"type": "DISCOUNT_CODE"}}),
    )
    .await;
    let creators = 30;
    let mut ids = Vec::new();
    for i in 0..creators {
        ids.push(a.create_creator(&format!("c{i}@example.com")).await);
    }
    // Four Stories per creator, one per request, spread over the three instances at once.
    let instances = [&a, &b, &c];
    let mut requests = Vec::new();
    for round in 0..4 {
        for (i, creator) in ids.iter().enumerate() {
            let target = instances[(i + round) % 3];
            requests.push(target.post(
                "/v1/media",
                json!({"creatorId": creator, "postType": "STORY"}),
            ));
        }
    }
    futures::future::join_all(requests).await;
    receiver.wait_for(creators, WAIT).await;
    // Give any wrongful second grant time to show up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fulfillments = a.get_all("/v1/fulfillments").await;
    assert_eq!(
        fulfillments.len(),
        creators,
        "exactly one reward per creator"
    );
    let mut per_creator: HashMap<String, usize> = HashMap::new();
    for f in &fulfillments {
        *per_creator
            .entry(f["creatorId"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    assert!(per_creator.values().all(|n| *n == 1));
    assert_eq!(receiver.count(), creators, "no webhook sent twice");
    assert_eq!(distinct_ids(&receiver), creators);
    for s in [a, b, c] {
        s.stop().await;
    }
}

async fn hanging_receiver_does_not_hold_up_a_healthy_one(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let hanging = Receiver::start(Script::always(Reply::ok().after(Duration::from_secs(60)))).await;
    let healthy = Receiver::start(Script::always(Reply::ok())).await;
    let caps = [
        ("--max-in-flight", "8"),
        ("--max-in-flight-per-integration", "4"),
        ("--http-timeout", "20s"),
        ("--lease-time", "30s"),
    ];
    let service = Service::spawn(&db, &caps).await;
    service.create_integration("hangs", &hanging.url()).await;
    let creator = every_post_earns(&service, &healthy).await;
    post_reels(&service, &creator, 20).await;
    // The hanging receiver holds its 4 slots for 20 s; the healthy one must not wait for them.
    healthy.wait_for(20, Duration::from_secs(10)).await;
    assert!(
        hanging.count() <= 4,
        "the hanging receiver got {} sends at once; its cap is 4",
        hanging.count()
    );
    service.kill_nine();
}

/// A listener that accepts each connection and resets it at once (SO_LINGER 0, then close).
async fn resetting_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    });
    format!("http://127.0.0.1:{port}/hook")
}

async fn resetting_and_down_receivers_do_not_hold_up_a_healthy_one(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let healthy = Receiver::start(Script::always(Reply::ok())).await;
    let caps = [
        ("--max-in-flight", "8"),
        ("--max-in-flight-per-integration", "4"),
    ];
    let service = Service::spawn(&db, &caps).await;
    let resets = service
        .create_integration("resets", &resetting_receiver().await)
        .await;
    let down = service
        .create_integration("down", &common::closed_port_url())
        .await;
    let creator = every_post_earns(&service, &healthy).await;
    post_reels(&service, &creator, 20).await;
    healthy.wait_for(20, Duration::from_secs(10)).await;
    // The broken receivers' deliveries are retried with the error logged, not lost or stuck.
    for integration in [resets, down] {
        let path = format!("/v1/deliveries?integrationId={integration}");
        let start = std::time::Instant::now();
        let deliveries = loop {
            let deliveries = service.get_all(&path).await;
            let logged = deliveries
                .iter()
                .any(|d| d["lastError"].as_str().is_some_and(|e| !e.is_empty()));
            if logged || start.elapsed() > WAIT {
                break deliveries;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(deliveries.len(), 20, "{integration}: {deliveries:?}");
        assert!(
            deliveries
                .iter()
                .any(|d| d["lastError"].as_str().is_some_and(|e| !e.is_empty())),
            "{integration}: no error logged: {deliveries:?}"
        );
        assert!(
            deliveries.iter().all(|d| d["status"] != "succeeded"),
            "{integration}: a send to a broken receiver succeeded"
        );
    }
    service.kill_nine();
}

async fn retry_after_is_waited_out(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    // The schedule starts at 100 ms and its largest step is 1 s: a `Retry-After: 1` must win.
    let receiver = Receiver::start(Script::first(
        vec![Reply::status(503).header("retry-after", "1")],
        Reply::ok(),
    ))
    .await;
    let service = Service::spawn(&db, &[]).await;
    let creator = every_post_earns(&service, &receiver).await;
    service
        .post(
            "/v1/media",
            json!({"creatorId": creator, "postType": "FEED"}),
        )
        .await;
    receiver.wait_for(2, WAIT).await;
    let times: Vec<_> = receiver.received().iter().map(|r| r.at).collect();
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_millis(950),
        "second attempt came {gap:?} after a Retry-After of 1 s"
    );
    service.wait_until_settled(1, WAIT).await;
    let delivery = &service.get_all("/v1/deliveries").await[0];
    assert_eq!(delivery["attemptCount"], 2);
    service.stop().await;
}

async fn sigterm_finishes_the_send_in_flight_and_exits_zero(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let receiver = Receiver::start(Script::always(
        Reply::ok().after(Duration::from_millis(1500)),
    ))
    .await;
    let service = Service::spawn(&db, &[]).await;
    let creator = every_post_earns(&service, &receiver).await;
    service
        .post(
            "/v1/media",
            json!({"creatorId": creator, "postType": "STORY"}),
        )
        .await;
    receiver.wait_for(1, WAIT).await;
    let port = service.port;
    let status = service.terminate().await;
    assert!(status.success(), "exit status after SIGTERM: {status}");

    // The answer that came in during shutdown was recorded: nothing is sent again.
    let service = Service::spawn_on(&db, port, &[]).await;
    service.wait_until_settled(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.count(), 1);
    let delivery = &service.get_all("/v1/deliveries").await[0];
    assert_eq!(delivery["attemptCount"], 1);
    service.stop().await;
}
