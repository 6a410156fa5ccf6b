//! `lc-webhooks import`, run as a separate process, writes posts a running service picks up.

use std::time::Duration;

use crate::common::{Backend, Receiver, TestApp, WAIT};
use axum::http::StatusCode;
use serde_json::json;

both_stores!(
    imported_posts_are_noticed_by_the_running_service,
    api_writes_during_a_large_import_all_succeed,
);

/// `lc-webhooks import --file <file>` against the app's database.
fn import_command(app: &TestApp, file: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lc-webhooks"));
    command
        .arg("import")
        .arg("--file")
        .arg(file)
        .arg("--database-url")
        .arg(&app.db.url)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn");
    command
}

async fn imported_posts_are_noticed_by_the_running_service(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "import-key", json!({}))
        .await;
    // Imported posts are tagged once each, by the evaluation that takes them from the inbox.
    let tagged = Receiver::always(200).await;
    app.create_integration(
        &tagged.url(),
        "import-key",
        json!({"eventTypes": ["post.tagged"]}),
    )
    .await;
    app.create_rule(json!({})).await;
    let c = app
        .create_creator("imported@example.com", Some("imp"), None)
        .await;
    let cid = c["id"].as_str().unwrap();

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("posts.jsonl");
    let lines = [
        json!({"creatorId": cid, "postType": "STORY", "postedAt": "2024-05-01T10:00:00.123456"}),
        json!({"creatorId": cid, "postType": "STORY", "postedAt": "2024-05-02T10:00:00Z"}),
    ]
    .iter()
    .map(|l| l.to_string())
    .collect::<Vec<_>>()
    .join("\n");
    std::fs::write(&file, lines + "\n").expect("write posts");

    let out = import_command(&app, &file)
        .output()
        .await
        .expect("run lc-webhooks import");
    assert!(
        out.status.success(),
        "import failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let got = rx.wait_for(1, WAIT).await;
    let got = if got.len() == 1 {
        rx.assert_exactly(1).await
    } else {
        got
    };
    assert_eq!(got.len(), 1, "imported posts earned more than once");
    let body = got[0].json();
    assert_eq!(body["email"], "imported@example.com");
    let medias = body["medias"].as_array().unwrap();
    assert_eq!(medias.len(), 2);
    assert_eq!(medias[0]["postedAt"], "2024-05-01T10:00:00.123456");
    assert_eq!(medias[1]["postedAt"], "2024-05-02T10:00:00.000000");
    // The posts are visible through the API with the ids the webhook names.
    let listed = crate::common::items(app.get_ok(&format!("/v1/media?creatorId={cid}")).await);
    assert_eq!(listed.len(), 2);
    for m in medias {
        assert!(listed.iter().any(|l| l["id"] == m["lcId"]), "{m}");
    }
    let mut tagged_posts: Vec<String> = tagged
        .assert_exactly(2)
        .await
        .iter()
        .map(|r| {
            assert_eq!(r.header("lc-event-type").as_deref(), Some("post.tagged"));
            r.json()["medias"][0]["lcId"]
                .as_str()
                .expect("the post")
                .to_string()
        })
        .collect();
    tagged_posts.sort();
    let mut ids: Vec<String> = listed
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    assert_eq!(tagged_posts, ids, "one post.tagged per imported post");
    app.stop().await;
}

/// Another process (`import`) writing the same database at the same time: on SQLite the two
/// contend for the file's one write lock. Every API write must still succeed: a lock is waited
/// for, never reported as `database is locked`.
async fn api_writes_during_a_large_import_all_succeed(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "import-key", json!({}))
        .await;
    app.create_rule(json!({"postTypes": [], "count": 1, "repeatable": true}))
        .await;
    let c = app.create_creator("both@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap().to_string();

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("posts.jsonl");
    let imported = 10_000;
    let line = json!({"creatorId": cid, "postType": "FEED"}).to_string() + "\n";
    std::fs::write(&file, line.repeat(imported)).expect("write posts");
    let mut import = import_command(&app, &file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run lc-webhooks import");
    // Rounds of eight API writes at once (a creator and seven posts) for as long as the import runs.
    let mut failures = Vec::new();
    let mut rounds = 0;
    let status = loop {
        let batch: Vec<_> = (0..8)
            .map(|i| {
                let app = &app;
                let body = if i == 0 {
                    json!({"email": format!("c{rounds}@example.com")})
                } else {
                    json!({"creatorId": cid, "postType": "STORY"})
                };
                let path = if i == 0 { "/v1/creators" } else { "/v1/media" };
                async move { app.post(path, body).await }
            })
            .collect();
        for (status, body) in futures::future::join_all(batch).await {
            if status != StatusCode::CREATED {
                failures.push(format!("{status}: {body}"));
            }
        }
        rounds += 1;
        if let Some(status) = import.try_wait().expect("import status") {
            break status;
        }
    };
    assert!(status.success(), "import failed: {status}");
    assert!(
        rounds > 1,
        "the import ended before the API wrote beside it"
    );
    assert!(
        failures.is_empty(),
        "API writes failed beside the import: {failures:?}"
    );
    let expected = imported + rounds * 7;
    rx.wait_for(expected, Duration::from_secs(120)).await;
    rx.assert_exactly(expected).await;
    app.stop().await;
}
