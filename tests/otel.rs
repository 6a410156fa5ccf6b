//! OpenTelemetry, end to end: a small OTLP/HTTP collector in the test (http/json) receives the
//! service's spans. A binary of its own: the tracing subscriber is global to the process.
//!
//! One post, the reward it earned and every attempt of its webhook share one trace, a child of
//! the caller's `traceparent`; each webhook's `traceparent` names its attempt's span.

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex, OnceLock};

use axum::routing::post;
use axum::Router;
use common::{any_pool, wait_until, Backend, Receiver, Reply, Script, TestApp, WAIT};
use lc_webhooks::traces::{Exporter, OtlpProtocol, TraceExport};
use serde_json::{json, Value};

both_stores!(a_post_its_reward_and_every_attempt_of_its_webhook_share_the_callers_trace);

/// The spans the collector received, as OTLP/JSON objects.
type Spans = Arc<Mutex<Vec<Value>>>;

/// The collector and the exporter, once for the process, on a runtime of their own (each test
/// has its own runtime, which ends with it).
struct Collector {
    spans: Spans,
    exporter: Exporter,
    _runtime: tokio::runtime::Runtime,
}

fn collector() -> &'static Collector {
    static COLLECTOR: OnceLock<Collector> = OnceLock::new();
    // Built on a thread of its own: a test's runtime cannot block on another.
    COLLECTOR.get_or_init(|| {
        std::thread::spawn(start_collector)
            .join()
            .expect("collector")
    })
}

fn start_collector() -> Collector {
    {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let spans: Spans = Arc::default();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the collector");
        let addr = listener.local_addr().expect("addr");
        let kept = spans.clone();
        let app = Router::new().route(
            "/v1/traces",
            post(move |body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let request: Value = serde_json::from_slice(&body).expect("OTLP/JSON");
                    let mut kept = kept.lock().expect("spans");
                    for resource in request["resourceSpans"].as_array().into_iter().flatten() {
                        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                            kept.extend(scope["spans"].as_array().into_iter().flatten().cloned());
                        }
                    }
                    axum::Json(json!({}))
                }
            }),
        );
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let export = TraceExport {
            endpoint: format!("http://{addr}").parse().expect("url"),
            protocol: OtlpProtocol::HttpJson,
        };
        let exporter = {
            let _inside = runtime.enter();
            let (exporter, layer) = Exporter::start(&export).expect("exporter");
            use tracing_subscriber::layer::SubscriberExt;
            use tracing_subscriber::util::SubscriberInitExt;
            tracing_subscriber::registry().with(layer).init();
            exporter
        };
        Collector {
            spans,
            exporter,
            _runtime: runtime,
        }
    }
}

/// A span's attribute, as a string.
fn attribute(span: &Value, key: &str) -> Option<String> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| {
            let v = &a["value"];
            v["stringValue"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
}

/// `(trace id, span id)` of a W3C `traceparent`.
fn parts(traceparent: &str) -> (String, String) {
    let p: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(p.len(), 4, "a traceparent: {traceparent}");
    (p[1].to_string(), p[2].to_string())
}

async fn a_post_its_reward_and_every_attempt_of_its_webhook_share_the_callers_trace(
    backend: Backend,
) {
    let collector = collector();
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    // The first attempt fails: the retry is claimed from the durable queue.
    let rx = Receiver::start(Script::first(vec![Reply::status(500)], Reply::ok())).await;
    let integration = app
        .create_integration(&rx.url(), "key-0001", json!({}))
        .await;
    let integration_id = integration["id"].as_str().expect("id").to_string();
    app.create_rule(json!({"count": 1})).await;
    let creator = app.create_creator("c@example.com", None, None).await;

    let trace_id = format!("{:032x}", rand::random::<u128>() | 1);
    let caller_span = format!("{:016x}", rand::random::<u64>() | 1);
    let response = app
        .client
        .post(app.url("/v1/media"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"creatorId": creator["id"], "postType": "STORY"}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 201);

    let webhooks = rx.wait_for(2, WAIT).await;
    let mut attempt_spans = Vec::new();
    for webhook in &webhooks {
        let header = webhook
            .header("traceparent")
            .unwrap_or_else(|| panic!("a traceparent header: {:?}", webhook.headers));
        let (trace, span) = parts(&header);
        assert_eq!(
            trace, trace_id,
            "the webhook's traceparent names the post's trace"
        );
        attempt_spans.push(span);
    }
    assert_ne!(attempt_spans[0], attempt_spans[1], "one span per attempt");

    // The reward carries the trace across the queue.
    let pool = any_pool(&app.db.url).await;
    let (stored,): (Option<String>,) = sqlx::query_as("SELECT traceparent FROM fulfillments")
        .fetch_one(&pool)
        .await
        .expect("the fulfillment");
    let stored = stored.expect("the reward stores its traceparent");
    assert_eq!(parts(&stored).0, trace_id);
    pool.close().await;

    let in_trace = |name: &str| -> Vec<Value> {
        collector
            .spans
            .lock()
            .expect("spans")
            .iter()
            .filter(|s| s["traceId"] == trace_id.as_str() && s["name"] == name)
            .cloned()
            .collect()
    };
    wait_until(WAIT, "every span exported", || {
        let flushed = tokio::task::spawn_blocking(|| collector.exporter.flush());
        async {
            let _ = flushed.await;
            let done = in_trace("attempt").len() >= 2
                && !in_trace("POST /v1/media").is_empty()
                && !in_trace("ingest").is_empty()
                && !in_trace("evaluate").is_empty();
            done.then_some(())
        }
    })
    .await;

    let request = &in_trace("POST /v1/media")[0];
    assert_eq!(
        request["parentSpanId"], caller_span,
        "the request is a child of the caller's span"
    );
    let ingest = &in_trace("ingest")[0];
    assert_eq!(ingest["parentSpanId"], request["spanId"]);
    let evaluate = &in_trace("evaluate")[0];
    assert_eq!(evaluate["parentSpanId"], ingest["spanId"]);
    assert_eq!(parts(&stored).1, evaluate["spanId"].as_str().expect("id"));
    let attempts = in_trace("attempt");
    for span in &attempt_spans {
        let attempt = attempts
            .iter()
            .find(|a| a["spanId"] == span.as_str())
            .unwrap_or_else(|| panic!("the attempt span {span} named by a webhook: {attempts:?}"));
        assert_eq!(attempt["parentSpanId"], evaluate["spanId"]);
        assert_eq!(
            attribute(attempt, "integration"),
            Some(integration_id.clone())
        );
        assert!(attribute(attempt, "duration_ms").is_some());
    }
    let statuses: Vec<Option<String>> = attempts
        .iter()
        .map(|a| attribute(a, "http.response.status_code"))
        .collect();
    assert!(
        statuses
            .iter()
            .any(|s| s.as_deref().is_some_and(|s| s.contains("500"))),
        "the failed attempt's status: {statuses:?}"
    );
    // Never a secret or a body.
    let text = serde_json::to_string(&attempts).expect("json");
    assert!(!text.contains("key-0001"), "{text}");
    assert!(!text.contains("discountCode"), "{text}");
    app.stop().await;
}
