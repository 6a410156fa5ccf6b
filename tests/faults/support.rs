//! Real processes, a real database and a real receiver for the fault tests.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::process::{Child, Command};

const ADMIN_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh database: an SQLite file in a temporary folder, or a new PostgreSQL database.
pub struct Db {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    /// `None` when PostgreSQL is unreachable outside CI (the test is skipped); under
    /// `CI=true` an unreachable PostgreSQL fails the test.
    pub async fn new(backend: &str) -> Option<Db> {
        if backend == "sqlite" {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/lc.db", dir.path().display());
            return Some(Db {
                url,
                pg_name: None,
                _dir: Some(dir),
            });
        }
        let name = format!("lcw_test_{}", uuid::Uuid::now_v7().simple());
        let created = async {
            let pool = sqlx::PgPool::connect(ADMIN_PG).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await?;
            pool.close().await;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        match created {
            Ok(()) => Some(Db {
                url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                pg_name: Some(name),
                _dir: None,
            }),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL at 127.0.0.1:5432 is required under CI=true: {e}")
            }
            Err(e) => {
                eprintln!("skipping: PostgreSQL not reachable ({e})");
                None
            }
        }
    }

    pub async fn drop(self) {
        if let Some(name) = &self.pg_name {
            if let Ok(pool) = sqlx::PgPool::connect(ADMIN_PG).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&pool)
                    .await;
                pool.close().await;
            }
        }
    }
}

/// How the receiver answers.
#[derive(Clone)]
pub enum Reply {
    Ok,
    OkAfter(Duration),
    /// 503 with `Retry-After: <secs>` the first time, then 200.
    RetryAfterOnce(u64),
}

#[derive(Default)]
struct Seen {
    ids: Vec<String>,
    times: Vec<Instant>,
}

/// A webhook receiver on 127.0.0.1 recording every request's `webhook-id` and arrival time.
pub struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    pub async fn start(reply: Reply) -> Receiver {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = seen.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap| {
                let seen = state.clone();
                let reply = reply.clone();
                async move {
                    let first = {
                        let mut s = seen.lock().expect("lock");
                        let id = headers
                            .get("webhook-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        s.ids.push(id);
                        s.times.push(Instant::now());
                        s.ids.len() == 1
                    };
                    answer(reply, first).await
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn count(&self) -> usize {
        self.seen.lock().expect("lock").ids.len()
    }

    pub fn distinct_ids(&self) -> usize {
        self.seen
            .lock()
            .expect("lock")
            .ids
            .iter()
            .collect::<HashSet<_>>()
            .len()
    }

    pub fn times(&self) -> Vec<Instant> {
        self.seen.lock().expect("lock").times.clone()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) {
        wait(
            timeout,
            || self.count() >= n,
            || format!("receiver saw {} of {n} requests", self.count()),
        )
        .await;
    }

    pub async fn wait_for_distinct(&self, n: usize, timeout: Duration) {
        wait(
            timeout,
            || self.distinct_ids() >= n,
            || format!("receiver saw {} of {n} webhook ids", self.distinct_ids()),
        )
        .await;
    }
}

async fn answer(reply: Reply, first: bool) -> Response {
    match reply {
        Reply::Ok => StatusCode::OK.into_response(),
        Reply::OkAfter(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
        Reply::RetryAfterOnce(secs) if first => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", secs.to_string())],
        )
            .into_response(),
        Reply::RetryAfterOnce(_) => StatusCode::OK.into_response(),
    }
}

pub async fn wait(timeout: Duration, done: impl Fn() -> bool, what: impl Fn() -> String) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?}: {}",
            what()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `lc-webhooks serve` as a child process.
pub struct Service {
    pub port: u16,
    child: Child,
    http: reqwest::Client,
}

impl Service {
    pub async fn spawn(db: &Db, extra: &[(&str, &str)]) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        Service::spawn_on(db, port, extra).await
    }

    pub async fn spawn_on(db: &Db, port: u16, extra: &[(&str, &str)]) -> Service {
        let listen = format!("127.0.0.1:{port}");
        let mut flags = vec![
            ("--database-url", db.url.as_str()),
            ("--listen", listen.as_str()),
            ("--retry-schedule", "100ms,200ms,400ms,800ms,1s,1s,1s"),
            ("--http-timeout", "2s"),
            ("--lease-time", "3s"),
        ];
        for (flag, value) in extra {
            flags.retain(|(f, _)| f != flag);
            flags.push((flag, value));
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lc-webhooks"));
        cmd.arg("serve")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (flag, value) in flags {
            cmd.args([flag, value]);
        }
        let child = cmd.spawn().expect("spawn lc-webhooks");
        let service = Service {
            port,
            child,
            http: reqwest::Client::new(),
        };
        let health = format!("{}/healthz", service.base());
        let start = Instant::now();
        loop {
            if let Ok(r) = service.http.get(&health).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "service did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        service
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    pub fn kill_nine(mut self) {
        self.child.start_kill().expect("kill -9");
    }

    /// SIGTERM, then the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.pid().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("exits within 15 s of SIGTERM")
            .expect("exit status")
    }

    pub async fn stop(self) {
        let status = self.terminate().await;
        assert!(status.success(), "exit after SIGTERM: {status}");
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base()))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base()))
            .send()
            .await
            .expect("request");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }

    /// Every item of a list, following `nextCursor`.
    pub async fn get_all(&self, path: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(c) => format!("{path}{sep}limit=500&cursor={c}"),
                None => format!("{path}{sep}limit=500"),
            };
            let page = self.get(&page_path).await;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return items,
            }
        }
    }

    pub async fn create_integration(&self, name: &str, url: &str) -> String {
        let body = self
            .post(
                "/v1/integrations",
                serde_json::json!({"name": name, "url": url, "apiKey": "sk_fault"}),
            )
            .await;
        body["id"].as_str().expect("id").to_string()
    }

    pub async fn create_creator(&self, email: &str) -> String {
        let body = self
            .post("/v1/creators", serde_json::json!({ "email": email }))
            .await;
        body["id"].as_str().expect("id").to_string()
    }

    pub async fn wait_until_settled(&self, succeeded: usize, timeout: Duration) {
        let start = Instant::now();
        loop {
            let done = self.get_all("/v1/deliveries?status=succeeded").await.len();
            if done >= succeeded {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{done} of {succeeded} deliveries succeeded"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
