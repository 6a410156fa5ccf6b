//! Event types: every webhook names its type in `lc-event-type`; an integration receives the
//! types it subscribes to (by default the two reward types, so a reward receiver sees exactly
//! what it saw before); membership changes and sales are events with their own bodies, written
//! with the change that causes them and delivered like rewards.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{
    assert_error, items, keys_in_order, wait_until, Backend, Received, Receiver, Reply, Script,
    TestApp, WAIT,
};

both_stores!(
    the_membership_lifecycle_arrives_in_order_to_subscribed_integrations_only,
    a_reward_receiver_sees_exactly_what_it_saw_before,
    the_same_order_id_twice_is_one_sale_and_one_event,
    an_unknown_event_type_is_refused_and_changes_nothing,
    each_signed_event_type_verifies_with_the_standard_webhooks_library,
    events_are_listed_by_type_and_creator_with_rewards_by_their_fulfillment,
    an_event_is_retried_under_one_webhook_id_and_can_be_replayed,
    one_order_sent_at_once_by_two_instances_is_one_sale_and_one_event,
    every_new_post_is_one_post_tagged_to_its_subscribers_only,
    without_a_post_tagged_subscriber_a_post_writes_no_event,
    the_test_send_sends_each_types_sample_with_its_header,
    a_test_send_of_an_unknown_type_is_refused_and_sends_nothing,
    the_delivery_log_is_filtered_by_event_type,
);

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const PROGRAM_TYPES: [&str; 4] = [
    "program.signed_up",
    "program.approved",
    "program.rejected",
    "program.removed",
];

async fn program(app: &TestApp, name: &str, approval: &str) -> String {
    let p = app
        .post_ok(
            "/v1/programs",
            json!({"name": name, "approval": approval}),
            StatusCode::CREATED,
        )
        .await;
    p["id"].as_str().expect("program id").to_string()
}

async fn creator(app: &TestApp, email: &str) -> String {
    let c = app.create_creator(email, Some("ig.user"), None).await;
    c["id"].as_str().expect("creator id").to_string()
}

/// `creator` signs up for `program` (a new member).
async fn sign_up(app: &TestApp, program: &str, creator: &str) {
    app.post_ok(
        &format!("/v1/programs/{program}/members"),
        json!({"creatorId": creator}),
        StatusCode::CREATED,
    )
    .await;
}

async fn set_status(app: &TestApp, program: &str, creator: &str, status: &str) {
    let (code, body) = app
        .patch(
            &format!("/v1/programs/{program}/members/{creator}"),
            json!({"status": status}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

/// The `lc-event-type` of each request, in arrival order.
fn types(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| r.header("lc-event-type").unwrap_or_default())
        .collect()
}

fn program_body(r: &Received, email: &str, program: &str, name: &str) {
    let body = r.json();
    assert_eq!(
        keys_in_order(&r.text()),
        ["lcId", "email", "igUsername", "ttUsername", "program"],
        "{body}"
    );
    assert_eq!(body["email"], email);
    assert_eq!(body["igUsername"], "ig.user");
    assert_eq!(body["ttUsername"], Value::Null);
    assert_eq!(body["program"], json!({"lcId": program, "name": name}));
}

async fn the_membership_lifecycle_arrives_in_order_to_subscribed_integrations_only(
    backend: Backend,
) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let members_rx = Receiver::always(200).await;
    let rewards_rx = Receiver::always(200).await;
    let sales_rx = Receiver::always(200).await;
    let m = app
        .create_integration(&members_rx.url(), "k", json!({"eventTypes": PROGRAM_TYPES}))
        .await;
    assert_eq!(m["eventTypes"], json!(PROGRAM_TYPES));
    let r = app
        .create_integration(&rewards_rx.url(), "k", json!({}))
        .await;
    assert_eq!(
        r["eventTypes"],
        json!(["reward.instant", "reward.monthly"]),
        "the default"
    );
    app.create_integration(
        &sales_rx.url(),
        "k",
        json!({"eventTypes": ["sale.created"]}),
    )
    .await;
    let p = program(&app, "Summer", "MANUAL").await;
    let ana = creator(&app, "ana@example.com").await;
    let bo = creator(&app, "bo@example.com").await;

    // Each move is awaited before the next, so their order is the order they happened in.
    let steps: [(&str, &str, Option<&str>); 4] = [
        (&ana, "program.signed_up", None),
        (&ana, "program.approved", Some("APPROVED")),
        (&bo, "program.signed_up", None),
        (&bo, "program.rejected", Some("REJECTED")),
    ];
    for (n, (who, _, status)) in steps.iter().enumerate() {
        match status {
            None => sign_up(&app, &p, who).await,
            Some(status) => set_status(&app, &p, who, status).await,
        }
        members_rx.wait_for(n + 1, WAIT).await;
    }
    set_status(&app, &p, &ana, "REMOVED").await;
    let got = members_rx.assert_exactly(5).await;
    assert_eq!(
        types(&got),
        [
            "program.signed_up",
            "program.approved",
            "program.signed_up",
            "program.rejected",
            "program.removed"
        ]
    );
    let emails = ["ana", "ana", "bo", "bo", "ana"];
    let mut ids = Vec::new();
    for (r, who) in got.iter().zip(emails) {
        program_body(r, &format!("{who}@example.com"), &p, "Summer");
        ids.push(r.json()["lcId"].as_str().expect("lcId").to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 5, "each event has its own id");
    rewards_rx.assert_exactly(0).await;
    assert_eq!(sales_rx.count(), 0, "nobody else gets membership events");

    // The log names each delivery's type and event; the events list has them in order.
    let log = app
        .deliveries(&format!(
            "integrationId={}&order=asc",
            m["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(log.len(), 5);
    for (d, r) in log.iter().zip(&got) {
        assert_eq!(
            d["eventType"].as_str(),
            r.header("lc-event-type").as_deref()
        );
        assert_eq!(d["eventId"], r.json()["lcId"]);
        assert_eq!(d["creatorEmail"], r.json()["email"]);
        assert_eq!(d["fulfillmentId"], Value::Null);
    }
    let events = items(app.get_ok("/v1/events").await);
    let listed: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(listed, ids);
    // The log's email filter finds a creator's events as it finds their rewards, whatever the case.
    let of_ana = app.deliveries("email=ANA@example.com&order=asc").await;
    let kinds: Vec<&str> = of_ana
        .iter()
        .filter_map(|d| d["eventType"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["program.signed_up", "program.approved", "program.removed"]
    );
    assert!(of_ana
        .iter()
        .all(|d| d["creatorEmail"] == "ana@example.com"));

    // Under AUTOMATIC approval a sign-up is approved at once: both events.
    let q = program(&app, "Auto", "AUTOMATIC").await;
    sign_up(&app, &q, &bo).await;
    let got = members_rx.assert_exactly(7).await;
    let mut last_two = types(&got[5..]);
    last_two.sort();
    assert_eq!(last_two, ["program.approved", "program.signed_up"]);
    // Signing up again while approved changes nothing and sends nothing.
    app.post_ok(
        &format!("/v1/programs/{q}/members"),
        json!({"creatorId": bo}),
        StatusCode::OK,
    )
    .await;
    members_rx.assert_exactly(7).await;
    app.stop().await;
}

async fn a_reward_receiver_sees_exactly_what_it_saw_before(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let everything = Receiver::always(200).await;
    app.create_integration(&rx.url(), "k", json!({})).await;
    let all: Vec<&str> = vec![
        "reward.instant",
        "reward.monthly",
        "program.signed_up",
        "program.approved",
        "program.rejected",
        "program.removed",
        "post.tagged",
        "sale.created",
    ];
    app.create_integration(&everything.url(), "k", json!({"eventTypes": all}))
        .await;
    app.create_rule(json!({})).await;
    let c = creator(&app, "r@example.com").await;
    let p = program(&app, "P", "AUTOMATIC").await;
    sign_up(&app, &p, &c).await;
    app.post_ok(
        "/v1/sales",
        json!({"creatorId": c, "orderId": "o-1", "amount": "1.00", "currency": "USD"}),
        StatusCode::CREATED,
    )
    .await;
    let m1 = app
        .post_media(&c, "STORY", json!({"postedAt": "2024-05-01T10:00:00Z"}))
        .await;
    let m2 = app
        .post_media(&c, "STORY", json!({"postedAt": "2024-05-02T10:00:00Z"}))
        .await;

    let got = rx.assert_exactly(1).await;
    let f = &app.fulfillments("").await[0];
    let expected = serde_json::to_string(&json!({
        "lcId": f["id"],
        "email": "r@example.com",
        "igUsername": "ig.user",
        "ttUsername": null,
        "discountCode": f["discountCode"],
        "medias": [
            {"lcId": m1["id"], "postedAt": "2024-05-01T10:00:00.000000", "postType": "STORY"},
            {"lcId": m2["id"], "postedAt": "2024-05-02T10:00:00.000000", "postType": "STORY"},
        ],
    }))
    .expect("json");
    assert_eq!(got[0].text(), expected, "the seed's body, byte for byte");
    assert_eq!(
        got[0].header("lc-event-type").as_deref(),
        Some("reward.instant")
    );
    assert_eq!(
        got[0].header("content-type").as_deref(),
        Some("application/json")
    );
    // The integration subscribed to everything got the reward too, with the same body.
    let all_got = everything.assert_exactly(6).await;
    let mut seen = types(&all_got);
    seen.sort();
    assert_eq!(
        seen,
        [
            "post.tagged",
            "post.tagged",
            "program.approved",
            "program.signed_up",
            "reward.instant",
            "sale.created"
        ]
    );
    let reward = all_got
        .iter()
        .find(|r| r.header("lc-event-type").as_deref() == Some("reward.instant"))
        .expect("the reward");
    assert_eq!(reward.text(), expected);
    let log = app.deliveries("").await;
    assert_eq!(log.len(), 7);
    assert!(log.iter().all(|d| d["eventType"].is_string()));
    app.stop().await;
}

async fn the_same_order_id_twice_is_one_sale_and_one_event(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "k", json!({"eventTypes": ["sale.created"]}))
        .await;
    let c = creator(&app, "shop@example.com").await;
    let sale = json!({
        "creatorId": c,
        "orderId": "order-1001",
        "amount": "12.5",
        "currency": "USD",
        "soldAt": "2026-11-30T12:00:00.25Z",
    });
    let first = app
        .post_ok("/v1/sales", sale.clone(), StatusCode::CREATED)
        .await;
    assert_eq!(first["amount"], "12.50", "exact, two places");
    assert_eq!(first["currency"], "USD");
    assert_eq!(first["orderId"], "order-1001");
    // The same order again, even with other values: the stored sale, and no second event.
    let mut again = sale.clone();
    again["amount"] = json!("99.99");
    let second = app.post_ok("/v1/sales", again, StatusCode::OK).await;
    assert_eq!(second, first);
    let got = rx.assert_exactly(1).await;
    assert_eq!(
        got[0].header("lc-event-type").as_deref(),
        Some("sale.created")
    );
    let body = got[0].json();
    assert_eq!(
        keys_in_order(&got[0].text()),
        ["lcId", "email", "igUsername", "ttUsername", "sale"]
    );
    assert_eq!(body["email"], "shop@example.com");
    assert_eq!(
        body["sale"],
        json!({
            "lcId": first["id"],
            "orderId": "order-1001",
            "amount": "12.50",
            "currency": "USD",
            "soldAt": "2026-11-30T12:00:00.250000",
        })
    );
    let sales = items(app.get_ok(&format!("/v1/sales?creatorId={c}")).await);
    assert_eq!(sales.len(), 1);
    assert_eq!(sales[0], first);
    let events = items(app.get_ok("/v1/events?type=sale.created").await);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["id"], body["lcId"]);
    assert_eq!(events[0]["payload"], body);

    // Bad sales are refused and change nothing; an unknown creator is a 409.
    for (field, value, code) in [
        ("amount", json!("12.345"), "invalid_amount"),
        ("amount", json!(12.5), "invalid_body"),
        ("amount", json!("-1.00"), "invalid_amount"),
        ("currency", json!("usd"), "invalid_currency"),
        ("orderId", json!(""), "invalid_order_id"),
        ("soldAt", json!("yesterday"), "invalid_sold_at"),
    ] {
        let mut bad = sale.clone();
        bad["orderId"] = json!("order-2");
        bad[field] = value;
        let (status, body) = app.post("/v1/sales", bad).await;
        let got = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(got, code, "{field}");
    }
    let mut unknown = sale.clone();
    unknown["orderId"] = json!("order-3");
    unknown["creatorId"] = json!("0190a000-0000-7000-8000-000000000000");
    let (status, body) = app.post("/v1/sales", unknown).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "unknown_creator"
    );
    assert_eq!(items(app.get_ok("/v1/sales").await).len(), 1);
    rx.assert_exactly(1).await;
    app.stop().await;
}

async fn an_unknown_event_type_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let (status, body) = app
        .post(
            "/v1/integrations",
            json!({"name": "x", "url": rx.url(), "apiKey": "k", "eventTypes": ["post.liked"]}),
        )
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_event_types"
    );
    assert!(items(app.get_ok("/v1/integrations").await).is_empty());
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id");
    let (status, body) = app
        .patch(
            &format!("/v1/integrations/{id}"),
            json!({"eventTypes": ["sale.created", "reward.yearly"]}),
        )
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_event_types"
    );
    let unchanged = app.get_ok(&format!("/v1/integrations/{id}")).await;
    assert_eq!(
        unchanged["eventTypes"],
        json!(["reward.instant", "reward.monthly"])
    );
    // A PATCH sets the whole list; an empty list receives nothing but Test sends.
    let (status, body) = app
        .patch(&format!("/v1/integrations/{id}"), json!({"eventTypes": []}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["eventTypes"], json!([]));
    app.create_rule(json!({"count": 1})).await;
    let c = creator(&app, "none@example.com").await;
    app.post_media(&c, "STORY", json!({})).await;
    rx.assert_exactly(0).await;
    let (status, _) = app.get("/v1/events?type=post.liked").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

async fn each_signed_event_type_verifies_with_the_standard_webhooks_library(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(
        &rx.url(),
        "k",
        json!({
            "signingSecret": SECRET,
            "eventTypes": ["reward.instant", "program.signed_up", "program.approved",
                "program.rejected", "program.removed", "post.tagged", "sale.created"],
        }),
    )
    .await;
    app.create_rule(json!({"count": 1})).await;
    let c = creator(&app, "sig@example.com").await;
    let p = program(&app, "Signed", "AUTOMATIC").await;
    sign_up(&app, &p, &c).await;
    app.post_ok(
        "/v1/sales",
        json!({"creatorId": c, "orderId": "s-1", "amount": "3", "currency": "EUR"}),
        StatusCode::CREATED,
    )
    .await;
    app.post_media(&c, "STORY", json!({})).await;
    rx.wait_for(5, WAIT).await;
    let manual = program(&app, "Signed by hand", "MANUAL").await;
    let d = creator(&app, "no@example.com").await;
    for who in [&c, &d] {
        sign_up(&app, &manual, who).await;
    }
    set_status(&app, &manual, &d, "REJECTED").await;
    set_status(&app, &p, &c, "REMOVED").await;
    let got = rx.assert_exactly(9).await;
    let mut seen = types(&got);
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "post.tagged",
            "program.approved",
            "program.rejected",
            "program.removed",
            "program.signed_up",
            "reward.instant",
            "sale.created"
        ]
    );
    let official = standardwebhooks::Webhook::new(SECRET).expect("a whsec_ secret");
    for r in &got {
        let id = r.header("webhook-id").expect("webhook-id");
        assert!(
            official.verify(&r.body, &r.headers).is_ok(),
            "{:?} does not verify with the Standard Webhooks library",
            r.header("lc-event-type")
        );
        let d = app.delivery(&id).await;
        assert_eq!(
            d["eventType"].as_str(),
            r.header("lc-event-type").as_deref()
        );
        assert_eq!(
            serde_json::to_string(&d["payload"]).expect("json"),
            r.text()
        );
    }
    app.stop().await;
}

async fn events_are_listed_by_type_and_creator_with_rewards_by_their_fulfillment(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    app.create_rule(json!({"count": 1})).await;
    let a = creator(&app, "a@example.com").await;
    let b = creator(&app, "b@example.com").await;
    app.post_media(&a, "STORY", json!({})).await;
    let p = program(&app, "List", "MANUAL").await;
    for who in [&a, &b] {
        sign_up(&app, &p, who).await;
    }
    let f = wait_until(WAIT, "the fulfillment", || async {
        app.fulfillments("").await.into_iter().next()
    })
    .await;
    let rewards = items(app.get_ok("/v1/events?type=reward.instant").await);
    assert_eq!(rewards.len(), 1);
    assert_eq!(rewards[0]["id"], f["id"]);
    assert_eq!(rewards[0]["creatorId"], json!(a));
    assert_eq!(rewards[0]["payload"], f["payload"]);
    let of_a = items(app.get_ok(&format!("/v1/events?creatorId={a}")).await);
    let kinds: Vec<&str> = of_a.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["reward.instant", "program.signed_up"]);
    let of_b = items(
        app.get_ok(&format!("/v1/events?creatorId={b}&type=program.signed_up"))
            .await,
    );
    assert_eq!(of_b.len(), 1);
    assert_eq!(of_b[0]["payload"]["email"], "b@example.com");
    // Paged like every list.
    let first = app.get_ok("/v1/events?limit=2").await;
    assert_eq!(items(first.clone()).len(), 2);
    let cursor = first["nextCursor"].as_str().expect("a next page");
    let rest = items(
        app.get_ok(&format!("/v1/events?limit=2&cursor={cursor}"))
            .await,
    );
    assert_eq!(rest.len(), 1);
    // Rewards (read from their fulfillments) and other events interleave by id, a page at a
    // time as in one list.
    app.post_media(&b, "STORY", json!({})).await;
    let all = items(app.get_ok("/v1/events").await);
    let kinds: Vec<&str> = all.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "reward.instant",
            "program.signed_up",
            "program.signed_up",
            "reward.instant"
        ]
    );
    let mut walked = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app.get_ok(&format!("/v1/events?limit=1{cursor}")).await;
        walked.extend(items(page.clone()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(walked, all);
    app.stop().await;
}

async fn an_event_is_retried_under_one_webhook_id_and_can_be_replayed(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    // Fails the first attempt, then succeeds: the retry schedule (100ms, 200ms) applies.
    let rx = Receiver::start(Script::first(vec![Reply::status(503)], Reply::ok())).await;
    let i = app
        .create_integration(&rx.url(), "k", json!({"eventTypes": ["sale.created"]}))
        .await;
    let c = creator(&app, "retry@example.com").await;
    app.post_ok(
        "/v1/sales",
        json!({"creatorId": c, "orderId": "r-1", "amount": "5.00", "currency": "GBP"}),
        StatusCode::CREATED,
    )
    .await;
    let got = rx.assert_exactly(2).await;
    let id = got[0].header("webhook-id").expect("webhook-id");
    assert_eq!(got[1].header("webhook-id").as_deref(), Some(id.as_str()));
    assert_eq!(got[1].body, got[0].body, "the same bytes on every attempt");
    let d = app.wait_delivery_status(&id, "succeeded").await;
    assert_eq!(d["attemptCount"], 2);
    assert_eq!(d["eventType"], "sale.created");
    let attempts = d["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts[1]["requestHeaders"]["lc-event-type"],
        "sale.created"
    );

    // Every attempt failing settles it as failed; replay sends it again under its id.
    rx.set_script(Script::always(Reply::status(500)));
    app.post_ok(
        "/v1/sales",
        json!({"creatorId": c, "orderId": "r-2", "amount": "6.00", "currency": "GBP"}),
        StatusCode::CREATED,
    )
    .await;
    let failed = rx.wait_for(5, WAIT).await;
    let failed_id = failed[2].header("webhook-id").expect("webhook-id");
    app.wait_delivery_status(&failed_id, "failed").await;
    rx.set_script(Script::always(Reply::ok()));
    let replayed = app
        .post_ok(
            &format!("/v1/integrations/{}/replay", i["id"].as_str().expect("id")),
            json!({"since": "2000-01-01T00:00:00Z"}),
            StatusCode::ACCEPTED,
        )
        .await;
    assert_eq!(replayed["replayed"], 1);
    let again = rx.wait_for(6, WAIT).await;
    assert_eq!(
        again[5].header("webhook-id").as_deref(),
        Some(failed_id.as_str())
    );
    assert_eq!(
        again[5].header("lc-event-type").as_deref(),
        Some("sale.created")
    );
    app.wait_delivery_status(&failed_id, "succeeded").await;
    app.stop().await;
}

async fn one_order_sent_at_once_by_two_instances_is_one_sale_and_one_event(backend: Backend) {
    const AT_ONCE: usize = 16;
    let Some(a) = TestApp::start(backend).await else {
        return;
    };
    let b = TestApp::start_on(a.db.clone(), |_| {})
        .await
        .expect("a second instance");
    let rx = Receiver::always(200).await;
    a.create_integration(&rx.url(), "k", json!({"eventTypes": ["sale.created"]}))
        .await;
    let c = creator(&a, "race@example.com").await;
    let sale = json!({"creatorId": c, "orderId": "race-1", "amount": "9.99", "currency": "USD"});
    let answers = futures::future::join_all((0..AT_ONCE).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post("/v1/sales", sale.clone())
    }))
    .await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(
        answers.iter().all(
            |(s, body)| (*s == StatusCode::CREATED || *s == StatusCode::OK)
                && *body == answers[0].1
        ),
        "every answer is the one sale: {answers:?}"
    );
    rx.assert_exactly(1).await;
    assert_eq!(
        items(b.get_ok("/v1/events?type=sale.created").await).len(),
        1
    );
    b.stop().await;
    a.stop().await;
}

async fn every_new_post_is_one_post_tagged_to_its_subscribers_only(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rewards_rx = Receiver::always(200).await;
    let tagged_rx = Receiver::always(200).await;
    app.create_integration(&rewards_rx.url(), "k", json!({}))
        .await;
    app.create_integration(
        &tagged_rx.url(),
        "k",
        json!({"eventTypes": ["post.tagged"]}),
    )
    .await;
    app.create_rule(json!({})).await;
    let c = creator(&app, "t@example.com").await;
    let first = json!({"creatorId": c, "postType": "STORY", "externalId": "p-1",
                       "postedAt": "2024-05-01T10:00:00Z"});
    let m1 = app
        .post_ok("/v1/media", first.clone(), StatusCode::CREATED)
        .await;
    // The same post again is the one stored: no second post.tagged.
    let again = app.post_ok("/v1/media", first, StatusCode::OK).await;
    assert_eq!(again["id"], m1["id"]);
    let m2 = app
        .post_media(&c, "REEL", json!({"postedAt": "2024-05-02T10:00:00Z"}))
        .await;
    let m3 = app
        .post_media(&c, "STORY", json!({"postedAt": "2024-05-03T10:00:00Z"}))
        .await;

    let got = tagged_rx.assert_exactly(3).await;
    assert!(
        types(&got).iter().all(|t| t == "post.tagged"),
        "{:?}",
        types(&got)
    );
    let events = items(app.get_ok("/v1/events?type=post.tagged").await);
    assert_eq!(events.len(), 3);
    for (m, at, post_type) in [
        (&m1, "2024-05-01T10:00:00.000000", "STORY"),
        (&m2, "2024-05-02T10:00:00.000000", "REEL"),
        (&m3, "2024-05-03T10:00:00.000000", "STORY"),
    ] {
        let r = got
            .iter()
            .find(|r| r.json()["medias"][0]["lcId"] == m["id"])
            .expect("a post.tagged per post");
        let event = events
            .iter()
            .find(|e| e["payload"]["medias"][0]["lcId"] == m["id"])
            .expect("its event");
        let expected = serde_json::to_string(&json!({
            "lcId": event["id"],
            "email": "t@example.com",
            "igUsername": "ig.user",
            "ttUsername": null,
            "discountCode": null,
            "medias": [{"lcId": m["id"], "postedAt": at, "postType": post_type}],
        }))
        .expect("json");
        assert_eq!(r.text(), expected);
        assert_eq!(event["creatorId"], json!(c));
    }
    // The reward receiver sees its reward (two Story posts) and nothing else.
    let rewards = rewards_rx.assert_exactly(1).await;
    assert_eq!(types(&rewards), ["reward.instant"]);
    let log = app.deliveries("").await;
    assert_eq!(log.len(), 4);
    assert_eq!(
        log.iter()
            .filter(|d| d["eventType"] == "post.tagged")
            .count(),
        3
    );
    app.stop().await;
}

async fn without_a_post_tagged_subscriber_a_post_writes_no_event(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "k", json!({})).await;
    app.create_rule(json!({"count": 1})).await;
    let c = creator(&app, "n@example.com").await;
    app.post_media(&c, "STORY", json!({})).await;
    rx.assert_exactly(1).await;
    assert!(items(app.get_ok("/v1/events?type=post.tagged").await).is_empty());
    let kinds: Vec<String> = items(app.get_ok("/v1/events").await)
        .iter()
        .filter_map(|e| e["type"].as_str().map(str::to_string))
        .collect();
    assert_eq!(kinds, ["reward.instant"]);
    app.stop().await;
}

async fn the_test_send_sends_each_types_sample_with_its_header(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    // Subscribed to rewards only: a Test send of any type still goes.
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id");
    let path = format!("/v1/integrations/{id}/test");
    let creator_keys = ["lcId", "email", "igUsername", "ttUsername"];
    let cases: [(&str, &str, Option<&str>); 8] = [
        ("reward.instant", "medias", Some("code123")),
        ("reward.monthly", "medias", Some("code123")),
        ("program.signed_up", "program", None),
        ("program.approved", "program", None),
        ("program.rejected", "program", None),
        ("program.removed", "program", None),
        ("post.tagged", "medias", None),
        ("sale.created", "sale", None),
    ];
    for (n, (event_type, key, code)) in cases.iter().enumerate() {
        let r = app
            .post_ok(
                &path,
                json!({"eventType": event_type, "email": "me@brand.com"}),
                StatusCode::OK,
            )
            .await;
        assert_eq!(r["success"], true, "{r}");
        let got = rx.wait_for(n + 1, WAIT).await;
        let last = &got[n];
        assert_eq!(last.header("lc-event-type").as_deref(), Some(*event_type));
        let mut expected: Vec<&str> = creator_keys.to_vec();
        if *key == "medias" {
            expected.push("discountCode");
        }
        expected.push(key);
        assert_eq!(keys_in_order(&last.text()), expected, "{event_type}");
        let body = last.json();
        assert_eq!(body["email"], "me@brand.com");
        if *key == "medias" {
            assert_eq!(body["discountCode"], json!(code), "{event_type}");
        }
        let d = app
            .delivery(r["deliveryId"].as_str().expect("delivery id"))
            .await;
        assert_eq!(d["eventType"], *event_type, "{d}");
        assert_eq!(d["test"], true);
    }
    let sale = rx.received()[7].json();
    assert_eq!(sale["sale"]["amount"], "12.50");
    assert_eq!(sale["sale"]["currency"], "USD");
    // No type named: the reward sample, as before.
    app.post_ok(&path, json!({}), StatusCode::OK).await;
    let got = rx.wait_for(9, WAIT).await;
    assert_eq!(
        got[8].header("lc-event-type").as_deref(),
        Some("reward.instant")
    );
    app.stop().await;
}

async fn a_test_send_of_an_unknown_type_is_refused_and_sends_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let path = format!("/v1/integrations/{}/test", i["id"].as_str().expect("id"));
    for body in [
        json!({"eventType": "post.liked"}),
        json!({"eventType": "sale.created", "medias": [{"postType": "REEL"}]}),
        json!({"eventType": "sale.created", "medias": []}),
        json!({"eventType": "program.approved", "discountCode": "X-1"}),
    ] {
        let (status, answer) = app.post(&path, body).await;
        assert_eq!(
            assert_error(status, &answer, StatusCode::UNPROCESSABLE_ENTITY),
            "invalid_event_type"
        );
    }
    rx.assert_exactly(0).await;
    assert!(app.deliveries("").await.is_empty());
    // `null` is a key left out, as the OpenAPI document says.
    let (status, answer) = app
        .post(
            &path,
            json!({"eventType": "sale.created", "discountCode": null, "medias": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let got = rx.assert_exactly(1).await;
    assert_eq!(
        got[0].header("lc-event-type").as_deref(),
        Some("sale.created")
    );
    app.stop().await;
}

async fn the_delivery_log_is_filtered_by_event_type(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(
        &rx.url(),
        "k",
        json!({"eventTypes": ["reward.instant", "post.tagged", "sale.created"]}),
    )
    .await;
    app.create_rule(json!({"count": 1})).await;
    let c = creator(&app, "log@example.com").await;
    app.post_media(&c, "STORY", json!({})).await;
    app.post_ok(
        "/v1/sales",
        json!({"creatorId": c, "orderId": "o-9", "amount": "3.00", "currency": "EUR"}),
        StatusCode::CREATED,
    )
    .await;
    rx.wait_for(3, WAIT).await;
    for (event_type, n) in [
        ("reward.instant", 1),
        ("post.tagged", 1),
        ("sale.created", 1),
        ("program.approved", 0),
    ] {
        let log = app.deliveries(&format!("eventType={event_type}")).await;
        assert_eq!(log.len(), n, "{event_type}: {log:?}");
        assert!(log.iter().all(|d| d["eventType"] == event_type));
    }
    // With other filters too.
    let ok = app
        .deliveries("eventType=sale.created&status=succeeded&order=asc")
        .await;
    assert!(ok.len() <= 1);
    let (status, body) = app.get("/v1/deliveries?eventType=sale.made").await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_event_type"
    );
    app.stop().await;
}
