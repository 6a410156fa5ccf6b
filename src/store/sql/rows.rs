//! Rows as the databases return them, their column lists, and their conversion to domain types.

use serde::de::DeserializeOwned;

use crate::domain::time::from_micros;
use crate::domain::{
    key_hint, Attempt, Creator, CreatorId, Delivery, DeliveryId, DeliveryStatus, FulfillmentId,
    Integration, IntegrationId, Media, MediaId, MediaType, PayloadFormat, Platform, PostType,
    ProgramId, Rule, RuleId, RuleOptions, Schedule, Secret, SendTarget,
};
use crate::error::{Error, Result};

pub(crate) fn json<T: DeserializeOwned>(text: &str) -> Result<T> {
    Ok(serde_json::from_str(text)?)
}

fn opt_json<T: DeserializeOwned>(text: Option<&str>) -> Result<Option<T>> {
    text.map(json).transpose()
}

fn u32_of(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Corrupt(format!("{what} out of range: {v}")))
}

/// How to reach an integration's receiver: the columns a send needs, wherever they are read.
#[derive(sqlx::FromRow)]
pub(crate) struct TargetRow {
    pub url: String,
    pub auth_header: String,
    pub auth_prefix: String,
    pub api_key: String,
    pub signing_secret: Option<String>,
}

impl TargetRow {
    pub(crate) fn into_target(self, integration_id: IntegrationId) -> SendTarget {
        SendTarget {
            integration_id,
            url: self.url,
            auth_header: self.auth_header,
            auth_prefix: self.auth_prefix,
            api_key: Secret::new(self.api_key),
            signing_secret: self.signing_secret.map(Secret::new),
        }
    }
}

pub(crate) const INTEGRATION_COLUMNS: &str =
    "id, name, url, api_key, auth_header, auth_prefix, signing_secret, active, payload_format,
     max_concurrency, max_per_second, disabled_reason, disabled_at, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct IntegrationRow {
    pub id: IntegrationId,
    pub name: String,
    #[sqlx(flatten)]
    pub target: TargetRow,
    pub active: i64,
    pub payload_format: String,
    pub max_concurrency: Option<i64>,
    pub max_per_second: Option<i64>,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl IntegrationRow {
    /// A format this build does not know is read as the default: the column only ever holds
    /// what the API accepted.
    pub fn format(&self) -> PayloadFormat {
        PayloadFormat::parse(&self.payload_format).unwrap_or_default()
    }
}

impl From<IntegrationRow> for Integration {
    fn from(r: IntegrationRow) -> Self {
        Integration {
            payload_format: r.format(),
            max_concurrency: r.max_concurrency.and_then(|n| u32::try_from(n).ok()),
            max_per_second: r.max_per_second.and_then(|n| u32::try_from(n).ok()),
            disabled_reason: r.disabled_reason,
            disabled_at: r.disabled_at.map(from_micros),
            api_key_hint: key_hint(&r.target.api_key),
            api_key_length: u32::try_from(r.target.api_key.chars().count()).unwrap_or(u32::MAX),
            id: r.id,
            name: r.name,
            url: r.target.url,
            auth_header: r.target.auth_header,
            auth_prefix: r.target.auth_prefix,
            signing: r.target.signing_secret.is_some(),
            active: r.active != 0,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
            health: Default::default(),
        }
    }
}

pub(crate) const CREATOR_COLUMNS: &str = "id, email, ig_username, tt_username, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct CreatorRow {
    pub id: CreatorId,
    pub email: String,
    pub ig_username: Option<String>,
    pub tt_username: Option<String>,
    pub created_at: i64,
}

impl From<CreatorRow> for Creator {
    fn from(r: CreatorRow) -> Self {
        Creator {
            id: r.id,
            email: r.email,
            ig_username: r.ig_username,
            tt_username: r.tt_username,
            created_at: from_micros(r.created_at),
        }
    }
}

pub(crate) const MEDIA_COLUMNS: &str =
    "id, creator_id, platform, post_type, posted_at, ingested_at, external_id, media_type";

#[derive(sqlx::FromRow)]
pub(crate) struct MediaRow {
    pub id: MediaId,
    pub creator_id: CreatorId,
    pub platform: String,
    pub post_type: String,
    pub posted_at: i64,
    pub ingested_at: i64,
    pub external_id: Option<String>,
    pub media_type: Option<String>,
}

impl TryFrom<MediaRow> for Media {
    type Error = Error;
    fn try_from(r: MediaRow) -> Result<Self> {
        Ok(Media {
            platform: Platform::parse(&r.platform)
                .ok_or_else(|| Error::Corrupt(format!("platform {}", r.platform)))?,
            post_type: PostType::parse(&r.post_type)
                .ok_or_else(|| Error::Corrupt(format!("post type {}", r.post_type)))?,
            id: r.id,
            creator_id: r.creator_id,
            posted_at: from_micros(r.posted_at),
            ingested_at: from_micros(r.ingested_at),
            media_type: r
                .media_type
                .map(|t| {
                    MediaType::parse(&t).ok_or_else(|| Error::Corrupt(format!("media type {t}")))
                })
                .transpose()?,
            external_id: r.external_id,
        })
    }
}

pub(crate) const RULE_COLUMNS: &str =
    "id, name, post_types, platforms, count, window_days, repeatable, reward, \
     integration_ids, active, created_at, updated_at, program_id, buffer_days, \
     fulfillment_limit, timeframe_days, segments, min_followers, media_types, schedule, tiers, \
     time_zone";

#[derive(sqlx::FromRow)]
pub(crate) struct RuleRow {
    pub id: RuleId,
    pub name: String,
    pub post_types: String,
    pub platforms: Option<String>,
    pub count: i64,
    pub window_days: Option<i64>,
    pub repeatable: i64,
    pub reward: String,
    pub integration_ids: Option<String>,
    pub active: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub program_id: Option<ProgramId>,
    pub buffer_days: Option<i64>,
    pub fulfillment_limit: Option<i64>,
    pub timeframe_days: Option<i64>,
    pub segments: String,
    pub min_followers: Option<i64>,
    pub media_types: String,
    pub schedule: String,
    pub tiers: Option<String>,
    pub time_zone: Option<String>,
}

impl TryFrom<RuleRow> for Rule {
    type Error = Error;
    fn try_from(r: RuleRow) -> Result<Self> {
        let schedule = Schedule::parse(&r.schedule)
            .ok_or_else(|| Error::Corrupt(format!("rule schedule {}", r.schedule)))?;
        // A monthly rule's count and reward columns hold placeholders: its tiers say.
        let instant = schedule == Schedule::Instant;
        Ok(Rule {
            post_types: json(&r.post_types)?,
            platforms: opt_json(r.platforms.as_deref())?,
            count: instant.then(|| u32_of(r.count, "count")).transpose()?,
            window_days: r.window_days.map(|d| u32_of(d, "windowDays")).transpose()?,
            repeatable: r.repeatable != 0,
            reward: instant.then(|| json(&r.reward)).transpose()?,
            schedule,
            tiers: opt_json(r.tiers.as_deref())?,
            time_zone: r.time_zone,
            integration_ids: opt_json(r.integration_ids.as_deref())?,
            active: r.active != 0,
            options: RuleOptions {
                program_id: r.program_id,
                buffer_days: r.buffer_days.map(|d| u32_of(d, "bufferDays")).transpose()?,
                fulfillment_limit: r
                    .fulfillment_limit
                    .map(|l| u32_of(l, "fulfillmentLimit"))
                    .transpose()?,
                timeframe_days: r
                    .timeframe_days
                    .map(|d| u32_of(d, "timeframeDays"))
                    .transpose()?,
                segments: json(&r.segments)?,
                min_followers: r
                    .min_followers
                    .map(|f| u32_of(f, "minFollowers"))
                    .transpose()?,
                media_types: json(&r.media_types)?,
            },
            id: r.id,
            name: r.name,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }
}

/// A delivery's columns, with who earned its reward and by which rule: read from
/// `deliveries d` joined as [`DELIVERY_REWARD_JOINS`] says.
pub(crate) const DELIVERY_COLUMNS: &str =
    "d.id, d.fulfillment_id, d.integration_id, d.status, d.attempt_count, d.next_attempt_at, \
     d.last_response_status, d.last_error, d.test, d.created_at, d.delivered_at, \
     c.email AS creator_email, r.name AS rule_name";

/// The reward of delivery `d`: its creator `c` and rule `r` (neither for a Test send), each
/// found by its key.
pub(crate) const DELIVERY_REWARD_JOINS: &str =
    "LEFT JOIN fulfillments f ON f.id = d.fulfillment_id \
     LEFT JOIN creators c ON c.id = f.creator_id LEFT JOIN rules r ON r.id = f.rule_id";

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    pub id: DeliveryId,
    pub fulfillment_id: Option<FulfillmentId>,
    pub integration_id: IntegrationId,
    pub status: String,
    pub attempt_count: i64,
    pub next_attempt_at: Option<i64>,
    pub last_response_status: Option<i64>,
    pub last_error: Option<String>,
    pub test: i64,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub creator_email: Option<String>,
    pub rule_name: Option<String>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = Error;
    fn try_from(r: DeliveryRow) -> Result<Self> {
        Ok(Delivery {
            status: DeliveryStatus::parse(&r.status)
                .ok_or_else(|| Error::Corrupt(format!("delivery status {}", r.status)))?,
            attempt_count: u32_of(r.attempt_count, "attempt_count")?,
            next_attempt_at: r.next_attempt_at.map(from_micros),
            last_response_status: r.last_response_status.and_then(|s| u16::try_from(s).ok()),
            test: r.test != 0,
            created_at: from_micros(r.created_at),
            delivered_at: r.delivered_at.map(from_micros),
            id: r.id,
            fulfillment_id: r.fulfillment_id,
            integration_id: r.integration_id,
            creator_email: r.creator_email,
            rule_name: r.rule_name,
            last_error: r.last_error,
        })
    }
}

pub(crate) const ATTEMPT_COLUMNS: &str =
    "number, started_at, duration_ms, response_status, response_body, error, request_headers";

#[derive(sqlx::FromRow)]
pub(crate) struct AttemptRow {
    pub number: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub response_status: Option<i64>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub request_headers: Option<String>,
}

impl TryFrom<AttemptRow> for Attempt {
    type Error = Error;
    fn try_from(r: AttemptRow) -> Result<Self> {
        Ok(Attempt {
            number: u32_of(r.number, "attempt number")?,
            started_at: from_micros(r.started_at),
            duration_ms: u64::try_from(r.duration_ms).unwrap_or(0),
            response_status: r.response_status.and_then(|s| u16::try_from(s).ok()),
            response_body: r.response_body,
            error: r.error,
            request_headers: opt_json(r.request_headers.as_deref())?,
        })
    }
}
