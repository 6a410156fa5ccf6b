//! Health and metrics endpoints.

mod common;

use common::{Backend, Receiver, TestApp, WAIT};
use serde_json::json;

both_stores!(
    healthz_answers_200_when_the_store_answers,
    metrics_expose_lc_webhooks_series
);

async fn healthz_answers_200_when_the_store_answers(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let resp = reqwest::get(app.url("/healthz")).await.expect("healthz");
    assert_eq!(resp.status().as_u16(), 200);
    app.stop().await;
}

async fn metrics_expose_lc_webhooks_series(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    // Something to count: one reward delivered.
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "m", json!({})).await;
    app.create_rule(json!({"count": 1})).await;
    let c = app.create_creator("m@example.com", None, None).await;
    app.post_media(c["id"].as_str().unwrap(), "STORY", json!({}))
        .await;
    rx.wait_for(1, WAIT).await;
    let text = common::wait_until(WAIT, "metrics with lc_webhooks_ series", || {
        let url = app.url("/metrics");
        async move {
            let resp = reqwest::get(url).await.ok()?;
            let ok = resp.status().as_u16() == 200;
            let text = resp.text().await.ok()?;
            (ok && text.contains("lc_webhooks_")).then_some(text)
        }
    })
    .await;
    assert!(text.contains("lc_webhooks_attempts_total"), "{text}");
    app.stop().await;
}
