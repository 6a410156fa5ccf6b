//! An integration whose every attempt fails for long enough is disabled and holds its
//! deliveries until re-enabled; failed deliveries can be replayed under their webhook-id.

use std::time::Duration;

use axum::http::StatusCode;
use lc_webhooks::dispatch::RetrySchedule;
use serde_json::{json, Value};

use crate::common::{
    assert_error, wait_until, Backend, Receiver, Reply, Script, TestApp, TestDb, WAIT,
};

both_stores!(
    an_integration_failing_for_longer_than_the_disable_period_is_disabled_and_resumes_when_enabled,
    failures_shorter_than_the_disable_period_leave_it_active,
    failing_test_sends_do_not_disable_an_integration,
    replay_resends_failed_deliveries_under_their_webhook_id_once,
    replay_refuses_a_bad_since_and_an_unknown_integration,
    two_instances_failing_to_one_integration_disable_it,
);

/// A rule of one Story post, a creator, and `n` posts: `n` rewards to every integration.
async fn earn(app: &TestApp, n: usize) {
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let c = app.create_creator("d@example.com", None, None).await;
    let cid = c["id"].as_str().expect("id");
    for _ in 0..n {
        app.post_media(cid, "STORY", json!({})).await;
    }
}

async fn integration(app: &TestApp, id: &str) -> Value {
    app.get_ok(&format!("/v1/integrations/{id}")).await
}

async fn an_integration_failing_for_longer_than_the_disable_period_is_disabled_and_resumes_when_enabled(
    backend: Backend,
) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse(
            "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
        )
        .expect("schedule");
        s.disable_after = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let rx = Receiver::always(503).await;
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id").to_string();
    earn(&app, 1).await;

    let disabled = wait_until(WAIT, "the integration to be disabled", || async {
        let i = integration(&app, &id).await;
        (i["active"] == false).then_some(i)
    })
    .await;
    let reason = disabled["disabledReason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("every attempt failed since "),
        "{reason}"
    );
    assert!(reason.ends_with("last HTTP 503"), "{reason}");
    assert!(disabled["disabledAt"].is_string(), "{disabled}");
    assert!(disabled["health"]["consecutiveFailures"].as_u64() >= Some(3));

    // Nothing more is sent; the delivery waits, pending.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = rx.count();
    assert!(sent >= 3, "{sent}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(rx.count(), sent, "sent to a disabled integration");
    // A reward earned meanwhile is not lost: its delivery waits with the other.
    let c = app.create_creator("later@example.com", None, None).await;
    app.post_media(c["id"].as_str().expect("id"), "STORY", json!({}))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count(), sent, "sent to a disabled integration");
    let pending = app.deliveries("status=pending").await;
    assert_eq!(pending.len(), 2);

    // Re-enabled: the reason goes and the waiting deliveries go out at once. The run of
    // failures starts afresh: one more failure does not disable it again.
    rx.set_script(Script::first(vec![Reply::status(503)], Reply::ok()));
    let enabled = app
        .patch(&format!("/v1/integrations/{id}"), json!({"active": true}))
        .await
        .1;
    assert_eq!(enabled["active"], true);
    assert_eq!(enabled["disabledReason"], Value::Null);
    assert_eq!(enabled["disabledAt"], Value::Null);
    for d in &pending {
        app.wait_delivery_status(d["id"].as_str().expect("id"), "succeeded")
            .await;
    }
    let after = integration(&app, &id).await;
    assert_eq!(after["active"], true, "{after}");
    app.stop().await;
}

async fn failures_shorter_than_the_disable_period_leave_it_active(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse("50ms,50ms,50ms,50ms").expect("schedule");
        s.disable_after = Duration::from_secs(60);
    })
    .await
    else {
        return;
    };
    let rx = Receiver::always(500).await;
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id");
    earn(&app, 1).await;
    let d = wait_until(WAIT, "the delivery to fail", || async {
        app.deliveries("status=failed").await.into_iter().next()
    })
    .await;
    assert_eq!(d["attemptCount"], 5);
    let i = integration(&app, id).await;
    assert_eq!(
        i["active"], true,
        "five failures in a moment do not disable"
    );
    assert_eq!(i["disabledReason"], Value::Null);
    assert_eq!(i["health"]["consecutiveFailures"], 5);
    app.stop().await;
}

async fn failing_test_sends_do_not_disable_an_integration(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.disable_after = Duration::from_millis(200);
    })
    .await
    else {
        return;
    };
    let rx = Receiver::always(503).await;
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id");
    for _ in 0..4 {
        app.post_ok(
            &format!("/v1/integrations/{id}/test"),
            json!({}),
            StatusCode::OK,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let i = integration(&app, id).await;
    assert_eq!(
        i["health"]["consecutiveFailures"], 4,
        "test sends tell of its health"
    );
    assert_eq!(i["active"], true, "pressing Test does not disable it");
    app.stop().await;
}

async fn replay_resends_failed_deliveries_under_their_webhook_id_once(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse("none").expect("schedule");
    })
    .await
    else {
        return;
    };
    let since = chrono::Utc::now().to_rfc3339();
    let rx = Receiver::always(503).await;
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id").to_string();
    earn(&app, 2).await;
    let failed = wait_until(WAIT, "both deliveries to fail", || async {
        let failed = app.deliveries("status=failed").await;
        (failed.len() == 2).then_some(failed)
    })
    .await;
    let first = rx.wait_for(2, WAIT).await;

    rx.set_script(Script::always(Reply::ok()));
    let path = format!("/v1/integrations/{id}/replay");
    let replayed = app
        .post_ok(&path, json!({"since": since}), StatusCode::ACCEPTED)
        .await;
    assert_eq!(replayed, json!({"replayed": 2}));
    // Again while they are pending, or after they went out: nothing more is queued.
    let again = app
        .post_ok(&path, json!({"since": since}), StatusCode::ACCEPTED)
        .await;
    assert_eq!(again, json!({"replayed": 0}));
    for d in &failed {
        let id = d["id"].as_str().expect("id");
        let done = app.wait_delivery_status(id, "succeeded").await;
        assert_eq!(done["attemptCount"], 2);
        assert_eq!(done["attempts"][1]["responseStatus"], 200);
    }
    let all = rx.assert_exactly(4).await;
    for d in &failed {
        let id = d["id"].as_str().expect("id");
        let bodies: Vec<_> = all
            .iter()
            .filter(|r| r.header("webhook-id").as_deref() == Some(id))
            .map(|r| r.body.clone())
            .collect();
        assert_eq!(bodies.len(), 2, "sent twice under webhook-id {id}");
        assert_eq!(bodies[0], bodies[1], "the replay sends the same bytes");
    }
    assert_eq!(first.len(), 2);
    let later = app
        .post_ok(&path, json!({"since": since}), StatusCode::ACCEPTED)
        .await;
    assert_eq!(
        later,
        json!({"replayed": 0}),
        "succeeded deliveries are not replayed"
    );
    app.stop().await;
}

async fn replay_refuses_a_bad_since_and_an_unknown_integration(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let path = format!("/v1/integrations/{}/replay", i["id"].as_str().expect("id"));
    let (status, body) = app.post(&path, json!({"since": "yesterday"})).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_since");
    let (status, body) = app.post(&path, json!({})).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = "/v1/integrations/0190c1c6-0000-7000-8000-000000000000/replay";
    let (status, body) = app
        .post(unknown, json!({"since": "2026-01-01T00:00:00Z"}))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// Two instances on one database, each recording its own failed attempts to one integration:
/// together they disable it once every attempt has failed for the disable period, and its
/// health counts every attempt either of them made.
async fn two_instances_failing_to_one_integration_disable_it(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let db = std::sync::Arc::new(db);
    let tweak = |s: &mut lc_webhooks::config::Settings| {
        s.retry_schedule = RetrySchedule::parse(
            "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
        )
        .expect("schedule");
        s.disable_after = Duration::from_secs(1);
    };
    let a = TestApp::start_on(db.clone(), tweak)
        .await
        .expect("instance a");
    let b = TestApp::start_on(db.clone(), tweak)
        .await
        .expect("instance b");
    let rx = Receiver::always(503).await;
    let i = a.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id").to_string();
    earn(&a, 6).await;

    let disabled = wait_until(WAIT, "the integration to be disabled", || async {
        let i = integration(&b, &id).await;
        (i["active"] == false).then_some(i)
    })
    .await;
    let reason = disabled["disabledReason"].as_str().expect("a reason");
    assert!(reason.ends_with("last HTTP 503"), "{reason}");
    let health = &disabled["health"];
    assert!(
        health["consecutiveFailures"].as_u64() >= Some(3),
        "{health}"
    );
    assert_eq!(health["recentSuccessRate"], 0.0, "{health}");
    assert_eq!(health["lastSuccessAt"], Value::Null, "{health}");
    // Every attempt either instance made, and no other, is counted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attempts: u64 = a
        .deliveries("limit=500")
        .await
        .iter()
        .map(|d| d["attemptCount"].as_u64().expect("attemptCount"))
        .sum();
    let after = integration(&a, &id).await;
    assert_eq!(after["active"], false, "{after}");
    assert_eq!(after["health"]["recentAttempts"], attempts, "{after}");
    assert_eq!(after["health"]["consecutiveFailures"], attempts, "{after}");
    assert_eq!(
        rx.count() as u64,
        attempts,
        "every attempt reached the receiver once"
    );
    a.stop().await;
    b.stop().await;
}
