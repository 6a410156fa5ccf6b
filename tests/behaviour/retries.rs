//! Failed attempts are retried on the schedule under one webhook-id, logged, and can be retried by hand.

use std::time::Duration;

use crate::common::{
    assert_error, wait_until, Backend, Received, Receiver, Reply, Script, TestApp, SETTLE, WAIT,
};
use axum::http::StatusCode;
use lc_webhooks::dispatch::RetrySchedule;
use serde_json::{json, Value};

both_stores!(
    two_failures_then_success_log_three_attempts_under_one_webhook_id,
    always_failing_receiver_ends_failed_after_the_schedule,
    manual_retry_sends_one_more_attempt_with_the_same_webhook_id,
    retry_of_a_pending_delivery_is_a_conflict,
    redirect_is_a_failure_and_not_followed,
    response_body_is_cut_to_4_kib_in_the_log,
    hanging_receiver_times_out_as_a_failed_attempt,
    retry_after_lengthens_the_wait_up_to_the_largest_step,
    a_paused_integration_holds_its_retries_until_it_is_active_again,
    a_delivery_waiting_for_a_slot_is_never_sent_after_its_lease_could_end,
    deleting_an_integration_mid_send_leaves_its_delivery_failed,
    pausing_an_integration_holds_what_was_already_claimed_for_it,
    deleting_an_integration_drops_what_was_already_claimed_for_it,
);

/// Rule, creator and two Story posts: one fulfillment with one delivery to `rx`.
async fn earn_one(app: &TestApp, rx: &Receiver) -> String {
    app.create_integration(&rx.url(), "retry-key", json!({}))
        .await;
    app.create_rule(json!({})).await;
    let c = app.create_creator("r@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    wait_until(WAIT, "a delivery", || async move {
        app.deliveries("")
            .await
            .first()
            .and_then(|d| d["id"].as_str().map(str::to_string))
    })
    .await
}

/// The delivery once its first attempt is in the log.
async fn first_attempt_logged(app: &TestApp, id: &str) -> Value {
    wait_until(WAIT, "first attempt logged", || async move {
        let d = app.delivery(id).await;
        (d["attemptCount"] == 1).then_some(d)
    })
    .await
}

fn same_id_and_body(got: &[Received], delivery_id: &str) {
    for r in got {
        assert_eq!(r.header("webhook-id").as_deref(), Some(delivery_id));
        assert_eq!(r.body, got[0].body, "bodies differ between attempts");
    }
}

async fn two_failures_then_success_log_three_attempts_under_one_webhook_id(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::start(Script::first(
        vec![
            Reply::status(500).body("first failure"),
            Reply::status(500).body("second failure"),
        ],
        Reply::ok().body("thanks"),
    ))
    .await;
    let id = earn_one(&app, &rx).await;
    let d = app.wait_delivery_status(&id, "succeeded").await;
    let got = rx.assert_exactly(3).await;
    same_id_and_body(&got, &id);

    // The gaps follow the schedule (100ms, then 200ms); allow a little timer jitter.
    let gap1 = got[1].at - got[0].at;
    let gap2 = got[2].at - got[1].at;
    assert!(
        gap1 >= Duration::from_millis(90),
        "first retry after {gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(180),
        "second retry after {gap2:?}"
    );

    assert_eq!(d["attemptCount"], 3);
    assert_eq!(d["lastResponseStatus"], 200);
    assert!(d["deliveredAt"].is_string(), "{d}");
    let attempts = d["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3, "{d}");
    let numbers: Vec<&Value> = attempts.iter().map(|a| &a["number"]).collect();
    assert_eq!(numbers, [&json!(1), &json!(2), &json!(3)]);
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["responseStatus"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(200)]);
    let bodies: Vec<&Value> = attempts.iter().map(|a| &a["responseBody"]).collect();
    assert_eq!(
        bodies,
        [
            &json!("first failure"),
            &json!("second failure"),
            &json!("thanks")
        ]
    );
    for a in attempts {
        assert!(a["startedAt"].is_string(), "{a}");
        assert!(a["durationMs"].is_u64(), "{a}");
    }
    assert_eq!(d["payload"], got[0].json());
    app.stop().await;
}

async fn always_failing_receiver_ends_failed_after_the_schedule(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(500).await;
    let id = earn_one(&app, &rx).await;
    let d = app.wait_delivery_status(&id, "failed").await;
    // Schedule "100ms,200ms": three attempts, then no more.
    let got = rx.assert_exactly(3).await;
    same_id_and_body(&got, &id);
    assert_eq!(d["attemptCount"], 3);
    assert_eq!(d["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(d["lastResponseStatus"], 500);
    assert!(d["deliveredAt"].is_null());
    let failed = app.deliveries("status=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"].as_str(), Some(id.as_str()));
    assert!(app.deliveries("status=succeeded").await.is_empty());
    app.stop().await;
}

async fn manual_retry_sends_one_more_attempt_with_the_same_webhook_id(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(500).await;
    let id = earn_one(&app, &rx).await;
    app.wait_delivery_status(&id, "failed").await;
    rx.assert_exactly(3).await;

    // Retried while still failing: one attempt, then failed again (no new schedule).
    let (s, v) = app
        .post(&format!("/v1/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let got = rx.wait_for(4, WAIT).await;
    let d = app.wait_delivery_status(&id, "failed").await;
    rx.assert_exactly(4).await;
    assert_eq!(d["attempts"].as_array().unwrap().len(), 4);
    let failed = app.deliveries("status=failed").await;
    assert_eq!(failed.len(), 1, "listed once as failed: {failed:?}");

    // The receiver is fixed: a retry succeeds, same webhook-id, same body.
    rx.set_script(Script::always(Reply::ok()));
    let (s, v) = app
        .post(&format!("/v1/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let d = app.wait_delivery_status(&id, "succeeded").await;
    let all = rx.assert_exactly(5).await;
    same_id_and_body(&all, &id);
    assert_eq!(got[0].body, all[4].body);
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 5);
    assert_eq!(attempts[4]["number"], 5);
    assert_eq!(attempts[4]["responseStatus"], 200);
    assert_eq!(d["attemptCount"], 5);
    assert!(app.deliveries("status=failed").await.is_empty());
    let succeeded = app.deliveries("status=succeeded").await;
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0]["id"].as_str(), Some(id.as_str()));

    // A succeeded delivery can be sent again too.
    let (s, v) = app
        .post(&format!("/v1/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let all = rx.wait_for(6, WAIT).await;
    same_id_and_body(&all, &id);
    app.stop().await;
}

async fn retry_of_a_pending_delivery_is_a_conflict(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse("1h").unwrap();
    })
    .await
    else {
        return;
    };
    let rx = Receiver::always(500).await;
    let id = earn_one(&app, &rx).await;
    let d = first_attempt_logged(&app, &id).await;
    assert_eq!(d["status"], "pending", "{d}");
    assert!(d["nextAttemptAt"].is_string(), "{d}");
    let (s, v) = app
        .post(&format!("/v1/deliveries/{id}/retry"), json!({}))
        .await;
    assert_error(s, &v, StatusCode::CONFLICT);
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rx.count(), 1, "a refused retry still sent");
    app.stop().await;
}

async fn redirect_is_a_failure_and_not_followed(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse("none").unwrap();
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start(Script::always(
        Reply::status(302).header("location", "/elsewhere"),
    ))
    .await;
    let id = earn_one(&app, &rx).await;
    let d = app.wait_delivery_status(&id, "failed").await;
    let got = rx.assert_exactly(1).await;
    assert_eq!(got[0].path, "/hook");
    assert_eq!(d["attempts"][0]["responseStatus"], 302);
    assert_eq!(d["lastResponseStatus"], 302);
    app.stop().await;
}

async fn response_body_is_cut_to_4_kib_in_the_log(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let big = "abcdefgh".repeat(2000); // 16000 bytes
    let rx = Receiver::start(Script::always(Reply::ok().body(big.clone()))).await;
    let id = earn_one(&app, &rx).await;
    let d = app.wait_delivery_status(&id, "succeeded").await;
    let body = d["attempts"][0]["responseBody"].as_str().expect("body");
    assert_eq!(body.len(), 4096);
    assert_eq!(body, &big[..4096]);
    app.stop().await;
}

async fn hanging_receiver_times_out_as_a_failed_attempt(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse("none").unwrap();
        s.http_timeout = Duration::from_millis(300);
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start(Script::always(Reply::ok().after(Duration::from_secs(3)))).await;
    let id = earn_one(&app, &rx).await;
    let d = app.wait_delivery_status(&id, "failed").await;
    let a = &d["attempts"][0];
    assert!(a["responseStatus"].is_null(), "{a}");
    assert!(a["error"].as_str().is_some_and(|e| !e.is_empty()), "{a}");
    assert!(d["lastError"].is_string(), "{d}");
    assert_eq!(rx.count(), 1);
    app.stop().await;
}

async fn retry_after_lengthens_the_wait_up_to_the_largest_step(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse("100ms,1s").unwrap();
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start(Script::first(
        vec![Reply::status(503).header("retry-after", "1")],
        Reply::ok(),
    ))
    .await;
    let id = earn_one(&app, &rx).await;
    app.wait_delivery_status(&id, "succeeded").await;
    let got = rx.assert_exactly(2).await;
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(900),
        "Retry-After: 1 was not honoured; retried after {gap:?}"
    );
    app.stop().await;
}

async fn a_paused_integration_holds_its_retries_until_it_is_active_again(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse("500ms").unwrap();
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start(Script::first(vec![Reply::status(500)], Reply::ok())).await;
    let id = earn_one(&app, &rx).await;
    let d = first_attempt_logged(&app, &id).await;
    let integration = d["integrationId"].as_str().unwrap().to_string();
    let path = format!("/v1/integrations/{integration}");
    let (status, _) = app.patch(&path, json!({"active": false})).await;
    assert_eq!(status, StatusCode::OK);

    // The retry falls due while paused: it waits, neither sent nor failed.
    tokio::time::sleep(Duration::from_millis(500) + SETTLE).await;
    assert_eq!(rx.count(), 1, "a paused integration was sent to");
    assert_eq!(app.delivery(&id).await["status"], "pending");

    let (status, _) = app.patch(&path, json!({"active": true})).await;
    assert_eq!(status, StatusCode::OK);
    let d = app.wait_delivery_status(&id, "succeeded").await;
    assert_eq!(d["attemptCount"], 2, "{d}");
    let got = rx.assert_exactly(2).await;
    same_id_and_body(&got, &id);
    app.stop().await;
}

/// One send slot, a receiver that never answers in time, and a lease only a little longer than
/// the timeout: deliveries claimed ahead of the slot must be handed back before their lease could
/// run out mid-send, or a second claim would send the same attempt again.
async fn a_delivery_waiting_for_a_slot_is_never_sent_after_its_lease_could_end(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = RetrySchedule::parse("none").unwrap();
        s.http_timeout = Duration::from_millis(600);
        s.lease_time = Duration::from_secs(1);
        s.max_in_flight_per_integration = 1;
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start(Script::always(Reply::ok().after(Duration::from_secs(5)))).await;
    app.create_integration(&rx.url(), "slow-key", json!({}))
        .await;
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let c = app.create_creator("slow@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    for _ in 0..4 {
        app.post_media(cid, "STORY", json!({})).await;
    }
    let failed = wait_until(WAIT, "four failed deliveries", || async {
        let all = app.deliveries("status=failed").await;
        (all.len() == 4).then_some(all)
    })
    .await;
    for d in &failed {
        assert_eq!(d["attemptCount"], 1, "{d}");
    }
    tokio::time::sleep(SETTLE).await;
    let got = rx.received();
    let mut ids: Vec<String> = got.iter().filter_map(|r| r.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "webhook-ids seen: {ids:?}");
    assert_eq!(got.len(), 4, "an attempt was sent twice");
    app.stop().await;
}

async fn deleting_an_integration_mid_send_leaves_its_delivery_failed(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::start(Script::always(
        Reply::status(500).after(Duration::from_millis(800)),
    ))
    .await;
    let id = earn_one(&app, &rx).await;
    rx.wait_for(1, WAIT).await;
    let integration = app.delivery(&id).await["integrationId"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = app.delete(&format!("/v1/integrations/{integration}")).await;
    assert!(status.is_success(), "{status}");

    // The send in flight ends (a 500, which would schedule a retry) after the delete.
    tokio::time::sleep(Duration::from_millis(800) + SETTLE).await;
    let d = app.delivery(&id).await;
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(d["lastError"], "integration deleted", "{d}");
    assert_eq!(rx.count(), 1, "sent again after the delete");
    app.stop().await;
}

/// One send slot and a receiver that answers after 1.5 s; two deliveries: when this returns, the
/// first is in flight and the second already waits in this instance for the slot.
async fn one_sending_one_waiting(backend: Backend) -> Option<(TestApp, Receiver, String)> {
    let app = TestApp::start_with(backend, |s| {
        s.max_in_flight_per_integration = 1;
    })
    .await?;
    let rx = Receiver::start(Script::always(
        Reply::ok().after(Duration::from_millis(1500)),
    ))
    .await;
    let integration = app
        .create_integration(&rx.url(), "slot-key", json!({}))
        .await;
    let integration = integration["id"].as_str().unwrap().to_string();
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let c = app.create_creator("slot@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    rx.wait_for(1, WAIT).await;
    // Both deliveries exist, so the second was claimed with the first or on the wake that followed.
    wait_until(WAIT, "two deliveries", || async {
        (app.deliveries("").await.len() == 2).then_some(())
    })
    .await;
    Some((app, rx, integration))
}

async fn pausing_an_integration_holds_what_was_already_claimed_for_it(backend: Backend) {
    let Some((app, rx, integration)) = one_sending_one_waiting(backend).await else {
        return;
    };
    let path = format!("/v1/integrations/{integration}");
    let (status, _) = app.patch(&path, json!({"active": false})).await;
    assert_eq!(status, StatusCode::OK);

    // The send in flight ends; the second delivery is not sent while paused.
    tokio::time::sleep(Duration::from_millis(1500) + SETTLE).await;
    assert_eq!(rx.count(), 1, "sent to a paused integration");
    let pending = app.deliveries("status=pending").await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["attemptCount"], 0, "{pending:?}");

    let (status, _) = app.patch(&path, json!({"active": true})).await;
    assert_eq!(status, StatusCode::OK);
    rx.wait_for(2, WAIT).await;
    app.stop().await;
}

async fn deleting_an_integration_drops_what_was_already_claimed_for_it(backend: Backend) {
    let Some((app, rx, integration)) = one_sending_one_waiting(backend).await else {
        return;
    };
    let (status, _) = app.delete(&format!("/v1/integrations/{integration}")).await;
    assert!(status.is_success(), "{status}");

    tokio::time::sleep(Duration::from_millis(1500) + SETTLE).await;
    assert_eq!(rx.count(), 1, "sent to a deleted integration");
    let failed = app.deliveries("status=failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    app.stop().await;
}
