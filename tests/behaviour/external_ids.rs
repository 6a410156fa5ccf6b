//! Posts identified by their platform id (`externalId`): one post per `(platform, externalId)`,
//! whether it comes again from a retry, a poller, another instance, the same batch or `import`.
//! A post sent again answers `200` with the post stored and counts nothing again.

use std::sync::Arc;

use crate::common::{assert_error, items, Backend, Receiver, TestApp, WAIT};
use axum::http::StatusCode;
use serde_json::{json, Value};

both_stores!(
    the_same_instagram_post_twice_counts_once,
    twenty_simultaneous_requests_with_one_external_id_store_one_post_and_count_it_once,
    a_batch_answers_a_repeated_post_with_the_one_stored,
    import_stores_a_post_once_per_external_id,
    the_same_external_id_on_two_platforms_is_two_posts,
    a_bad_external_id_or_media_type_is_refused_and_changes_nothing,
    a_post_without_external_id_twice_is_two_posts,
);

/// The posts stored, oldest first.
async fn posts(app: &TestApp) -> Vec<Value> {
    items(app.get_ok("/v1/media?limit=500").await)
}

async fn creator(app: &TestApp, email: &str) -> String {
    let c = app.create_creator(email, Some("ig.name"), None).await;
    c["id"].as_str().expect("creator id").to_string()
}

async fn the_same_instagram_post_twice_counts_once(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "twice-key", json!({}))
        .await;
    // Two Story posts earn a reward.
    app.create_rule(json!({})).await;
    let cid = creator(&app, "twice@example.com").await;
    let post = json!({"creatorId": cid, "postType": "STORY", "externalId": "17895695668004550",
                      "mediaType": "IMAGE"});

    let (s, first) = app.post("/v1/media", post.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["externalId"], "17895695668004550");
    assert_eq!(first["mediaType"], "IMAGE");
    let (s, again) = app.post("/v1/media", post.clone()).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the same post again is the one stored: {again}"
    );
    assert_eq!(again, first, "same id, same post");
    assert!(
        app.fulfillments(&format!("creatorId={cid}"))
            .await
            .is_empty(),
        "one real post is not two Story posts"
    );

    let other = app
        .post_media(&cid, "STORY", json!({"externalId": "17895695668004551"}))
        .await;
    assert_eq!(other["mediaType"], Value::Null);
    let f = app.fulfillments(&format!("creatorId={cid}")).await;
    assert_eq!(f.len(), 1, "{f:?}");
    // Sent a third time after the reward: still nothing new.
    let (s, third) = app.post("/v1/media", post).await;
    assert_eq!(s, StatusCode::OK, "{third}");
    assert_eq!(third["id"], first["id"]);
    assert_eq!(posts(&app).await.len(), 2);
    assert_eq!(app.fulfillments(&format!("creatorId={cid}")).await.len(), 1);

    let got = rx.assert_exactly(1).await;
    let body = got[0].json();
    let medias = body["medias"].as_array().expect("medias");
    assert_eq!(medias.len(), 2);
    assert_eq!(medias[0]["lcId"], first["id"]);
    for m in medias {
        assert!(
            m.get("externalId").is_none() && m.get("mediaType").is_none(),
            "the seed's body is unchanged: {m}"
        );
    }
    app.stop().await;
}

async fn twenty_simultaneous_requests_with_one_external_id_store_one_post_and_count_it_once(
    backend: Backend,
) {
    let Some(a) = TestApp::start(backend).await else {
        return;
    };
    // Two instances on one database, each taking half of the requests.
    let b = TestApp::start_on(a.db.clone(), |_| {})
        .await
        .expect("a second instance");
    let rx = Receiver::always(200).await;
    a.create_integration(&rx.url(), "twenty-key", json!({}))
        .await;
    let once = a
        .create_rule(json!({"name": "every post", "postTypes": [], "count": 1, "repeatable": true}))
        .await;
    let twice = a
        .create_rule(json!({"name": "two posts", "postTypes": [], "count": 2}))
        .await;
    let cid = creator(&a, "twenty@example.com").await;
    let client = reqwest::Client::new();
    let urls = Arc::new([a.url("/v1/media"), b.url("/v1/media")]);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (client, urls, cid) = (client.clone(), urls.clone(), cid.clone());
            tokio::spawn(async move {
                let resp = client
                    .post(urls[i % 2].as_str())
                    .json(&json!({"creatorId": cid, "postType": "REEL",
                                  "externalId": "C3xYz-one-reel", "mediaType": "VIDEO"}))
                    .send()
                    .await
                    .expect("post");
                let status = resp.status().as_u16();
                (status, resp.json::<Value>().await.expect("JSON"))
            })
        })
        .collect();
    let mut created = 0;
    let mut ids = Vec::new();
    for task in futures::future::join_all(tasks).await {
        let (status, body) = task.expect("task");
        match status {
            201 => created += 1,
            200 => {}
            other => panic!("answered {other}: {body}"),
        }
        ids.push(body["id"].clone());
    }
    assert_eq!(
        created, 1,
        "one request stored the post; the others got it back"
    );
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let stored = posts(&a).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["id"], ids[0]);
    assert_eq!(stored[0]["mediaType"], "VIDEO");
    let rule_id = |r: &Value| r["id"].as_str().expect("rule id").to_string();
    assert_eq!(
        a.fulfillments(&format!("ruleId={}", rule_id(&once)))
            .await
            .len(),
        1,
        "counted once by the one-post rule"
    );
    assert!(
        a.fulfillments(&format!("ruleId={}", rule_id(&twice)))
            .await
            .is_empty(),
        "one post is not two"
    );
    rx.wait_for(1, WAIT).await;
    rx.assert_exactly(1).await;
    b.stop().await;
    a.stop().await;
}

async fn a_batch_answers_a_repeated_post_with_the_one_stored(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "batch-key", json!({}))
        .await;
    app.create_rule(json!({"postTypes": [], "count": 1, "repeatable": true}))
        .await;
    let cid = creator(&app, "batch@example.com").await;
    let post = |id: Option<&str>| {
        let mut p = json!({"creatorId": cid, "postType": "FEED"});
        if let Some(id) = id {
            p["externalId"] = json!(id);
        }
        p
    };

    let (s, first) = app
        .post(
            "/v1/media/batch",
            json!({"media": [post(Some("a")), post(Some("a")), post(None), post(Some("b"))]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let first = items(first);
    assert_eq!(first.len(), 4, "one answer per post given");
    assert_eq!(first[0]["id"], first[1]["id"], "a repeat inside the batch");
    assert_ne!(first[0]["id"], first[3]["id"]);
    assert_eq!(first[2]["externalId"], Value::Null);
    assert_eq!(posts(&app).await.len(), 3);
    assert_eq!(app.fulfillments("limit=500").await.len(), 3);

    // Sent again: every post already stored.
    let (s, again) = app
        .post(
            "/v1/media/batch",
            json!({"media": [post(Some("b")), post(Some("a"))]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    let again = items(again);
    assert_eq!(again[0], first[3]);
    assert_eq!(again[1], first[0]);

    // A new post beside a stored one: the batch stores the new one only.
    let (s, mixed) = app
        .post(
            "/v1/media/batch",
            json!({"media": [post(Some("a")), post(Some("c"))]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{mixed}");
    let mixed = items(mixed);
    assert_eq!(mixed[0], first[0]);
    assert_eq!(mixed[1]["externalId"], "c");
    assert_eq!(posts(&app).await.len(), 4);
    assert_eq!(app.fulfillments("limit=500").await.len(), 4);
    rx.wait_for(4, WAIT).await;
    rx.assert_exactly(4).await;
    app.stop().await;
}

async fn import_stores_a_post_once_per_external_id(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "import-key", json!({}))
        .await;
    // Two Story posts earn a reward.
    app.create_rule(json!({})).await;
    let cid = creator(&app, "import-once@example.com").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("posts.jsonl");
    let line = |id: &str| {
        json!({"creatorId": cid, "postType": "STORY", "externalId": id, "mediaType": "IMAGE"})
            .to_string()
    };
    std::fs::write(
        &file,
        [line("p-1"), line("p-1"), line("p-2")].join("\n") + "\n",
    )
    .expect("write posts");
    let import = || async {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_lc-webhooks"))
            .arg("import")
            .arg("--file")
            .arg(&file)
            .arg("--database-url")
            .arg(&app.db.url)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .output()
            .await
            .expect("run lc-webhooks import");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "import failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };

    let out = import().await;
    assert!(out.contains("imported 2 posts; 1 already stored"), "{out}");
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["medias"].as_array().map(Vec::len), Some(2));

    // The same file again, and one of its posts through the API: nothing new.
    let out = import().await;
    assert!(out.contains("imported 0 posts; 3 already stored"), "{out}");
    let (s, body) = app
        .post(
            "/v1/media",
            json!({"creatorId": cid, "postType": "STORY", "externalId": "p-2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["mediaType"], "IMAGE", "the stored post: {body}");
    assert_eq!(posts(&app).await.len(), 2);
    rx.assert_exactly(1).await;
    assert_eq!(app.fulfillments("limit=500").await.len(), 1);
    app.stop().await;
}

async fn the_same_external_id_on_two_platforms_is_two_posts(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let cid = creator(&app, "platforms@example.com").await;
    let ig = app
        .post_media(&cid, "REEL", json!({"externalId": "7345"}))
        .await;
    let tt = app
        .post_media(
            &cid,
            "REEL",
            json!({"externalId": "7345", "platform": "TIKTOK"}),
        )
        .await;
    assert_ne!(ig["id"], tt["id"]);
    assert_eq!(ig["platform"], "INSTAGRAM");
    assert_eq!(tt["platform"], "TIKTOK");
    let (s, again) = app
        .post(
            "/v1/media",
            json!({"creatorId": cid, "postType": "REEL", "externalId": "7345", "platform": "TIKTOK"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["id"], tt["id"]);
    assert_eq!(posts(&app).await.len(), 2);
    app.stop().await;
}

async fn a_bad_external_id_or_media_type_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "bad-key", json!({}))
        .await;
    app.create_rule(json!({"postTypes": [], "count": 1, "repeatable": true}))
        .await;
    let cid = creator(&app, "bad@example.com").await;
    let with = |extra: Value| {
        let mut p = json!({"creatorId": cid, "postType": "STORY"});
        for (k, v) in extra.as_object().expect("an object") {
            p[k] = v.clone();
        }
        p
    };
    for (extra, code) in [
        (json!({"externalId": ""}), "invalid_external_id"),
        (
            json!({"externalId": "x".repeat(201)}),
            "invalid_external_id",
        ),
        (json!({"externalId": "a\nb"}), "invalid_external_id"),
        (json!({"externalId": "tab\there"}), "invalid_external_id"),
        (json!({"externalId": 12345}), "invalid_body"),
        (json!({"mediaType": "PHOTO"}), "invalid_body"),
        (json!({"mediaType": "image"}), "invalid_body"),
    ] {
        let body = with(extra.clone());
        let (s, v) = app.post("/v1/media", body.clone()).await;
        assert_eq!(
            assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY),
            code,
            "{extra}: {v}"
        );
        let (s, v) = app
            .post(
                "/v1/media/batch",
                json!({"media": [with(json!({"externalId": "fine"})), body]}),
            )
            .await;
        assert_eq!(
            assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY),
            code,
            "{extra}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("media[1]"), "names the post: {message}");
    }
    let (s, v) = app.post("/v1/media", with(json!({"externalId": ""}))).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("externalId")),
        "{v}"
    );
    assert!(posts(&app).await.is_empty(), "nothing was stored");
    assert!(app.fulfillments("limit=500").await.is_empty());

    // The edges that are fine: 200 characters, any printable ones, an unknown media type.
    let longest = app
        .post_media(
            &cid,
            "STORY",
            json!({"externalId": "é".repeat(200), "mediaType": null}),
        )
        .await;
    assert_eq!(longest["mediaType"], Value::Null);
    assert_eq!(posts(&app).await.len(), 1);
    rx.wait_for(1, WAIT).await;
    app.stop().await;
}

async fn a_post_without_external_id_twice_is_two_posts(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "plain-key", json!({}))
        .await;
    app.create_rule(json!({})).await;
    let cid = creator(&app, "plain@example.com").await;
    let body = json!({"postedAt": "2024-05-01T10:00:00Z"});
    let one = app.post_media(&cid, "STORY", body.clone()).await;
    let two = app.post_media(&cid, "STORY", body).await;
    assert_ne!(one["id"], two["id"]);
    assert_eq!(one["externalId"], Value::Null);
    assert_eq!(one["mediaType"], Value::Null);
    assert_eq!(posts(&app).await.len(), 2);
    assert_eq!(app.fulfillments(&format!("creatorId={cid}")).await.len(), 1);
    rx.assert_exactly(1).await;
    app.stop().await;
}
