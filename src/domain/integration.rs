use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::invalid::{Invalid, Problem};
use super::time::serde_rfc3339;
use super::{AuthHeader, AuthPrefix, EventTypes, IntegrationId, Name, Secret, WebhookUrl};

/// Which body an integration's webhooks carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    /// The seed page's: `medias`, each `{"lcId", "postedAt", "postType"}`.
    #[default]
    Medias,
    /// LoudCrowd's later help page: `posts`, each with a `platform` too.
    Posts,
}

impl PayloadFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Medias => "medias",
            PayloadFormat::Posts => "posts",
        }
    }

    pub fn parse(s: &str) -> Result<PayloadFormat, Invalid> {
        match s {
            "medias" => Ok(PayloadFormat::Medias),
            "posts" => Ok(PayloadFormat::Posts),
            other => Err(Invalid::new(
                Problem::PayloadFormat,
                format!("payloadFormat must be \"medias\" or \"posts\", not {other:?}"),
            )),
        }
    }
}

/// The most `maxConcurrency` and `maxPerSecond` may be set to.
pub const MAX_CONCURRENCY: u32 = 10_000;
pub const MAX_PER_SECOND: u32 = 10_000;

/// An integration's own limits on sending; `None`: none of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntegrationLimits {
    /// Sends at once, at most (the adaptive limit stays within it).
    pub max_concurrency: Option<u32>,
    /// Sends started in any one second, at most.
    pub max_per_second: Option<u32>,
}

/// `maxConcurrency`: 1 to [`MAX_CONCURRENCY`].
pub fn check_max_concurrency(n: u32) -> Result<u32, Invalid> {
    if !(1..=MAX_CONCURRENCY).contains(&n) {
        return Err(Invalid::new(
            Problem::MaxConcurrency,
            format!("maxConcurrency must be from 1 to {MAX_CONCURRENCY}, or null for no limit of its own"),
        ));
    }
    Ok(n)
}

/// `maxPerSecond`: 1 to [`MAX_PER_SECOND`].
pub fn check_max_per_second(n: u32) -> Result<u32, Invalid> {
    if !(1..=MAX_PER_SECOND).contains(&n) {
        return Err(Invalid::new(
            Problem::MaxPerSecond,
            format!("maxPerSecond must be from 1 to {MAX_PER_SECOND}, or null for no rate limit"),
        ));
    }
    Ok(n)
}

/// An outbound webhook as the API shows it: the key and signing secret stay out.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub id: IntegrationId,
    pub name: String,
    #[schema(format = Uri)]
    pub url: String,
    /// The header the API key is sent in.
    pub auth_header: String,
    /// Written before the key in that header.
    pub auth_prefix: String,
    /// `…` and the key's last min(4, length / 4) characters (`sk_test_123` → `…23`), so at most
    /// a quarter of it; only `…` for a key shorter than 8 characters.
    pub api_key_hint: String,
    /// The key's length in characters, shown beside the hint (`11 characters, ending …23`).
    pub api_key_length: u32,
    /// Whether webhooks carry a `webhook-signature`.
    pub signing: bool,
    /// When the signing secret was last rotated (`POST …/rotate-secret`); `null` if never.
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub signing_secret_rotated_at: Option<DateTime<Utc>>,
    /// Until when webhooks also carry a signature made with the secret the last rotation
    /// replaced; `null` if never rotated, or since a `PATCH` of `signingSecret` (which switches
    /// at once). Neither secret is ever returned.
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// `false`: paused, or disabled because every attempt failed for too long
    /// (`disabledReason`). Its pending deliveries wait and go out when it is active again.
    /// Rewards earned while it is paused are not sent to it; those earned while it is disabled
    /// wait with the rest.
    pub active: bool,
    /// Which body its webhooks carry: `medias` (the seed's) or `posts`.
    pub payload_format: PayloadFormat,
    /// The event types it receives (`lc-event-type`); default the two reward types. Empty:
    /// none but Test sends.
    pub event_types: EventTypes,
    /// The most sends to it at once (1–10,000); `null`: the service's
    /// `--max-in-flight-per-integration`. Within it the limit adapts to how the receiver
    /// answers (`health.concurrencyLimit`).
    #[schema(required = true, minimum = 1, maximum = 10000)]
    pub max_concurrency: Option<u32>,
    /// The most sends to it started in any one second (1–10,000); `null`: no rate limit.
    #[schema(required = true, minimum = 1, maximum = 10000)]
    pub max_per_second: Option<u32>,
    /// Why it was disabled automatically (`every attempt failed since …: last HTTP 503`);
    /// `null` unless it was. Cleared by making it active again.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// When it was disabled automatically; `null` unless it was.
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub disabled_at: Option<DateTime<Utc>>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "serde_rfc3339")]
    pub updated_at: DateTime<Utc>,
    pub health: IntegrationHealth,
}

/// How an integration's receiver has been answering.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationHealth {
    /// Attempts in the last one to two hours.
    pub recent_attempts: u64,
    /// The share of those that got a 2xx, 0.0 to 1.0; `null` without any.
    #[schema(required = true, minimum = 0.0, maximum = 1.0)]
    pub recent_success_rate: Option<f64>,
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub last_success_at: Option<DateTime<Utc>>,
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub last_failure_at: Option<DateTime<Utc>>,
    /// The last failure in a few words (`HTTP 503`, `connection failed: …`).
    #[schema(required = true)]
    pub last_failure: Option<String>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// When the current run of failures began; `null` when the last attempt succeeded.
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub failing_since: Option<DateTime<Utc>>,
    /// The sends at once this instance allows it now: adaptive, growing while its receiver
    /// answers at a steady latency, cut on 429, 502–504, timeouts, failed connections or
    /// climbing latency, never above `maxConcurrency`. `null` until this instance has sent to it.
    #[schema(required = true, minimum = 1)]
    pub concurrency_limit: Option<u32>,
}

/// A validated integration to store.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub name: Name,
    pub url: WebhookUrl,
    pub api_key: Secret,
    pub auth_header: AuthHeader,
    pub auth_prefix: AuthPrefix,
    pub signing_secret: Option<Secret>,
    pub active: bool,
    pub payload_format: PayloadFormat,
    pub limits: IntegrationLimits,
    pub event_types: EventTypes,
}

/// A validated partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct IntegrationPatch {
    pub name: Option<Name>,
    pub url: Option<WebhookUrl>,
    pub api_key: Option<Secret>,
    pub auth_header: Option<AuthHeader>,
    pub auth_prefix: Option<AuthPrefix>,
    /// `Some(None)` removes the signing secret. Either way any previous secret still in its
    /// grace period is dropped: a PATCH switches at once.
    pub signing_secret: Option<Option<Secret>>,
    /// `Some(true)` also clears an automatic disable.
    pub active: Option<bool>,
    pub payload_format: Option<PayloadFormat>,
    pub event_types: Option<EventTypes>,
    /// `Some(None)` removes its own maximum.
    pub max_concurrency: Option<Option<u32>>,
    /// `Some(None)` removes its rate limit.
    pub max_per_second: Option<Option<u32>>,
}
