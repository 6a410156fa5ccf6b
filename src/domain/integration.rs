use chrono::{DateTime, Utc};
use serde::Serialize;

use super::time::serde_rfc3339;
use super::Secret;

/// An outbound webhook as the API shows it: the key and signing secret stay out.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub url: String,
    pub auth_header: String,
    pub auth_prefix: String,
    pub api_key_hint: String,
    pub signing: bool,
    pub active: bool,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "serde_rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// A validated integration to store.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub name: String,
    pub url: String,
    pub api_key: Secret,
    pub auth_header: String,
    pub auth_prefix: String,
    pub signing_secret: Option<Secret>,
    pub active: bool,
}

/// A validated partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct IntegrationPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub api_key: Option<Secret>,
    pub auth_header: Option<String>,
    pub auth_prefix: Option<String>,
    /// `Some(None)` removes the signing secret.
    pub signing_secret: Option<Option<Secret>>,
    pub active: Option<bool>,
}

/// What the dispatcher needs to send to one integration, secrets included.
#[derive(Debug, Clone)]
pub struct SendTarget {
    pub integration_id: String,
    pub url: String,
    pub auth_header: String,
    pub auth_prefix: String,
    pub api_key: Secret,
    pub signing_secret: Option<Secret>,
}
