//! OpenTelemetry, end to end: a small OTLP/HTTP collector in the test (http/json) receives the
//! service's spans. A binary of its own: the tracing subscriber is global to the process.
//!
//! One post, the reward it earned and every attempt of its webhook share one trace, a child of
//! the caller's `traceparent`; each webhook's `traceparent` names its attempt's span. A
//! `post.tagged`'s retry stays in its post's trace; a monthly reward's attempts, in its run's.

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex, OnceLock};

use axum::routing::post;
use axum::Router;
use common::{any_pool, wait_until, Backend, Receiver, Reply, Script, TestApp, WAIT};
use lc_webhooks::traces::{Exporter, OtlpProtocol, TraceExport};
use serde_json::{json, Value};

both_stores!(
    a_post_its_reward_and_every_attempt_of_its_webhook_share_the_callers_trace,
    a_post_tagged_retry_and_a_monthly_reward_keep_the_trace_that_caused_them,
);

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

    let attempts = spans_in(collector, &trace_id, "attempt", 2).await;
    let request = &spans_in(collector, &trace_id, "POST /v1/media", 1).await[0];
    assert_eq!(
        request["parentSpanId"], caller_span,
        "the request is a child of the caller's span"
    );
    let ingest = &spans_in(collector, &trace_id, "ingest", 1).await[0];
    assert_eq!(ingest["parentSpanId"], request["spanId"]);
    let evaluate = &spans_in(collector, &trace_id, "evaluate", 1).await[0];
    assert_eq!(evaluate["parentSpanId"], ingest["spanId"]);
    assert_eq!(parts(&stored).1, evaluate["spanId"].as_str().expect("id"));
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

/// The spans named `name` in `trace`, once the exporter has sent at least `least` of them.
async fn spans_in(
    collector: &'static Collector,
    trace: &str,
    name: &str,
    least: usize,
) -> Vec<Value> {
    let find = || -> Vec<Value> {
        collector
            .spans
            .lock()
            .expect("spans")
            .iter()
            .filter(|s| s["traceId"] == trace && s["name"] == name)
            .cloned()
            .collect()
    };
    wait_until(WAIT, "the spans exported", || {
        let flushed = tokio::task::spawn_blocking(|| collector.exporter.flush());
        async {
            let _ = flushed.await;
            (find().len() >= least).then_some(())
        }
    })
    .await;
    find()
}

async fn a_post_tagged_retry_and_a_monthly_reward_keep_the_trace_that_caused_them(
    backend: Backend,
) {
    use chrono::{Datelike, Utc};
    let collector = collector();
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    // post.tagged only, its first attempt failing: the retry is claimed from the queue.
    let tagged_rx = Receiver::start(Script::first(vec![Reply::status(500)], Reply::ok())).await;
    app.create_integration(
        &tagged_rx.url(),
        "key-0002",
        json!({"eventTypes": ["post.tagged"]}),
    )
    .await;
    let rewards_rx = Receiver::always(200).await;
    app.create_integration(&rewards_rx.url(), "key-0003", json!({}))
        .await;
    let rule = app
        .post_ok(
            "/v1/rules",
            json!({
                "name": "Monthly stories",
                "postTypes": ["STORY"],
                "schedule": "MONTHLY",
                "tiers": [{"count": 1, "reward": {"type": "NONE"}}]
            }),
            axum::http::StatusCode::CREATED,
        )
        .await;
    let rule = rule["id"].as_str().expect("rule id").to_string();
    let creator = app.create_creator("m@example.com", None, None).await;
    // A post of last month (by the real clock), so that month can be run by hand.
    let today = Utc::now().date_naive();
    let last_month = today.with_day(1).expect("the 1st") - chrono::Days::new(1);
    let month = format!("{:04}-{:02}", last_month.year(), last_month.month());

    let trace_id = format!("{:032x}", rand::random::<u128>() | 1);
    let caller_span = format!("{:016x}", rand::random::<u64>() | 1);
    let response = app
        .client
        .post(app.url("/v1/media"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({
            "creatorId": creator["id"],
            "postType": "STORY",
            "postedAt": format!("{month}-15T12:00:00Z"),
        }))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 201);
    let tagged = tagged_rx.wait_for(2, WAIT).await;
    for webhook in &tagged {
        assert_eq!(
            webhook.header("lc-event-type").as_deref(),
            Some("post.tagged")
        );
        let header = webhook.header("traceparent").expect("a traceparent header");
        assert_eq!(
            parts(&header).0,
            trace_id,
            "the first attempt and the retry are in the post's trace"
        );
    }
    let attempts = spans_in(collector, &trace_id, "attempt", 2).await;
    let evaluate = &spans_in(collector, &trace_id, "evaluate", 1).await[0];
    for attempt in &attempts {
        assert_eq!(attempt["parentSpanId"], evaluate["spanId"]);
    }

    let (status, body) = app
        .post(&format!("/v1/rules/{rule}/runs"), json!({"month": month}))
        .await;
    assert_eq!(status.as_u16(), 202, "{body}");
    let monthly = rewards_rx.wait_for(1, WAIT).await;
    assert_eq!(
        monthly[0].header("lc-event-type").as_deref(),
        Some("reward.monthly")
    );
    let header = monthly[0]
        .header("traceparent")
        .expect("a traceparent header");
    let (run_trace, attempt_span) = parts(&header);
    assert_ne!(
        run_trace, trace_id,
        "a monthly reward is caused by its run, not the post"
    );
    let run = &spans_in(collector, &run_trace, "month_run", 1).await[0];
    assert_eq!(attribute(run, "month"), Some(month.clone()));
    assert_eq!(attribute(run, "rule"), Some(rule.clone()));
    let attempt = spans_in(collector, &run_trace, "attempt", 1)
        .await
        .into_iter()
        .find(|a| a["spanId"] == attempt_span.as_str())
        .expect("the attempt span the webhook names");
    assert_eq!(attempt["parentSpanId"], run["spanId"]);
    app.stop().await;
}
