//! Posts written through the API are evaluated in the transaction that writes them, in groups
//! when they arrive together: a `201` means the reward is committed, each request gets its own
//! answer, and a change of rules is seen by the very next post, on any instance.

use std::sync::Arc;

use crate::common::{assert_error, items, wait_until, Backend, Receiver, TestApp, WAIT};
use axum::http::StatusCode;
use serde_json::{json, Value};

both_stores!(
    a_201_means_the_reward_is_already_committed,
    requests_written_together_each_get_their_own_answer,
    a_rule_changed_on_one_instance_is_seen_by_the_next_post_on_another,
    a_creator_changed_in_the_database_is_what_the_next_payload_carries,
);

async fn a_201_means_the_reward_is_already_committed(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "committed-key", json!({}))
        .await;
    app.create_rule(json!({})).await;
    let c = app.create_creator("now@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    assert!(app
        .fulfillments(&format!("creatorId={cid}"))
        .await
        .is_empty());
    let second = app.post_media(cid, "STORY", json!({})).await;
    // No waiting: the answer came after the reward's commit.
    let f = app.fulfillments(&format!("creatorId={cid}")).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["payload"]["medias"][1]["lcId"], second["id"]);
    let d = app
        .deliveries(&format!("fulfillmentId={}", f[0]["id"].as_str().unwrap()))
        .await;
    assert_eq!(d.len(), 1, "its delivery is committed with it: {d:?}");
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["lcId"], f[0]["id"]);
    app.stop().await;
}

async fn requests_written_together_each_get_their_own_answer(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "group-key", json!({}))
        .await;
    app.create_rule(json!({"postTypes": [], "count": 1, "repeatable": true}))
        .await;
    let mut creators = Vec::new();
    for i in 0..5 {
        let c = app
            .create_creator(&format!("g{i}@example.com"), None, None)
            .await;
        creators.push(c["id"].as_str().unwrap().to_string());
    }
    let client = reqwest::Client::new();
    let url = Arc::new(app.url("/v1/media"));
    // 40 requests at once; every fourth names a creator that does not exist.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let creator = if i % 4 == 3 {
                "0190a1b2-0000-7000-8000-00000000dead".to_string()
            } else {
                creators[i % creators.len()].clone()
            };
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let resp = client
                    .post(url.as_str())
                    .json(&json!({"creatorId": creator, "postType": "REEL"}))
                    .send()
                    .await
                    .expect("post");
                let status = resp.status().as_u16();
                (i, status, resp.json::<Value>().await.expect("JSON"))
            })
        })
        .collect();
    let mut accepted = 0;
    for task in futures::future::join_all(tasks).await {
        let (i, status, body) = task.expect("task");
        if i % 4 == 3 {
            let code = assert_error(
                StatusCode::from_u16(status).unwrap(),
                &body,
                StatusCode::CONFLICT,
            );
            assert_eq!(code, "unknown_creator");
        } else {
            assert_eq!(status, 201, "request {i}: {body}");
            accepted += 1;
        }
    }
    assert_eq!(accepted, 30);
    assert_eq!(
        items(app.get_ok("/v1/media?limit=500").await).len(),
        30,
        "the refused requests wrote nothing"
    );
    assert_eq!(app.fulfillments("limit=500").await.len(), 30);
    rx.wait_for(30, WAIT).await;
    app.stop().await;
}

async fn a_rule_changed_on_one_instance_is_seen_by_the_next_post_on_another(backend: Backend) {
    let Some(a) = TestApp::start(backend).await else {
        return;
    };
    let b = TestApp::start_on(a.db.clone(), |_| {})
        .await
        .expect("a second instance");
    let rx = Receiver::always(200).await;
    a.create_integration(&rx.url(), "cache-key", json!({}))
        .await;
    let c = a.create_creator("cache@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    // B evaluates a post once with no rules, so it holds the config as it was.
    b.post_media(cid, "STORY", json!({})).await;
    let rule = a
        .create_rule(json!({"postTypes": [], "count": 1, "repeatable": true}))
        .await;
    b.post_media(cid, "STORY", json!({})).await;
    assert_eq!(
        b.fulfillments(&format!("creatorId={cid}")).await.len(),
        1,
        "B saw the rule A made before the post"
    );
    let (s, v) = a
        .patch(
            &format!("/v1/rules/{}", rule["id"].as_str().unwrap()),
            json!({"active": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    b.post_media(cid, "STORY", json!({})).await;
    assert_eq!(
        b.fulfillments(&format!("creatorId={cid}")).await.len(),
        1,
        "B saw the rule paused"
    );
    rx.wait_for(1, WAIT).await;
    wait_until(WAIT, "the delivery settled", || async {
        (a.deliveries("status=succeeded").await.len() == 1).then_some(())
    })
    .await;
    b.stop().await;
    a.stop().await;
}

/// On PostgreSQL an instance keeps copies of the creators it has read and writes a post without
/// reading them again; the statement that writes checks each copy is current. Changed behind the
/// service's back (as an import or another version would), the creator's new email is what the
/// very next payload carries, and a post for a creator deleted meanwhile is refused.
async fn a_creator_changed_in_the_database_is_what_the_next_payload_carries(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "copy-key", json!({}))
        .await;
    let other = app.create_creator("gone@example.com", None, None).await;
    let gone = other["id"].as_str().unwrap();
    app.post_media(gone, "STORY", json!({})).await;
    app.create_rule(json!({"postTypes": [], "count": 1, "repeatable": true}))
        .await;
    let c = app.create_creator("before@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;

    let pool = crate::common::any_pool(&app.db.url).await;
    sqlx::query(&format!(
        "UPDATE creators SET email = 'after@example.com' WHERE id = '{cid}'"
    ))
    .execute(&pool)
    .await
    .expect("update");
    app.post_media(cid, "STORY", json!({})).await;
    let got = rx.wait_for(3, WAIT).await;
    let emails: Vec<String> = got
        .iter()
        .map(|w| w.json()["email"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        emails.iter().filter(|e| *e == "before@example.com").count(),
        2,
        "{emails:?}"
    );
    assert_eq!(
        emails.iter().filter(|e| *e == "after@example.com").count(),
        1,
        "{emails:?}"
    );

    // Deleted behind its back (with its one post, made before any rule), the other creator is
    // unknown at once.
    sqlx::query(&format!("DELETE FROM media WHERE creator_id = '{gone}'"))
        .execute(&pool)
        .await
        .expect("delete its post");
    sqlx::query(&format!("DELETE FROM creators WHERE id = '{gone}'"))
        .execute(&pool)
        .await
        .expect("delete the creator");
    let (status, body) = app
        .post("/v1/media", json!({"creatorId": gone, "postType": "STORY"}))
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "unknown_creator"
    );
    app.stop().await;
}
