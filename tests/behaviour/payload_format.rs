//! An integration takes the seed's body (`medias`, the default) or LoudCrowd's later one
//! (`posts`, with platforms), byte for byte, the same bytes on every retry.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_error, Backend, Receiver, Reply, Script, TestApp};

both_stores!(
    each_integration_gets_its_format_byte_for_byte_on_every_attempt,
    the_test_send_uses_the_integrations_format,
    an_unknown_format_is_refused_and_changes_nothing,
);

async fn each_integration_gets_its_format_byte_for_byte_on_every_attempt(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let medias_rx = Receiver::always(200).await;
    let posts_rx = Receiver::start(Script::first(vec![Reply::status(500)], Reply::ok())).await;
    let m = app
        .create_integration(&medias_rx.url(), "k", json!({}))
        .await;
    assert_eq!(m["payloadFormat"], "medias", "the default");
    let p = app
        .create_integration(&posts_rx.url(), "k", json!({"payloadFormat": "posts"}))
        .await;
    assert_eq!(p["payloadFormat"], "posts");
    app.create_rule(json!({})).await;
    let c = app
        .create_creator("fmt@example.com", Some("ig.fmt"), Some("tt.fmt"))
        .await;
    let cid = c["id"].as_str().expect("id");
    let tiktok = app
        .post_media(
            cid,
            "STORY",
            json!({"platform": "TIKTOK", "postedAt": "2024-05-01T10:00:00Z"}),
        )
        .await;
    let insta = app
        .post_media(
            cid,
            "STORY",
            json!({"platform": "INSTAGRAM", "postedAt": "2024-05-02T10:00:00.5Z"}),
        )
        .await;

    let medias = medias_rx.assert_exactly(1).await;
    let posts = posts_rx.assert_exactly(2).await;
    let f = &app.fulfillments("").await[0];
    let fields = |list: &str, extra: bool| {
        let item = |m: &Value, at: &str, platform: &str| {
            let mut v = json!({"lcId": m["id"], "postedAt": at, "postType": "STORY"});
            if extra {
                v["platform"] = json!(platform);
            }
            v
        };
        let mut body = json!({
            "lcId": f["id"],
            "email": "fmt@example.com",
            "igUsername": "ig.fmt",
            "ttUsername": "tt.fmt",
            "discountCode": f["discountCode"],
        });
        body[list] = json!([
            item(&tiktok, "2024-05-01T10:00:00.000000", "tik_tok"),
            item(&insta, "2024-05-02T10:00:00.500000", "instagram"),
        ]);
        serde_json::to_string(&body).expect("json")
    };
    assert_eq!(
        medias[0].text(),
        fields("medias", false),
        "the seed's body, as before"
    );
    assert_eq!(posts[0].text(), fields("posts", true));
    assert_eq!(
        posts[1].body, posts[0].body,
        "the retry sends the same bytes"
    );
    assert_eq!(
        serde_json::to_string(&f["payload"]).expect("json"),
        fields("medias", false),
        "the fulfillment keeps the seed's body"
    );
    let logged = app
        .deliveries(&format!("integrationId={}", p["id"].as_str().expect("id")))
        .await;
    let detail = app.delivery(logged[0]["id"].as_str().expect("id")).await;
    assert_eq!(
        serde_json::to_string(&detail["payload"]).expect("json"),
        posts[0].text()
    );
    app.stop().await;
}

async fn the_test_send_uses_the_integrations_format(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), "k", json!({"payloadFormat": "posts"}))
        .await;
    let id = i["id"].as_str().expect("id");
    app.post_ok(
        &format!("/v1/integrations/{id}/test"),
        json!({"posts": [{"lcId": "p1", "platform": "tik_tok"}]}),
        StatusCode::OK,
    )
    .await;
    let got = rx.wait_for(1, crate::common::WAIT).await;
    let body = got[0].json();
    assert_eq!(body["posts"][0]["lcId"], "p1");
    assert_eq!(body["posts"][0]["platform"], "tik_tok");
    assert!(body.get("medias").is_none(), "{body}");

    let changed = app
        .patch(
            &format!("/v1/integrations/{id}"),
            json!({"payloadFormat": "medias"}),
        )
        .await
        .1;
    assert_eq!(changed["payloadFormat"], "medias");
    app.post_ok(
        &format!("/v1/integrations/{id}/test"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    let got = rx.wait_for(2, crate::common::WAIT).await;
    let sample = got[1].json();
    assert_eq!(sample["medias"][0]["postType"], "STORY");
    assert!(sample["medias"][0].get("platform").is_none());
    app.stop().await;
}

async fn an_unknown_format_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    for bad in [json!("POSTS"), json!("json"), json!(""), json!(1)] {
        let (status, body) = app
            .post(
                "/v1/integrations",
                json!({"name": "x", "url": rx.url(), "apiKey": "k", "payloadFormat": bad}),
            )
            .await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(app.get_ok("/v1/integrations").await["items"], json!([]));
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id");
    let (status, body) = app
        .patch(
            &format!("/v1/integrations/{id}"),
            json!({"payloadFormat": "post", "name": "renamed"}),
        )
        .await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_payload_format");
    let after = app.get_ok(&format!("/v1/integrations/{id}")).await;
    assert_eq!(after["payloadFormat"], "medias");
    assert_eq!(after["name"], i["name"]);
    app.stop().await;
}
