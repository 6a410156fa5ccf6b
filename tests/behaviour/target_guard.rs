//! The SSRF guard. Refused ranges are tried only through registration (nothing is sent, the
//! URL is refused); the connect-time check only with `localhost` and `127.0.0.1` while private
//! targets are blocked. No test sends anything off loopback, even if the guard were broken.

use axum::http::StatusCode;
use lc_webhooks::dispatch::TargetPolicy;
use serde_json::json;

use crate::common::{assert_error, wait_until, Backend, Receiver, TestApp, WAIT};

both_stores!(
    refused_addresses_in_every_spelling_are_422_and_nothing_is_written,
    private_targets_are_refused_at_registration_when_blocked_unless_allowed,
    a_hostname_that_resolves_to_a_blocked_address_is_a_logged_failed_attempt,
    a_literal_address_blocked_since_registration_is_refused_when_sending,
);

const ALWAYS_REFUSED: [&str; 12] = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://169.254.169.254./",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/hook",
    "http://[fd00:ec2::254]/",
    "http://0.0.0.0:9000/",
    "http://[::]:9000/",
    "http://224.0.0.251/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
];

/// Registers `url`, asserts it is a `422 blocked_url`, and returns the message.
async fn refused_registration(app: &TestApp, url: &str) -> String {
    let (status, body) = app
        .post(
            "/v1/integrations",
            json!({"name": "x", "url": url, "apiKey": "k"}),
        )
        .await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "blocked_url", "{url}: {body}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn refused_addresses_in_every_spelling_are_422_and_nothing_is_written(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for url in ALWAYS_REFUSED {
        let message = refused_registration(&app, url).await;
        assert!(message.contains("refused"), "{url}: {message}");
    }
    let listed = app.get_ok("/v1/integrations").await;
    assert_eq!(listed["items"], json!([]), "nothing was registered");

    // A PATCH to a refused address changes nothing either.
    let rx = Receiver::always(200).await;
    let i = app.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id");
    for url in ["http://2852039166/", "http://[::ffff:a9fe:a9fe]/"] {
        let (status, body) = app
            .patch(
                &format!("/v1/integrations/{id}"),
                json!({"url": url, "name": "renamed"}),
            )
            .await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "blocked_url");
    }
    let after = app.get_ok(&format!("/v1/integrations/{id}")).await;
    assert_eq!(after["url"], rx.url());
    assert_eq!(after["name"], i["name"]);
    assert_eq!(rx.count(), 0);
    app.stop().await;
}

async fn private_targets_are_refused_at_registration_when_blocked_unless_allowed(backend: Backend) {
    let allowed: ipnet::IpNet = "10.20.0.0/16".parse().expect("cidr");
    let Some(app) = TestApp::start_with(backend, |s| {
        s.targets = TargetPolicy::new(true, vec![allowed]);
    })
    .await
    else {
        return;
    };
    for url in [
        "http://127.0.0.1:9000/",
        "http://2130706433:9000/",
        "http://[::1]:9000/",
        "http://10.1.2.3/",
        "http://172.16.5.4/",
        "http://192.168.0.10/",
        "http://100.64.1.1/",
        "http://[fc00::10]/",
    ] {
        let message = refused_registration(&app, url).await;
        assert!(message.contains("--block-private-targets"), "{message}");
    }
    // The exception registers (nothing is sent to it: no rule, no test).
    app.create_integration("http://10.20.30.40:9000/hook", "k", json!({}))
        .await;
    let listed = app.get_ok("/v1/integrations").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

async fn a_hostname_that_resolves_to_a_blocked_address_is_a_logged_failed_attempt(
    backend: Backend,
) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.targets = TargetPolicy::new(true, vec![]);
    })
    .await
    else {
        return;
    };
    let rx = Receiver::always(200).await;
    let url = rx.url().replace("127.0.0.1", "localhost");
    let i = app.create_integration(&url, "k", json!({})).await;
    let id = i["id"].as_str().expect("id");

    let test = app
        .post_ok(
            &format!("/v1/integrations/{id}/test"),
            json!({}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(test["success"], false);
    let error = test["error"].as_str().expect("an error");
    assert!(
        error.contains("blocked") && error.contains("loopback"),
        "{error}"
    );

    // A reward's delivery is refused the same way, and logged as a failed attempt.
    app.create_rule(json!({"count": 1})).await;
    let c = app.create_creator("g@example.com", None, None).await;
    app.post_media(c["id"].as_str().expect("id"), "STORY", json!({}))
        .await;
    let d = wait_until(WAIT, "the delivery to fail", || async {
        app.deliveries("")
            .await
            .into_iter()
            .find(|d| d["status"] == "failed" && d["test"] == false)
    })
    .await;
    let detail = app.delivery(d["id"].as_str().expect("id")).await;
    let attempt_error = detail["attempts"][0]["error"].as_str().expect("error");
    assert!(attempt_error.contains("blocked"), "{attempt_error}");
    assert!(attempt_error.contains("localhost"), "{attempt_error}");
    assert_eq!(rx.count(), 0, "nothing reached the receiver");
    app.stop().await;
}

async fn a_literal_address_blocked_since_registration_is_refused_when_sending(backend: Backend) {
    let Some(open) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    let i = open.create_integration(&rx.url(), "k", json!({})).await;
    let id = i["id"].as_str().expect("id").to_string();
    let db = open.db.clone();
    open.stop().await;

    let blocked = TestApp::start_on(db, |s| s.targets = TargetPolicy::new(true, vec![]))
        .await
        .expect("starts");
    let test = blocked
        .post_ok(
            &format!("/v1/integrations/{id}/test"),
            json!({}),
            StatusCode::OK,
        )
        .await;
    let error = test["error"].as_str().expect("an error");
    assert!(
        error.starts_with("blocked: 127.0.0.1 is a loopback address"),
        "{error}"
    );
    let logged = blocked
        .delivery(test["deliveryId"].as_str().expect("id"))
        .await;
    assert_eq!(logged["status"], "failed");
    assert_eq!(logged["attempts"][0]["error"], error);
    assert_eq!(rx.count(), 0);
    blocked.stop().await;
}
