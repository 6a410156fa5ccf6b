//! `lc-webhooks listen` as a user runs it, against the real dispatcher: it checks the key and
//! the signature, answers 401 when one is wrong, fails on purpose, and forwards.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use crate::common::{wait_until, Backend, Receiver, TestApp, WAIT};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

both_stores!(
    a_webhook_with_the_right_key_is_printed_and_answered_200,
    a_wrong_key_or_signature_is_answered_401_and_said_plainly,
    failures_on_purpose_are_retried_by_the_sender,
    forward_to_passes_each_webhook_on_and_answers_with_its_status,
    a_held_webhook_is_shown_on_arrival_and_when_the_sender_gives_up,
    several_signing_secrets_accept_a_webhook_signed_with_any_of_them,
    event_type_shows_only_the_chosen_types_and_answers_the_others_200,
);

const KEY: &str = "sk_test_listen_0123456789";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `lc-webhooks listen` on a free port, its stdout collected line by line.
struct Listen {
    child: Child,
    url: String,
    out: Arc<Mutex<Vec<String>>>,
}

impl Listen {
    async fn start(flags: &[&str]) -> Listen {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lc-webhooks"))
            .args(["listen", "--listen", "127.0.0.1:0"])
            .args(flags)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn listen");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let banner = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("listen starts")
            .expect("read")
            .expect("a banner line");
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {banner:?}"))
            .to_string();
        let out = Arc::new(Mutex::new(vec![banner]));
        let sink = out.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Listen { child, url, out }
    }

    fn text(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    async fn wait_for(&self, needle: &str, times: usize) {
        wait_until(
            WAIT,
            &format!("{times}× {needle:?} from listen"),
            || async { (self.text().matches(needle).count() >= times).then_some(()) },
        )
        .await;
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// An integration at `url` with the key (and optionally the secret), the Story rule, and a
/// creator who posts two Stories. Returns the creator's email.
async fn earn_reward(app: &TestApp, url: &str, key: &str, secret: Option<&str>) -> String {
    let mut extra = json!({});
    if let Some(secret) = secret {
        extra = json!({"signingSecret": secret});
    }
    app.create_integration(url, key, extra).await;
    app.create_rule(json!({})).await;
    let c = app.create_creator("listened@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    "listened@example.com".into()
}

async fn one_settled_delivery(app: &TestApp) -> Value {
    wait_until(WAIT, "a settled delivery", || async {
        let d = app.deliveries("").await;
        d.into_iter()
            .find(|d| d["status"] != "pending")
            .map(|d| d["id"].as_str().unwrap().to_string())
    })
    .await;
    let id = app.deliveries("").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delivery(&id).await
}

async fn a_webhook_with_the_right_key_is_printed_and_answered_200(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let listen = Listen::start(&["--api-key", KEY, "--signing-secret", SECRET]).await;
    let email = earn_reward(&app, &listen.url, KEY, Some(SECRET)).await;
    let d = one_settled_delivery(&app).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    listen.wait_for(&email, 2).await;
    let text = listen.text();
    let summary = text
        .lines()
        .find(|l| l.contains(d["id"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("no summary line with the webhook-id: {text}"));
    assert!(
        summary.contains(&email)
            && summary.contains(" reward.instant ")
            && summary.contains("2 posts")
            && summary.contains("-> 200"),
        "{summary}"
    );
    assert!(
        text.contains("  ok    lc-event-type reward.instant\n"),
        "{text}"
    );
    let code = d["payload"]["discountCode"].as_str().unwrap();
    assert!(summary.contains(code), "{summary}");
    assert!(text.contains("signature valid"), "{text}");
    assert!(
        text.contains("  ok    Authorization Bearer …6789 (25 characters)\n"),
        "the key's hint and length, as the API shows them: {text}"
    );
    assert!(text.contains("\"medias\""), "the pretty JSON body: {text}");
    assert!(
        !text.contains(KEY),
        "listen printed the key in full: {text}"
    );
    listen.stop().await;
    app.stop().await;
}

async fn a_wrong_key_or_signature_is_answered_401_and_said_plainly(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let listen = Listen::start(&["--api-key", KEY, "--signing-secret", SECRET]).await;
    let i = app
        .create_integration(
            &listen.url,
            "sk_test_not_the_right_one",
            json!({"signingSecret": SECRET}),
        )
        .await;
    let r = app
        .post_ok(
            &format!("/v1/integrations/{}/test", i["id"].as_str().unwrap()),
            json!({}),
            axum::http::StatusCode::OK,
        )
        .await;
    assert_eq!(r["responseStatus"], 401, "{r}");
    listen.wait_for("wrong API key", 1).await;
    assert!(
        !listen.text().contains("sk_test_not_the_right_one"),
        "{}",
        listen.text()
    );

    // The right key, signed with another secret.
    let other = app
        .create_integration(
            &listen.url,
            KEY,
            json!({"signingSecret": "whsec_c2lnbmluZy1rZXktbmV2ZXItc2hvd24tMTIzNDU2"}),
        )
        .await;
    let r = app
        .post_ok(
            &format!("/v1/integrations/{}/test", other["id"].as_str().unwrap()),
            json!({}),
            axum::http::StatusCode::OK,
        )
        .await;
    assert_eq!(r["responseStatus"], 401, "{r}");
    listen.wait_for("wrong signature", 1).await;
    let d = app.delivery(r["deliveryId"].as_str().unwrap()).await;
    let body = d["attempts"][0]["responseBody"].as_str().unwrap();
    assert!(body.contains("wrong signature"), "the 401 says why: {body}");
    listen.stop().await;
    app.stop().await;
}

async fn failures_on_purpose_are_retried_by_the_sender(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    // Every webhook fails: the test schedule (100ms, 200ms) gives three attempts.
    let listen = Listen::start(&["--api-key", KEY, "--fail-rate", "1"]).await;
    earn_reward(&app, &listen.url, KEY, None).await;
    let d = one_settled_delivery(&app).await;
    assert_eq!(d["status"], "failed", "{d}");
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{d}");
    assert!(attempts.iter().all(|a| a["responseStatus"] == 503), "{d}");
    listen.wait_for("failed on purpose", 3).await;
    listen.stop().await;
    app.stop().await;
}

async fn forward_to_passes_each_webhook_on_and_answers_with_its_status(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let own = Receiver::start(crate::common::Script::always(
        crate::common::Reply::status(202).body("taken"),
    ))
    .await;
    let listen = Listen::start(&["--api-key", KEY, "--forward-to", &own.url()]).await;
    earn_reward(&app, &listen.url, KEY, None).await;
    let d = one_settled_delivery(&app).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(
        d["attempts"][0]["responseStatus"], 202,
        "listen answers with the forward's status"
    );
    let got = own.assert_exactly(1).await;
    assert_eq!(
        got[0].json(),
        d["payload"],
        "the body is passed on as it came"
    );
    assert_eq!(
        got[0].header("authorization").as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(got[0].header("webhook-id").as_deref(), d["id"].as_str());
    listen.wait_for("forwarded to", 1).await;
    assert!(listen.text().contains(": 202 in"), "{}", listen.text());
    listen.stop().await;
    app.stop().await;
}

/// `--delay` longer than the sender's timeout (2 s in the tests): `listen` says the webhook
/// arrived and is held, then that the sender gave up; a shorter delay ends in the answer.
async fn a_held_webhook_is_shown_on_arrival_and_when_the_sender_gives_up(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let listen = Listen::start(&["--api-key", KEY, "--delay", "3s"]).await;
    let i = app.create_integration(&listen.url, KEY, json!({})).await;
    let test = format!("/v1/integrations/{}/test", i["id"].as_str().unwrap());
    let r = app
        .post_ok(
            &test,
            json!({"email": "held@example.com"}),
            axum::http::StatusCode::OK,
        )
        .await;
    assert_eq!(r["success"], false, "{r}");
    assert_eq!(
        r["responseStatus"],
        Value::Null,
        "the sender timed out: {r}"
    );
    let id = r["deliveryId"].as_str().unwrap();
    listen.wait_for("gave up after", 1).await;
    let text = listen.text();
    let arrived = text
        .lines()
        .find(|l| l.contains(id) && l.contains("holding it 3s before answering"))
        .unwrap_or_else(|| panic!("no line saying the webhook arrived and is held: {text}"));
    assert!(arrived.contains("held@example.com"), "{arrived}");
    let gave_up = text
        .lines()
        .find(|l| l.contains("gave up after"))
        .expect("the give-up line");
    assert!(gave_up.contains(id), "{gave_up}");
    assert!(
        !text.contains("-> 200"),
        "no answer was given to a sender that left: {text}"
    );
    listen.stop().await;

    let listen = Listen::start(&["--api-key", KEY, "--delay", "300ms"]).await;
    let i = app.create_integration(&listen.url, KEY, json!({})).await;
    let r = app
        .post_ok(
            &format!("/v1/integrations/{}/test", i["id"].as_str().unwrap()),
            json!({}),
            axum::http::StatusCode::OK,
        )
        .await;
    assert_eq!(r["responseStatus"], 200, "{r}");
    listen.wait_for("-> 200", 1).await;
    let text = listen.text();
    assert!(text.contains("holding it 300ms"), "{text}");
    assert!(!text.contains("gave up"), "{text}");
    listen.stop().await;
    app.stop().await;
}

/// While a secret is rotated, `listen` holds both: a webhook signed with either passes, one
/// signed with neither is a 401.
async fn several_signing_secrets_accept_a_webhook_signed_with_any_of_them(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    const NEW: &str = "whsec_c2lnbmluZy1rZXktbmV3LTAxMjM0NTY3ODk=";
    let listen = Listen::start(&[
        "--api-key",
        KEY,
        "--signing-secret",
        SECRET,
        "--signing-secret",
        NEW,
    ])
    .await;
    assert!(
        listen
            .text()
            .contains("checking signatures (any of 2 secrets)"),
        "{}",
        listen.text()
    );
    let test = |secret: &'static str| {
        let app = &app;
        let url = listen.url.clone();
        async move {
            let i = app
                .create_integration(&url, KEY, json!({"signingSecret": secret}))
                .await;
            let r = app
                .post_ok(
                    &format!("/v1/integrations/{}/test", i["id"].as_str().unwrap()),
                    json!({}),
                    axum::http::StatusCode::OK,
                )
                .await;
            r["responseStatus"].clone()
        }
    };
    assert_eq!(test(SECRET).await, 200);
    assert_eq!(test(NEW).await, 200);
    assert_eq!(
        test("whsec_c2lnbmluZy1rZXktbmV2ZXItc2hvd24tMTIzNDU2").await,
        401
    );
    listen.wait_for("wrong signature", 1).await;
    // A rotation from one to the other: both signatures, and listen verifies.
    let i = app
        .create_integration(&listen.url, KEY, json!({"signingSecret": SECRET}))
        .await;
    let id = i["id"].as_str().unwrap();
    app.post_ok(
        &format!("/v1/integrations/{id}/rotate-secret"),
        json!({"newSecret": NEW, "gracePeriod": "1h"}),
        axum::http::StatusCode::OK,
    )
    .await;
    let r = app
        .post_ok(
            &format!("/v1/integrations/{id}/test"),
            json!({}),
            axum::http::StatusCode::OK,
        )
        .await;
    assert_eq!(r["responseStatus"], 200, "{r}");
    assert!(!listen.text().contains(NEW) && !listen.text().contains(SECRET));
    listen.stop().await;
    app.stop().await;
}

async fn event_type_shows_only_the_chosen_types_and_answers_the_others_200(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let listen = Listen::start(&[
        "--event-type",
        "sale.created",
        "--event-type",
        "program.approved",
    ])
    .await;
    assert!(
        listen
            .text()
            .contains("showing only program.approved, sale.created"),
        "{}",
        listen.text()
    );
    let i = app.create_integration(&listen.url, KEY, json!({})).await;
    let test = format!("/v1/integrations/{}/test", i["id"].as_str().unwrap());
    let send = |event_type: &'static str| {
        let (app, test) = (&app, &test);
        async move {
            app.post_ok(
                test,
                json!({"eventType": event_type}),
                axum::http::StatusCode::OK,
            )
            .await
        }
    };
    let sale = send("sale.created").await;
    assert_eq!(sale["responseStatus"], 200, "{sale}");
    let ignored = send("post.tagged").await;
    assert_eq!(ignored["responseStatus"], 200, "answered 2xx: {ignored}");
    let approved = send("program.approved").await;
    assert_eq!(approved["responseStatus"], 200, "{approved}");
    listen.wait_for("program Summer creators", 1).await;
    let text = listen.text();
    let sale_line = text
        .lines()
        .find(|l| l.contains(sale["deliveryId"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("the sale is printed: {text}"));
    assert!(
        sale_line.contains(" sale.created ") && sale_line.contains("sale order-1001 12.50 USD"),
        "{sale_line}"
    );
    assert!(
        !text.contains(ignored["deliveryId"].as_str().unwrap()) && !text.contains("post.tagged"),
        "a filtered type is not printed: {text}"
    );

    // Without the header, or with an unknown type: 400, said plainly, whatever the filter.
    let client = reqwest::Client::new();
    for (header, why) in [
        (None, "no lc-event-type header"),
        (
            Some("post.liked"),
            "lc-event-type `post.liked` is not an event type",
        ),
    ] {
        let mut request = client.post(&listen.url).body("{}");
        if let Some(h) = header {
            request = request.header("lc-event-type", h);
        }
        let response = request.send().await.expect("listen answers");
        assert_eq!(response.status().as_u16(), 400);
        assert!(response.text().await.unwrap().contains(why));
        listen.wait_for(why, 1).await;
    }
    listen.stop().await;
    app.stop().await;
}
