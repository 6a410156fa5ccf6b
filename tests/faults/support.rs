//! `lc-webhooks serve` as a real child process, and receiver helpers for at-least-once checks.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::common::{Receiver, TestDb};

/// Distinct `webhook-id`s the receiver has seen.
pub fn distinct_ids(receiver: &Receiver) -> usize {
    receipts_by_id(receiver).len()
}

/// When each `webhook-id` seen more than once was first received.
pub fn first_receipt_of_repeats(receiver: &Receiver) -> Vec<Instant> {
    receipts_by_id(receiver)
        .into_values()
        .filter(|(_, n)| *n > 1)
        .map(|(at, _)| at)
        .collect()
}

fn receipts_by_id(receiver: &Receiver) -> HashMap<String, (Instant, usize)> {
    let mut ids: HashMap<String, (Instant, usize)> = HashMap::new();
    for r in receiver.received() {
        ids.entry(r.header("webhook-id").unwrap_or_default())
            .or_insert((r.at, 0))
            .1 += 1;
    }
    ids
}

pub async fn wait_for_distinct(receiver: &Receiver, n: usize, timeout: Duration) {
    let start = Instant::now();
    while distinct_ids(receiver) < n {
        assert!(
            start.elapsed() < timeout,
            "receiver saw {} of {n} webhook ids",
            distinct_ids(receiver)
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
    pub async fn spawn(db: &TestDb, extra: &[(&str, &str)]) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        Service::spawn_on(db, port, extra).await
    }

    pub async fn spawn_on(db: &TestDb, port: u16, extra: &[(&str, &str)]) -> Service {
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

/// One integration at `receiver`, a rule every post earns, one creator. Returns the creator id.
pub async fn every_post_earns(service: &Service, receiver: &Receiver) -> String {
    service
        .create_integration("receiver", &receiver.url())
        .await;
    service
        .post(
            "/v1/rules",
            json!({"name": "every post", "count": 1, "repeatable": true, "reward": {"type": "DISCOUNT_CODE"}}),
        )
        .await;
    service.create_creator("crash@example.com").await
}
