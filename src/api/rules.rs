use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Params};
use super::validate;
use super::AppState;
use crate::domain::{NewRule, Page, Platform, PostType, Reward, Rule, RulePatch};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rules", post(create).get(list))
        .route("/rules/{id}", get(show).patch(update).delete(remove))
}

const MAX_COUNT: u32 = 10_000;
const MAX_WINDOW_DAYS: u32 = 3_650;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateRule {
    name: String,
    #[serde(default)]
    post_types: Vec<PostType>,
    platforms: Option<Vec<Platform>>,
    count: u32,
    window_days: Option<u32>,
    repeatable: Option<bool>,
    reward: Reward,
    integration_ids: Option<Vec<String>>,
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateRule {
    name: Option<String>,
    post_types: Option<Vec<PostType>>,
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    platforms: Option<Option<Vec<Platform>>>,
    count: Option<u32>,
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    window_days: Option<Option<u32>>,
    repeatable: Option<bool>,
    reward: Option<Reward>,
    #[serde(default, deserialize_with = "crate::domain::nullable::deserialize")]
    integration_ids: Option<Option<Vec<String>>>,
    active: Option<bool>,
}

async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateRule>,
) -> ApiResult<(StatusCode, Json<Rule>)> {
    let new = NewRule {
        name: validate::name(&req.name)?,
        post_types: req.post_types,
        platforms: req.platforms,
        count: req.count,
        window_days: req.window_days,
        repeatable: req.repeatable.unwrap_or(false),
        reward: req.reward,
        integration_ids: req.integration_ids,
        active: req.active.unwrap_or(true),
    };
    check(
        &s,
        new.count,
        new.window_days,
        new.platforms.as_deref(),
        &new.reward,
        new.integration_ids.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(s.store.create_rule(new).await?)))
}

async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Rule>>> {
    Ok(Json(s.store.list_rules(&params.page()?).await?))
}

async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Rule>> {
    Ok(Json(s.store.rule(&id).await?))
}

async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UpdateRule>,
) -> ApiResult<Json<Rule>> {
    let mut rule = s.store.rule(&id).await?;
    let patch = RulePatch {
        name: req.name.as_deref().map(validate::name).transpose()?,
        post_types: req.post_types,
        platforms: req.platforms,
        count: req.count,
        window_days: req.window_days,
        repeatable: req.repeatable,
        reward: req.reward,
        integration_ids: req.integration_ids,
        active: req.active,
    };
    patch.apply(&mut rule);
    check(
        &s,
        rule.count,
        rule.window_days,
        rule.platforms.as_deref(),
        &rule.reward,
        rule.integration_ids.as_deref(),
    )
    .await?;
    Ok(Json(s.store.update_rule(&rule).await?))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.store.delete_rule(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The checks a rule must pass, on create and after a patch alike.
async fn check(
    s: &AppState,
    count: u32,
    window_days: Option<u32>,
    platforms: Option<&[Platform]>,
    reward: &Reward,
    integration_ids: Option<&[String]>,
) -> Result<(), ApiError> {
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(ApiError::invalid(
            "invalid_count",
            format!("count must be from 1 to {MAX_COUNT}"),
        ));
    }
    if window_days.is_some_and(|d| !(1..=MAX_WINDOW_DAYS).contains(&d)) {
        return Err(ApiError::invalid(
            "invalid_window_days",
            format!("windowDays must be from 1 to {MAX_WINDOW_DAYS}"),
        ));
    }
    if platforms.is_some_and(<[Platform]>::is_empty) {
        return Err(ApiError::invalid(
            "invalid_platforms",
            "platforms must name at least one platform; leave it out for any",
        ));
    }
    if let Reward::DiscountCode {
        code_prefix: Some(prefix),
    } = reward
    {
        let ok = (1..=20).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(ApiError::invalid(
                "invalid_code_prefix",
                "codePrefix must be 1 to 20 letters, digits, `-` or `_`",
            ));
        }
    }
    if let Some(ids) = integration_ids {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let unknown = s.store.unknown_integrations(&ids).await?;
        if !unknown.is_empty() {
            return Err(ApiError::invalid(
                "unknown_integration",
                format!("no integration with id {}", unknown.join(", ")),
            ));
        }
    }
    Ok(())
}
