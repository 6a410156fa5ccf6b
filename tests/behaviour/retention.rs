//! Old attempts of settled deliveries are deleted in the background; the deliveries keep their
//! summary, pending deliveries keep their attempts, rewards stay, and dispatch goes on.

use std::time::Duration;

use lc_webhooks::dispatch::RetrySchedule;
use serde_json::{json, Value};

use crate::common::{wait_until, Backend, Receiver, Reply, Script, TestApp, WAIT};

both_stores!(old_attempts_of_settled_deliveries_go_while_dispatch_goes_on);

async fn old_attempts_of_settled_deliveries_go_while_dispatch_goes_on(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retention = Duration::from_secs(1);
        s.retry_schedule = RetrySchedule::parse("100ms,10m").expect("schedule");
    })
    .await
    else {
        return;
    };
    let ok = Receiver::always(200).await;
    let failing = Receiver::start(Script::always(Reply::status(503))).await;
    let ok_id = app.create_integration(&ok.url(), "k", json!({})).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.create_integration(&failing.url(), "k", json!({})).await;
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let c = app.create_creator("ret@example.com", None, None).await;
    let cid = c["id"].as_str().expect("id").to_string();
    app.post_media(&cid, "STORY", json!({})).await;

    let first = wait_until(WAIT, "the first delivery to succeed", || async {
        app.deliveries(&format!("integrationId={ok_id}&status=succeeded"))
            .await
            .into_iter()
            .next()
    })
    .await;
    let first_id = first["id"].as_str().expect("id").to_string();
    assert_eq!(
        app.delivery(&first_id).await["attempts"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Posts keep arriving and being delivered while the sweep runs.
    for _ in 0..6 {
        app.post_media(&cid, "STORY", json!({})).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    ok.wait_for(7, WAIT).await;

    let swept = wait_until(
        WAIT,
        "the first delivery's attempts to be deleted",
        || async {
            let d = app.delivery(&first_id).await;
            (d["attempts"] == json!([])).then_some(d)
        },
    )
    .await;
    assert_eq!(swept["status"], "succeeded");
    assert_eq!(swept["attemptCount"], 1);
    assert_eq!(swept["lastResponseStatus"], 200);
    assert!(swept["deliveredAt"].is_string());
    assert!(swept["payload"]["lcId"].is_string(), "the body stays");

    // The failing receiver's deliveries wait 10 minutes for their third attempt: still pending, they
    // keep attempts older than the retention.
    let pending: Vec<Value> = app.deliveries("status=pending").await;
    assert_eq!(
        pending.len(),
        7,
        "every reward's delivery to the failing receiver waits"
    );
    for d in pending {
        let detail = app.delivery(d["id"].as_str().expect("id")).await;
        let logged = detail["attempts"].as_array().map_or(0, Vec::len);
        assert!(logged >= 1, "{detail}");
        assert_eq!(
            detail["attemptCount"], logged,
            "a pending delivery lost attempts"
        );
    }

    // Rewards are kept.
    assert_eq!(app.fulfillments("").await.len(), 7);
    app.stop().await;
}
