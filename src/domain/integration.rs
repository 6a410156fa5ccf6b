use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::invalid::{Invalid, Problem};
use super::time::serde_rfc3339;
use super::{AuthHeader, AuthPrefix, IntegrationId, Name, Secret, WebhookUrl};

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
    /// `false`: paused, or disabled because every attempt failed for too long
    /// (`disabledReason`). Its pending deliveries wait and go out when it is active again.
    /// Rewards earned while it is paused are not sent to it; those earned while it is disabled
    /// wait with the rest.
    pub active: bool,
    /// Which body its webhooks carry: `medias` (the seed's) or `posts`.
    pub payload_format: PayloadFormat,
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
}

/// A validated partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct IntegrationPatch {
    pub name: Option<Name>,
    pub url: Option<WebhookUrl>,
    pub api_key: Option<Secret>,
    pub auth_header: Option<AuthHeader>,
    pub auth_prefix: Option<AuthPrefix>,
    /// `Some(None)` removes the signing secret.
    pub signing_secret: Option<Option<Secret>>,
    /// `Some(true)` also clears an automatic disable.
    pub active: Option<bool>,
    pub payload_format: Option<PayloadFormat>,
}
