use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, OptionalJsonBody, Params};
use super::validate;
use super::AppState;
use crate::dispatch::{signature, test_send, TestSendResult};
use crate::domain::{Integration, IntegrationPatch, NewIntegration, Page, Secret};
use crate::payload::TestData;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/integrations", post(create).get(list))
        .route("/integrations/{id}", get(show).patch(update).delete(remove))
        .route("/integrations/{id}/test", post(test))
}

const DEFAULT_AUTH_HEADER: &str = "Authorization";
const DEFAULT_AUTH_PREFIX: &str = "Bearer ";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateIntegration {
    name: String,
    url: String,
    api_key: String,
    auth_header: Option<String>,
    auth_prefix: Option<String>,
    signing_secret: Option<String>,
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateIntegration {
    name: Option<String>,
    url: Option<String>,
    api_key: Option<String>,
    auth_header: Option<String>,
    auth_prefix: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    signing_secret: Option<Option<String>>,
    active: Option<bool>,
}

async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateIntegration>,
) -> ApiResult<(StatusCode, Json<Integration>)> {
    let new = NewIntegration {
        name: validate::name(&req.name)?,
        url: url(&req.url)?,
        api_key: api_key(req.api_key)?,
        auth_header: auth_header(req.auth_header.as_deref().unwrap_or(DEFAULT_AUTH_HEADER))?,
        auth_prefix: auth_prefix(req.auth_prefix.as_deref().unwrap_or(DEFAULT_AUTH_PREFIX))?,
        signing_secret: req.signing_secret.map(signing_secret).transpose()?,
        active: req.active.unwrap_or(true),
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_integration(new).await?),
    ))
}

async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Integration>>> {
    Ok(Json(s.store.list_integrations(&params.page()?).await?))
}

async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Integration>> {
    Ok(Json(s.store.integration(&id).await?))
}

async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UpdateIntegration>,
) -> ApiResult<Json<Integration>> {
    let patch = IntegrationPatch {
        name: req.name.as_deref().map(validate::name).transpose()?,
        url: req.url.as_deref().map(url).transpose()?,
        api_key: req.api_key.map(api_key).transpose()?,
        auth_header: req.auth_header.as_deref().map(auth_header).transpose()?,
        auth_prefix: req.auth_prefix.as_deref().map(auth_prefix).transpose()?,
        signing_secret: req
            .signing_secret
            .map(|s| s.map(signing_secret).transpose())
            .transpose()?,
        active: req.active,
    };
    Ok(Json(s.store.update_integration(&id, patch).await?))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.store.delete_integration(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test(
    State(s): State<AppState>,
    Path(id): Path<String>,
    OptionalJsonBody(data): OptionalJsonBody<TestData>,
) -> ApiResult<Json<TestSendResult>> {
    let payload = data.into_payload()?;
    Ok(Json(test_send(&s.store, &s.sender, &id, &payload).await?))
}

fn url(raw: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::invalid("invalid_url", format!("url {why}"));
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err(bad("is longer than 2048 characters"));
    }
    let parsed = url::Url::parse(raw).map_err(|e| bad(&format!("is not an absolute URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must use http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    Ok(raw.to_string())
}

fn api_key(raw: String) -> Result<Secret, ApiError> {
    if raw.trim().is_empty() {
        return Err(ApiError::invalid(
            "invalid_api_key",
            "apiKey must not be empty",
        ));
    }
    if raw.len() > 4096 || !raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(ApiError::invalid(
            "invalid_api_key",
            "apiKey must be printable ASCII, at most 4096 characters",
        ));
    }
    Ok(Secret::new(raw))
}

/// Headers the service sets itself cannot carry the key.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

fn auth_header(raw: &str) -> Result<String, ApiError> {
    let valid = axum::http::HeaderName::from_bytes(raw.as_bytes()).is_ok();
    if !valid || RESERVED_HEADERS.contains(&raw.to_ascii_lowercase().as_str()) {
        return Err(ApiError::invalid(
            "invalid_auth_header",
            format!("authHeader `{raw}` is not a header name the key can be sent in"),
        ));
    }
    Ok(raw.to_string())
}

fn auth_prefix(raw: &str) -> Result<String, ApiError> {
    if raw.len() > 100 || !raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(ApiError::invalid(
            "invalid_auth_prefix",
            "authPrefix must be printable ASCII, at most 100 characters",
        ));
    }
    Ok(raw.to_string())
}

fn signing_secret(raw: String) -> Result<Secret, ApiError> {
    if signature::secret_key(&raw).is_none() {
        return Err(ApiError::invalid(
            "invalid_signing_secret",
            "signingSecret must be `whsec_` followed by a base64 key",
        ));
    }
    Ok(Secret::new(raw))
}
