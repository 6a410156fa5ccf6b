//! The charts' numbers: attempts by outcome per hour (an integration) and per minute (the
//! delivery log), latency percentiles, and time buckets that follow the service's clock, which
//! the tests set instead of waiting.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use lc_webhooks::domain::{Clock, Window, HOUR_MICROS};
use serde_json::{json, Value};

use crate::common::{
    assert_error, wait_until, Backend, Receiver, Reply, Script, TestApp, TestDb, SETTLE, WAIT,
};

both_stores!(
    charts_count_attempts_by_outcome_with_their_latency,
    chart_buckets_follow_the_clock,
    a_chart_window_out_of_bounds_is_refused,
    chart_counts_go_once_no_chart_can_show_them,
    two_instances_sending_to_one_integration_count_each_attempt_once,
);

fn counts(v: &Value) -> (u64, u64, u64) {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    (n("succeeded"), n("retried"), n("failed"))
}

/// The sum of every bucket's outcomes.
fn summed(stats: &Value) -> (u64, u64, u64) {
    stats["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(counts)
        .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
}

async fn charts_count_attempts_by_outcome_with_their_latency(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let slow = Receiver::start(Script::always(Reply::ok().after(Duration::from_millis(30)))).await;
    let down = Receiver::always(503).await;
    let good = app
        .create_integration(&slow.url(), "good-key", json!({}))
        .await;
    let bad = app
        .create_integration(&down.url(), "bad-key", json!({}))
        .await;
    let (good, bad) = (good["id"].as_str().unwrap(), bad["id"].as_str().unwrap());
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let creator = app.create_creator("ana@example.com", None, None).await;
    for _ in 0..3 {
        app.post_media(creator["id"].as_str().unwrap(), "STORY", json!({}))
            .await;
    }
    // Three rewards each: the good receiver answers every first attempt; the schedule gives
    // each of the bad one's deliveries three attempts, the last of which fails it.
    wait_until(WAIT, "every delivery settled", || async {
        let ok = app
            .deliveries(&format!("integrationId={good}&status=succeeded"))
            .await;
        let failed = app
            .deliveries(&format!("integrationId={bad}&status=failed"))
            .await;
        (ok.len() == 3 && failed.len() == 3).then_some(())
    })
    .await;

    let stats = app.get_ok(&format!("/v1/integrations/{good}/stats")).await;
    assert_eq!(stats["integrationId"], good);
    assert_eq!(stats["bucketSeconds"], 3600);
    assert_eq!(stats["buckets"].as_array().unwrap().len(), 24);
    assert_eq!(counts(&stats["totals"]), (3, 0, 0), "{stats}");
    assert_eq!(summed(&stats), (3, 0, 0));
    let latency = &stats["latency"];
    assert_eq!(latency["attempts"], 3, "{stats}");
    let p50 = latency["p50Ms"].as_u64().expect("p50");
    let p95 = latency["p95Ms"].as_u64().expect("p95");
    assert!(
        (30..2_000).contains(&p50) && p50 <= p95 && p95 < 2_000,
        "a 30 ms receiver: p50 {p50}, p95 {p95}"
    );

    let stats = app.get_ok(&format!("/v1/integrations/{bad}/stats")).await;
    assert_eq!(counts(&stats["totals"]), (0, 6, 3), "{stats}");
    assert_eq!(summed(&stats), (0, 6, 3));
    assert_eq!(stats["latency"]["attempts"], 9);

    let all = app.get_ok("/v1/deliveries/stats").await;
    assert_eq!(all["bucketSeconds"], 60);
    assert_eq!(all["buckets"].as_array().unwrap().len(), 60);
    assert_eq!(counts(&all["totals"]), (3, 6, 3), "{all}");
    assert_eq!(summed(&all), (3, 6, 3));
    app.stop().await;
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("a timestamp"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Where an attempt at `at` lands among `count` buckets of `width` ending with the one that
/// holds `now`, if it does.
fn bucket(at: DateTime<Utc>, now: DateTime<Utc>, width: TimeDelta, count: i64) -> Option<usize> {
    let last = now.duration_trunc(width).expect("trunc");
    let back =
        (last - at.duration_trunc(width).expect("trunc")).num_seconds() / width.num_seconds();
    (0..count)
        .contains(&back)
        .then(|| usize::try_from(count - 1 - back).expect("index"))
}

/// Which buckets hold attempts, each as often as it holds one.
fn filled(stats: &Value) -> Vec<usize> {
    let mut found = Vec::new();
    for (i, b) in stats["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .enumerate()
    {
        let (s, r, f) = counts(b);
        found.extend(std::iter::repeat_n(i, (s + r + f) as usize));
    }
    found
}

async fn chart_buckets_follow_the_clock(backend: Backend) {
    let clock = Clock::fixed(Utc::now());
    let Some(app) = TestApp::start_with(backend, |s| s.clock = clock.clone()).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), "clock-key", json!({}))
        .await;
    let iid = i["id"].as_str().unwrap();
    let mut started = Vec::new();
    for _ in 0..2 {
        let t = app
            .post_ok(
                &format!("/v1/integrations/{iid}/test"),
                json!({}),
                StatusCode::OK,
            )
            .await;
        let d = app.delivery(t["deliveryId"].as_str().unwrap()).await;
        started.push(time(&d["attempts"][0]["startedAt"]));
    }
    let hour = TimeDelta::hours(1);
    let minute = TimeDelta::minutes(1);
    let stats = |hours: i64| {
        let app = &app;
        async move {
            app.get_ok(&format!("/v1/integrations/{iid}/stats?hours={hours}"))
                .await
        }
    };
    let expect = |now: DateTime<Utc>, width: TimeDelta, count: i64| {
        let mut at: Vec<usize> = started
            .iter()
            .filter_map(|t| bucket(*t, now, width, count))
            .collect();
        at.sort_unstable();
        at
    };
    let last = *started.iter().max().expect("two attempts");
    for (later, hours) in [
        (TimeDelta::zero(), 24),
        (TimeDelta::hours(3), 24),
        (TimeDelta::hours(25), 24),
        (TimeDelta::hours(25), 48),
        (TimeDelta::hours(-2), 24),
    ] {
        let now = last + later;
        clock.set(now);
        let s = stats(hours).await;
        assert_eq!(time(&s["until"]), now);
        assert_eq!(
            time(&s["from"]),
            now.duration_trunc(hour).unwrap() - hour * (hours as i32 - 1)
        );
        assert_eq!(
            filled(&s),
            expect(now, hour, hours),
            "{later} later, {hours} hours: {s}"
        );
        assert_eq!(
            s["latency"]["attempts"].as_u64().unwrap() as usize,
            expect(now, hour, hours).len()
        );
    }
    // The attempts sit three hours back, or out of the day after 25 hours.
    clock.set(last + TimeDelta::hours(3));
    let three_back = filled(&stats(24).await);
    assert!(
        three_back.iter().all(|&i| i == 20 || i == 19),
        "{three_back:?}"
    );
    assert_eq!(three_back.len(), 2);
    clock.set(last + TimeDelta::hours(25));
    assert!(filled(&stats(24).await).is_empty());

    for later in [
        TimeDelta::zero(),
        TimeDelta::minutes(10),
        TimeDelta::minutes(61),
    ] {
        let now = last + later;
        clock.set(now);
        let s = app.get_ok("/v1/deliveries/stats").await;
        assert_eq!(filled(&s), expect(now, minute, 60), "{later} later: {s}");
    }
    clock.set(last + TimeDelta::minutes(10));
    let ten_back = filled(&app.get_ok("/v1/deliveries/stats?minutes=60").await);
    assert!(ten_back.iter().all(|&i| i == 49 || i == 48), "{ten_back:?}");
    app.stop().await;
}

async fn a_chart_window_out_of_bounds_is_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), "bounds-key", json!({}))
        .await;
    let iid = i["id"].as_str().unwrap();
    // The bounds the document states are the ones enforced.
    let doc = app.get_ok("/openapi.json").await;
    let bound = |path: &str, name: &str, which: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["schema"][which].as_u64())
            .unwrap_or_else(|| panic!("{path} documents no {which} for {name}"))
    };
    let max_hours = bound("/v1/integrations/{id}/stats", "hours", "maximum");
    let max_minutes = bound("/v1/deliveries/stats", "minutes", "maximum");
    assert_eq!(bound("/v1/integrations/{id}/stats", "hours", "minimum"), 1);
    assert_eq!(bound("/v1/deliveries/stats", "minutes", "minimum"), 1);
    let hours = format!("/v1/integrations/{iid}/stats?hours=");
    let minutes = "/v1/deliveries/stats?minutes=";
    for (path, n) in [(hours.as_str(), max_hours), (minutes, max_minutes)] {
        for ok in [1, n] {
            let s = app.get_ok(&format!("{path}{ok}")).await;
            assert_eq!(s["buckets"].as_array().unwrap().len() as u64, ok);
        }
    }
    for (path, bad, code) in [
        (hours.clone(), (max_hours + 1).to_string(), "invalid_hours"),
        (hours.clone(), "0".into(), "invalid_hours"),
        (hours.clone(), "-1".into(), "invalid_hours"),
        (hours.clone(), "+5".into(), "invalid_hours"),
        (hours.clone(), "1.5".into(), "invalid_hours"),
        (hours.clone(), "".into(), "invalid_hours"),
        (
            minutes.into(),
            (max_minutes + 1).to_string(),
            "invalid_minutes",
        ),
        (minutes.into(), "sixty".into(), "invalid_minutes"),
    ] {
        let (s, v) = app.get(&format!("{path}{}", bad.replace('+', "%2B"))).await;
        assert_eq!(
            assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY),
            code,
            "{path}{bad}"
        );
    }
    let (s, v) = app
        .get("/v1/integrations/0196b3c0-0000-7000-8000-000000000000/stats")
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
    app.delete(&format!("/v1/integrations/{iid}")).await;
    let (s, v) = app.get(&format!("/v1/integrations/{iid}/stats")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn chart_counts_go_once_no_chart_can_show_them(backend: Backend) {
    let clock = Clock::fixed(Utc::now());
    let Some(app) = TestApp::start_with(backend, |s| {
        s.clock = clock.clone();
        // The sweep runs every 250 ms.
        s.retention = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), "sweep-key", json!({}))
        .await;
    let iid = i["id"].as_str().unwrap();
    app.post_ok(
        &format!("/v1/integrations/{iid}/test"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    let store = &app.running.as_ref().expect("running").store;
    let id =
        <lc_webhooks::domain::IntegrationId as lc_webhooks::domain::Id>::parse(iid).expect("an id");
    // A window around now, read from the store whatever the clock says.
    let around = Window::ending_at(Utc::now() + TimeDelta::hours(1), HOUR_MICROS, 3);
    let kept = || async {
        let counts = store
            .attempt_counts(Some(&id), &around)
            .await
            .expect("counts");
        let durations = store
            .attempt_durations(&id, &around)
            .await
            .expect("durations");
        (counts.len(), durations.len())
    };
    assert_eq!(kept().await, (1, 1));
    // 47 hours on, the longest chart (48 hours) still shows them, so they stay.
    clock.set(Utc::now() + TimeDelta::hours(47));
    tokio::time::sleep(SETTLE).await;
    assert_eq!(kept().await, (1, 1), "swept while a chart can show them");
    let longest = app
        .get_ok(&format!("/v1/integrations/{iid}/stats?hours=48"))
        .await;
    assert_eq!(counts(&longest["totals"]), (1, 0, 0), "{longest}");
    clock.set(Utc::now() + TimeDelta::hours(50));
    wait_until(WAIT, "the chart counts to be swept", || async {
        (kept().await == (0, 0)).then_some(())
    })
    .await;
    app.stop().await;
}

/// Two instances on one database send one integration's webhooks, each recording its own
/// batches: its health and its charts count every attempt once, and are up to date as soon
/// as the deliveries show as sent (they are written before each batch of results).
async fn two_instances_sending_to_one_integration_count_each_attempt_once(backend: Backend) {
    const N: usize = 60;
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let db = std::sync::Arc::new(db);
    let a = TestApp::start_on(db.clone(), |_| {})
        .await
        .expect("instance a");
    let b = TestApp::start_on(db.clone(), |_| {})
        .await
        .expect("instance b");
    let rx = Receiver::always(200).await;
    let i = a.create_integration(&rx.url(), "two-key", json!({})).await;
    let iid = i["id"].as_str().expect("id").to_string();
    a.create_rule(json!({"count": 1, "repeatable": true})).await;
    let creator = a.create_creator("two@example.com", None, None).await;
    let cid = creator["id"].as_str().expect("id").to_string();
    // Posts to both at once: both evaluate, and both dispatchers claim and send.
    let posts = (0..N).map(|n| {
        let app = if n % 2 == 0 { &a } else { &b };
        app.post_media(&cid, "STORY", json!({}))
    });
    futures::future::join_all(posts).await;
    wait_until(WAIT, "every delivery sent", || async {
        let sent = a
            .deliveries(&format!("integrationId={iid}&status=succeeded&limit=500"))
            .await;
        (sent.len() == N).then_some(())
    })
    .await;

    for app in [&a, &b] {
        let h = &app.get_ok(&format!("/v1/integrations/{iid}")).await["health"];
        assert_eq!(h["recentAttempts"], N, "{h}");
        assert_eq!(h["recentSuccessRate"], 1.0, "{h}");
        assert_eq!(h["consecutiveFailures"], 0, "{h}");
        assert!(h["lastSuccessAt"].is_string(), "{h}");
        let stats = app.get_ok(&format!("/v1/integrations/{iid}/stats")).await;
        assert_eq!(counts(&stats["totals"]), (N as u64, 0, 0), "{stats}");
        assert_eq!(stats["latency"]["attempts"], N, "{stats}");
        let all = app.get_ok("/v1/deliveries/stats").await;
        assert_eq!(counts(&all["totals"]), (N as u64, 0, 0), "{all}");
    }
    rx.assert_exactly(N).await;
    a.stop().await;
    b.stop().await;
}
