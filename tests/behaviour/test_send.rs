//! The integration's Test button: one request now, answered in the same call, and logged.

use crate::common::{assert_error, closed_port_url, Backend, Receiver, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};

both_stores!(
    test_send_to_a_live_receiver_reports_success_and_applies_overrides,
    test_send_to_a_closed_port_reports_failure,
    test_send_without_a_body_sends_the_sample,
    test_send_to_an_unknown_integration_is_not_found,
);

async fn test_send_to_a_live_receiver_reports_success_and_applies_overrides(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), "test-key", json!({}))
        .await;
    let iid = i["id"].as_str().unwrap();
    let r = app
        .post_ok(
            &format!("/v1/integrations/{iid}/test"),
            json!({"email": "x@y.com"}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["responseStatus"], 200);
    assert!(r["durationMs"].is_u64(), "{r}");
    assert_eq!(r["error"], Value::Null);
    let did = r["deliveryId"].as_str().expect("deliveryId");

    let got = rx.received();
    assert_eq!(got.len(), 1, "the test request is sent before the answer");
    let body = got[0].json();
    assert_eq!(body["email"], "x@y.com");
    // Everything else is the sample, with the contract's keys in order.
    assert_eq!(
        crate::common::keys_in_order(&got[0].text()),
        crate::common::PAYLOAD_KEYS
    );
    assert!(body["lcId"].is_string());
    assert!(body["medias"].as_array().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        got[0].header("authorization").as_deref(),
        Some("Bearer test-key")
    );
    assert_eq!(got[0].header("webhook-id").as_deref(), Some(did));

    let d = app.delivery(did).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["integrationId"], i["id"]);
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{d}");
    assert_eq!(attempts[0]["responseStatus"], 200);
    assert_eq!(d["payload"], body);
    app.stop().await;
}

async fn test_send_to_a_closed_port_reports_failure(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let i = app
        .create_integration(&closed_port_url(), "test-key", json!({}))
        .await;
    let iid = i["id"].as_str().unwrap();
    let (s, r) = app
        .request(
            axum::http::Method::POST,
            &format!("/v1/integrations/{iid}/test"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["success"], false, "{r}");
    assert_eq!(r["responseStatus"], Value::Null);
    assert!(r["error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
    assert!(r["durationMs"].is_u64());
    let did = r["deliveryId"].as_str().expect("deliveryId");
    let d = app.delivery(did).await;
    assert_eq!(d["status"], "failed", "{d}");
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{d}");
    assert_eq!(attempts[0]["responseStatus"], Value::Null);
    assert!(attempts[0]["error"].is_string());
    app.stop().await;
}

async fn test_send_without_a_body_sends_the_sample(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(204).await;
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let (s, r) = app
        .request(
            axum::http::Method::POST,
            &format!("/v1/integrations/{}/test", i["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["success"], true, "a 204 is a 2xx: {r}");
    let body = rx.received()[0].json();
    assert_eq!(body["email"], "creator@example.com");
    assert_eq!(body["medias"][0]["postedAt"], "2022-04-12T11:18:20.902164");
    // Unknown test keys are refused.
    let (s, v) = app
        .post(
            &format!("/v1/integrations/{}/test", i["id"].as_str().unwrap()),
            json!({"emial": "x"}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rx.count(), 1);
    app.stop().await;
}

async fn test_send_to_an_unknown_integration_is_not_found(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let (s, v) = app
        .post("/v1/integrations/does-not-exist/test", json!({}))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
    app.stop().await;
}
