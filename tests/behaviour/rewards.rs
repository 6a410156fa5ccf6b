//! Rules turn posts into rewards, and each reward reaches the receivers as the seed payload.

use crate::common::{verify_signature, wait_until, Backend, Receiver, TestApp, SETTLE, WAIT};
use serde_json::{json, Value};

both_stores!(
    two_story_posts_send_exactly_one_webhook_with_the_seed_payload,
    custom_auth_header_and_prefix_are_honoured,
    feed_post_does_not_count_toward_a_story_rule,
    third_story_earns_nothing_more_under_a_non_repeatable_rule,
    repeatable_rule_earns_again_after_count_more_posts,
    window_days_excludes_posts_too_far_apart,
    platforms_filter_ignores_other_platforms,
    reward_none_sends_null_discount_code,
    integration_ids_limit_the_targets,
    inactive_rule_counts_nothing,
    signed_integration_gets_a_verifiable_signature,
    unsigned_integration_gets_no_signature,
    inactive_integration_gets_nothing,
    posts_from_before_the_rule_existed_do_not_count,
    one_batch_over_many_creators_and_rules_counts_each_pair_alone,
);

const KEY: &str = "test-api-key-0001";

/// Waits until the creator has `n` fulfillments, then checks nothing more appears.
/// A receiver, an integration pointing at it with `KEY`, the Story rule with `rule` merged in,
/// and one creator (`c@example.com`), whose id is returned.
async fn one_creator_and_rule(
    backend: Backend,
    rule: Value,
) -> Option<(TestApp, Receiver, String)> {
    let app = TestApp::start(backend).await?;
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), KEY, json!({})).await;
    app.create_rule(rule).await;
    let c = app.create_creator("c@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap().to_string();
    Some((app, rx, cid))
}

async fn exactly_fulfillments(app: &TestApp, creator_id: &str, n: usize) -> Vec<Value> {
    let q = format!("creatorId={creator_id}");
    wait_until(WAIT, &format!("{n} fulfillments"), || {
        let q = q.clone();
        async move {
            let f = app.fulfillments(&q).await;
            (f.len() >= n).then_some(())
        }
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    let f = app.fulfillments(&q).await;
    assert_eq!(f.len(), n, "expected exactly {n} fulfillments: {f:?}");
    f
}

fn is_seed_time(s: &str) -> bool {
    // YYYY-MM-DDTHH:MM:SS.ffffff
    let b = s.as_bytes();
    b.len() == 26
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            _ => c.is_ascii_digit(),
        })
}

async fn two_story_posts_send_exactly_one_webhook_with_the_seed_payload(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), KEY, json!({})).await;
    let rule = app.create_rule(json!({})).await;
    let creator = app
        .create_creator("creator@example.com", Some("insta.user"), None)
        .await;
    let cid = creator["id"].as_str().unwrap();
    let m1 = app
        .post_media(
            cid,
            "STORY",
            json!({"postedAt": "2022-04-12T11:18:20.902164"}),
        )
        .await;
    let m2 = app
        .post_media(cid, "STORY", json!({"postedAt": "2022-04-13T08:00:00Z"}))
        .await;

    let got = rx.assert_exactly(1).await;
    let hook = &got[0];
    assert_eq!(hook.method, "POST");
    assert_eq!(
        hook.header("authorization").as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert!(hook
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    let ua = hook.header("user-agent").unwrap_or_default();
    assert!(ua.starts_with("lc-webhooks/"), "user-agent {ua}");
    let ts: i64 = hook
        .header("webhook-timestamp")
        .expect("webhook-timestamp")
        .parse()
        .expect("unix seconds");
    let now = chrono::Utc::now().timestamp();
    assert!((now - ts).abs() < 60, "webhook-timestamp {ts} vs now {now}");

    // Exactly these keys, in this order, and each media exactly lcId, postedAt, postType.
    let text = hook.text();
    assert_eq!(
        crate::common::keys_in_order(&text),
        crate::common::PAYLOAD_KEYS,
        "{text}"
    );

    let body = hook.json();
    let fulfillments = exactly_fulfillments(&app, cid, 1).await;
    let f = &fulfillments[0];
    assert_eq!(f["ruleId"], rule["id"]);
    assert_eq!(body["lcId"], f["id"], "lcId is the fulfillment id");
    assert_eq!(body["email"], "creator@example.com");
    assert_eq!(body["igUsername"], "insta.user");
    assert_eq!(body["ttUsername"], Value::Null);
    let code = body["discountCode"].as_str().expect("a discount code");
    assert!(!code.is_empty());
    assert_eq!(f["discountCode"], body["discountCode"]);
    let medias = body["medias"].as_array().expect("medias");
    assert_eq!(medias.len(), 2);
    assert_eq!(medias[0]["lcId"], m1["id"], "oldest first");
    assert_eq!(medias[1]["lcId"], m2["id"]);
    assert_eq!(medias[0]["postedAt"], "2022-04-12T11:18:20.902164");
    assert_eq!(medias[1]["postedAt"], "2022-04-13T08:00:00.000000");
    for m in medias {
        assert_eq!(m["postType"], "STORY");
        assert!(is_seed_time(m["postedAt"].as_str().unwrap()), "{m}");
    }

    #[derive(serde::Deserialize)]
    struct RawMedias<'a> {
        #[serde(borrow)]
        medias: Vec<&'a serde_json::value::RawValue>,
    }
    let raw: RawMedias = serde_json::from_str(&text).expect("medias");
    for m in raw.medias {
        assert_eq!(
            crate::common::keys_in_order(m.get()),
            ["lcId", "postedAt", "postType"]
        );
    }

    // The webhook-id is the delivery's id; the stored payload is what was sent.
    let deliveries = app
        .deliveries(&format!("fulfillmentId={}", f["id"].as_str().unwrap()))
        .await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        hook.header("webhook-id").as_deref(),
        deliveries[0]["id"].as_str()
    );
    let d = app
        .wait_delivery_status(deliveries[0]["id"].as_str().unwrap(), "succeeded")
        .await;
    assert_eq!(d["payload"], body);
    assert_eq!(d["lastResponseStatus"], 200);
    app.stop().await;
}

async fn custom_auth_header_and_prefix_are_honoured(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(
        &rx.url(),
        KEY,
        json!({"authHeader": "X-Api-Key", "authPrefix": "Token "}),
    )
    .await;
    app.create_rule(json!({})).await;
    let c = app
        .create_creator("c@example.com", None, Some("tt.user"))
        .await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    let got = rx.assert_exactly(1).await;
    assert_eq!(
        got[0].header("x-api-key").as_deref(),
        Some(&*format!("Token {KEY}"))
    );
    assert_eq!(got[0].header("authorization"), None);
    let body = got[0].json();
    assert_eq!(body["igUsername"], Value::Null);
    assert_eq!(body["ttUsername"], "tt.user");
    app.stop().await;
}

async fn feed_post_does_not_count_toward_a_story_rule(backend: Backend) {
    let Some((app, rx, cid)) = one_creator_and_rule(backend, json!({})).await else {
        return;
    };
    let cid = cid.as_str();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "FEED", json!({})).await;
    app.post_media(cid, "REEL", json!({})).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rx.count(), 0, "a FEED or REEL post counted");
    assert!(app
        .fulfillments(&format!("creatorId={cid}"))
        .await
        .is_empty());
    // The second Story completes the rule.
    let story = app.post_media(cid, "STORY", json!({})).await;
    let got = rx.assert_exactly(1).await;
    let medias = got[0].json()["medias"].as_array().unwrap().clone();
    assert_eq!(medias.len(), 2);
    assert!(medias.iter().all(|m| m["postType"] == "STORY"));
    assert_eq!(medias[1]["lcId"], story["id"]);
    app.stop().await;
}

async fn third_story_earns_nothing_more_under_a_non_repeatable_rule(backend: Backend) {
    let Some((app, rx, cid)) = one_creator_and_rule(backend, json!({"repeatable": false})).await
    else {
        return;
    };
    let cid = cid.as_str();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    rx.wait_for(1, WAIT).await;
    for _ in 0..3 {
        app.post_media(cid, "STORY", json!({})).await;
    }
    exactly_fulfillments(&app, cid, 1).await;
    rx.assert_exactly(1).await;
    app.stop().await;
}

async fn repeatable_rule_earns_again_after_count_more_posts(backend: Backend) {
    let Some((app, rx, cid)) = one_creator_and_rule(backend, json!({"repeatable": true})).await
    else {
        return;
    };
    let cid = cid.as_str();
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(app.post_media(cid, "STORY", json!({})).await["id"].clone());
    }
    rx.wait_for(1, WAIT).await;
    // One more is not enough...
    ids.push(app.post_media(cid, "STORY", json!({})).await["id"].clone());
    exactly_fulfillments(&app, cid, 1).await;
    // ...two more earn a second reward with the two new posts and a different code.
    ids.push(app.post_media(cid, "STORY", json!({})).await["id"].clone());
    let fulfillments = exactly_fulfillments(&app, cid, 2).await;
    let got = rx.assert_exactly(2).await;
    let mut earned: Vec<Vec<Value>> = got
        .iter()
        .map(|r| {
            r.json()["medias"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["lcId"].clone())
                .collect()
        })
        .collect();
    earned.sort_by_key(|g| ids.iter().position(|i| *i == g[0]));
    assert_eq!(earned, vec![ids[0..2].to_vec(), ids[2..4].to_vec()]);
    assert_ne!(
        fulfillments[0]["discountCode"], fulfillments[1]["discountCode"],
        "discount codes are unique per fulfillment"
    );
    assert_ne!(got[0].json()["lcId"], got[1].json()["lcId"]);
    app.stop().await;
}

async fn window_days_excludes_posts_too_far_apart(backend: Backend) {
    let Some((app, rx, cid)) =
        one_creator_and_rule(backend, json!({"windowDays": 7, "repeatable": true})).await
    else {
        return;
    };
    let cid = cid.as_str();
    app.post_media(cid, "STORY", json!({"postedAt": "2024-03-01T12:00:00Z"}))
        .await;
    app.post_media(cid, "STORY", json!({"postedAt": "2024-03-11T12:00:00Z"}))
        .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rx.count(), 0, "posts 10 days apart shared a 7-day window");
    assert!(app
        .fulfillments(&format!("creatorId={cid}"))
        .await
        .is_empty());
    let third = app
        .post_media(cid, "STORY", json!({"postedAt": "2024-03-14T12:00:00Z"}))
        .await;
    let got = rx.assert_exactly(1).await;
    let medias = got[0].json()["medias"].as_array().unwrap().clone();
    assert_eq!(medias.len(), 2);
    assert_eq!(medias[0]["postedAt"], "2024-03-11T12:00:00.000000");
    assert_eq!(medias[1]["lcId"], third["id"]);

    // A backdated post still pairs with the old leftover within its window.
    let backdated = app
        .post_media(cid, "STORY", json!({"postedAt": "2024-02-27T12:00:00Z"}))
        .await;
    let got = rx.assert_exactly(2).await;
    let medias = got[1].json()["medias"].as_array().unwrap().clone();
    assert_eq!(medias.len(), 2);
    assert_eq!(medias[0]["lcId"], backdated["id"]);
    assert_eq!(medias[1]["postedAt"], "2024-03-01T12:00:00.000000");
    app.stop().await;
}

async fn platforms_filter_ignores_other_platforms(backend: Backend) {
    let Some((app, rx, cid)) =
        one_creator_and_rule(backend, json!({"platforms": ["TIKTOK"]})).await
    else {
        return;
    };
    let cid = cid.as_str();
    app.post_media(cid, "STORY", json!({})).await; // INSTAGRAM by default
    app.post_media(cid, "STORY", json!({"platform": "INSTAGRAM"}))
        .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        rx.count(),
        0,
        "INSTAGRAM posts counted toward a TIKTOK rule"
    );
    let t1 = app
        .post_media(cid, "STORY", json!({"platform": "TIKTOK"}))
        .await;
    assert_eq!(t1["platform"], "TIKTOK");
    let t2 = app
        .post_media(cid, "STORY", json!({"platform": "TIKTOK"}))
        .await;
    let got = rx.assert_exactly(1).await;
    let ids: Vec<Value> = got[0].json()["medias"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["lcId"].clone())
        .collect();
    assert_eq!(ids, vec![t1["id"].clone(), t2["id"].clone()]);
    app.stop().await;
}

async fn reward_none_sends_null_discount_code(backend: Backend) {
    let Some((app, rx, cid)) =
        one_creator_and_rule(backend, json!({"reward": {"type": "NONE"}})).await
    else {
        return;
    };
    let cid = cid.as_str();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    let got = rx.assert_exactly(1).await;
    let body = got[0].json();
    assert!(body.as_object().unwrap().contains_key("discountCode"));
    assert_eq!(body["discountCode"], Value::Null);
    let f = exactly_fulfillments(&app, cid, 1).await;
    assert_eq!(f[0]["discountCode"], Value::Null);
    app.stop().await;
}

async fn integration_ids_limit_the_targets(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let a = Receiver::always(200).await;
    let b = Receiver::always(200).await;
    let ia = app.create_integration(&a.url(), "key-a", json!({})).await;
    let ib = app.create_integration(&b.url(), "key-b", json!({})).await;
    app.create_rule(json!({"integrationIds": [ib["id"]]})).await;
    let c = app.create_creator("c@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    let got = b.assert_exactly(1).await;
    assert_eq!(
        got[0].header("authorization").as_deref(),
        Some("Bearer key-b")
    );
    assert_eq!(
        a.count(),
        0,
        "an integration the rule does not name got the webhook"
    );
    let f = exactly_fulfillments(&app, cid, 1).await;
    let d = app
        .deliveries(&format!("fulfillmentId={}", f[0]["id"].as_str().unwrap()))
        .await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["integrationId"], ib["id"]);
    assert_ne!(d[0]["integrationId"], ia["id"]);

    // Without integrationIds, every active integration gets it.
    let both = app.create_creator("both@example.com", None, None).await;
    let r2 = app
        .create_rule(json!({"name": "every post", "postTypes": ["REEL"], "count": 1}))
        .await;
    assert!(r2["integrationIds"].is_null());
    app.post_media(both["id"].as_str().unwrap(), "REEL", json!({}))
        .await;
    a.assert_exactly(1).await;
    b.assert_exactly(2).await;
    app.stop().await;
}

async fn inactive_rule_counts_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), KEY, json!({})).await;
    let rule = app.create_rule(json!({"active": false})).await;
    assert_eq!(rule["active"], false);
    let c = app.create_creator("c@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rx.count(), 0, "an inactive rule sent a webhook");
    assert!(app
        .fulfillments(&format!("creatorId={cid}"))
        .await
        .is_empty());

    // Posts made while it was inactive do not count after it is switched on either.
    let rid = rule["id"].as_str().unwrap();
    let (s, v) = app
        .patch(&format!("/v1/rules/{rid}"), json!({"active": true}))
        .await;
    assert_eq!(s, 200, "{v}");
    app.post_media(cid, "STORY", json!({})).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        rx.count(),
        0,
        "posts from while the rule was inactive counted"
    );
    app.post_media(cid, "STORY", json!({})).await;
    rx.assert_exactly(1).await;
    app.stop().await;
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn signed_integration_gets_a_verifiable_signature(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), KEY, json!({"signingSecret": SECRET}))
        .await;
    assert_eq!(i["signing"], true);
    app.create_rule(json!({})).await;
    let c = app.create_creator("c@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    let got = rx.assert_exactly(1).await;
    let h = &got[0];
    let id = h.header("webhook-id").expect("webhook-id");
    let ts = h.header("webhook-timestamp").expect("webhook-timestamp");
    let sig = h.header("webhook-signature").expect("webhook-signature");
    assert!(sig.starts_with("v1,"), "{sig}");
    assert!(
        verify_signature(SECRET, &id, &ts, &h.body, &sig),
        "signature {sig} does not verify"
    );
    // A tampered body or another secret does not verify.
    assert!(!verify_signature(SECRET, &id, &ts, b"{}", &sig));
    assert!(!verify_signature(
        "whsec_c2VjcmV0LW90aGVy",
        &id,
        &ts,
        &h.body,
        &sig
    ));
    let d = app.deliveries("").await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["id"].as_str(), Some(id.as_str()));
    app.stop().await;
}

async fn unsigned_integration_gets_no_signature(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app.create_integration(&rx.url(), KEY, json!({})).await;
    assert_eq!(i["signing"], false);
    app.create_rule(json!({})).await;
    let c = app.create_creator("c@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    let got = rx.assert_exactly(1).await;
    assert_eq!(got[0].header("webhook-signature"), None);
    assert!(got[0].header("webhook-id").is_some());
    assert!(got[0].header("webhook-timestamp").is_some());

    // Removing the secret of a signed integration stops signing (PATCH with null).
    let signed = app
        .post_ok(
            "/v1/integrations",
            json!({"name": "s", "url": rx.url(), "apiKey": KEY, "signingSecret": SECRET}),
            axum::http::StatusCode::CREATED,
        )
        .await;
    let (s, v) = app
        .patch(
            &format!("/v1/integrations/{}", signed["id"].as_str().unwrap()),
            json!({"signingSecret": null}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["signing"], false);
    app.stop().await;
}

async fn inactive_integration_gets_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let on = Receiver::always(200).await;
    let off = Receiver::always(200).await;
    app.create_integration(&on.url(), "on", json!({})).await;
    app.create_integration(&off.url(), "off", json!({"active": false}))
        .await;
    app.create_rule(json!({})).await;
    let c = app.create_creator("c@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    on.assert_exactly(1).await;
    assert_eq!(off.count(), 0, "an inactive integration got a webhook");
    app.stop().await;
}

async fn posts_from_before_the_rule_existed_do_not_count(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), KEY, json!({})).await;
    let c = app.create_creator("c@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    tokio::time::sleep(SETTLE).await;
    app.create_rule(json!({})).await;
    let first = app.post_media(cid, "STORY", json!({})).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rx.count(), 0, "posts from before the rule counted");
    let second = app.post_media(cid, "STORY", json!({})).await;
    let got = rx.assert_exactly(1).await;
    let ids: Vec<Value> = got[0].json()["medias"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["lcId"].clone())
        .collect();
    assert_eq!(ids, vec![first["id"].clone(), second["id"].clone()]);
    app.stop().await;
}

/// Evaluation counts a whole batch at once; each (rule, creator) pair must still earn exactly
/// what its own posts earn, with no post counted twice toward one rule.
async fn one_batch_over_many_creators_and_rules_counts_each_pair_alone(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), KEY, json!({})).await;
    let stories = app.create_rule(json!({"repeatable": true})).await;
    let any3 = app
        .create_rule(json!({"name": "3 posts", "postTypes": [], "count": 3}))
        .await;
    let mut creators = Vec::new();
    let mut media = Vec::new();
    for i in 0..20 {
        let c = app
            .create_creator(&format!("c{i}@example.com"), None, None)
            .await;
        let cid = c["id"].as_str().unwrap().to_string();
        // 5 Stories earn two "2 Story posts" rewards; 6 posts earn the one-off "3 posts" once.
        for post_type in ["STORY", "FEED", "STORY", "STORY", "STORY", "STORY"] {
            media.push(json!({"creatorId": cid, "postType": post_type}));
        }
        creators.push(cid);
    }
    app.post_ok(
        "/v1/media/batch",
        json!({ "media": media }),
        axum::http::StatusCode::CREATED,
    )
    .await;
    rx.wait_for(60, WAIT).await;
    rx.assert_exactly(60).await;
    for cid in &creators {
        let mine = app.fulfillments(&format!("creatorId={cid}")).await;
        let of = |rule: &Value| -> Vec<&Value> {
            mine.iter().filter(|f| f["ruleId"] == rule["id"]).collect()
        };
        let (pairs, once) = (of(&stories), of(&any3));
        assert_eq!((pairs.len(), once.len()), (2, 1), "creator {cid}: {mine:?}");
        let mut counted: Vec<&Value> = pairs
            .iter()
            .flat_map(|f| f["payload"]["medias"].as_array().unwrap())
            .map(|m| &m["lcId"])
            .collect();
        assert_eq!(counted.len(), 4);
        counted.sort_by_key(|v| v.to_string());
        counted.dedup();
        assert_eq!(
            counted.len(),
            4,
            "a Story counted twice toward one rule: {mine:?}"
        );
        assert_eq!(once[0]["payload"]["medias"].as_array().unwrap().len(), 3);
    }
    app.stop().await;
}
