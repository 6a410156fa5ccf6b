//! What happens to an integration's key hint and to the rules that name it.

use crate::common::{items, Backend, Receiver, TestApp, SETTLE, WAIT};
use axum::http::StatusCode;
use lc_webhooks::dispatch::RetrySchedule;
use serde_json::json;

both_stores!(
    the_key_hint_shows_a_quarter_of_the_key_at_most_and_its_length,
    deleting_an_integration_takes_it_out_of_the_rules_that_name_it,
    deleting_an_integration_while_its_results_are_recorded_succeeds,
);

/// `apiKeyHint` shows min(4, length / 4) of the key's last characters from 8 characters on, and
/// `apiKeyLength` its length, on every answer and after the key changes.
async fn the_key_hint_shows_a_quarter_of_the_key_at_most_and_its_length(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for (key, hint) in [
        ("k2", "…"),
        ("seven_7", "…"),
        ("eight__8", "…_8"),
        ("sk_test_123", "…23"),
        ("twelve_chars", "…ars"),
        ("sk_test_long_enough", "…ough"),
    ] {
        let i = app
            .create_integration("http://127.0.0.1:9/h", key, json!({}))
            .await;
        let length = key.len();
        assert_eq!(i["apiKeyHint"], hint, "key of {length} characters: {i}");
        assert_eq!(i["apiKeyLength"], length, "{i}");
        let id = i["id"].as_str().unwrap();
        let shown = app.get_ok(&format!("/v1/integrations/{id}")).await;
        assert_eq!(shown["apiKeyHint"], hint);
        assert_eq!(shown["apiKeyLength"], length);
        let listed = items(app.get_ok("/v1/integrations?limit=500").await);
        let listed = listed.iter().find(|l| l["id"] == id).expect("listed");
        assert_eq!(listed["apiKeyHint"], hint);
        assert_eq!(listed["apiKeyLength"], length);
    }
    let i = app
        .create_integration("http://127.0.0.1:9/h", "sk_test_123", json!({}))
        .await;
    let (s, v) = app
        .patch(
            &format!("/v1/integrations/{}", i["id"].as_str().unwrap()),
            json!({"apiKey": "sk_live_rotated_0987"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["apiKeyHint"], "…0987", "{v}");
    assert_eq!(v["apiKeyLength"], 20, "{v}");
    app.stop().await;
}

async fn deleting_an_integration_takes_it_out_of_the_rules_that_name_it(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let kept = Receiver::always(200).await;
    let gone = Receiver::always(200).await;
    let ik = app
        .create_integration(&kept.url(), "key-kept", json!({}))
        .await;
    let ig = app
        .create_integration(&gone.url(), "key-gone", json!({}))
        .await;
    let both = app
        .create_rule(json!({"name": "both", "integrationIds": [ik["id"], ig["id"]]}))
        .await;
    let only = app
        .create_rule(
            json!({"name": "only gone", "postTypes": ["REEL"], "count": 1,
                            "integrationIds": [ig["id"]]}),
        )
        .await;
    let (s, v) = app
        .delete(&format!("/v1/integrations/{}", ig["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");

    let both = app
        .get_ok(&format!("/v1/rules/{}", both["id"].as_str().unwrap()))
        .await;
    assert_eq!(both["integrationIds"], json!([ik["id"]]), "{both}");
    let only_id = only["id"].as_str().unwrap();
    let only = app.get_ok(&format!("/v1/rules/{only_id}")).await;
    assert_eq!(
        only["integrationIds"],
        json!([]),
        "a rule whose list empties targets nothing, it is not widened to all: {only}"
    );
    // The rule can be edited again, and its list stays empty.
    let (s, v) = app
        .patch(&format!("/v1/rules/{only_id}"), json!({"name": "renamed"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["integrationIds"], json!([]));

    let c = app.create_creator("c@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "REEL", json!({})).await;
    crate::common::wait_until(WAIT, "the REEL reward", || async {
        let f = app.fulfillments(&format!("creatorId={cid}")).await;
        (!f.is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    let f = app.fulfillments(&format!("creatorId={cid}")).await;
    let d = app
        .deliveries(&format!("fulfillmentId={}", f[0]["id"].as_str().unwrap()))
        .await;
    assert!(d.is_empty(), "the emptied rule sent to someone: {d:?}");
    assert_eq!(kept.count(), 0);
    assert_eq!(gone.count(), 0);
    assert_eq!(items(app.get_ok("/v1/integrations").await).len(), 1);
    app.stop().await;
}

/// The deletion settles every pending delivery of the integration while the dispatcher records
/// results for the same rows (a fast retry schedule against a closed port): it must not fail
/// (on PostgreSQL it once lost a deadlock and answered 500).
async fn deleting_an_integration_while_its_results_are_recorded_succeeds(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        let delays = vec!["10ms"; 300].join(",");
        s.retry_schedule = RetrySchedule::parse(&delays).expect("schedule");
    })
    .await
    else {
        return;
    };
    app.create_rule(
        json!({"postTypes": [], "count": 1, "repeatable": true, "reward": {"type": "NONE"}}),
    )
    .await;
    let c = app.create_creator("busy@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    for round in 0..6 {
        let i = app
            .create_integration(&crate::common::closed_port_url(), "k", json!({}))
            .await;
        let posts: Vec<_> = (0..200)
            .map(|_| json!({"creatorId": cid, "postType": "STORY"}))
            .collect();
        app.post_ok(
            "/v1/media/batch",
            json!({"media": posts}),
            StatusCode::CREATED,
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let (s, v) = app
            .delete(&format!("/v1/integrations/{}", i["id"].as_str().unwrap()))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "round {round}: {v}");
        let pending = app
            .deliveries(&format!(
                "integrationId={}&status=pending",
                i["id"].as_str().unwrap()
            ))
            .await;
        assert!(
            pending.is_empty(),
            "round {round}: still pending after the deletion: {pending:?}"
        );
    }
    app.stop().await;
}
