use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{IdPath, JsonBody, OptionalJsonBody, PageParams, Params};
use super::AppState;
use crate::dispatch::{test_send, TestSendResult};
use crate::domain::{
    check_max_concurrency, check_max_per_second, ApiKey, AuthHeader, AuthPrefix, EventType,
    EventTypes, GracePeriod, Integration, IntegrationId, IntegrationLimits, IntegrationPatch,
    Invalid, Name, NewIntegration, Page, PayloadFormat, RevealedOnce, SecretRotated,
    SecretRotation, SigningSecret, WebhookUrl, DEFAULT_GRACE,
};
use crate::payload::TestData;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update, remove))
        .routes(routes!(test))
        .routes(routes!(replay))
        .routes(routes!(rotate_secret))
}

/// An outbound webhook to register.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateIntegration {
    #[schema(value_type = Name)]
    name: String,
    #[schema(value_type = WebhookUrl)]
    url: String,
    #[schema(value_type = ApiKey)]
    api_key: String,
    #[schema(value_type = Option<AuthHeader>)]
    auth_header: Option<String>,
    #[schema(value_type = Option<AuthPrefix>)]
    auth_prefix: Option<String>,
    #[schema(value_type = Option<SigningSecret>)]
    signing_secret: Option<String>,
    /// Default `true`; `false` registers it paused.
    active: Option<bool>,
    /// Which body its webhooks carry: `medias` (default, the seed's) or `posts`.
    #[schema(value_type = Option<PayloadFormat>)]
    payload_format: Option<String>,
    /// The most sends to it at once, 1–10,000; absent or `null`: the service's
    /// `--max-in-flight-per-integration`.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(minimum = 1, maximum = 10000)]
    max_concurrency: Option<u32>,
    /// The most sends to it started in any one second, 1–10,000; absent or `null`: no limit.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::option::deserialize"
    )]
    #[schema(minimum = 1, maximum = 10000)]
    max_per_second: Option<u32>,
    /// The event types it receives; absent or `null`: `["reward.instant", "reward.monthly"]`,
    /// as before event types. An empty list receives nothing but Test sends.
    #[schema(value_type = Option<Vec<EventType>>)]
    event_types: Option<Vec<String>>,
}

/// The fields to change; a field left out, or `null`, stays as it is (but `signingSecret: null`
/// stops signing).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateIntegration {
    #[schema(value_type = Option<Name>)]
    name: Option<String>,
    #[schema(value_type = Option<WebhookUrl>)]
    url: Option<String>,
    #[schema(value_type = Option<ApiKey>)]
    api_key: Option<String>,
    #[schema(value_type = Option<AuthHeader>)]
    auth_header: Option<String>,
    #[schema(value_type = Option<AuthPrefix>)]
    auth_prefix: Option<String>,
    /// A new secret, or `null` to stop signing.
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    #[schema(value_type = Option<SigningSecret>)]
    signing_secret: Option<Option<String>>,
    /// `false` pauses it (pending deliveries wait); `true` resumes it, or re-enables one that
    /// was disabled automatically (clearing `disabledReason`), and its pending deliveries go
    /// out at once.
    active: Option<bool>,
    /// `medias` or `posts`; rewards granted from now on are sent in it.
    #[schema(value_type = Option<PayloadFormat>)]
    payload_format: Option<String>,
    /// 1–10,000, or `null` to use the service's `--max-in-flight-per-integration`.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::nullable::deserialize"
    )]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    max_concurrency: Option<Option<u32>>,
    /// 1–10,000, or `null` for no rate limit.
    #[serde(
        default,
        deserialize_with = "crate::domain::whole_number::nullable::deserialize"
    )]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    max_per_second: Option<Option<u32>>,
    /// The event types it receives from now on (the whole list); an empty list receives
    /// nothing but Test sends.
    #[schema(value_type = Option<Vec<EventType>>)]
    event_types: Option<Vec<String>>,
}

/// How to rotate the signing secret; an empty body rotates to a generated secret with a day's
/// grace.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RotateSecret {
    /// How long the replaced secret is still signed with beside the new one (`0` to `7d`);
    /// default `24h`.
    #[schema(value_type = Option<GracePeriod>)]
    grace_period: Option<String>,
    /// The new secret; absent: one is generated and returned once.
    #[schema(value_type = Option<SigningSecret>)]
    new_secret: Option<String>,
}

/// Which failed deliveries to send again.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplayRequest {
    /// RFC 3339: every `failed` delivery of the integration created at or after this.
    #[schema(format = DateTime, examples("2026-12-01T00:00:00Z"))]
    since: String,
}

/// How many deliveries were queued again.
#[derive(Serialize, ToSchema)]
struct Replayed {
    replayed: u64,
}

/// Registers an outbound webhook (Add Integration → Webhook).
#[utoipa::path(
    post,
    path = "/integrations",
    tag = "integrations",
    operation_id = "createIntegration",
    request_body = CreateIntegration,
    responses((status = 201, description = "Registered", body = Integration, links(
        ("GetIntegration" = (operation_id = "getIntegration", parameters(("id" = "$response.body#/id")))),
        ("UpdateIntegration" = (operation_id = "updateIntegration", parameters(("id" = "$response.body#/id")))),
        ("DeleteIntegration" = (operation_id = "deleteIntegration", parameters(("id" = "$response.body#/id")))),
        ("TestIntegration" = (operation_id = "testIntegration", parameters(("id" = "$response.body#/id")))),
        ("RotateIntegrationSecret" = (operation_id = "rotateIntegrationSecret", parameters(("id" = "$response.body#/id")))),
        ("GetIntegrationStats" = (operation_id = "getIntegrationStats", parameters(("id" = "$response.body#/id")))),
    ))),
)]
async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateIntegration>,
) -> ApiResult<(StatusCode, Json<Integration>)> {
    let url = WebhookUrl::parse(&req.url)?;
    s.sender.policy().check_url(url.as_str())?;
    let new = NewIntegration {
        name: Name::parse(&req.name)?,
        url,
        api_key: ApiKey::parse(req.api_key)?,
        auth_header: match req.auth_header {
            Some(h) => AuthHeader::parse(&h)?,
            None => AuthHeader::default_header(),
        },
        auth_prefix: match req.auth_prefix {
            Some(p) => AuthPrefix::parse(&p)?,
            None => AuthPrefix::default_prefix(),
        },
        signing_secret: req.signing_secret.map(SigningSecret::parse).transpose()?,
        active: req.active.unwrap_or(true),
        payload_format: req
            .payload_format
            .as_deref()
            .map(PayloadFormat::parse)
            .transpose()?
            .unwrap_or_default(),
        limits: IntegrationLimits {
            max_concurrency: req.max_concurrency.map(check_max_concurrency).transpose()?,
            max_per_second: req.max_per_second.map(check_max_per_second).transpose()?,
        },
        event_types: req
            .event_types
            .as_deref()
            .map(EventTypes::parse)
            .transpose()?
            .unwrap_or_default(),
    };
    let integration = s.store.create_integration(new).await?;
    Ok((StatusCode::CREATED, Json(with_limit(&s, integration))))
}

/// Lists the integrations, oldest first.
#[utoipa::path(
    get,
    path = "/integrations",
    tag = "integrations",
    operation_id = "listIntegrations",
    params(PageParams),
    responses((status = 200, description = "One page", body = Page<Integration>)),
)]
async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Integration>>> {
    let mut page = s.store.list_integrations(&params.page()?).await?;
    page.items = page.items.into_iter().map(|i| with_limit(&s, i)).collect();
    Ok(Json(page))
}

/// The integration with the concurrency limit this instance's dispatcher runs it at now.
fn with_limit(s: &AppState, mut integration: Integration) -> Integration {
    integration.health.concurrency_limit = s.lanes.limit_of(&integration.id);
    integration
}

/// One integration.
#[utoipa::path(
    get,
    path = "/integrations/{id}",
    tag = "integrations",
    operation_id = "getIntegration",
    params(("id" = String, Path, format = Uuid, description = "The integration's id")),
    responses((status = 200, description = "The integration", body = Integration)),
)]
async fn show(
    State(s): State<AppState>,
    IdPath(id): IdPath<IntegrationId>,
) -> ApiResult<Json<Integration>> {
    Ok(Json(with_limit(&s, s.store.integration(&id).await?)))
}

/// Changes the given fields, atomically; pausing or resuming is `{"active": false|true}`.
#[utoipa::path(
    patch,
    path = "/integrations/{id}",
    tag = "integrations",
    operation_id = "updateIntegration",
    params(("id" = String, Path, format = Uuid, description = "The integration's id")),
    request_body = UpdateIntegration,
    responses((status = 200, description = "The integration as changed", body = Integration)),
)]
async fn update(
    State(s): State<AppState>,
    IdPath(id): IdPath<IntegrationId>,
    JsonBody(req): JsonBody<UpdateIntegration>,
) -> ApiResult<Json<Integration>> {
    let url = req.url.as_deref().map(WebhookUrl::parse).transpose()?;
    if let Some(url) = &url {
        s.sender.policy().check_url(url.as_str())?;
    }
    let patch = IntegrationPatch {
        name: req.name.as_deref().map(Name::parse).transpose()?,
        url,
        api_key: req.api_key.map(ApiKey::parse).transpose()?,
        auth_header: req
            .auth_header
            .as_deref()
            .map(AuthHeader::parse)
            .transpose()?,
        auth_prefix: req
            .auth_prefix
            .as_deref()
            .map(AuthPrefix::parse)
            .transpose()?,
        signing_secret: req
            .signing_secret
            .map(|s| s.map(SigningSecret::parse).transpose())
            .transpose()?,
        active: req.active,
        payload_format: req
            .payload_format
            .as_deref()
            .map(PayloadFormat::parse)
            .transpose()?,
        max_concurrency: req
            .max_concurrency
            .map(|n| n.map(check_max_concurrency).transpose())
            .transpose()?,
        max_per_second: req
            .max_per_second
            .map(|n| n.map(check_max_per_second).transpose())
            .transpose()?,
        event_types: req
            .event_types
            .as_deref()
            .map(EventTypes::parse)
            .transpose()?,
    };
    let resumed = patch.active == Some(true);
    let integration = s.store.update_integration(&id, patch).await?;
    if resumed {
        s.deliveries_ready.notify_one();
    }
    Ok(Json(with_limit(&s, integration)))
}

/// Deletes the integration: its pending deliveries settle as `failed` ("integration deleted"),
/// the delivery log stays, and rules that name it in `integrationIds` no longer do (a rule
/// left with an empty list sends to no integration).
#[utoipa::path(
    delete,
    path = "/integrations/{id}",
    tag = "integrations",
    operation_id = "deleteIntegration",
    params(("id" = String, Path, format = Uuid, description = "The integration's id")),
    responses((status = 204, description = "Deleted")),
)]
async fn remove(
    State(s): State<AppState>,
    IdPath(id): IdPath<IntegrationId>,
) -> ApiResult<StatusCode> {
    s.store.delete_integration(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The Test button: sends one webhook now, built from the sample payload with the given keys
/// put in, signed and authenticated like any other, and answers with what the receiver said.
/// The attempt is logged as a delivery with `test: true`.
#[utoipa::path(
    post,
    path = "/integrations/{id}/test",
    tag = "integrations",
    operation_id = "testIntegration",
    params(("id" = String, Path, format = Uuid, description = "The integration's id")),
    request_body(content = Option<TestData>, description = "The event type (default `reward.instant`) and any subset of its sample's keys; an empty body sends the reward sample."),
    responses((status = 200, description = "Sent (whatever the receiver answered)", body = TestSendResult, links(
        ("GetDelivery" = (operation_id = "getDelivery", parameters(("id" = "$response.body#/deliveryId")))),
        ("RetryDelivery" = (operation_id = "retryDelivery", parameters(("id" = "$response.body#/deliveryId")))),
    ))),
)]
async fn test(
    State(s): State<AppState>,
    IdPath(id): IdPath<IntegrationId>,
    OptionalJsonBody(data): OptionalJsonBody<TestData>,
) -> ApiResult<Json<TestSendResult>> {
    let event = data.into_event()?;
    Ok(Json(test_send(&s.store, &s.sender, &id, &event).await?))
}

/// Rotates the signing secret without a gap: until `previousSecretExpiresAt` every attempt (a
/// retry too) carries two signatures in `webhook-signature`, `v1,<new> v1,<old>`, so receivers
/// verifying with either secret accept it; after it, only the new one. Rotating again within
/// the grace period drops the oldest secret. On an integration that does not sign yet it just
/// sets the secret (`previousSecretExpiresAt: null`). A `PATCH` of `signingSecret` still
/// switches at once.
#[utoipa::path(
    post,
    path = "/integrations/{id}/rotate-secret",
    tag = "integrations",
    operation_id = "rotateIntegrationSecret",
    params(("id" = String, Path, format = Uuid, description = "The integration's id")),
    request_body(content = Option<RotateSecret>, description = "Optional: an empty body generates a secret and keeps the old one for 24h."),
    responses((status = 200, description = "Rotated", body = SecretRotated)),
)]
async fn rotate_secret(
    State(s): State<AppState>,
    IdPath(id): IdPath<IntegrationId>,
    OptionalJsonBody(req): OptionalJsonBody<RotateSecret>,
) -> ApiResult<Json<SecretRotated>> {
    let grace = req
        .grace_period
        .as_deref()
        .map(GracePeriod::parse)
        .transpose()?
        .unwrap_or(DEFAULT_GRACE);
    let given = req
        .new_secret
        .map(SigningSecret::parse)
        .transpose()
        .map_err(|e| Invalid {
            message: e.message.replacen("signingSecret", "newSecret", 1),
            ..e
        })?;
    let generated = given.is_none();
    let new_secret = given.unwrap_or_else(SigningSecret::generate);
    let rotation = SecretRotation {
        new_secret: new_secret.clone(),
        grace,
        at: s.clock.now(),
    };
    let expires = s.store.rotate_signing_secret(&id, rotation).await?;
    Ok(Json(SecretRotated {
        signing_secret: generated.then_some(RevealedOnce(new_secret)),
        previous_secret_expires_at: expires,
    }))
}

/// Sends again every `failed` delivery of the integration created since `since`, each as one
/// new attempt under the `webhook-id` it always had (as Retry does). Deliveries already pending
/// are left alone, so calling it again changes nothing until they settle.
#[utoipa::path(
    post,
    path = "/integrations/{id}/replay",
    tag = "integrations",
    operation_id = "replayIntegration",
    params(("id" = String, Path, format = Uuid, description = "The integration's id")),
    request_body = ReplayRequest,
    responses((status = 202, description = "Queued again", body = Replayed)),
)]
async fn replay(
    State(s): State<AppState>,
    IdPath(id): IdPath<IntegrationId>,
    JsonBody(req): JsonBody<ReplayRequest>,
) -> ApiResult<(StatusCode, Json<Replayed>)> {
    let since = chrono::DateTime::parse_from_rfc3339(&req.since)
        .map_err(|_| {
            ApiError::invalid(
                "invalid_since",
                format!("since `{}` is not an RFC 3339 timestamp", req.since),
            )
        })?
        .with_timezone(&chrono::Utc);
    let replayed = s.store.replay_failed(&id, since).await?;
    if replayed > 0 {
        s.deliveries_ready.notify_one();
    }
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed })))
}
