//! Rotating a signing secret without a gap: during the grace period every webhook carries a
//! signature made with the new secret and one made with the old, so the official Standard
//! Webhooks library verifies it with either; after it, only with the new one. Time is the
//! service's fixed clock, moved by the test: nothing sleeps to reach the end of a grace period.

use crate::common::{
    assert_error, wait_until, Backend, Received, Receiver, Reply, Script, TestApp,
};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use lc_webhooks::dispatch::RetrySchedule;
use lc_webhooks::domain::Clock;
use serde_json::{json, Value};

both_stores!(
    during_the_grace_period_either_secret_verifies_and_after_it_only_the_new_one,
    a_retry_crossing_the_rotation_is_signed_with_the_secrets_current_at_the_attempt,
    a_grace_period_of_zero_switches_at_once,
    bad_rotations_are_422_and_change_nothing,
    rotating_an_integration_without_a_secret_just_sets_one,
    a_patch_of_the_signing_secret_switches_at_once_and_ends_the_grace,
    secrets_never_appear_in_api_output_or_the_delivery_log,
);

const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW: &str = "whsec_c2lnbmluZy1rZXktbmV3LTAxMjM0NTY3ODk=";
const KEY: &str = "sk_test_rotation_0123456789";

/// Whether the Standard Webhooks library accepts `r` when holding `secret`.
fn verifies(secret: &str, r: &Received) -> bool {
    standardwebhooks::Webhook::new(secret)
        .expect("a whsec_ secret")
        .verify(&r.body, &r.headers)
        .is_ok()
}

fn signatures(r: &Received) -> usize {
    r.header("webhook-signature")
        .map_or(0, |h| h.split(' ').count())
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// A service on `backend` whose clock stands still until the test moves it.
async fn app_with_clock(backend: Backend, schedule: Option<&str>) -> Option<(TestApp, Clock)> {
    let clock = Clock::fixed(Utc::now());
    let app = TestApp::start_with(backend, |s| {
        s.clock = clock.clone();
        if let Some(schedule) = schedule {
            s.retry_schedule = RetrySchedule::parse(schedule).expect("schedule");
        }
    })
    .await?;
    Some((app, clock))
}

async fn rotate(app: &TestApp, id: &str, body: Value) -> Value {
    app.post_ok(
        &format!("/v1/integrations/{id}/rotate-secret"),
        body,
        StatusCode::OK,
    )
    .await
}

/// Sends a Test webhook and returns what the receiver got.
async fn test_send(app: &TestApp, rx: &Receiver, id: &str) -> Received {
    let before = rx.count();
    app.post_ok(
        &format!("/v1/integrations/{id}/test"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    rx.wait_for(before + 1, crate::common::WAIT).await[before].clone()
}

/// A rule and a creator who posts two Stories: one reward webhook per integration.
async fn earn_reward(app: &TestApp, email: &str) {
    let c = app.create_creator(email, None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
}

async fn during_the_grace_period_either_secret_verifies_and_after_it_only_the_new_one(
    backend: Backend,
) {
    let Some((app, clock)) = app_with_clock(backend, None).await else {
        return;
    };
    let rotated_at = clock.now();
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), KEY, json!({"signingSecret": OLD}))
        .await;
    let id = i["id"].as_str().unwrap();
    assert_eq!(i["signingSecretRotatedAt"], Value::Null, "{i}");
    assert_eq!(i["previousSecretExpiresAt"], Value::Null, "{i}");
    app.create_rule(json!({})).await;

    let r = rotate(&app, id, json!({"gracePeriod": "1h"})).await;
    let generated = r["signingSecret"]
        .as_str()
        .expect("a generated secret")
        .to_string();
    assert!(generated.starts_with("whsec_") && generated != OLD, "{r}");
    let expires = time(&r["previousSecretExpiresAt"]);
    assert_eq!(expires, rotated_at + TimeDelta::hours(1), "{r}");
    let shown = app.get_ok(&format!("/v1/integrations/{id}")).await;
    assert_eq!(
        time(&shown["signingSecretRotatedAt"]),
        rotated_at,
        "{shown}"
    );
    assert_eq!(time(&shown["previousSecretExpiresAt"]), expires, "{shown}");
    assert_eq!(shown["signing"], true);

    // A reward earned during the grace period, and a Test send: each verifies with either.
    earn_reward(&app, "grace@example.com").await;
    let reward = rx.wait_for(1, crate::common::WAIT).await[0].clone();
    let test = test_send(&app, &rx, id).await;
    for got in [&reward, &test] {
        assert_eq!(signatures(got), 2, "{:?}", got.header("webhook-signature"));
        assert!(verifies(&generated, got), "the new secret verifies");
        assert!(verifies(OLD, got), "the old secret still verifies");
    }

    // The grace period ends: only the new secret verifies, and there is one signature.
    clock.set(expires);
    earn_reward(&app, "after@example.com").await;
    let reward = rx.wait_for(3, crate::common::WAIT).await[2].clone();
    let test = test_send(&app, &rx, id).await;
    for got in [&reward, &test] {
        assert_eq!(signatures(got), 1, "{:?}", got.header("webhook-signature"));
        assert!(verifies(&generated, got), "the new secret verifies");
        assert!(!verifies(OLD, got), "the old secret no longer verifies");
    }
    app.stop().await;
}

async fn a_retry_crossing_the_rotation_is_signed_with_the_secrets_current_at_the_attempt(
    backend: Backend,
) {
    // Long enough between attempts to rotate, and to move the clock, in between.
    let Some((app, clock)) = app_with_clock(backend, Some("1s,1s")).await else {
        return;
    };
    let rx = Receiver::start(Script::first(
        vec![Reply::status(503), Reply::status(503)],
        Reply::ok(),
    ))
    .await;
    let i = app
        .create_integration(&rx.url(), KEY, json!({"signingSecret": OLD}))
        .await;
    let id = i["id"].as_str().unwrap();
    app.create_rule(json!({})).await;
    earn_reward(&app, "retried@example.com").await;

    // The first attempt, before the rotation: the old secret alone.
    let first = rx.wait_for(1, crate::common::WAIT).await[0].clone();
    assert_eq!(signatures(&first), 1);
    assert!(verifies(OLD, &first) && !verifies(NEW, &first));

    // Its retry, during the grace period: both.
    let r = rotate(&app, id, json!({"gracePeriod": "2h", "newSecret": NEW})).await;
    assert!(
        r.get("signingSecret").is_none(),
        "a given secret is not echoed: {r}"
    );
    let second = rx.wait_for(2, crate::common::WAIT).await[1].clone();
    assert_eq!(second.header("webhook-id"), first.header("webhook-id"));
    assert_eq!(signatures(&second), 2);
    assert!(verifies(NEW, &second) && verifies(OLD, &second));

    // The last retry, after the grace period: the new secret alone.
    clock.set(time(&r["previousSecretExpiresAt"]) + TimeDelta::seconds(1));
    let third = rx.wait_for(3, crate::common::WAIT).await[2].clone();
    assert_eq!(third.header("webhook-id"), first.header("webhook-id"));
    assert_eq!(signatures(&third), 1);
    assert!(verifies(NEW, &third) && !verifies(OLD, &third));
    let id = first.header("webhook-id").unwrap();
    app.wait_delivery_status(&id, "succeeded").await;
    app.stop().await;
}

async fn a_grace_period_of_zero_switches_at_once(backend: Backend) {
    let Some((app, clock)) = app_with_clock(backend, None).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), KEY, json!({"signingSecret": OLD}))
        .await;
    let id = i["id"].as_str().unwrap();
    for zero in ["0", "0s"] {
        let r = rotate(&app, id, json!({"gracePeriod": zero, "newSecret": NEW})).await;
        assert_eq!(time(&r["previousSecretExpiresAt"]), clock.now(), "{r}");
        let got = test_send(&app, &rx, id).await;
        assert_eq!(signatures(&got), 1);
        assert!(verifies(NEW, &got) && !verifies(OLD, &got));
    }
    app.stop().await;
}

async fn bad_rotations_are_422_and_change_nothing(backend: Backend) {
    let Some((app, _clock)) = app_with_clock(backend, None).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), KEY, json!({"signingSecret": OLD}))
        .await;
    let id = i["id"].as_str().unwrap();
    let path = format!("/v1/integrations/{id}/rotate-secret");
    for (body, code) in [
        (json!({"gracePeriod": "8d"}), "invalid_grace_period"),
        (json!({"gracePeriod": "169h"}), "invalid_grace_period"),
        (json!({"gracePeriod": "soon"}), "invalid_grace_period"),
        (json!({"gracePeriod": "-1h"}), "invalid_grace_period"),
        (json!({"gracePeriod": "1 h"}), "invalid_grace_period"),
        (json!({"gracePeriod": ""}), "invalid_grace_period"),
        (json!({"gracePeriod": 3600}), "invalid_body"),
        (
            json!({"newSecret": "not-a-secret"}),
            "invalid_signing_secret",
        ),
        (
            json!({"newSecret": "whsec_not base64!"}),
            "invalid_signing_secret",
        ),
        (
            json!({"newSecret": NEW, "gracePeriod": "1w"}),
            "invalid_grace_period",
        ),
        (json!({"secret": NEW}), "invalid_body"),
        (json!([null, null]), "invalid_body"),
        (json!(["1h", NEW]), "invalid_body"),
        (json!("24h"), "invalid_body"),
    ] {
        let (status, v) = app.post(&path, body.clone()).await;
        assert_eq!(
            assert_error(status, &v, StatusCode::UNPROCESSABLE_ENTITY),
            code,
            "{body}"
        );
    }
    let shown = app.get_ok(&format!("/v1/integrations/{id}")).await;
    assert_eq!(shown["signingSecretRotatedAt"], Value::Null, "{shown}");
    assert_eq!(shown["previousSecretExpiresAt"], Value::Null, "{shown}");
    assert_eq!(shown["updatedAt"], i["updatedAt"], "nothing changed");
    let got = test_send(&app, &rx, id).await;
    assert_eq!(signatures(&got), 1);
    assert!(
        verifies(OLD, &got),
        "still signed with the old secret alone"
    );

    let (status, v) = app
        .post(
            "/v1/integrations/0190a000-0000-7000-8000-000000000000/rotate-secret",
            json!({}),
        )
        .await;
    assert_error(status, &v, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn rotating_an_integration_without_a_secret_just_sets_one(backend: Backend) {
    let Some((app, clock)) = app_with_clock(backend, None).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app.create_integration(&rx.url(), KEY, json!({})).await;
    let id = i["id"].as_str().unwrap();
    assert_eq!(i["signing"], false);
    // An empty body: a generated secret, the default grace (which has nothing to keep).
    let (status, text) = app
        .request_raw(
            axum::http::Method::POST,
            &format!("/v1/integrations/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let r: Value = serde_json::from_str(&text).expect("JSON");
    let secret = r["signingSecret"].as_str().expect("generated").to_string();
    assert_eq!(r["previousSecretExpiresAt"], Value::Null, "{r}");
    let shown = app.get_ok(&format!("/v1/integrations/{id}")).await;
    assert_eq!(shown["signing"], true);
    assert_eq!(time(&shown["signingSecretRotatedAt"]), clock.now());
    assert_eq!(shown["previousSecretExpiresAt"], Value::Null);
    let got = test_send(&app, &rx, id).await;
    assert_eq!(signatures(&got), 1);
    assert!(verifies(&secret, &got));
    app.stop().await;
}

async fn a_patch_of_the_signing_secret_switches_at_once_and_ends_the_grace(backend: Backend) {
    let Some((app, _clock)) = app_with_clock(backend, None).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), KEY, json!({"signingSecret": OLD}))
        .await;
    let id = i["id"].as_str().unwrap();
    let r = rotate(&app, id, json!({"newSecret": NEW})).await;
    assert!(
        r["previousSecretExpiresAt"].is_string(),
        "24h by default: {r}"
    );
    let third = "whsec_dGhpcmQtc2VjcmV0LWtleS0wMTIzNDU2Nzg5";
    let (status, patched) = app
        .patch(
            &format!("/v1/integrations/{id}"),
            json!({"signingSecret": third}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["previousSecretExpiresAt"], Value::Null, "{patched}");
    let got = test_send(&app, &rx, id).await;
    assert_eq!(signatures(&got), 1);
    assert!(verifies(third, &got) && !verifies(NEW, &got) && !verifies(OLD, &got));
    app.stop().await;
}

async fn secrets_never_appear_in_api_output_or_the_delivery_log(backend: Backend) {
    let Some((app, _clock)) = app_with_clock(backend, None).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), KEY, json!({"signingSecret": OLD}))
        .await;
    let id = i["id"].as_str().unwrap();
    let r = rotate(&app, id, json!({})).await;
    let generated = r["signingSecret"].as_str().expect("generated").to_string();
    app.create_rule(json!({})).await;
    earn_reward(&app, "secret@example.com").await;
    rx.wait_for(1, crate::common::WAIT).await;
    let (_, tested) = app
        .post(&format!("/v1/integrations/{id}/test"), json!({}))
        .await;
    let delivery = wait_until(crate::common::WAIT, "an attempt logged", || async {
        let d = app.deliveries(&format!("integrationId={id}")).await;
        let first = d.iter().find(|d| d["attemptCount"] == 1)?;
        Some(app.delivery(first["id"].as_str()?).await)
    })
    .await;
    let mut output = vec![
        app.get_ok(&format!("/v1/integrations/{id}")).await,
        app.get_ok("/v1/integrations").await,
        app.get_ok("/v1/deliveries").await,
        delivery,
        tested,
    ];
    // The rotation's own answer shows the generated secret this once, and nothing else does.
    output.push(rotate(&app, id, json!({"newSecret": NEW})).await);
    let text = output
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    for secret in [OLD, NEW, generated.as_str()] {
        let key = secret.trim_start_matches("whsec_");
        assert!(
            !text.contains(key),
            "{secret} leaked into the API's output: {text}"
        );
    }
    let again = app.get_ok(&format!("/v1/integrations/{id}")).await;
    assert!(again.get("signingSecret").is_none() && again.get("previousSecret").is_none());
    app.stop().await;
}
