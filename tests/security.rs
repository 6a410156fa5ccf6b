//! The admin token guards `/v1`; API keys and signing secrets never leave the service.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{Method, StatusCode};
use common::{
    assert_error, closed_port_url, fill_with_creators, nearly_full_sqlite_app, test_settings,
    wait_until, Backend, Receiver, Reply, Script, TestApp, TestDb, WAIT,
};
use lc_webhooks::domain::Secret;
use serde_json::json;

both_stores!(
    admin_token_guards_every_v1_request,
    api_key_and_signing_secret_never_appear_in_api_responses,
    api_key_and_signing_secret_never_appear_in_logs,
    api_key_echoed_by_a_receiver_is_not_kept_in_the_delivery_log,
    a_delivery_that_finally_fails_logs_one_warn_line,
);

/// Every log line of this test binary, at `debug` and above.
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(move || SharedWriter(writer.clone()))
            .try_init()
            .expect("install the test subscriber");
        buf
    })
    .clone()
}

/// A full store is one ERROR line every few seconds, not one per refused request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_store_logs_one_error_line_not_one_per_request() {
    let logs = log_buffer();
    let app = nearly_full_sqlite_app().await;
    let since_first = std::time::Instant::now();
    let (_, (status, _)) = fill_with_creators(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    for n in 0..30 {
        let email = format!("refused-{n:02}-{}@example.com", "y".repeat(60));
        let (status, _) = app.post("/v1/creators", json!({ "email": email })).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    // One line per five seconds at most: one, unless this machine took that long.
    let allowed = 1 + since_first.elapsed().as_secs() as usize / 5;
    app.stop().await;
    let text =
        String::from_utf8_lossy(&logs.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    let full_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("disk is full"))
        .collect();
    assert!((1..=allowed).contains(&full_lines.len()), "{full_lines:#?}");
    assert!(
        full_lines[0].contains("the store is full"),
        "{}",
        full_lines[0]
    );
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn admin_token_guards_every_v1_request(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.admin_token = Some(Secret::new("tok".into()));
    })
    .await
    else {
        return;
    };
    let client = reqwest::Client::new();
    for (method, path) in [
        (Method::GET, "/v1/integrations"),
        (Method::GET, "/v1/creators"),
        (Method::GET, "/v1/rules"),
        (Method::GET, "/v1/media"),
        (Method::GET, "/v1/fulfillments"),
        (Method::GET, "/v1/deliveries"),
        (Method::POST, "/v1/creators"),
        (Method::GET, "/v1/creators/anything"),
    ] {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some("tok"),
            Some("Bearer tok2"),
            Some("Basic dG9r"),
        ] {
            let mut req = client
                .request(method.clone(), app.url(path))
                .json(&json!({"email": "t@example.com"}));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let resp = req.send().await.expect("request");
            let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
            let body: serde_json::Value = resp.json().await.expect("JSON error body");
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}: {body}"
            );
            assert_error(status, &body, StatusCode::UNAUTHORIZED);
        }
    }
    // Nothing was written by the refused requests.
    let (s, v) = app.get("/v1/creators").await; // the app sends the right token
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["items"].as_array().unwrap().is_empty());
    let c = app.create_creator("ok@example.com", None, None).await;
    assert!(c["id"].is_string());
    // Operations endpoints stay open.
    let resp = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_api_refuses_a_non_loopback_listen_address() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let mut settings = test_settings(&db.url);
    settings.listen = "0.0.0.0:0".parse().unwrap();
    assert!(
        lc_webhooks::service::start(settings.clone()).await.is_err(),
        "started on 0.0.0.0 without an admin token"
    );
    settings.admin_token = Some(Secret::new("tok".into()));
    let running = lc_webhooks::service::start(settings)
        .await
        .expect("with a token, 0.0.0.0 is allowed");
    running.shutdown().await;
}

const API_KEY: &str = "sk_live_SuperSecretKey_7f3a9c";
const NEW_API_KEY: &str = "sk_live_RotatedKey_b81e44";
const SIGNING_KEY_B64: &str = "c2lnbmluZy1rZXktbmV2ZXItc2hvd24tMTIzNDU2";
const SIGNING_SECRET: &str = "whsec_c2lnbmluZy1rZXktbmV2ZXItc2hvd24tMTIzNDU2";
/// The secret a rotation brings in; the one above stays, as the previous secret, for an hour.
const ROTATED_KEY_B64: &str = "cm90YXRlZC1zaWduaW5nLWtleS0wMTIzNDU2Nzg5";
const ROTATED_SECRET: &str = "whsec_cm90YXRlZC1zaWduaW5nLWtleS0wMTIzNDU2Nzg5";

const SECRETS: [&str; 6] = [
    API_KEY,
    NEW_API_KEY,
    SIGNING_SECRET,
    SIGNING_KEY_B64,
    ROTATED_SECRET,
    ROTATED_KEY_B64,
];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} contains a secret ({secret}): {text}"
        );
    }
}

/// A full scenario: a signed integration that succeeds, one that fails (500), one that cannot
/// be reached, a test send, a key rotation, a signing-secret rotation. Returns every raw API
/// response text.
async fn scenario(app: &TestApp) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let ok = Receiver::always(200).await;
    let failing = Receiver::start(Script::always(Reply::status(500).body("nope"))).await;
    let mut integrations = Vec::new();
    for (name, url) in [
        ("ok", ok.url()),
        ("failing", failing.url()),
        ("closed", closed_port_url()),
    ] {
        let body =
            json!({"name": name, "url": url, "apiKey": API_KEY, "signingSecret": SIGNING_SECRET});
        let (s, text) = app
            .request_raw(
                Method::POST,
                "/v1/integrations",
                Some(body.to_string().into_bytes()),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["signing"], true);
        assert_eq!(
            v["apiKeyHint"], "…3a9c",
            "apiKeyHint is the last four characters: {v}"
        );
        integrations.push(v["id"].as_str().unwrap().to_string());
        seen.push(("create integration".to_string(), text));
    }
    app.create_rule(json!({})).await;
    let c = app.create_creator("s@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    ok.wait_for(1, WAIT).await;
    failing.wait_for(3, WAIT).await;
    wait_until(WAIT, "every delivery settled", || async move {
        let d = app.deliveries("status=pending").await;
        d.is_empty().then_some(())
    })
    .await;
    assert_eq!(app.deliveries("status=failed").await.len(), 2);
    let got = ok.received();
    assert_eq!(
        got[0].header("authorization").as_deref(),
        Some(&*format!("Bearer {API_KEY}")),
        "the key is still sent to the receiver"
    );

    for id in &integrations {
        let (_, text) = app
            .request_raw(Method::POST, &format!("/v1/integrations/{id}/test"), None)
            .await;
        seen.push(("test send".into(), text));
    }
    let (s, text) = app
        .request_raw(
            Method::PATCH,
            &format!("/v1/integrations/{}", integrations[0]),
            Some(
                json!({"name": "renamed", "apiKey": NEW_API_KEY})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    seen.push(("patch integration".into(), text));
    // A secret rotation: the old secret keeps signing beside the new one, and a test send
    // carries both signatures.
    let (s, text) = app
        .request_raw(
            Method::POST,
            &format!("/v1/integrations/{}/rotate-secret", integrations[0]),
            Some(
                json!({"newSecret": ROTATED_SECRET, "gracePeriod": "1h"})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    seen.push(("rotate secret".into(), text));
    let (_, text) = app
        .request_raw(
            Method::POST,
            &format!("/v1/integrations/{}/test", integrations[0]),
            None,
        )
        .await;
    seen.push(("test send during the grace period".into(), text));

    let mut paths = vec![
        "/v1/integrations".to_string(),
        "/v1/deliveries".to_string(),
        "/v1/fulfillments".to_string(),
    ];
    for id in &integrations {
        paths.push(format!("/v1/integrations/{id}"));
    }
    for d in app.deliveries("limit=500").await {
        let id = d["id"].as_str().unwrap();
        paths.push(format!("/v1/deliveries/{id}"));
        // A retry answer is a delivery too.
        if d["status"] != "pending" {
            let (_, text) = app
                .request_raw(Method::POST, &format!("/v1/deliveries/{id}/retry"), None)
                .await;
            seen.push(("retry".into(), text));
        }
    }
    for f in app.fulfillments("").await {
        paths.push(format!("/v1/fulfillments/{}", f["id"].as_str().unwrap()));
    }
    for path in paths {
        let (s, text) = app.request_raw(Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {text}");
        seen.push((path, text));
    }
    seen
}

async fn api_key_and_signing_secret_never_appear_in_api_responses(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let seen = scenario(&app).await;
    assert!(seen.len() > 10);
    for (what, text) in &seen {
        assert_clean(what, text);
    }
    app.stop().await;
}

async fn api_key_and_signing_secret_never_appear_in_logs(backend: Backend) {
    let buf = log_buffer();
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    scenario(&app).await;
    app.stop().await;
    let logs = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
    assert!(
        logs.contains("lc_webhooks"),
        "the test subscriber captured nothing from the service"
    );
    for secret in SECRETS {
        if let Some(at) = logs.find(secret) {
            let start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = logs[at..].find('\n').map_or(logs.len(), |i| at + i);
            panic!("a secret is in the logs: {}", &logs[start..end]);
        }
    }
}

/// A receiver that echoes the request headers back (as debugging endpoints do) must not get
/// the key into the stored delivery log, which the API returns.
async fn api_key_echoed_by_a_receiver_is_not_kept_in_the_delivery_log(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let echo = Receiver::start(Script::always(
        Reply::status(401).body(format!("bad credentials: Bearer {API_KEY}")),
    ))
    .await;
    let i = app
        .create_integration(&echo.url(), API_KEY, json!({}))
        .await;
    let r = app
        .post_ok(
            &format!("/v1/integrations/{}/test", i["id"].as_str().unwrap()),
            json!({}),
            StatusCode::OK,
        )
        .await;
    let id = r["deliveryId"].as_str().unwrap();
    let (_, text) = app
        .request_raw(Method::GET, &format!("/v1/deliveries/{id}"), None)
        .await;
    assert_clean("delivery log of an echoing receiver", &text);
    app.stop().await;
}

/// The operator hears of a delivery given up: one WARN line with its id, integration and last
/// error, and no key.
async fn a_delivery_that_finally_fails_logs_one_warn_line(backend: Backend) {
    let buf = log_buffer();
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let failing = Receiver::start(Script::always(Reply::status(503))).await;
    let i = app
        .create_integration(&failing.url(), API_KEY, json!({}))
        .await;
    app.create_rule(json!({})).await;
    let c = app.create_creator("gives-up@example.com", None, None).await;
    let cid = c["id"].as_str().unwrap();
    app.post_media(cid, "STORY", json!({})).await;
    app.post_media(cid, "STORY", json!({})).await;
    let d = wait_until(WAIT, "the delivery to fail", || async {
        let d = app.deliveries("status=failed").await;
        d.into_iter().next()
    })
    .await;
    let id = d["id"].as_str().unwrap();
    app.stop().await;
    let logs = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(id) && l.contains("WARN"))
        .collect();
    assert_eq!(lines.len(), 1, "WARN lines for {id}: {lines:#?}");
    assert!(lines[0].contains(i["id"].as_str().unwrap()), "{}", lines[0]);
    assert!(lines[0].contains("503"), "{}", lines[0]);
    assert_clean("the failure's log line", lines[0]);
}
