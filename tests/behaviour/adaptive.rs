//! Each integration's sends adapt to its receiver: more at once while it answers at a steady
//! latency, fewer when it refuses for load, never more than its `maxConcurrency` or
//! `maxPerSecond`; nothing is lost on the way. Receivers are real HTTP servers on 127.0.0.1 that
//! count the requests they are answering at once.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::{
    assert_error, wait_until, Backend, Received, Receiver, Reply, Script, TestApp,
};
use axum::http::StatusCode;
use serde_json::{json, Value};

both_stores!(
    concurrency_grows_on_a_healthy_slow_receiver,
    concurrency_shrinks_on_a_receiver_answering_503,
    concurrency_shrinks_on_a_receiver_answering_429,
    max_concurrency_and_max_per_second_are_never_exceeded,
    limits_are_validated_stored_and_cleared,
);

/// The limit a lane starts at (`dispatch::concurrency::INITIAL_LIMIT`).
const INITIAL_LIMIT: usize = 256;

/// A rule that rewards every Story, and a creator to post them.
async fn every_story_rewarded(app: &TestApp) -> String {
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let c = app.create_creator("adaptive@example.com", None, None).await;
    c["id"].as_str().expect("creator id").to_string()
}

/// `n` Stories in one batch: `n` rewards, each delivered to every active integration.
async fn earn(app: &TestApp, creator: &str, n: usize) {
    let posts: Vec<Value> = (0..n)
        .map(|_| json!({"creatorId": creator, "postType": "STORY"}))
        .collect();
    app.post_ok(
        "/v1/media/batch",
        json!({ "media": posts }),
        StatusCode::CREATED,
    )
    .await;
}

/// Waits until no delivery is pending; returns `(pending, failed)` counts.
async fn settled(app: &TestApp, timeout: Duration) -> Value {
    wait_until(timeout, "every delivery to settle", || async {
        let counts = app.get_ok("/v1/deliveries/counts").await;
        (counts["pending"] == 0).then_some(counts)
    })
    .await
}

fn distinct_ids(got: &[Received]) -> usize {
    got.iter()
        .filter_map(|r| r.header("webhook-id"))
        .collect::<HashSet<_>>()
        .len()
}

async fn concurrency_limit(app: &TestApp, id: &str) -> Value {
    app.get_ok(&format!("/v1/integrations/{id}")).await["health"]["concurrencyLimit"].clone()
}

/// A receiver that takes 250 ms and answers 200 gets more than the starting limit at once, and
/// every webhook once.
async fn concurrency_grows_on_a_healthy_slow_receiver(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    // 250 ms: at the initial limit that is 256 answers a second, little enough for a busy
    // machine to keep up with, so growth is decided by the receiver, not by the test's CPU share.
    let rx = Receiver::start(Script::always(
        Reply::ok().after(Duration::from_millis(250)),
    ))
    .await;
    let integration = app
        .create_integration(&rx.url(), "grow-key", json!({}))
        .await;
    let id = integration["id"].as_str().expect("id");
    let creator = every_story_rewarded(&app).await;
    earn(&app, &creator, 1000).await;
    let got = rx.wait_for(1000, Duration::from_secs(60)).await;
    let counts = settled(&app, Duration::from_secs(30)).await;
    assert_eq!(counts["failed"], 0, "{counts}");
    assert_eq!(distinct_ids(&got), 1000, "every webhook, none lost");
    assert_eq!(rx.count(), 1000, "none sent twice");
    let peak = rx.peak_in_flight();
    assert!(
        peak > INITIAL_LIMIT,
        "the receiver never had more than {peak} at once: the limit did not grow"
    );
    let limit = concurrency_limit(&app, id).await;
    assert!(
        limit.as_u64().is_some_and(|l| l > INITIAL_LIMIT as u64),
        "health.concurrencyLimit {limit}"
    );
    app.stop().await;
}

async fn concurrency_shrinks_on_a_receiver_answering_503(backend: Backend) {
    concurrency_shrinks(backend, Reply::status(503)).await;
}

async fn concurrency_shrinks_on_a_receiver_answering_429(backend: Backend) {
    concurrency_shrinks(backend, Reply::status(429).header("retry-after", "0")).await;
}

/// A receiver refusing every webhook for load first gets many at once, then a few: the second
/// wave never has more than a few in flight. Every delivery uses its three attempts and fails.
async fn concurrency_shrinks(backend: Backend, refusal: Reply) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::start(Script::always(refusal.after(Duration::from_millis(20)))).await;
    let integration = app
        .create_integration(&rx.url(), "shrink-key", json!({}))
        .await;
    let id = integration["id"].as_str().expect("id");
    let creator = every_story_rewarded(&app).await;
    earn(&app, &creator, 100).await;
    settled(&app, Duration::from_secs(60)).await;
    let first_peak = rx.peak_in_flight();
    assert!(
        first_peak >= 16,
        "the first wave should start wide (256 at once), had {first_peak}"
    );
    let limit = concurrency_limit(&app, id).await;
    assert!(
        limit.as_u64().is_some_and(|l| l <= 4),
        "health.concurrencyLimit after a wave of refusals: {limit}"
    );
    rx.reset_peak();
    earn(&app, &creator, 50).await;
    let counts = settled(&app, Duration::from_secs(60)).await;
    let second_peak = rx.peak_in_flight();
    assert!(
        second_peak <= 4,
        "after the cut the receiver still had {second_peak} at once"
    );
    assert_eq!(counts["failed"], 150, "{counts}");
    let got = rx.received();
    assert_eq!(distinct_ids(&got), 150, "every delivery was attempted");
    assert_eq!(got.len(), 450, "three attempts each, no more");
    app.stop().await;
}

/// `maxConcurrency: 3` against a slow receiver: at most (and at some point) 3 at once, and after a
/// PATCH to 1, one at a time. `maxPerSecond: 20` against a fast one: never 21 within a second.
async fn max_concurrency_and_max_per_second_are_never_exceeded(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let slow = Receiver::start(Script::always(
        Reply::ok().after(Duration::from_millis(100)),
    ))
    .await;
    let fast = Receiver::always(200).await;
    let capped = app
        .create_integration(&slow.url(), "cap-key", json!({"maxConcurrency": 3}))
        .await;
    assert_eq!(capped["maxConcurrency"], 3);
    let rated = app
        .create_integration(&fast.url(), "rate-key", json!({"maxPerSecond": 20}))
        .await;
    assert_eq!(rated["maxPerSecond"], 20);
    let creator = every_story_rewarded(&app).await;
    earn(&app, &creator, 60).await;
    let slow_got = slow.wait_for(60, Duration::from_secs(30)).await;
    let fast_got = fast.wait_for(60, Duration::from_secs(30)).await;
    settled(&app, Duration::from_secs(30)).await;
    assert_eq!(slow.peak_in_flight(), 3, "maxConcurrency 3, and reached");
    assert_eq!((distinct_ids(&slow_got), slow.count()), (60, 60));
    assert_eq!((distinct_ids(&fast_got), fast.count()), (60, 60));
    // Arrival times: the 21st after any webhook comes a second after it, give or take the
    // few milliseconds between a send's start and its arrival (counted as 100 ms here).
    let mut at: Vec<_> = fast_got.iter().map(|r| r.at).collect();
    at.sort();
    for (i, pair) in at.windows(21).enumerate() {
        let span = pair[20] - pair[0];
        assert!(
            span >= Duration::from_millis(900),
            "webhooks {i}..={} arrived within {span:?}: more than 20 a second",
            i + 20
        );
    }
    let capped_id = capped["id"].as_str().expect("id");
    let (status, body) = app
        .patch(
            &format!("/v1/integrations/{capped_id}"),
            json!({"maxConcurrency": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The dispatcher reads integrations again every poll interval.
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.reset_peak();
    earn(&app, &creator, 10).await;
    slow.wait_for(70, Duration::from_secs(30)).await;
    settled(&app, Duration::from_secs(30)).await;
    assert_eq!(slow.peak_in_flight(), 1, "maxConcurrency lowered to 1");
    let limit = concurrency_limit(&app, capped_id).await;
    assert_eq!(limit, 1, "health.concurrencyLimit within maxConcurrency");
    app.stop().await;
}

/// Bad limits are a 422 in API.md's shape and change nothing; good ones are kept and `null`
/// clears them.
async fn limits_are_validated_stored_and_cleared(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let base = json!({"name": "limits", "url": "http://127.0.0.1:9/h", "apiKey": "limits-key"});
    for (field, value, code) in [
        ("maxConcurrency", json!(0), "invalid_max_concurrency"),
        ("maxConcurrency", json!(10001), "invalid_max_concurrency"),
        ("maxPerSecond", json!(0), "invalid_max_per_second"),
        ("maxPerSecond", json!(20000), "invalid_max_per_second"),
    ] {
        let mut body = base.clone();
        body[field] = value.clone();
        let (status, err) = app.post("/v1/integrations", body).await;
        assert_eq!(
            assert_error(status, &err, StatusCode::UNPROCESSABLE_ENTITY),
            code,
            "{field}: {value}"
        );
    }
    for bad in [json!(-1), json!(1.5), json!("5")] {
        let mut body = base.clone();
        body["maxConcurrency"] = bad.clone();
        let (status, err) = app.post("/v1/integrations", body).await;
        assert_error(status, &err, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let list = app.get_ok("/v1/integrations").await;
    assert_eq!(list["items"], json!([]), "no bad one was stored");

    let mut body = base.clone();
    body["maxConcurrency"] = json!(5);
    body["maxPerSecond"] = json!(7);
    let made = app
        .post_ok("/v1/integrations", body, StatusCode::CREATED)
        .await;
    assert_eq!(
        (made["maxConcurrency"].clone(), made["maxPerSecond"].clone()),
        (json!(5), json!(7))
    );
    assert_eq!(
        made["health"]["concurrencyLimit"],
        Value::Null,
        "nothing sent yet"
    );
    let path = format!("/v1/integrations/{}", made["id"].as_str().expect("id"));
    let (status, err) = app
        .patch(&path, json!({"maxPerSecond": 0, "name": "x"}))
        .await;
    assert_eq!(
        assert_error(status, &err, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_max_per_second"
    );
    let kept = app.get_ok(&path).await;
    assert_eq!(
        (kept["name"].clone(), kept["maxPerSecond"].clone()),
        (json!("limits"), json!(7)),
        "a refused PATCH changes nothing"
    );
    let (status, changed) = app.patch(&path, json!({"maxConcurrency": 9})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (
            changed["maxConcurrency"].clone(),
            changed["maxPerSecond"].clone()
        ),
        (json!(9), json!(7))
    );
    let (status, cleared) = app
        .patch(&path, json!({"maxConcurrency": null, "maxPerSecond": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["maxConcurrency"], Value::Null);
    assert_eq!(cleared["maxPerSecond"], Value::Null);
    assert_eq!(app.get_ok(&path).await["maxConcurrency"], Value::Null);
    app.stop().await;
}
