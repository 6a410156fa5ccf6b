//! Concurrent posts, and several instances on one database, never reward twice.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{Backend, Receiver, TestApp, TestDb, SETTLE, WAIT};
use serde_json::{json, Value};

both_stores!(concurrent_posts_for_one_creator_earn_exactly_one_reward);

async fn concurrent_posts_for_one_creator_earn_exactly_one_reward(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "conc-key", json!({}))
        .await;
    app.create_rule(json!({"repeatable": false})).await;
    let c = app.create_creator("busy@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap().to_string();

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let url = app.url("/v1/media");
            let cid = cid.clone();
            tokio::spawn(async move {
                // A client per task: separate connections.
                let client = reqwest::Client::new();
                let resp = client
                    .post(url)
                    .json(&json!({"creatorId": cid, "postType": "STORY"}))
                    .send()
                    .await
                    .expect("post media");
                resp.status().as_u16()
            })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        assert_eq!(t.expect("task"), 201);
    }
    let listed = common::items(
        app.get_ok(&format!("/v1/media?creatorId={cid}&limit=500"))
            .await,
    );
    assert_eq!(listed.len(), 20);

    let got = rx.assert_exactly(1).await;
    assert_eq!(got[0].json()["medias"].as_array().unwrap().len(), 2);
    let f = app.fulfillments(&format!("creatorId={cid}")).await;
    assert_eq!(f.len(), 1, "{f:?}");
    app.stop().await;
}

/// Two instances (two `start` calls) on one PostgreSQL database, posts for the same creators
/// sent to both at once: one reward per creator, one webhook per reward.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_postgres_reward_each_creator_once() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let db = Arc::new(db);
    let a = TestApp::start_on(db.clone(), |_| {})
        .await
        .expect("instance a");
    let b = TestApp::start_on(db.clone(), |_| {})
        .await
        .expect("instance b");
    let rx = Receiver::always(200).await;
    a.create_integration(&rx.url(), "two-key", json!({})).await;
    a.create_rule(json!({"repeatable": false})).await;
    let mut creators = Vec::new();
    for n in 0..5 {
        let c = b
            .create_creator(&format!("c{n}@example.com"), None, None)
            .await;
        creators.push(c["id"].as_str().unwrap().to_string());
    }

    let mut tasks = Vec::new();
    for cid in &creators {
        for k in 0..6 {
            let url = if k % 2 == 0 {
                a.url("/v1/media")
            } else {
                b.url("/v1/media")
            };
            let cid = cid.clone();
            tasks.push(tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .json(&json!({"creatorId": cid, "postType": "STORY"}))
                    .send()
                    .await
                    .expect("post media")
                    .status()
                    .as_u16()
            }));
        }
    }
    for t in futures::future::join_all(tasks).await {
        assert_eq!(t.expect("task"), 201);
    }

    let got = rx.wait_for(creators.len(), WAIT).await;
    tokio::time::sleep(SETTLE).await;
    let got = if got.len() == creators.len() {
        rx.received()
    } else {
        got
    };
    assert_eq!(got.len(), creators.len(), "one webhook per creator");
    let mut emails: Vec<String> = got
        .iter()
        .map(|r| r.json()["email"].as_str().unwrap().to_string())
        .collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), creators.len(), "a creator was rewarded twice");
    for cid in &creators {
        let f = a.fulfillments(&format!("creatorId={cid}")).await;
        assert_eq!(f.len(), 1, "creator {cid}: {f:?}");
    }
    let (s, v): (StatusCode, Value) = b.get("/v1/fulfillments?limit=500").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(common::items(v).len(), creators.len());
    a.stop().await;
    b.stop().await;
}
