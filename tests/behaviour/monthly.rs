//! Monthly rules: tiers paid once a month for the highest tier reached, months counted in the
//! rule's time zone, run by the schedule (on an injectable clock) or by hand, exactly once.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lc_webhooks::domain::Clock;
use serde_json::{json, Value};

use crate::common::{
    assert_error, items, keys_in_order, wait_until, Backend, Receiver, TestApp, PAYLOAD_KEYS,
    SETTLE, WAIT,
};

both_stores!(
    the_highest_tier_reached_is_paid_once_per_month,
    a_post_at_3am_utc_on_the_first_counts_toward_the_previous_month_in_new_york,
    a_month_that_has_not_ended_is_409,
    concurrent_runs_over_two_instances_grant_once,
    the_schedule_runs_a_month_when_it_comes_due,
    the_schedule_catches_up_missed_months_oldest_first,
    a_hand_run_of_a_later_month_does_not_make_the_schedule_skip_an_earlier_one,
    the_monthly_webhook_is_the_seeds_body_with_the_months_posts,
    only_approved_members_posts_after_approval_count_toward_a_tier,
    monthly_fields_are_validated_and_instant_rules_show_the_new_keys,
    a_month_run_to_its_end_grants_nothing_for_posts_that_arrive_later,
    a_post_counted_in_one_month_is_not_counted_again_after_the_zone_changes,
    a_rule_switched_back_on_is_not_paid_for_the_months_it_was_off,
);

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect(rfc3339)
        .with_timezone(&Utc)
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {v}"))
        .to_string()
}

/// A service whose clock stands at `now` until the test moves it, its schedule ticking fast.
async fn start(backend: Backend, now: &str) -> Option<(TestApp, Clock)> {
    let clock = Clock::fixed(at(now));
    let app = TestApp::start_with(backend, tweak(&clock, Duration::from_millis(50))).await?;
    Some((app, clock))
}

fn tweak(clock: &Clock, tick: Duration) -> impl FnOnce(&mut lc_webhooks::config::Settings) {
    let clock = clock.clone();
    move |s| {
        s.clock = clock;
        s.monthly_tick = tick;
    }
}

/// A monthly rule on STORY posts: tier 1 at one post (no code), tier 2 at three (a code
/// `GOLD-…`); `extra` merged over it.
async fn monthly_rule(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({
        "name": "Monthly stories",
        "postTypes": ["STORY"],
        "schedule": "MONTHLY",
        "tiers": [
            {"count": 1, "reward": {"type": "NONE"}},
            {"count": 3, "reward": {"type": "DISCOUNT_CODE", "codePrefix": "GOLD-"}}
        ]
    });
    crate::common::merge(&mut body, extra);
    app.post_ok("/v1/rules", body, StatusCode::CREATED).await
}

async fn creator(app: &TestApp, name: &str) -> String {
    id(&app
        .create_creator(&format!("{name}@example.com"), Some(name), None)
        .await)
}

async fn story(app: &TestApp, creator: &str, posted_at: &str) -> Value {
    app.post_media(creator, "STORY", json!({ "postedAt": posted_at }))
        .await
}

async fn run(app: &TestApp, rule: &str, month: &str) -> (StatusCode, Value) {
    app.post(&format!("/v1/rules/{rule}/runs"), json!({ "month": month }))
        .await
}

async fn run_ok(app: &TestApp, rule: &str, month: &str) -> u64 {
    let (status, body) = run(app, rule, month).await;
    assert_eq!(status, StatusCode::ACCEPTED, "run {month}: {body}");
    assert_eq!(body["month"], month);
    body["fulfillments"].as_u64().expect("fulfillments")
}

async fn runs(app: &TestApp, rule: &str) -> Vec<Value> {
    items(app.get_ok(&format!("/v1/rules/{rule}/runs")).await)
}

async fn rule_fulfillments(app: &TestApp, rule: &str) -> Vec<Value> {
    app.fulfillments(&format!("ruleId={rule}")).await
}

async fn the_highest_tier_reached_is_paid_once_per_month(backend: Backend) {
    let Some((app, _clock)) = start(backend, "2026-12-10T12:00:00Z").await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "k", json!({})).await;
    let rule = monthly_rule(&app, json!({})).await;
    assert_eq!(rule["schedule"], "MONTHLY");
    assert_eq!(rule["count"], Value::Null);
    assert_eq!(rule["reward"], Value::Null);
    let rule = id(&rule);
    let (gold, silver, idle) = (
        creator(&app, "gold").await,
        creator(&app, "silver").await,
        creator(&app, "idle").await,
    );
    for day in ["02", "09", "16", "23"] {
        story(&app, &gold, &format!("2026-11-{day}T10:00:00Z")).await;
    }
    story(&app, &silver, "2026-11-05T10:00:00Z").await;
    app.post_media(&idle, "FEED", json!({"postedAt": "2026-11-05T10:00:00Z"}))
        .await;
    tokio::time::sleep(SETTLE).await;
    assert!(
        rule_fulfillments(&app, &rule).await.is_empty(),
        "a monthly rule grants nothing as posts arrive"
    );

    assert_eq!(run_ok(&app, &rule, "2026-11").await, 2);
    let granted = rule_fulfillments(&app, &rule).await;
    assert_eq!(granted.len(), 2);
    let of = |c: &str| {
        granted
            .iter()
            .find(|f| f["creatorId"] == c)
            .unwrap_or_else(|| panic!("no fulfillment for {c}"))
            .clone()
    };
    let (g, s) = (of(&gold), of(&silver));
    assert_eq!(
        (g["month"].clone(), g["tier"].clone()),
        (json!("2026-11"), json!(2))
    );
    assert!(
        g["discountCode"]
            .as_str()
            .is_some_and(|c| c.starts_with("GOLD-")),
        "the highest tier's reward: {g}"
    );
    assert_eq!(g["payload"]["medias"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        (s["tier"].clone(), s["discountCode"].clone()),
        (json!(1), Value::Null)
    );
    rx.assert_exactly(2).await;

    assert_eq!(run_ok(&app, &rule, "2026-11").await, 0, "already run");
    assert_eq!(rule_fulfillments(&app, &rule).await.len(), 2);
    rx.assert_exactly(2).await;
    let listed = runs(&app, &rule).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["month"], "2026-11");
    assert_eq!(listed[0]["fulfillments"], 2);
    assert_eq!(listed[0]["startedBy"], "HAND");
    let shown = app.get_ok(&format!("/v1/rules/{rule}")).await;
    assert_eq!(shown["rewardsGranted"], 2);
    app.stop().await;
}

async fn a_post_at_3am_utc_on_the_first_counts_toward_the_previous_month_in_new_york(
    backend: Backend,
) {
    let Some((app, _clock)) = start(backend, "2026-12-10T12:00:00Z").await else {
        return;
    };
    let new_york = id(&monthly_rule(&app, json!({"timeZone": "America/New_York"})).await);
    let utc = id(&monthly_rule(&app, json!({})).await);
    let c = creator(&app, "nightowl").await;
    story(&app, &c, "2026-12-01T03:00:00Z").await;
    assert_eq!(run_ok(&app, &new_york, "2026-11").await, 1);
    assert_eq!(run_ok(&app, &utc, "2026-11").await, 0, "December in UTC");
    let f = &rule_fulfillments(&app, &new_york).await[0];
    assert_eq!(f["month"], "2026-11");
    // A program's zone applies when the rule names none.
    let (status, program) = app
        .post(
            "/v1/programs",
            json!({"name": "NY", "approval": "AUTOMATIC", "timeZone": "America/New_York"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    let program = id(&program);
    app.post_ok(
        &format!("/v1/programs/{program}/members"),
        json!({ "creatorId": c }),
        StatusCode::CREATED,
    )
    .await;
    let by_program = id(&monthly_rule(&app, json!({ "programId": program })).await);
    // Approved now (10 December): the post on 1 December came before, so it does not count.
    assert_eq!(run_ok(&app, &by_program, "2026-11").await, 0);
    let (status, body) = run(&app, &by_program, "2026-12").await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "month_not_ended"
    );
    app.stop().await;
}

async fn a_month_that_has_not_ended_is_409(backend: Backend) {
    let Some((app, clock)) = start(backend, "2026-11-30T23:59:59Z").await else {
        return;
    };
    let rule = id(&monthly_rule(&app, json!({})).await);
    let c = creator(&app, "early").await;
    story(&app, &c, "2026-11-20T10:00:00Z").await;
    let (status, body) = run(&app, &rule, "2026-11").await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "month_not_ended"
    );
    let (status, body) = run(&app, &rule, "2027-03").await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "month_not_ended"
    );
    assert!(rule_fulfillments(&app, &rule).await.is_empty());
    assert!(runs(&app, &rule).await.is_empty());
    // In Tokyo, November ended nine hours ago.
    let tokyo = id(&monthly_rule(&app, json!({"timeZone": "Asia/Tokyo"})).await);
    assert_eq!(run_ok(&app, &tokyo, "2026-11").await, 1);
    clock.set(at("2026-12-01T00:00:00Z"));
    // Ended now; the schedule (due at this instant too) or this run grants it, once.
    let (status, body) = run(&app, &rule, "2026-11").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    wait_until(WAIT, "November granted", || async {
        (rule_fulfillments(&app, &rule).await.len() == 1).then_some(())
    })
    .await;
    app.stop().await;
}

async fn concurrent_runs_over_two_instances_grant_once(backend: Backend) {
    let Some((first, clock)) = start(backend, "2026-12-10T12:00:00Z").await else {
        return;
    };
    let second = TestApp::start_on(first.db.clone(), tweak(&clock, Duration::from_millis(50)))
        .await
        .expect("second instance");
    let rx = Receiver::always(200).await;
    first.create_integration(&rx.url(), "k", json!({})).await;
    let rule = id(&monthly_rule(&first, json!({})).await);
    let mut creators = Vec::new();
    for i in 0..12 {
        let c = creator(&first, &format!("busy{i}")).await;
        for day in 1..=(1 + i % 4) {
            story(&first, &c, &format!("2026-11-{:02}T10:00:00Z", day * 3)).await;
        }
        creators.push(c);
    }
    let apps = Arc::new([first, second]);
    let mut runs_at_once = Vec::new();
    for i in 0..10 {
        let apps = apps.clone();
        let rule = rule.clone();
        runs_at_once.push(tokio::spawn(async move {
            run_ok(&apps[i % 2], &rule, "2026-11").await
        }));
    }
    let mut total = 0;
    for r in runs_at_once {
        total += r.await.expect("run");
    }
    assert_eq!(total, 12, "every creator granted once across the runs");
    assert_eq!(rule_fulfillments(&apps[0], &rule).await.len(), 12);
    rx.assert_exactly(12).await;
    let listed = runs(&apps[1], &rule).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["fulfillments"], 12);
    let Ok([first, second]) = Arc::try_unwrap(apps) else {
        panic!("apps still shared");
    };
    second.stop().await;
    first.stop().await;
}

async fn the_schedule_runs_a_month_when_it_comes_due(backend: Backend) {
    let Some((app, clock)) = start(backend, "2026-11-03T12:00:00Z").await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "k", json!({})).await;
    let rule = id(&monthly_rule(&app, json!({})).await);
    let c = creator(&app, "steady").await;
    story(&app, &c, "2026-11-10T10:00:00Z").await;
    clock.set(at("2026-11-30T23:59:59Z"));
    tokio::time::sleep(SETTLE).await;
    assert!(rule_fulfillments(&app, &rule).await.is_empty(), "not due");
    // November 2026 is due on Tuesday 1 December, 00:00 UTC.
    clock.set(at("2026-12-01T00:00:00Z"));
    let received = rx.wait_for(1, WAIT).await;
    assert_eq!(received[0].json()["email"], "steady@example.com");
    let listed = runs(&app, &rule).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["month"], "2026-11");
    assert_eq!(listed[0]["startedBy"], "SCHEDULE");
    assert_eq!(listed[0]["fulfillments"], 1);
    rx.assert_exactly(1).await;
    assert_eq!(run_ok(&app, &rule, "2026-11").await, 0, "run already");
    app.stop().await;
}

async fn the_schedule_catches_up_missed_months_oldest_first(backend: Backend) {
    let Some((app, clock)) = start(backend, "2026-11-03T12:00:00Z").await else {
        return;
    };
    let rule = id(&monthly_rule(&app, json!({"timeZone": "Europe/Paris"})).await);
    let c = creator(&app, "regular").await;
    for posted in [
        "2026-11-10T10:00:00Z",
        "2026-12-10T10:00:00Z",
        "2027-01-10T10:00:00Z",
        "2027-02-10T10:00:00Z",
    ] {
        story(&app, &c, posted).await;
    }
    // Down until mid-February: November, December and January are due, February is not.
    clock.set(at("2027-02-15T12:00:00Z"));
    let listed = wait_until(WAIT, "three months run", || async {
        let listed = runs(&app, &rule).await;
        (listed.len() == 3).then_some(listed)
    })
    .await;
    let months: Vec<&Value> = listed.iter().map(|r| &r["month"]).collect();
    assert_eq!(
        months,
        [&json!("2027-01"), &json!("2026-12"), &json!("2026-11")]
    );
    let run_at = |r: &Value| r["runAt"].as_str().map(at).expect("runAt");
    assert!(
        run_at(&listed[2]) <= run_at(&listed[1]) && run_at(&listed[1]) <= run_at(&listed[0]),
        "oldest first: {listed:?}"
    );
    let mut granted: Vec<Value> = rule_fulfillments(&app, &rule)
        .await
        .into_iter()
        .map(|f| f["month"].clone())
        .collect();
    granted.sort_by_key(|m| m.to_string());
    assert_eq!(
        granted,
        [json!("2026-11"), json!("2026-12"), json!("2027-01")]
    );
    tokio::time::sleep(SETTLE).await;
    assert_eq!(runs(&app, &rule).await.len(), 3, "February is not due");
    app.stop().await;
}

async fn a_hand_run_of_a_later_month_does_not_make_the_schedule_skip_an_earlier_one(
    backend: Backend,
) {
    let Some(first) = TestApp::start(backend).await else {
        return;
    };
    // This instance's schedule ticks once, at start, then not for an hour: the hand run below
    // comes before any schedule runs November.
    let clock = Clock::fixed(at("2026-11-03T12:00:00Z"));
    let db = first.db.clone();
    first.stop().await;
    let slow = TestApp::start_on(db.clone(), tweak(&clock, Duration::from_secs(3600)))
        .await
        .expect("slow instance");
    let rule = id(&monthly_rule(&slow, json!({})).await);
    let c = creator(&slow, "patient").await;
    story(&slow, &c, "2026-11-10T10:00:00Z").await;
    story(&slow, &c, "2026-12-10T10:00:00Z").await;
    clock.set(at("2027-01-05T12:00:00Z"));
    assert_eq!(run_ok(&slow, &rule, "2026-12").await, 1);
    assert_eq!(rule_fulfillments(&slow, &rule).await.len(), 1);
    // Another instance's schedule ticks at once on start: November is due and not run.
    let quick = TestApp::start_on(db, tweak(&clock, Duration::from_millis(50)))
        .await
        .expect("quick instance");
    let listed = wait_until(WAIT, "November run by the schedule", || async {
        let listed = runs(&quick, &rule).await;
        (listed.len() == 2).then_some(listed)
    })
    .await;
    assert_eq!(
        (listed[0]["month"].clone(), listed[0]["startedBy"].clone()),
        (json!("2026-12"), json!("HAND"))
    );
    assert_eq!(
        (listed[1]["month"].clone(), listed[1]["startedBy"].clone()),
        (json!("2026-11"), json!("SCHEDULE"))
    );
    let mut months: Vec<String> = rule_fulfillments(&quick, &rule)
        .await
        .iter()
        .map(|f| f["month"].as_str().unwrap_or_default().to_string())
        .collect();
    months.sort();
    assert_eq!(months, ["2026-11", "2026-12"], "December granted once");
    quick.stop().await;
    slow.stop().await;
}

async fn the_monthly_webhook_is_the_seeds_body_with_the_months_posts(backend: Backend) {
    let Some((app, _clock)) = start(backend, "2026-12-10T12:00:00Z").await else {
        return;
    };
    let rx = Receiver::always(200).await;
    // Signed, so the official Standard Webhooks library checks a reward.monthly too.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    app.create_integration(&rx.url(), "k", json!({"signingSecret": secret}))
        .await;
    // Subscribed to instant rewards only: a monthly one is not its to receive.
    let instant_only = Receiver::always(200).await;
    app.create_integration(
        &instant_only.url(),
        "k2",
        json!({"eventTypes": ["reward.instant"]}),
    )
    .await;
    let rule = id(&monthly_rule(&app, json!({})).await);
    let c = id(&app
        .create_creator("seed@example.com", Some("ig.seed"), Some("tt.seed"))
        .await);
    let first = story(&app, &c, "2026-11-02T10:00:00Z").await;
    app.post_media(&c, "FEED", json!({"postedAt": "2026-11-03T10:00:00Z"}))
        .await;
    let second = story(&app, &c, "2026-11-30T23:59:59.5Z").await;
    story(&app, &c, "2026-12-01T00:00:00Z").await;
    let third = story(&app, &c, "2026-11-15T08:30:00Z").await;
    assert_eq!(run_ok(&app, &rule, "2026-11").await, 1);
    let received = rx.assert_exactly(1).await;
    let f = &rule_fulfillments(&app, &rule).await[0];
    let item =
        |m: &Value, posted: &str| json!({"lcId": m["id"], "postedAt": posted, "postType": "STORY"});
    let expected = json!({
        "lcId": f["id"],
        "email": "seed@example.com",
        "igUsername": "ig.seed",
        "ttUsername": "tt.seed",
        "discountCode": f["discountCode"],
        "medias": [
            item(&first, "2026-11-02T10:00:00.000000"),
            item(&third, "2026-11-15T08:30:00.000000"),
            item(&second, "2026-11-30T23:59:59.500000"),
        ],
    });
    let text = received[0].text();
    assert_eq!(text, serde_json::to_string(&expected).expect("json"));
    assert_eq!(keys_in_order(&text), PAYLOAD_KEYS);
    assert_eq!(
        received[0].header("lc-event-type").as_deref(),
        Some("reward.monthly")
    );
    let events = app
        .get_ok(&format!("/v1/events?type=reward.monthly&creatorId={c}"))
        .await;
    assert_eq!(events["items"][0]["id"], f["id"], "{events}");
    assert!(
        standardwebhooks::Webhook::new(secret)
            .expect("a whsec_ secret")
            .verify(&received[0].body, &received[0].headers)
            .is_ok(),
        "a reward.monthly verifies with the Standard Webhooks library"
    );
    instant_only.assert_exactly(0).await;
    assert!(f["discountCode"]
        .as_str()
        .is_some_and(|c| c.starts_with("GOLD-")));
    app.stop().await;
}

async fn only_approved_members_posts_after_approval_count_toward_a_tier(backend: Backend) {
    let Some((app, clock)) = start(backend, "2026-11-01T00:00:00Z").await else {
        return;
    };
    let (status, program) = app
        .post(
            "/v1/programs",
            json!({"name": "Club", "approval": "MANUAL"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    let program = id(&program);
    let rule = id(&monthly_rule(&app, json!({ "programId": program, "bufferDays": 2 })).await);
    let (member, pending, outsider) = (
        creator(&app, "member").await,
        creator(&app, "pending").await,
        creator(&app, "outsider").await,
    );
    for c in [&member, &pending] {
        app.post_ok(
            &format!("/v1/programs/{program}/members"),
            json!({ "creatorId": c }),
            StatusCode::CREATED,
        )
        .await;
    }
    clock.set(at("2026-11-10T00:00:00Z"));
    let (status, body) = app
        .patch(
            &format!("/v1/programs/{program}/members/{member}"),
            json!({"status": "APPROVED"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for c in [&member, &pending, &outsider] {
        // Before approval; then three posts two days apart and one inside the buffer.
        for posted in [
            "2026-11-05T10:00:00Z",
            "2026-11-12T10:00:00Z",
            "2026-11-14T10:00:00Z",
            "2026-11-15T10:00:00Z",
            "2026-11-16T10:00:00Z",
        ] {
            story(&app, c, posted).await;
        }
    }
    clock.set(at("2026-12-01T00:00:00Z"));
    let granted = wait_until(WAIT, "November granted", || async {
        let granted = rule_fulfillments(&app, &rule).await;
        (!granted.is_empty()).then_some(granted)
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    let granted_now = rule_fulfillments(&app, &rule).await;
    assert_eq!(granted_now.len(), 1, "{granted_now:?}");
    assert_eq!(granted[0]["creatorId"], json!(member));
    assert_eq!(granted[0]["tier"], 2, "12th, 14th and 16th count");
    assert_eq!(
        granted[0]["payload"]["medias"].as_array().map(Vec::len),
        Some(3)
    );
    app.stop().await;
}

async fn monthly_fields_are_validated_and_instant_rules_show_the_new_keys(backend: Backend) {
    let Some((app, _clock)) = start(backend, "2026-12-10T12:00:00Z").await else {
        return;
    };
    let tiers = json!([{"count": 1, "reward": {"type": "NONE"}}]);
    let monthly = json!({"name": "m", "schedule": "MONTHLY", "tiers": tiers});
    let with = |base: &Value, key: &str, value: Value| {
        let mut v = base.clone();
        v[key] = value;
        v
    };
    let tier = |count: u32| json!({"count": count, "reward": {"type": "NONE"}});
    let instant = json!({"name": "i", "count": 1, "reward": {"type": "NONE"}});
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(&monthly, "count", json!(2)),
            "invalid_schedule",
            "count",
        ),
        (
            with(&monthly, "reward", json!({"type": "NONE"})),
            "invalid_schedule",
            "reward",
        ),
        (
            with(&monthly, "windowDays", json!(7)),
            "invalid_schedule",
            "windowDays",
        ),
        (
            with(&monthly, "fulfillmentLimit", json!(1)),
            "invalid_schedule",
            "fulfillmentLimit",
        ),
        (
            with(&monthly, "repeatable", json!(true)),
            "invalid_schedule",
            "repeatable",
        ),
        (
            json!({"name": "m", "schedule": "MONTHLY"}),
            "invalid_tiers",
            "tiers",
        ),
        (with(&monthly, "tiers", json!([])), "invalid_tiers", "tiers"),
        (
            with(&monthly, "tiers", json!([tier(2), tier(2)])),
            "invalid_tiers",
            "tiers[1].count",
        ),
        (
            with(&monthly, "tiers", json!([tier(0)])),
            "invalid_tiers",
            "tiers[0].count",
        ),
        (
            with(
                &monthly,
                "tiers",
                json!((1..=11).map(tier).collect::<Vec<_>>()),
            ),
            "invalid_tiers",
            "tiers",
        ),
        (
            with(
                &monthly,
                "tiers",
                json!([{"count": 1, "reward": {"type": "DISCOUNT_CODE", "codePrefix": "a b"}}]),
            ),
            "invalid_code_prefix",
            "tiers[0].reward",
        ),
        (
            with(&monthly, "timeZone", json!("Mars/Olympus")),
            "invalid_time_zone",
            "timeZone",
        ),
        (
            with(&instant, "tiers", tiers.clone()),
            "invalid_schedule",
            "tiers",
        ),
        (
            with(&instant, "timeZone", json!("UTC")),
            "invalid_schedule",
            "timeZone",
        ),
    ];
    for (body, code, mentions) in cases {
        let (status, answer) = app.post("/v1/rules", body.clone()).await;
        assert_eq!(
            assert_error(status, &answer, StatusCode::UNPROCESSABLE_ENTITY),
            code,
            "{body}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    let (status, answer) = app
        .post(
            "/v1/rules",
            json!({"name": "bad", "schedule": "HOURLY", "count": 1, "reward": {"type": "NONE"}}),
        )
        .await;
    assert_error(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        items(app.get_ok("/v1/rules").await).is_empty(),
        "nothing written"
    );

    let plain = app.create_rule(json!({})).await;
    assert_eq!(plain["schedule"], "INSTANT");
    assert_eq!(plain["tiers"], Value::Null);
    assert_eq!(plain["timeZone"], Value::Null);
    assert_eq!(plain["count"], 2);
    let plain = id(&plain);
    let m = app
        .post_ok("/v1/rules", monthly.clone(), StatusCode::CREATED)
        .await;
    assert_eq!(m["tiers"], tiers);
    assert_eq!(m["timeZone"], Value::Null);
    let m = id(&m);
    // What the rule's schedule does not take is valid input its state refuses: a 409.
    let conflict = StatusCode::CONFLICT;
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let patches: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            &plain,
            json!({"schedule": "MONTHLY"}),
            conflict,
            "invalid_schedule",
        ),
        (
            &plain,
            json!({ "tiers": tiers }),
            conflict,
            "invalid_schedule",
        ),
        (
            &m,
            json!({"schedule": "INSTANT"}),
            conflict,
            "invalid_schedule",
        ),
        (&m, json!({"count": 3}), conflict, "invalid_schedule"),
        (
            &m,
            json!({"tiers": [tier(3), tier(1)]}),
            invalid,
            "invalid_tiers",
        ),
        (
            &m,
            json!({"timeZone": "Nowhere"}),
            invalid,
            "invalid_time_zone",
        ),
    ];
    for (rule, body, expected, code) in patches {
        let (status, answer) = app.patch(&format!("/v1/rules/{rule}"), body.clone()).await;
        assert_eq!(assert_error(status, &answer, expected), code, "{body}");
    }
    let (status, changed) = app
        .patch(
            &format!("/v1/rules/{m}"),
            json!({"tiers": [tier(2), tier(4)], "timeZone": "Europe/Paris", "schedule": "MONTHLY"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["tiers"], json!([tier(2), tier(4)]));
    assert_eq!(changed["timeZone"], "Europe/Paris");
    let (status, body) = run(&app, &m, "2026-13").await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_month"
    );
    let (status, body) = run(&app, &plain, "2026-11").await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "not_monthly"
    );
    let (status, body) = app.get(&format!("/v1/rules/{plain}/runs")).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "not_monthly"
    );
    assert!(runs(&app, &m).await.is_empty());
    app.stop().await;
}

async fn a_month_run_to_its_end_grants_nothing_for_posts_that_arrive_later(backend: Backend) {
    let Some((app, _clock)) = start(backend, "2026-12-10T12:00:00Z").await else {
        return;
    };
    let rule = id(&monthly_rule(&app, json!({})).await);
    let (early, late) = (creator(&app, "early").await, creator(&app, "late").await);
    story(&app, &early, "2026-11-05T10:00:00Z").await;
    assert_eq!(run_ok(&app, &rule, "2026-11").await, 1);

    // A November post that arrives after November was run (an import, a slow poller).
    story(&app, &late, "2026-11-20T10:00:00Z").await;
    assert_eq!(run_ok(&app, &rule, "2026-11").await, 0, "the month was run");
    let granted = rule_fulfillments(&app, &rule).await;
    assert_eq!(granted.len(), 1, "{granted:?}");
    assert_eq!(granted[0]["creatorId"], early.as_str());
    assert_eq!(runs(&app, &rule).await[0]["fulfillments"], 1);
    app.stop().await;
}

async fn a_post_counted_in_one_month_is_not_counted_again_after_the_zone_changes(backend: Backend) {
    let Some((app, _clock)) = start(backend, "2027-01-10T12:00:00Z").await else {
        return;
    };
    let rule = id(&monthly_rule(&app, json!({})).await);
    let (edge, december) = (creator(&app, "edge").await, creator(&app, "dec").await);
    // 23:30 UTC on 30 November: November in UTC, 1 December in Tokyo.
    story(&app, &edge, "2026-11-30T23:30:00Z").await;
    story(&app, &december, "2026-12-15T10:00:00Z").await;
    assert_eq!(run_ok(&app, &rule, "2026-11").await, 1);

    let (status, body) = app
        .patch(
            &format!("/v1/rules/{rule}"),
            json!({"timeZone": "Asia/Tokyo"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // December in Tokyo holds the edge post again, already counted for November: the other
    // creator is granted, and the run goes through.
    assert_eq!(run_ok(&app, &rule, "2026-12").await, 1);
    let granted = rule_fulfillments(&app, &rule).await;
    let months: Vec<(String, String)> = granted
        .iter()
        .map(|f| {
            (
                f["creatorId"].as_str().unwrap_or_default().to_string(),
                f["month"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(granted.len(), 2, "{months:?}");
    assert!(
        months.contains(&(edge.clone(), "2026-11".into())),
        "{months:?}"
    );
    assert!(
        months.contains(&(december.clone(), "2026-12".into())),
        "{months:?}"
    );
    app.stop().await;
}

async fn a_rule_switched_back_on_is_not_paid_for_the_months_it_was_off(backend: Backend) {
    let Some((app, clock)) = start(backend, "2026-11-03T12:00:00Z").await else {
        return;
    };
    let rule = id(&monthly_rule(&app, json!({})).await);
    let c = creator(&app, "paused").await;
    for posted in [
        "2026-11-10T10:00:00Z",
        "2026-12-10T10:00:00Z",
        "2027-01-10T10:00:00Z",
    ] {
        story(&app, &c, posted).await;
    }
    let off = app
        .patch(&format!("/v1/rules/{rule}"), json!({"active": false}))
        .await;
    assert_eq!(off.0, StatusCode::OK, "{}", off.1);
    // Off through November and December; switched back on in mid-January.
    clock.set(at("2027-01-15T12:00:00Z"));
    tokio::time::sleep(SETTLE).await;
    assert!(
        runs(&app, &rule).await.is_empty(),
        "an inactive rule is not run"
    );
    let on = app
        .patch(&format!("/v1/rules/{rule}"), json!({"active": true}))
        .await;
    assert_eq!(on.0, StatusCode::OK, "{}", on.1);
    tokio::time::sleep(SETTLE).await;
    assert!(
        runs(&app, &rule).await.is_empty(),
        "months that ended while it was off are not run by the schedule"
    );
    // January, under way when it came back, is run when due (Monday 1 February 2027).
    clock.set(at("2027-02-01T00:00:00Z"));
    let listed = wait_until(WAIT, "January run", || async {
        let listed = runs(&app, &rule).await;
        (!listed.is_empty()).then_some(listed)
    })
    .await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["month"], "2027-01");
    // The months it was off can still be run by hand.
    assert_eq!(run_ok(&app, &rule, "2026-11").await, 1);
    app.stop().await;
}
