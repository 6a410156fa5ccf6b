//! The delivery log reads newest first, the other way on request, and within a time range; each
//! delivery names the creator and the rule of its reward, and the email filter ignores case.

use crate::common::{assert_error, items, wait_until, Backend, Receiver, TestApp, WAIT};
use axum::http::StatusCode;
use serde_json::{json, Value};

both_stores!(
    the_delivery_log_is_newest_first_unless_asked_otherwise,
    a_time_range_narrows_the_delivery_log,
    a_delivery_names_the_creator_and_the_rule_of_its_reward,
    the_email_filter_ignores_case,
);

/// Five test sends, oldest first, a few milliseconds apart: their delivery ids.
async fn five_deliveries(app: &TestApp) -> Vec<String> {
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), "log-key", json!({}))
        .await;
    let iid = i["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = app
            .post_ok(
                &format!("/v1/integrations/{iid}/test"),
                json!({}),
                StatusCode::OK,
            )
            .await;
        ids.push(r["deliveryId"].as_str().unwrap().to_string());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    wait_until(WAIT, "five settled deliveries", || async {
        let d = app.deliveries("status=succeeded").await;
        (d.len() == 5).then_some(())
    })
    .await;
    ids
}

fn ids(page: &[Value]) -> Vec<String> {
    page.iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of `path` (which has a query already), two at a time.
async fn walk(app: &TestApp, path: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = match &cursor {
            None => app.get_ok(&format!("{path}&limit=2")).await,
            Some(c) => app.get_ok(&format!("{path}&limit=2&cursor={c}")).await,
        };
        all.extend(ids(&items(page.clone())));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return all,
        }
    }
}

async fn the_delivery_log_is_newest_first_unless_asked_otherwise(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let oldest_first = five_deliveries(&app).await;
    let mut newest_first = oldest_first.clone();
    newest_first.reverse();
    assert_eq!(ids(&app.deliveries("").await), newest_first);
    assert_eq!(walk(&app, "/v1/deliveries?order=desc").await, newest_first);
    assert_eq!(walk(&app, "/v1/deliveries?order=asc").await, oldest_first);
    assert_eq!(
        walk(&app, "/v1/deliveries?status=succeeded&order=asc").await,
        oldest_first
    );
    assert_eq!(
        walk(&app, "/v1/deliveries?status=succeeded").await,
        newest_first
    );
    let (s, v) = app.get("/v1/deliveries?order=newest").await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

async fn a_time_range_narrows_the_delivery_log(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let all = five_deliveries(&app).await;
    let created = |id: &str| {
        let id = id.to_string();
        let app = &app;
        async move {
            app.delivery(&id).await["createdAt"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let second = created(&all[1]).await;
    let fourth = created(&all[3]).await;
    let encode = |t: &str| t.replace('+', "%2B");
    let range = format!(
        "/v1/deliveries?order=asc&createdAfter={}&createdBefore={}",
        encode(&second),
        encode(&fourth)
    );
    assert_eq!(
        walk(&app, &range).await,
        all[1..3].to_vec(),
        "[second, fourth)"
    );
    let after = format!("/v1/deliveries?order=asc&createdAfter={}", encode(&fourth));
    assert_eq!(walk(&app, &after).await, all[3..].to_vec());
    let before = format!("/v1/deliveries?createdBefore={}", encode(&second));
    assert_eq!(walk(&app, &before).await, vec![all[0].clone()]);
    let far = "/v1/deliveries?createdAfter=2999-01-01T00:00:00Z";
    assert!(app
        .deliveries(&far["/v1/deliveries?".len()..])
        .await
        .is_empty());
    let (s, v) = app.get("/v1/deliveries?createdAfter=yesterday").await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

/// A reward for `email` by the rule "2 Story posts": its delivery.
async fn rewarded(app: &TestApp, email: &str) -> Value {
    let creator = app.create_creator(email, None, None).await;
    let cid = creator["id"].as_str().unwrap();
    for _ in 0..2 {
        app.post_media(cid, "STORY", json!({})).await;
    }
    let f = wait_until(WAIT, "the reward", || async {
        app.fulfillments(&format!("creatorId={cid}")).await.pop()
    })
    .await;
    let fid = f["id"].as_str().unwrap().to_string();
    let delivery = wait_until(WAIT, "its delivery", || async {
        app.deliveries(&format!("fulfillmentId={fid}")).await.pop()
    })
    .await;
    delivery
}

async fn a_delivery_names_the_creator_and_the_rule_of_its_reward(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app
        .create_integration(&rx.url(), "names-key", json!({}))
        .await;
    let rule = app.create_rule(json!({})).await;
    let listed = rewarded(&app, "ana@example.com").await;
    assert_eq!(listed["creatorEmail"], "ana@example.com", "{listed}");
    assert_eq!(listed["ruleName"], "2 Story posts", "{listed}");
    let id = listed["id"].as_str().unwrap();
    let detail = app.wait_delivery_status(id, "succeeded").await;
    assert_eq!(detail["creatorEmail"], "ana@example.com");
    assert_eq!(detail["ruleName"], "2 Story posts");
    // Every status filter reads them, and a deleted rule keeps its name in the log.
    let (s, _) = app
        .delete(&format!("/v1/rules/{}", rule["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let succeeded = app.deliveries("status=succeeded").await;
    assert_eq!(succeeded[0]["ruleName"], "2 Story posts");
    assert_eq!(succeeded[0]["creatorEmail"], "ana@example.com");
    // A Test send has neither.
    let iid = i["id"].as_str().unwrap();
    let t = app
        .post_ok(
            &format!("/v1/integrations/{iid}/test"),
            json!({}),
            StatusCode::OK,
        )
        .await;
    let test = app.delivery(t["deliveryId"].as_str().unwrap()).await;
    assert!(test["creatorEmail"].is_null(), "{test}");
    assert!(test["ruleName"].is_null(), "{test}");
    assert!(app.deliveries("").await[0]["ruleName"].is_null());
    app.stop().await;
}

async fn the_email_filter_ignores_case(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "case-key", json!({}))
        .await;
    app.create_rule(json!({})).await;
    let ana = rewarded(&app, "ana@example.com").await;
    let bea = rewarded(&app, "Bea@Example.COM").await;
    for (query, expected) in [
        ("ana@example.com", &ana),
        ("Ana@Example.com", &ana),
        ("ANA@EXAMPLE.COM", &ana),
        ("bea@example.com", &bea),
        ("Bea@Example.COM", &bea),
    ] {
        let found = app.deliveries(&format!("email={query}")).await;
        assert_eq!(ids(&found), ids(std::slice::from_ref(expected)), "{query}");
    }
    assert!(app.deliveries("email=cara@example.com").await.is_empty());
    app.stop().await;
}
