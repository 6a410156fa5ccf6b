use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{IdPath, JsonBody, OptionalJsonBody, PageParams, Params};
use super::AppState;
use crate::dispatch::{test_send, TestSendResult};
use crate::domain::{
    ApiKey, AuthHeader, AuthPrefix, Integration, IntegrationId, IntegrationPatch, Name,
    NewIntegration, Page, SigningSecret, WebhookUrl,
};
use crate::payload::TestData;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update, remove))
        .routes(routes!(test))
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
    /// `false` pauses it (pending deliveries wait); `true` resumes it.
    active: Option<bool>,
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
    ))),
)]
async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateIntegration>,
) -> ApiResult<(StatusCode, Json<Integration>)> {
    let new = NewIntegration {
        name: Name::parse(&req.name)?,
        url: WebhookUrl::parse(&req.url)?,
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
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_integration(new).await?),
    ))
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
    Ok(Json(s.store.list_integrations(&params.page()?).await?))
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
    Ok(Json(s.store.integration(&id).await?))
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
    let patch = IntegrationPatch {
        name: req.name.as_deref().map(Name::parse).transpose()?,
        url: req.url.as_deref().map(WebhookUrl::parse).transpose()?,
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
    };
    Ok(Json(s.store.update_integration(&id, patch).await?))
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
    request_body(content = Option<TestData>, description = "Any subset of the payload's keys; an empty body sends the sample."),
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
    let payload = data.into_payload()?;
    Ok(Json(test_send(&s.store, &s.sender, &id, &payload).await?))
}
