//! What the console shows: the headers each attempt was sent with, each integration's health,
//! pending and failed counts, the log searched by email, and how many rewards each rule granted.

use crate::common::{items, wait_until, Backend, Receiver, Reply, Script, TestApp, WAIT};
use axum::http::StatusCode;
use serde_json::{json, Value};

both_stores!(
    an_attempt_keeps_the_headers_it_was_sent_with_the_key_masked,
    an_integration_tells_how_its_receiver_has_been_answering,
    the_log_counts_pending_and_failed_and_finds_deliveries_by_email,
    a_rule_tells_how_many_rewards_it_granted,
);

const KEY: &str = "sk_live_0123456789abcd";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn test_send(app: &TestApp, integration_id: &str) -> Value {
    app.post_ok(
        &format!("/v1/integrations/{integration_id}/test"),
        json!({}),
        StatusCode::OK,
    )
    .await
}

async fn an_attempt_keeps_the_headers_it_was_sent_with_the_key_masked(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::start(Script::always(Reply::ok().body("thanks"))).await;
    let i = app
        .create_integration(&rx.url(), KEY, json!({"signingSecret": SECRET}))
        .await;
    let r = test_send(&app, i["id"].as_str().unwrap()).await;
    assert_eq!(r["responseBody"], "thanks", "{r}");
    assert_eq!(r["requestHeaders"]["authorization"], "Bearer …abcd", "{r}");

    let got = rx.received();
    let d = app.delivery(r["deliveryId"].as_str().unwrap()).await;
    let headers = &d["attempts"][0]["requestHeaders"];
    assert_eq!(headers, &r["requestHeaders"]);
    assert_eq!(headers["authorization"], "Bearer …abcd");
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert_eq!(
            headers[name].as_str(),
            got[0].header(name).as_deref(),
            "{name} as the receiver got it"
        );
    }
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers["user-agent"].is_string(), "{headers}");
    for text in [d.to_string(), r.to_string()] {
        assert!(!text.contains(KEY), "the key is never shown: {text}");
        assert!(!text.contains(SECRET), "the secret is never shown: {text}");
    }
    app.stop().await;
}

async fn an_integration_tells_how_its_receiver_has_been_answering(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app.create_integration(&rx.url(), KEY, json!({})).await;
    let iid = i["id"].as_str().unwrap().to_string();
    assert_eq!(i["health"]["recentAttempts"], 0, "{i}");
    assert_eq!(i["health"]["recentSuccessRate"], Value::Null);
    assert_eq!(i["health"]["lastAttemptAt"], Value::Null);
    let health =
        || async { app.get_ok(&format!("/v1/integrations/{iid}")).await["health"].clone() };

    test_send(&app, &iid).await;
    test_send(&app, &iid).await;
    let h = health().await;
    assert_eq!(h["recentAttempts"], 2, "{h}");
    assert_eq!(h["recentSuccessRate"], 1.0);
    assert_eq!(h["consecutiveFailures"], 0);
    assert_eq!(h["failingSince"], Value::Null);
    assert!(h["lastSuccessAt"].is_string(), "{h}");
    assert_eq!(h["lastFailureAt"], Value::Null);

    rx.set_script(Script::always(Reply::status(503)));
    let first_failure = test_send(&app, &iid).await;
    test_send(&app, &iid).await;
    let h = health().await;
    assert_eq!(h["recentAttempts"], 4, "{h}");
    assert_eq!(h["recentSuccessRate"], 0.5);
    assert_eq!(h["consecutiveFailures"], 2);
    assert_eq!(h["lastFailure"], "HTTP 503");
    let first = app
        .delivery(first_failure["deliveryId"].as_str().unwrap())
        .await;
    assert_eq!(h["failingSince"], first["attempts"][0]["startedAt"], "{h}");
    // The list shows the same.
    let listed = items(app.get_ok("/v1/integrations").await);
    assert_eq!(listed[0]["health"], h);

    rx.set_script(Script::always(Reply::ok()));
    test_send(&app, &iid).await;
    let h = health().await;
    assert_eq!(h["consecutiveFailures"], 0, "{h}");
    assert_eq!(h["failingSince"], Value::Null);
    assert_eq!(
        h["lastFailure"], "HTTP 503",
        "the last failure is still told"
    );
    assert_eq!(h["recentAttempts"], 5);
    app.stop().await;
}

async fn the_log_counts_pending_and_failed_and_finds_deliveries_by_email(backend: Backend) {
    // A schedule long enough that a failed first attempt waits.
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = lc_webhooks::dispatch::RetrySchedule::parse("1h").expect("schedule");
    })
    .await
    else {
        return;
    };
    let counts = app.get_ok("/v1/deliveries/counts").await;
    assert_eq!(counts, json!({"pending": 0, "failed": 0}));

    let rx = Receiver::always(503).await;
    let i = app.create_integration(&rx.url(), KEY, json!({})).await;
    app.create_rule(json!({"count": 1})).await;
    let ana = app
        .create_creator("ana@example.com", Some("ana"), None)
        .await;
    let bo = app.create_creator("bo@example.com", Some("bo"), None).await;
    for c in [&ana, &bo] {
        app.post_media(c["id"].as_str().unwrap(), "STORY", json!({}))
            .await;
    }
    rx.wait_for(2, WAIT).await;
    // The test send's one attempt fails for good.
    test_send(&app, i["id"].as_str().unwrap()).await;
    let counts = wait_until(WAIT, "two pending, one failed", || async {
        let c = app.get_ok("/v1/deliveries/counts").await;
        (c == json!({"pending": 2, "failed": 1})).then_some(c)
    })
    .await;
    assert_eq!(counts["pending"], 2);

    let found = app.deliveries("email=ana@example.com").await;
    assert_eq!(found.len(), 1, "{found:?}");
    let f = app
        .get_ok(&format!(
            "/v1/fulfillments/{}",
            found[0]["fulfillmentId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(f["creatorId"], ana["id"]);
    assert!(app.deliveries("email=nobody@example.com").await.is_empty());
    for bad in ["not-an-email", "a%00b@example.com"] {
        let (status, body) = app.get(&format!("/v1/deliveries?email={bad}")).await;
        assert_eq!(
            crate::common::assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY),
            "invalid_email",
            "{bad}"
        );
    }
    let both = app.deliveries("status=pending").await;
    assert_eq!(both.len(), 2);
    app.stop().await;
}

async fn a_rule_tells_how_many_rewards_it_granted(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rule = app.create_rule(json!({"repeatable": true})).await;
    assert_eq!(rule["rewardsGranted"], 0, "{rule}");
    let other = app
        .create_rule(json!({"name": "1 Reel", "postTypes": ["REEL"], "count": 1}))
        .await;
    let c = app
        .create_creator("ana@example.com", Some("ana"), None)
        .await;
    let cid = c["id"].as_str().unwrap();
    for _ in 0..4 {
        app.post_media(cid, "STORY", json!({})).await;
    }
    let rid = rule["id"].as_str().unwrap().to_string();
    let shown = app.get_ok(&format!("/v1/rules/{rid}")).await;
    assert_eq!(shown["rewardsGranted"], 2, "{shown}");
    let listed = items(app.get_ok("/v1/rules").await);
    let granted = |id: &Value| {
        listed
            .iter()
            .find(|r| &r["id"] == id)
            .map(|r| r["rewardsGranted"].clone())
    };
    assert_eq!(granted(&rule["id"]), Some(json!(2)));
    assert_eq!(granted(&other["id"]), Some(json!(0)));
    let patched = app
        .patch(&format!("/v1/rules/{rid}"), json!({"active": false}))
        .await;
    assert_eq!(patched.0, StatusCode::OK);
    assert_eq!(patched.1["rewardsGranted"], 2, "{}", patched.1);
    app.stop().await;
}
