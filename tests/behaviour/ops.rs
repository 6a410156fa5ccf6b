//! Health and metrics endpoints, and the store's housekeeping.

use std::time::Duration;

use crate::common::{Backend, Receiver, Reply, Script, TestApp, WAIT};
use lc_webhooks::store::Store;
use serde_json::json;
use sqlx::AnyPool;

both_stores!(
    healthz_answers_200_when_the_store_answers,
    metrics_expose_lc_webhooks_series,
    metrics_show_the_backlog_and_the_batches,
    maintenance_runs_and_keeps_every_delivery
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
    let text = crate::common::wait_until(WAIT, "metrics with lc_webhooks_ series", || {
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

/// The value of an unlabelled series in a Prometheus text page.
fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let resp = reqwest::get(app.url("/metrics")).await.expect("metrics");
    assert_eq!(resp.status().as_u16(), 200);
    resp.text().await.expect("text")
}

async fn metrics_show_the_backlog_and_the_batches(backend: Backend) {
    let Some(app) =
        TestApp::start_with(backend, |s| s.http_timeout = Duration::from_secs(10)).await
    else {
        return;
    };
    // Every answer takes 3 s: meanwhile the seven deliveries are in flight, still unsettled.
    let rx = Receiver::start(Script::always(Reply::ok().after(Duration::from_secs(3)))).await;
    app.create_integration(&rx.url(), "b", json!({})).await;
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let c = app.create_creator("b@example.com", None, None).await;
    for _ in 0..7 {
        app.post_media(c["id"].as_str().unwrap(), "STORY", json!({}))
            .await;
    }
    // Gauges are process-wide and both stores' tests run in this process: read all three from
    // one page, and retry until that page is this service's.
    let text = crate::common::wait_until(WAIT, "a backlog of 7 overdue deliveries", || async {
        let text = scrape(&app).await;
        let waiting = gauge(&text, "lc_webhooks_backlog_deliveries") == Some(7.0);
        let overdue = gauge(&text, "lc_webhooks_oldest_due_seconds").is_some_and(|s| s > 0.0);
        let evaluated = gauge(&text, "lc_webhooks_backlog_posts") == Some(0.0);
        (waiting && overdue && evaluated).then_some(text)
    })
    .await;
    // Posts from the API are evaluated in their ingest transaction (the inbox's evaluator and
    // the claim are for imports and retries, which this test has none of).
    assert!(
        text.contains("lc_webhooks_batch_rows_count{stage=\"ingest\"}"),
        "{text}"
    );

    rx.wait_for(7, WAIT).await;
    let text = crate::common::wait_until(WAIT, "an empty backlog", || async {
        let text = scrape(&app).await;
        let empty = gauge(&text, "lc_webhooks_backlog_deliveries") == Some(0.0)
            && gauge(&text, "lc_webhooks_oldest_due_seconds") == Some(0.0);
        empty.then_some(text)
    })
    .await;
    let series = "lc_webhooks_batch_seconds_count{stage=\"record\"}";
    assert!(text.contains(series), "no {series}: {text}");
    // SQLite's one writer: how long each kind of write waited for it and held it.
    if backend == Backend::Sqlite {
        for purpose in ["ingest", "record"] {
            let series =
                format!("lc_webhooks_write_gate_hold_seconds_count{{purpose=\"{purpose}\"}}");
            assert!(text.contains(&series), "no {series}: {text}");
        }
        assert!(
            text.contains("lc_webhooks_write_gate_wait_seconds"),
            "{text}"
        );
    }
    app.stop().await;
}

async fn queue_vacuums(pool: &AnyPool) -> i64 {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'delivery_queue'",
    )
    .fetch_one(pool)
    .await
    .expect("vacuum count");
    count
}

async fn maintenance_runs_and_keeps_every_delivery(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "tidy", json!({})).await;
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let c = app.create_creator("tidy@example.com", None, None).await;
    for _ in 0..3 {
        app.post_media(c["id"].as_str().unwrap(), "STORY", json!({}))
            .await;
    }
    rx.wait_for(3, WAIT).await;
    crate::common::wait_until(WAIT, "three deliveries succeeded", || async {
        let done = app.deliveries("status=succeeded").await.len();
        (done == 3).then_some(())
    })
    .await;
    let db = app.db.clone();
    app.stop().await;

    let store = Store::connect(&db.url).await.expect("store");
    let pool = crate::common::any_pool(&db.url).await;
    // PostgreSQL: a real VACUUM of the queue (it cannot run inside a transaction: a mistake
    // there fails here). SQLite: a WAL checkpoint.
    let before = match backend {
        Backend::Postgres => queue_vacuums(&pool).await,
        Backend::Sqlite => 0,
    };
    store.maintain().await.expect("maintenance");
    if backend == Backend::Postgres {
        assert_eq!(queue_vacuums(&pool).await, before + 1);
    }
    let (rows,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM deliveries WHERE status = 'succeeded'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(rows, 3);
    let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM delivery_queue")
        .fetch_one(&pool)
        .await
        .expect("queue");
    assert_eq!(queued, 0);
}
