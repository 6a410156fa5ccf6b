//! One HTTP attempt: headers, signature, timeout, the first 4 KiB of the answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use rustls::pki_types::CertificateDer;

use super::guard::TargetPolicy;
use super::http1::Client;
use super::signature;
use crate::domain::{time, Clock, DeliveryId, EventType, SendTarget};

/// How much of a response body the delivery log keeps.
pub const RESPONSE_BODY_LIMIT: usize = 4096;
/// Idle connections kept, to all receivers together: as many as sends may be in flight by
/// default (`--max-in-flight`, 8192).
const IDLE_CONNECTIONS: usize = 8192;
pub const USER_AGENT: &str = concat!("lc-webhooks/", env!("CARGO_PKG_VERSION"));
/// The header naming what a webhook is about (`reward.instant`, `sale.created`, …).
pub const EVENT_TYPE: &str = "lc-event-type";

/// What one attempt saw.
#[derive(Debug, Clone)]
pub struct Sent {
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub status: Option<u16>,
    pub body: Option<String>,
    pub error: Option<String>,
    /// The receiver's `Retry-After`, on a 429 or 503.
    pub retry_after: Option<Duration>,
    /// The headers the request carried, the API key masked to its hint; empty when the
    /// headers could not be built.
    pub request_headers: BTreeMap<String, String>,
}

impl Sent {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

#[derive(Clone)]
pub struct Sender {
    client: Arc<Client>,
    policy: Arc<TargetPolicy>,
    /// The whole attempt's limit: connecting, sending, and reading the answer.
    timeout: Duration,
    /// Decides whether a rotated-out secret is still in its grace period at an attempt. The
    /// `webhook-timestamp` stays the system's time: receivers check it against their own clock.
    clock: Clock,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub fn new(timeout: Duration, policy: TargetPolicy) -> Result<Self, rustls::Error> {
        Self::trusting(timeout, policy, Vec::new())
    }

    /// A sender that also trusts `roots` for HTTPS (a test's own certificate authority).
    pub fn trusting(
        timeout: Duration,
        policy: TargetPolicy,
        roots: Vec<CertificateDer<'static>>,
    ) -> Result<Self, rustls::Error> {
        let policy = Arc::new(policy);
        // A connection per send in flight stays open for the next one: a receiver that takes
        // 200 ms at thousands a second holds a thousand or more, and closing all but a few
        // hundred cost a TCP handshake per send on both sides (--max-in-flight bounds them).
        let client = Client::new(policy.clone(), timeout, IDLE_CONNECTIONS, USER_AGENT, roots)?;
        Ok(Sender {
            client: Arc::new(client),
            policy,
            timeout,
            clock: Clock::system(),
        })
    }

    /// The same sender, judging secrets' grace periods by `clock` (the service's, which tests
    /// can set).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The addresses this sender refuses to reach.
    pub fn policy(&self) -> &TargetPolicy {
        &self.policy
    }

    /// Sends `body` to the target. `delivery_id` is the `webhook-id`, the same on every attempt;
    /// `event_type` is the `lc-event-type` header; `traceparent`, the attempt's span when tracing
    /// is on, is the W3C `traceparent` header (none when off).
    pub async fn send(
        &self,
        target: &SendTarget,
        delivery_id: &DeliveryId,
        event_type: EventType,
        body: &str,
        traceparent: Option<&str>,
    ) -> Sent {
        let started_at = time::now();
        let clock = Instant::now();
        let mut request_headers = BTreeMap::new();
        let signed = Signed {
            timestamp: started_at.timestamp(),
            // The clock is read only when a rotated-out secret may still sign.
            secrets_at: match target.previous_secret {
                Some(_) => self.clock.now(),
                None => started_at,
            },
        };
        let result = match headers(target, &delivery_id.to_string(), signed, body) {
            Ok(mut headers) => {
                headers.insert(EVENT_TYPE, HeaderValue::from_static(event_type.as_str()));
                if let Some(Ok(parent)) = traceparent.map(HeaderValue::from_str) {
                    headers.insert(crate::traces::TRACEPARENT, parent);
                }
                request_headers = shown(&headers, target);
                self.post(&target.url, &headers, body).await
            }
            Err(e) => Err(e),
        };
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let result = result
            .map(|(status, retry_after, body)| (status, retry_after, redact(body, target)))
            .map_err(|error| redact(error, target));
        match result {
            Ok((status, retry_after, body)) => Sent {
                started_at,
                duration_ms,
                status: Some(status),
                body: Some(body),
                error: None,
                retry_after,
                request_headers,
            },
            Err(error) => Sent {
                started_at,
                duration_ms,
                status: None,
                body: None,
                error: Some(error),
                retry_after: None,
                request_headers,
            },
        }
    }

    async fn post(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<(u16, Option<Duration>, String), String> {
        let post = self
            .client
            .post(url, headers, body.as_bytes(), RESPONSE_BODY_LIMIT);
        let response = match tokio::time::timeout(self.timeout, post).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("timed out".to_string()),
        };
        let retry_after = match response.status {
            429 | 503 => response.retry_after.as_deref().and_then(parse_retry_after),
            _ => None,
        };
        Ok((
            response.status,
            retry_after,
            String::from_utf8_lossy(&response.body).into_owned(),
        ))
    }
}

/// When an attempt is made: its `webhook-timestamp`, and the time its signing secrets are chosen
/// at.
#[derive(Debug, Clone, Copy)]
struct Signed {
    timestamp: i64,
    secrets_at: DateTime<Utc>,
}

fn headers(
    target: &SendTarget,
    delivery_id: &str,
    signed: Signed,
    body: &str,
) -> Result<HeaderMap, String> {
    let timestamp = signed.timestamp;
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let auth_name = HeaderName::from_bytes(target.auth_header.as_bytes())
        .map_err(|_| "the integration's authHeader is not a valid header name".to_string())?;
    let mut auth_value = HeaderValue::from_str(&format!(
        "{}{}",
        target.auth_prefix,
        target.api_key.expose()
    ))
    .map_err(|_| "the integration's API key is not a valid header value".to_string())?;
    auth_value.set_sensitive(true);
    h.insert(auth_name, auth_value);
    h.insert("webhook-id", value(delivery_id)?);
    h.insert("webhook-timestamp", value(&timestamp.to_string())?);
    // During a rotation's grace period, one signature per secret, space-separated (Standard
    // Webhooks): a receiver holding either secret verifies.
    // Built in place: one signature, the usual case, costs what it did before rotation existed.
    let mut signature: Option<String> = None;
    for secret in target.signing_secrets(signed.secrets_at) {
        let sig = signature::sign(secret.expose(), delivery_id, timestamp, body.as_bytes())
            .ok_or_else(|| "the integration's signing secret is malformed".to_string())?;
        signature = Some(match signature {
            None => sig,
            Some(mut all) => {
                all.push(' ');
                all.push_str(&sig);
                all
            }
        });
    }
    if let Some(signature) = signature {
        h.insert("webhook-signature", value(&signature)?);
    }
    Ok(h)
}

/// The headers as the delivery log shows them: the key's header as `<prefix><hint>`, and the
/// `User-Agent` the client adds.
fn shown(headers: &HeaderMap, target: &SendTarget) -> BTreeMap<String, String> {
    let key_header = target.auth_header.to_ascii_lowercase();
    let mut shown: BTreeMap<String, String> = headers
        .iter()
        .map(|(name, value)| {
            let text = if name.as_str() == key_header {
                format!("{}{}", target.auth_prefix, target.api_key.hint())
            } else {
                value.to_str().unwrap_or("").to_string()
            };
            (name.as_str().to_string(), text)
        })
        .collect();
    shown.insert("user-agent".into(), USER_AGENT.into());
    shown
}

fn value(s: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(s).map_err(|_| format!("`{s}` is not a valid header value"))
}

/// Receivers sometimes echo credentials back ("bad key: Bearer sk_…"); the delivery log must
/// not keep them. Very short values are left alone: replacing them would mangle any text.
fn redact(mut text: String, target: &SendTarget) -> String {
    let secrets = [
        Some(&target.api_key),
        target.signing_secret.as_ref(),
        target.previous_secret.as_ref().map(|p| &p.secret),
    ];
    for secret in secrets.into_iter().flatten() {
        let value = secret.expose();
        let key_part = value
            .strip_prefix(crate::domain::SIGNING_SECRET_PREFIX)
            .unwrap_or(value);
        for needle in [value, key_part] {
            if needle.len() >= 4 && text.contains(needle) {
                text = text.replace(needle, "[redacted]");
            }
        }
    }
    text
}

/// `Retry-After` as delay-seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v.trim())
        .ok()?
        .with_timezone(&Utc);
    (at - Utc::now()).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Secret;

    fn target(secret: Option<&str>) -> SendTarget {
        SendTarget {
            integration_id: crate::domain::IntegrationId::named("i"),
            url: "http://127.0.0.1:1/".into(),
            auth_header: "X-Api-Key".into(),
            auth_prefix: "Key ".into(),
            api_key: Secret::new("k123".into()),
            signing_secret: secret.map(|s| Secret::new(s.into())),
            previous_secret: None,
        }
    }

    fn at(timestamp: i64) -> Signed {
        Signed {
            timestamp,
            secrets_at: chrono::DateTime::from_timestamp(timestamp, 0).expect("time"),
        }
    }

    #[test]
    fn headers_carry_key_id_timestamp_and_signature() {
        let h = headers(
            &target(Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
            "d1",
            at(1614265330),
            "{}",
        )
        .expect("valid");
        assert_eq!(h["x-api-key"], "Key k123");
        assert_eq!(h["webhook-id"], "d1");
        assert_eq!(h["webhook-timestamp"], "1614265330");
        assert!(h["webhook-signature"]
            .to_str()
            .expect("ascii")
            .starts_with("v1,"));
        assert!(!headers(&target(None), "d1", at(1), "{}")
            .expect("valid")
            .contains_key("webhook-signature"));
    }

    #[test]
    fn the_log_shows_the_headers_with_the_key_masked() {
        let mut t = target(Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        t.api_key = Secret::new("sk_live_0123456789abcd".into());
        let h = headers(&t, "d1", at(1614265330), "{}").expect("valid");
        let shown = shown(&h, &t);
        assert_eq!(shown["x-api-key"], "Key …abcd");
        assert_eq!(shown["webhook-id"], "d1");
        assert!(shown["webhook-signature"].starts_with("v1,"));
        assert_eq!(shown["user-agent"], USER_AGENT);
        assert!(!format!("{shown:?}").contains("0123456789"));
    }

    #[test]
    fn during_the_grace_period_both_secrets_sign_and_after_it_only_the_new_one() {
        const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        const NEW: &str = "whsec_c2lnbmluZy1rZXktbmV3LTAxMjM0NTY3ODk=";
        let mut t = target(Some(NEW));
        let rotated = 1614265330;
        t.previous_secret = Some(crate::domain::PreviousSecret {
            secret: Secret::new(OLD.into()),
            expires_at: chrono::DateTime::from_timestamp(rotated + 60, 0).expect("time"),
        });
        let sig = |signed| {
            headers(&t, "d1", signed, "{}").expect("valid")["webhook-signature"]
                .to_str()
                .expect("ascii")
                .to_string()
        };
        let new = signature::sign(NEW, "d1", rotated, b"{}").expect("sig");
        let old = signature::sign(OLD, "d1", rotated, b"{}").expect("sig");
        assert_eq!(sig(at(rotated)), format!("{new} {old}"));
        let later = Signed {
            timestamp: rotated,
            secrets_at: chrono::DateTime::from_timestamp(rotated + 60, 0).expect("time"),
        };
        assert_eq!(sig(later), new);
        let body = format!("echo {OLD}");
        assert_eq!(redact(body, &t), "echo [redacted]");
    }

    #[test]
    fn echoed_secrets_are_redacted() {
        let t = target(Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        let body = "denied: Key k123 / MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
        assert_eq!(redact(body, &t), "denied: Key [redacted] / [redacted]");
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("soon"), None);
    }
}
