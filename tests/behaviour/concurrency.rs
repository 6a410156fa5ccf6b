//! Concurrent posts, and several instances on one database, never reward twice.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{Backend, Receiver, TestApp, TestDb, SETTLE, WAIT};
use axum::http::StatusCode;
use chrono::Utc;
use lc_webhooks::domain::{CreatorId, Id, NewMedia, Platform, PostType};
use lc_webhooks::store::Store;
use serde_json::{json, Value};

both_stores!(
    concurrent_posts_for_one_creator_earn_exactly_one_reward,
    concurrent_posts_for_one_creator_are_each_counted_once,
    two_stores_on_one_database_take_each_post_and_each_delivery_once,
    concurrent_patches_of_different_fields_all_take_effect,
);

/// Two PATCHes at once, each changing its own field: both changes are kept, every round.
async fn concurrent_patches_of_different_fields_all_take_effect(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rule = app.create_rule(json!({})).await;
    let rule = format!("/v1/rules/{}", rule["id"].as_str().unwrap());
    let integration = app
        .create_integration("http://127.0.0.1:9/h", "patch-key", json!({}))
        .await;
    let integration = format!("/v1/integrations/{}", integration["id"].as_str().unwrap());
    let client = reqwest::Client::new();
    let patch = |path: &str, body: Value| {
        let request = client.patch(app.url(path)).json(&body).send();
        async move { request.await.expect("patch").status().as_u16() }
    };
    for round in 1..=40u32 {
        let name = format!("round {round}");
        let (a, b) = tokio::join!(
            patch(&rule, json!({"name": name})),
            patch(&rule, json!({"count": round}))
        );
        assert_eq!((a, b), (200, 200));
        let now = app.get_ok(&rule).await;
        assert_eq!(
            (now["name"].as_str(), now["count"].as_u64()),
            (Some(name.as_str()), Some(u64::from(round))),
            "round {round} lost an update: {now}"
        );
        let url = format!("http://127.0.0.1:9/round{round}");
        let (a, b) = tokio::join!(
            patch(&integration, json!({"name": name})),
            patch(&integration, json!({"url": url, "active": round % 2 == 0}))
        );
        assert_eq!((a, b), (200, 200));
        let now = app.get_ok(&integration).await;
        assert_eq!(
            (now["name"].as_str(), now["url"].as_str()),
            (Some(name.as_str()), Some(url.as_str())),
            "round {round} lost an integration update: {now}"
        );
        assert_eq!(now["active"], round % 2 == 0);
    }
    app.stop().await;
}

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
    let listed = crate::common::items(
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
    assert_eq!(crate::common::items(v).len(), creators.len());
    a.stop().await;
    b.stop().await;
}

/// Two stores on one database (two processes, as far as the database can tell) evaluate one
/// inbox and claim one queue at the same time. On SQLite each reads beside the writer before
/// it writes, so the other may take what it read meanwhile; nothing may be taken twice.
async fn two_stores_on_one_database_take_each_post_and_each_delivery_once(backend: Backend) {
    const POSTS: usize = 3000;
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    app.create_integration("http://127.0.0.1:9/hook", "two-stores-key", json!({}))
        .await;
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let c = app
        .create_creator("two-stores@example.com", None, None)
        .await;
    let creator_id = c["id"].as_str().unwrap().to_string();
    let db = app.db.clone();
    app.stop().await;

    let a = Store::connect(&db.url).await.expect("store a");
    let b = Store::connect(&db.url).await.expect("store b");
    let posts: Vec<NewMedia> = (0..POSTS)
        .map(|_| NewMedia {
            creator_id: CreatorId::parse(&creator_id).expect("an id"),
            platform: Platform::Instagram,
            post_type: PostType::Story,
            posted_at: Utc::now(),
            external_id: None,
            media_type: None,
        })
        .collect();
    a.insert_media(posts).await.expect("posts");

    let evaluate = |store: Store| async move {
        let mut posts = 0;
        loop {
            let done = store
                .evaluate_inbox(250, None)
                .await
                .expect("evaluate")
                .evaluation;
            if done.posts == 0 {
                return posts;
            }
            posts += done.posts;
        }
    };
    let (by_a, by_b) = tokio::join!(evaluate(a.clone()), evaluate(b.clone()));
    assert_eq!(by_a + by_b, POSTS, "a: {by_a}, b: {by_b}");

    let claim = |store: Store, owner: &'static str| async move {
        let mut ids = Vec::new();
        loop {
            let claimed = store
                .claim_due(64, Duration::from_secs(60), owner, &[])
                .await
                .expect("claim");
            if claimed.is_empty() {
                return ids;
            }
            ids.extend(claimed.into_iter().map(|c| c.delivery_id));
        }
    };
    let (by_a, by_b) = tokio::join!(claim(a.clone(), "a"), claim(b.clone(), "b"));
    let mut all: Vec<String> = by_a.iter().chain(&by_b).map(|id| id.to_string()).collect();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        by_a.len() + by_b.len(),
        "a delivery claimed twice"
    );
    assert_eq!(all.len(), POSTS, "a: {}, b: {}", by_a.len(), by_b.len());
    a.close().await;
    b.close().await;
}

/// Posts for one creator sent at once, to a rule where every post earns (written in one
/// statement with what it earned) and to one that keeps count of pairs (counted under a lock):
/// every post is in exactly one reward of each, and each reward sends one webhook.
async fn concurrent_posts_for_one_creator_are_each_counted_once(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "each-key", json!({}))
        .await;
    let single = app
        .create_rule(json!({"name": "each post", "count": 1, "repeatable": true}))
        .await;
    let pairs = app
        .create_rule(json!({"name": "each pair", "count": 2, "repeatable": true}))
        .await;
    let c = app.create_creator("each@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap().to_string();

    let posts = 24;
    let tasks: Vec<_> = (0..posts)
        .map(|_| {
            let url = app.url("/v1/media");
            let cid = cid.clone();
            tokio::spawn(async move {
                let resp = reqwest::Client::new()
                    .post(url)
                    .json(&json!({"creatorId": cid, "postType": "STORY"}))
                    .send()
                    .await
                    .expect("post media");
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.expect("media JSON");
                (status, body["id"].as_str().map(str::to_string))
            })
        })
        .collect();
    let mut sent = Vec::new();
    for t in futures::future::join_all(tasks).await {
        let (status, id) = t.expect("task");
        assert_eq!(status, 201);
        sent.push(id.expect("a post id"));
    }
    sent.sort();

    let webhooks = rx.assert_exactly(posts + posts / 2).await;
    for (rule, per_reward) in [(&single, 1), (&pairs, 2)] {
        let rule_id = rule["id"].as_str().unwrap();
        let rewards = app
            .fulfillments(&format!("creatorId={cid}&ruleId={rule_id}&limit=500"))
            .await;
        assert_eq!(rewards.len(), posts / per_reward, "{rule_id}: {rewards:?}");
        let mut counted: Vec<String> = rewards
            .iter()
            .flat_map(|f| {
                let medias = f["payload"]["medias"].as_array().expect("medias").clone();
                assert_eq!(medias.len(), per_reward, "{f}");
                medias
                    .into_iter()
                    .map(|m| m["lcId"].as_str().expect("lcId").to_string())
            })
            .collect();
        counted.sort();
        assert_eq!(counted, sent, "{rule_id}: each post in exactly one reward");
    }
    assert_eq!(webhooks.len(), posts + posts / 2);
    app.stop().await;
}
