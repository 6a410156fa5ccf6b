//! Without a collector named (`OTEL_EXPORTER_OTLP_ENDPOINT`) tracing is off: no span, and the
//! webhooks' headers are as they were. With it, `tests/otel.rs` (a binary of its own).

use crate::common::{Backend, Receiver, TestApp, WAIT};
use serde_json::json;

both_stores!(webhooks_carry_no_traceparent_while_tracing_is_off);

async fn webhooks_carry_no_traceparent_while_tracing_is_off(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    assert!(!lc_webhooks::traces::on());
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "key-0001", json!({}))
        .await;
    app.create_rule(json!({"count": 1})).await;
    let creator = app.create_creator("c@example.com", None, None).await;
    // A caller's traceparent changes nothing either.
    let response = app
        .client
        .post(app.url("/v1/media"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .json(&json!({"creatorId": creator["id"], "postType": "STORY"}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 201);
    let webhooks = rx.wait_for(1, WAIT).await;
    assert_eq!(webhooks[0].header("traceparent"), None);
    let names: Vec<String> = webhooks[0]
        .headers
        .keys()
        .map(|k| k.as_str().to_string())
        .collect();
    assert!(!names.iter().any(|n| n.contains("trace")), "{names:?}");
    app.stop().await;
}
