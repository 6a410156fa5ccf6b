//! A full store: writes answer 503 `storage_full` naming the store and change nothing,
//! `/healthz` says the store cannot write, reads go on, and once there is room again every
//! acknowledged write is there. SQLite's file is bounded with `max_page_count`; PostgreSQL's
//! `disk_full` (53100) is mapped the same way but not provoked here.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{assert_error, fill_with_creators, nearly_full_sqlite_app, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_sqlite_store_refuses_writes_with_503_and_keeps_what_it_acknowledged() {
    let app = nearly_full_sqlite_app().await;
    let db = app.db.clone();
    let (acknowledged, refusal) = fill_with_creators(&app).await;
    let (status, body) = refusal;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(body["error"]["code"], "storage_full", "{body}");
    assert!(message.contains("SQLite"), "{message}");
    assert!(!acknowledged.is_empty());

    let (status, health) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health, json!({"status": "storage_full", "writable": false}));
    // Reads go on, and the refused write left nothing behind.
    let late = format!("late-{}@example.com", "x".repeat(66));
    let (status, _) = app.post("/v1/creators", json!({"email": late})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // Posts are smaller: a few may still fit, then they are refused the same way.
    let mut posts = Vec::new();
    let (status, body) = loop {
        assert!(posts.len() < 5_000, "posts never filled the store");
        let post = json!({"creatorId": acknowledged[0], "postType": "FEED"});
        let (status, body) = app.post("/v1/media", post).await;
        if status != StatusCode::CREATED {
            break (status, body);
        }
        posts.push(body["id"].as_str().expect("id").to_string());
    };
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "storage_full", "{body}");
    for id in acknowledged.iter().step_by(7) {
        app.get_ok(&format!("/v1/creators/{id}")).await;
    }
    app.stop().await;

    // Room again (the limit lifted): everything acknowledged is there, writes go through.
    let roomy = TestApp::start_on(db, |_| {}).await.expect("starts");
    for id in &acknowledged {
        roomy.get_ok(&format!("/v1/creators/{id}")).await;
    }
    let listed = roomy
        .get_ok(&format!(
            "/v1/media?creatorId={}&limit=500",
            acknowledged[0]
        ))
        .await;
    let listed: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(listed, posts, "every acknowledged post, and only those");
    // Created now, not refused as taken: the 503 wrote nothing.
    roomy.create_creator(&late, None, None).await;
    let (status, health) = roomy.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["writable"], true);
    roomy.stop().await;
}
