//! Shared harness for the behavioural suite: a fresh database per test (SQLite or PostgreSQL),
//! the service started in-process, an HTTP client for the management API, and a real webhook
//! receiver that records every request and answers from a script.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use lc_webhooks::config::Settings;
use lc_webhooks::dispatch::RetrySchedule;
use lc_webhooks::service::{Running, StartError};
use serde_json::{json, Value};

pub const ADMIN_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Generous limit for anything that should happen "soon".
pub const WAIT: Duration = Duration::from_secs(10);

/// How long to keep watching when asserting that nothing more happens.
pub const SETTLE: Duration = Duration::from_millis(800);

/// Writes every behaviour test once and generates one `#[tokio::test]` per store.
/// Each listed function must be `async fn name(backend: Backend)` in the parent module.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )+
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database for one test. SQLite: a file in a temporary folder kept alive as long as
/// this value. PostgreSQL: a new database, dropped (best effort, forcibly) when this is dropped.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// `None` means "skip this test": PostgreSQL is unreachable and `CI` is not `true`.
    /// Under `CI=true` an unreachable PostgreSQL panics.
    pub async fn create(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db", dir.path().display());
                Some(TestDb {
                    backend,
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let name = format!("lcw_test_{}", uuid::Uuid::now_v7().simple());
                let created = async {
                    use sqlx::Connection;
                    let mut conn = tokio::time::timeout(
                        Duration::from_secs(5),
                        sqlx::postgres::PgConnection::connect(ADMIN_PG),
                    )
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??;
                    sqlx::query(&format!("CREATE DATABASE {name}"))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await?;
                    Ok::<_, sqlx::Error>(())
                }
                .await;
                match created {
                    Ok(()) => Some(TestDb {
                        backend,
                        url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                        pg_name: Some(name),
                        _dir: None,
                    }),
                    Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                        panic!("PostgreSQL at 127.0.0.1:5432 is required under CI=true but is not reachable: {e}")
                    }
                    Err(e) => {
                        eprintln!("skipping: PostgreSQL not reachable ({e})");
                        None
                    }
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop may run inside a runtime (or while panicking): use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(ADMIN_PG).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// Settings fit for tests: an ephemeral port, a short schedule, fast polling.
/// A pool on the test's database through sqlx's `Any` driver, for tests that look at the rows
/// themselves with the same SQL on either database. `Any` stays here only: the tests' own SQL is
/// a handful of plain statements, where one pool type for both databases saves writing each twice;
/// the service runs on the native drivers.
pub async fn any_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.expect("pool")
}

pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::new(database_url);
    settings.listen = "127.0.0.1:0".parse().expect("addr");
    settings.retry_schedule = RetrySchedule::parse("100ms,200ms").expect("schedule");
    settings.http_timeout = Duration::from_secs(2);
    settings.poll_interval = Duration::from_millis(50);
    settings
}

/// One running service instance plus a client for its API.
pub struct TestApp {
    pub running: Option<Running>,
    pub base: String,
    pub client: reqwest::Client,
    /// Sent as `Authorization: Bearer <token>` on every request when set.
    pub token: Option<String>,
    pub db: Arc<TestDb>,
}

impl TestApp {
    /// A fresh database and a service with [`test_settings`]; `None` when the test is skipped.
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, |_| {}).await
    }

    /// Like [`TestApp::start`], with the settings adjusted by `tweak` first.
    pub async fn start_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let db = Arc::new(TestDb::create(backend).await?);
        Some(Self::start_on(db, tweak).await.expect("service starts"))
    }

    /// Another instance on an existing database.
    pub async fn start_on(
        db: Arc<TestDb>,
        tweak: impl FnOnce(&mut Settings),
    ) -> Result<TestApp, StartError> {
        let mut settings = test_settings(&db.url);
        tweak(&mut settings);
        let token = settings
            .admin_token
            .as_ref()
            .map(|t| t.expose().to_string());
        let running = lc_webhooks::service::start(settings).await?;
        Ok(TestApp {
            base: running.url(),
            running: Some(running),
            client: reqwest::Client::new(),
            token,
            db,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the service; the database goes when the last handle on it is dropped.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, text) = self
            .request_raw(method, path, body.map(|b| b.to_string().into_bytes()))
            .await;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("response to {path} is not JSON ({e}): {text}"))
        };
        (status, value)
    }

    /// Sends raw bytes (or nothing) and returns the status and the raw response text.
    pub async fn request_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, String) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {path} failed: {e}"));
        let status = StatusCode::from_u16(resp.status().as_u16()).expect("status");
        let text = resp.text().await.expect("response body");
        (status, text)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::DELETE, path, None).await
    }

    /// POST that must answer `expected`; returns the body.
    pub async fn post_ok(&self, path: &str, body: Value, expected: StatusCode) -> Value {
        let (status, v) = self.post(path, body.clone()).await;
        assert_eq!(status, expected, "POST {path} {body} answered {v}");
        v
    }

    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, v) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path} answered {v}");
        v
    }

    /// An integration pointing at `url` with API key `api_key`; `extra` is merged into the body.
    pub async fn create_integration(&self, url: &str, api_key: &str, extra: Value) -> Value {
        let mut body = json!({"name": "receiver", "url": url, "apiKey": api_key});
        merge(&mut body, extra);
        self.post_ok("/v1/integrations", body, StatusCode::CREATED)
            .await
    }

    /// A creator; returns the whole creator object.
    pub async fn create_creator(&self, email: &str, ig: Option<&str>, tt: Option<&str>) -> Value {
        let mut body = json!({ "email": email });
        if let Some(ig) = ig {
            body["igUsername"] = json!(ig);
        }
        if let Some(tt) = tt {
            body["ttUsername"] = json!(tt);
        }
        self.post_ok("/v1/creators", body, StatusCode::CREATED)
            .await
    }

    /// A rule; `overrides` is merged over "2 Story posts, DISCOUNT_CODE".
    pub async fn create_rule(&self, overrides: Value) -> Value {
        let mut body = json!({
            "name": "2 Story posts",
            "postTypes": ["STORY"],
            "count": 2,
            "reward": {"type": "DISCOUNT_CODE"}
        });
        merge(&mut body, overrides);
        self.post_ok("/v1/rules", body, StatusCode::CREATED).await
    }

    /// One post; `extra` is merged into `{"creatorId", "postType"}`.
    pub async fn post_media(&self, creator_id: &str, post_type: &str, extra: Value) -> Value {
        let mut body = json!({"creatorId": creator_id, "postType": post_type});
        merge(&mut body, extra);
        self.post_ok("/v1/media", body, StatusCode::CREATED).await
    }

    pub async fn fulfillments(&self, query: &str) -> Vec<Value> {
        items(self.get_ok(&format!("/v1/fulfillments?{query}")).await)
    }

    pub async fn deliveries(&self, query: &str) -> Vec<Value> {
        items(self.get_ok(&format!("/v1/deliveries?{query}")).await)
    }

    pub async fn delivery(&self, id: &str) -> Value {
        self.get_ok(&format!("/v1/deliveries/{id}")).await
    }

    /// Waits for a delivery to reach `status` and returns its detail.
    pub async fn wait_delivery_status(&self, id: &str, status: &str) -> Value {
        wait_until(
            WAIT,
            &format!("delivery {id} to be {status}"),
            || async move {
                let d = self.delivery(id).await;
                (d["status"] == status).then_some(d)
            },
        )
        .await
    }
}

/// A service on a fresh SQLite file capped a few pages above its migrated size, so that it
/// fills up within a few hundred writes.
pub async fn nearly_full_sqlite_app() -> TestApp {
    use sqlx::Connection;
    let db = Arc::new(TestDb::create(Backend::Sqlite).await.expect("sqlite"));
    TestApp::start_on(db.clone(), |_| {})
        .await
        .expect("starts")
        .stop()
        .await;
    let mut conn = sqlx::SqliteConnection::connect(&db.url)
        .await
        .expect("open");
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(&mut conn)
        .await
        .expect("page count");
    conn.close().await.expect("close");
    let limit = u32::try_from(pages).expect("pages") + 6;
    TestApp::start_on(db, |s| s.sqlite_max_pages = Some(limit))
        .await
        .expect("starts")
}

/// Creates creators until one is refused; returns the ids acknowledged and the refusal.
pub async fn fill_with_creators(app: &TestApp) -> (Vec<String>, (StatusCode, Value)) {
    let mut acknowledged = Vec::new();
    loop {
        assert!(acknowledged.len() < 5_000, "the store never filled");
        let email = format!(
            "full-{:05}-{}@example.com",
            acknowledged.len(),
            "x".repeat(60)
        );
        let (status, body) = app.post("/v1/creators", json!({ "email": email })).await;
        if status != StatusCode::CREATED {
            return (acknowledged, (status, body));
        }
        acknowledged.push(body["id"].as_str().expect("id").to_string());
    }
}

/// The `items` of a list response.
pub fn items(v: Value) -> Vec<Value> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .clone()
}

/// Shallow merge of `extra`'s keys into `base` (both objects).
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

/// Asserts the API's error shape and returns the error code.
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode) -> String {
    assert_eq!(status, expected, "unexpected status; body: {body}");
    let err = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no `error` object in {body}"));
    let code = err
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("error without string `code`: {body}"));
    assert!(
        !code.is_empty()
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "error code `{code}` is not snake_case"
    );
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("error without string `message`: {body}"));
    assert!(!message.is_empty(), "empty error message: {body}");
    code.to_string()
}

/// Polls `check` until it yields `Some`, or panics after `timeout` naming `what`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A free port nobody listens on (bound, then released).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/hook")
}

// ---------------------------------------------------------------------------------------------
// The webhook receiver.

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub delay: Option<Duration>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            delay: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn ok() -> Reply {
        Reply::status(200)
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }
}

/// What the receiver answers: `steps` in order, then `then` forever.
#[derive(Clone, Debug)]
pub struct Script {
    pub steps: Vec<Reply>,
    pub then: Reply,
}

impl Script {
    pub fn always(reply: Reply) -> Script {
        Script {
            steps: Vec::new(),
            then: reply,
        }
    }

    pub fn first(steps: Vec<Reply>, then: Reply) -> Script {
        Script { steps, then }
    }
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("webhook body is UTF-8")
    }
}

struct ReceiverState {
    log: Vec<Received>,
    script: Script,
    served: usize,
    /// Requests being answered now, and the most at once since the last [`Receiver::reset_peak`].
    in_flight: usize,
    peak_in_flight: usize,
}

/// Counts a request as being answered until it is dropped (answered, or the sender gave up).
struct Answering(Arc<Mutex<ReceiverState>>);

impl Drop for Answering {
    fn drop(&mut self) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        s.in_flight -= 1;
    }
}

/// A real HTTP server on 127.0.0.1:0 answering every path and method from its script.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    pub async fn start(script: Script) -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState {
            log: Vec::new(),
            script,
            served: 0,
            in_flight: 0,
            peak_in_flight: 0,
        }));
        let shared = state.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let shared = shared.clone();
                async move {
                    let reply = {
                        let mut s = shared.lock().expect("receiver lock");
                        s.log.push(Received {
                            method,
                            path: uri.path().to_string(),
                            headers,
                            body,
                            at: Instant::now(),
                        });
                        let n = s.served;
                        s.served += 1;
                        s.in_flight += 1;
                        s.peak_in_flight = s.peak_in_flight.max(s.in_flight);
                        s.script
                            .steps
                            .get(n)
                            .cloned()
                            .unwrap_or_else(|| s.script.then.clone())
                    };
                    let _answering = Answering(shared.clone());
                    answer(reply).await
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, state }
    }

    pub async fn always(status: u16) -> Receiver {
        Receiver::start(Script::always(Reply::status(status))).await
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Replaces the script; answers count from the start of the new script.
    pub fn set_script(&self, script: Script) {
        let mut s = self.state.lock().expect("receiver lock");
        s.script = script;
        s.served = 0;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("receiver lock").log.clone()
    }

    pub fn count(&self) -> usize {
        self.state.lock().expect("receiver lock").log.len()
    }

    /// The most requests it was answering at once since it started or [`Receiver::reset_peak`].
    pub fn peak_in_flight(&self) -> usize {
        self.state.lock().expect("receiver lock").peak_in_flight
    }

    pub fn reset_peak(&self) {
        let mut s = self.state.lock().expect("receiver lock");
        s.peak_in_flight = s.in_flight;
    }

    /// Waits until at least `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "receiver got {} requests within {timeout:?}, expected at least {n}",
                    got.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asserts that exactly `n` requests arrived, after watching for [`SETTLE`] more.
    pub async fn assert_exactly(&self, n: usize) -> Vec<Received> {
        self.wait_for(n, WAIT).await;
        tokio::time::sleep(SETTLE).await;
        let got = self.received();
        assert_eq!(
            got.len(),
            n,
            "receiver expected exactly {n} requests, got {}: {:?}",
            got.len(),
            got.iter().map(|r| r.text()).collect::<Vec<_>>()
        );
        got
    }
}

async fn answer(reply: Reply) -> Response {
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    let mut resp = (
        StatusCode::from_u16(reply.status).expect("scripted status"),
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        resp.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(&value).expect("header value"),
        );
    }
    resp
}

/// Verifies a Standard Webhooks signature header (`v1,<base64>`, possibly several,
/// space-separated) for `secret` (`whsec_<base64 key>`).
pub fn verify_signature(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
) -> bool {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|sig| sig == expected)
}

/// The keys of a JSON object in the order they appear in `text` (serde_json's `Map` sorts them).
pub fn keys_in_order(text: &str) -> Vec<String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                keys.push(k);
            }
            Ok(keys)
        }
    }
    serde_json::Deserializer::from_str(text)
        .deserialize_map(Keys)
        .unwrap_or_else(|e| panic!("not a JSON object ({e}): {text}"))
}

/// The exact top-level keys of the webhook body, in order.
pub const PAYLOAD_KEYS: [&str; 6] = [
    "lcId",
    "email",
    "igUsername",
    "ttUsername",
    "discountCode",
    "medias",
];
