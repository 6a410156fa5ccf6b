//! `lc-webhooks import`, run as a separate process, writes posts a running service picks up.

mod common;

use common::{Backend, Receiver, TestApp, WAIT};
use serde_json::json;

both_stores!(imported_posts_are_noticed_by_the_running_service);

async fn imported_posts_are_noticed_by_the_running_service(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "import-key", json!({}))
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
    let listed = common::items(app.get_ok(&format!("/v1/media?creatorId={cid}")).await);
    assert_eq!(listed.len(), 2);
    for m in medias {
        assert!(listed.iter().any(|l| l["id"] == m["lcId"]), "{m}");
    }
    app.stop().await;
}
