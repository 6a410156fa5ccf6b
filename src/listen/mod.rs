//! `lc-webhooks listen`: the receiving side's tool. It prints each webhook as it arrives (a
//! summary line with its event type, what the checks found, the body), checks the API key and
//! the signature and answers `401` when either is wrong, answers `400` to a webhook without a
//! known `lc-event-type`, can show only some event types (`--event-type`; the others are
//! answered `200` unprinted), and can fail or slow down on purpose, or pass each webhook on to
//! the user's own receiver.

mod check;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rand::Rng;
use serde_json::Value;
use thiserror::Error;

use crate::domain::EventType;

pub use check::{Expect, Seen, Verdict};

/// How `listen` behaves, from its flags.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    pub addr: SocketAddr,
    pub expect: Expect,
    /// Share of webhooks answered `503` on purpose, 0.0 to 1.0.
    pub fail_rate: f64,
    /// Wait before answering each webhook.
    pub delay: Duration,
    /// Pass each webhook on here and answer with what it answered.
    pub forward_to: Option<url::Url>,
    /// The event types shown and handled; empty: all. A webhook of another type that passes the
    /// checks is answered 200 and not printed (nor delayed, failed or forwarded), so the sender
    /// settles it.
    pub event_types: Vec<EventType>,
}

#[derive(Debug, Error)]
pub enum ListenError {
    #[error("cannot listen on {addr} (--listen / LC_RECEIVER_LISTEN): {source}{hint}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("cannot build the HTTP client for --forward-to: {0}")]
    Client(#[from] reqwest::Error),
    #[error("receiving failed: {0}")]
    Serve(std::io::Error),
}

struct Listener {
    config: ListenConfig,
    client: reqwest::Client,
    /// One webhook's lines stay together when several arrive at once.
    out: Mutex<()>,
}

/// Receives until `shutdown` completes.
pub async fn run(
    config: ListenConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ListenError> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ListenError::Bind {
            addr: config.addr,
            hint: crate::config::bind_hint(&source),
            source,
        })?;
    let addr = listener.local_addr().map_err(ListenError::Serve)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    print_banner(&config, addr);
    let state = Arc::new(Listener {
        config,
        client,
        out: Mutex::new(()),
    });
    let app = Router::new().fallback(receive).with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ListenError::Serve)
}

fn print_banner(config: &ListenConfig, addr: SocketAddr) {
    let e = &config.expect;
    let key = match &e.api_key {
        Some(k) => format!(
            "checking {}: {}{}",
            e.auth_header,
            e.auth_prefix,
            check::shown(k.expose())
        ),
        None => "not checking the API key (give --api-key)".into(),
    };
    let signature = if !e.signing_secrets.is_empty() {
        let secrets = match e.signing_secrets.len() {
            1 => String::new(),
            n => format!(" (any of {n} secrets)"),
        };
        format!(
            "checking signatures{secrets}, timestamps within {} s",
            e.tolerance.as_secs()
        )
    } else {
        "not checking signatures (give --signing-secret)".into()
    };
    let mut line =
        format!("listening for webhooks on http://{addr}/ (any path); {key}; {signature}");
    if config.fail_rate > 0.0 {
        line.push_str(&format!(
            "; failing {:.0}% on purpose",
            config.fail_rate * 100.0
        ));
    }
    if !config.delay.is_zero() {
        line.push_str(&format!("; answering after {:?}", config.delay));
    }
    if let Some(to) = &config.forward_to {
        line.push_str(&format!("; forwarding to {}", redacted(to)));
    }
    if !config.event_types.is_empty() {
        let names: Vec<&str> = config.event_types.iter().map(|t| t.as_str()).collect();
        line.push_str(&format!(
            "; showing only {} (others answered 200 unprinted)",
            names.join(", ")
        ));
    }
    println!("{line}");
    let _ = std::io::stdout().flush();
}

/// A URL without its credentials, for printing.
fn redacted(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

async fn receive(
    State(s): State<Arc<Listener>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [("allow", "POST")],
            "webhooks are POSTed\n",
        )
            .into_response();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let seen = Seen {
        auth: header(&s.config.expect.auth_header),
        webhook_id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        event_type: header("lc-event-type"),
    };
    let now = chrono::Utc::now().timestamp();
    let key = check::api_key(&s.config.expect, &seen);
    let signature = check::signature(&s.config.expect, &seen, &body, now);
    let (kind, event_type) = check::event_type(&seen);
    // A wrong key or signature is shown whatever the type: it is the sender's set-up to fix.
    let (status, answer, note) = if key.is_wrong() || signature.is_wrong() {
        (StatusCode::UNAUTHORIZED, refusal(&[&key, &signature]), None)
    } else if kind.is_wrong() {
        (StatusCode::BAD_REQUEST, refusal(&[&kind]), None)
    } else if event_type.is_some_and(|t| !s.shows(t)) {
        return (StatusCode::OK, "ignored (--event-type)\n").into_response();
    } else {
        // Said at once, so a sender that gives up waiting is seen to, on this side too.
        let held = (!s.config.delay.is_zero()).then(|| Held::start(&s, &seen, &body));
        let answered = s.answer(&headers, &body).await;
        if let Some(held) = held {
            held.answered();
        }
        answered
    };
    s.print(
        &seen,
        &[&key, &signature, &kind],
        &body,
        status,
        note.as_deref(),
    );
    (status, answer).into_response()
}

/// The body of a 401 or 400: which check failed.
fn refusal(verdicts: &[&Verdict]) -> String {
    verdicts
        .iter()
        .filter_map(|v| match v {
            Verdict::Wrong(why) => Some(why.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
        + "\n"
}

impl Listener {
    /// Whether webhooks of `t` are shown (`--event-type`).
    fn shows(&self, t: EventType) -> bool {
        self.config.event_types.is_empty() || self.config.event_types.contains(&t)
    }

    /// What a webhook that passed the checks is answered: after the delay, a failure on
    /// purpose, the forward target's answer, or 200.
    async fn answer(
        &self,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> (StatusCode, String, Option<String>) {
        if !self.config.delay.is_zero() {
            tokio::time::sleep(self.config.delay).await;
        }
        if self.config.fail_rate > 0.0
            && rand::thread_rng().gen_bool(self.config.fail_rate.min(1.0))
        {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "failing on purpose (--fail-rate)\n".into(),
                Some("failed on purpose (--fail-rate)".into()),
            );
        }
        let Some(to) = &self.config.forward_to else {
            return (StatusCode::OK, "ok\n".into(), None);
        };
        let started = Instant::now();
        let mut forward = self.client.post(to.clone()).body(body.clone());
        for (name, value) in headers {
            if !matches!(name.as_str(), "host" | "content-length" | "connection") {
                forward = forward.header(name, value);
            }
        }
        match forward.send().await {
            Ok(response) => {
                let status = StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                let text = response.text().await.unwrap_or_default();
                let note = format!(
                    "forwarded to {}: {} in {} ms{}",
                    redacted(to),
                    status.as_u16(),
                    started.elapsed().as_millis(),
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", text.chars().take(200).collect::<String>())
                    }
                );
                (status, text, Some(note))
            }
            Err(e) => (
                StatusCode::BAD_GATEWAY,
                format!("forwarding failed: {e}\n"),
                Some(format!("forwarding to {} failed: {e}", redacted(to))),
            ),
        }
    }

    fn print(
        &self,
        seen: &Seen<'_>,
        verdicts: &[&Verdict],
        body: &[u8],
        status: StatusCode,
        note: Option<&str>,
    ) {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let mut text = format!(
            "{} -> {}\n",
            summary(seen, parsed.as_ref()),
            status.as_u16()
        );
        for verdict in verdicts {
            let (mark, what) = match verdict {
                Verdict::Ok(w) => ("ok", w),
                Verdict::Skipped(w) => ("--", w),
                Verdict::Wrong(w) => ("WRONG", w),
            };
            text.push_str(&format!("  {mark:<5} {what}\n"));
        }
        if let Some(note) = note {
            text.push_str(&format!("  {note}\n"));
        }
        match &parsed {
            Some(v) => {
                text.push_str(&serde_json::to_string_pretty(v).unwrap_or_default());
                text.push('\n');
            }
            None => text.push_str(&format!("{}\n", String::from_utf8_lossy(body))),
        }
        self.write(&text);
    }

    /// Writes one webhook's lines at once.
    fn write(&self, text: &str) {
        let _guard = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }
}

/// A webhook held for `--delay`: said when it arrives, and, if the sender closes the connection
/// before the answer (its timeout ran out), said again when that happens.
struct Held {
    listener: Arc<Listener>,
    webhook_id: String,
    since: Instant,
    answered: bool,
}

impl Held {
    fn start(listener: &Arc<Listener>, seen: &Seen<'_>, body: &[u8]) -> Held {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        listener.write(&format!(
            "{}: holding it {:?} before answering (--delay)\n",
            summary(seen, parsed.as_ref()),
            listener.config.delay
        ));
        Held {
            listener: listener.clone(),
            webhook_id: seen.webhook_id.unwrap_or("(no webhook-id)").to_string(),
            since: Instant::now(),
            answered: false,
        }
    }

    fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for Held {
    /// The server drops the request when its connection closes: the sender gave up.
    fn drop(&mut self) {
        if !self.answered {
            self.listener.write(&format!(
                "{} {} the sender gave up after {:.1} s and closed the connection before the \
                 answer (lc-webhooks does at its --http-timeout): it counts the attempt as failed\n",
                chrono::Utc::now().format("%H:%M:%S%.3f"),
                self.webhook_id,
                self.since.elapsed().as_secs_f64()
            ));
        }
    }
}

/// A webhook in one line: time, `webhook-id`, event type, email, and what it is about (a
/// reward's code and posts, a program, a sale).
fn summary(seen: &Seen<'_>, parsed: Option<&Value>) -> String {
    let field = |name: &str| {
        parsed
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string()
    };
    let medias = parsed
        .and_then(|v| v.get("medias").or_else(|| v.get("posts")))
        .and_then(Value::as_array);
    let program = parsed
        .and_then(|v| v.get("program"))
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str);
    let sale = parsed.and_then(|v| v.get("sale"));
    let about = match (medias, program, sale) {
        (None, Some(name), _) => format!("program {name}"),
        (None, None, Some(sale)) => {
            let text = |k: &str| sale.get(k).and_then(Value::as_str).unwrap_or("-");
            format!(
                "sale {} {} {}",
                text("orderId"),
                text("amount"),
                text("currency")
            )
        }
        _ => String::new(),
    };
    let posts = match medias {
        Some(list) => {
            let kinds: Vec<&str> = list
                .iter()
                .filter_map(|m| m.get("postType").and_then(Value::as_str))
                .collect();
            let noun = if list.len() == 1 { "post" } else { "posts" };
            format!("{} {noun} ({})", list.len(), kinds.join(", "))
        }
        None => "no posts".into(),
    };
    let kind = seen.event_type.unwrap_or("(no lc-event-type)");
    let time = chrono::Utc::now().format("%H:%M:%S%.3f");
    let id = seen.webhook_id.unwrap_or("(no webhook-id)");
    if about.is_empty() {
        format!(
            "{time} {id} {kind} {} {} {posts}",
            field("email"),
            field("discountCode"),
        )
    } else {
        format!("{time} {id} {kind} {} {about}", field("email"))
    }
}
