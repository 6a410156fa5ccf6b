//! PostgreSQL restarted under load: the service stays up, `/healthz` tells the truth while the
//! database is gone, and every delivery still arrives. Its own test binary, because it stops
//! the server every other PostgreSQL test uses.

#[path = "common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "faults/support.rs"]
mod support;

use std::time::{Duration, Instant};

use common::{Backend, Receiver, Reply, Script, TestDb};
use serde_json::json;
use support::{wait_for_distinct, Service};

fn pg_ctl(action: &str) -> bool {
    let Ok(versions) = std::fs::read_dir("/etc/postgresql") else {
        return false;
    };
    let Some(version) = versions.flatten().next().map(|e| e.file_name()) else {
        return false;
    };
    std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect"])
        .arg(version)
        .args(["main", action])
        .status()
        .is_ok_and(|s| s.success())
}

async fn health(service: &Service) -> Option<u16> {
    let r = reqwest::get(format!("{}/healthz", service.base()))
        .await
        .ok()?;
    Some(r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_under_load_loses_nothing() {
    // It stops the machine's PostgreSQL: on by default only in CI, opt-in elsewhere.
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !ci && std::env::var("LC_TEST_RESTART_POSTGRES").as_deref() != Ok("1") {
        eprintln!("skipping: set LC_TEST_RESTART_POSTGRES=1 to let this test restart PostgreSQL");
        return;
    }
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let receiver =
        Receiver::start(Script::always(Reply::ok().after(Duration::from_millis(30)))).await;
    let service = Service::spawn(&db, &[("--max-in-flight", "4")]).await;
    service
        .create_integration("receiver", &receiver.url())
        .await;
    service
        .post("/v1/rules", json!({"name": "every post", "count": 1, "repeatable": true, "reward": {"type": "NONE"}}))
        .await;
    let creator = service.create_creator("restart@example.com").await;
    let media: Vec<_> = (0..100)
        .map(|_| json!({"creatorId": creator, "postType": "STORY"}))
        .collect();
    service
        .post("/v1/media/batch", json!({ "media": media }))
        .await;
    receiver.wait_for(5, Duration::from_secs(30)).await;

    // While the database is down, results wait to be recorded, holding their send slots.
    let stopped = pg_ctl("stop");
    if !stopped {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "could not stop PostgreSQL with pg_ctlcluster"
        );
        eprintln!("skipping: cannot restart PostgreSQL here");
        return;
    }
    let down_since = Instant::now();
    let mut saw_unhealthy = false;
    while down_since.elapsed() < Duration::from_secs(3) {
        saw_unhealthy |= health(&service).await == Some(503);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(pg_ctl("start"), "could not start PostgreSQL again");
    assert!(
        saw_unhealthy,
        "/healthz never said 503 while PostgreSQL was down"
    );

    let start = Instant::now();
    while health(&service).await != Some(200) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "/healthz did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for_distinct(&receiver, 100, Duration::from_secs(60)).await;
    service
        .wait_until_settled(100, Duration::from_secs(60))
        .await;
    assert_eq!(service.get_all("/v1/fulfillments").await.len(), 100);
    service.stop().await;
}
