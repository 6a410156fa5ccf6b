use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Params};
use super::AppState;
use crate::domain::{Creator, NewCreator, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/creators", post(create).get(list))
        .route("/creators/{id}", get(show))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateCreator {
    email: String,
    ig_username: Option<String>,
    tt_username: Option<String>,
}

async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateCreator>,
) -> ApiResult<(StatusCode, Json<Creator>)> {
    let new = NewCreator {
        email: email(&req.email)?,
        ig_username: req
            .ig_username
            .as_deref()
            .map(|u| username("igUsername", u))
            .transpose()?,
        tt_username: req
            .tt_username
            .as_deref()
            .map(|u| username("ttUsername", u))
            .transpose()?,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_creator(new).await?),
    ))
}

async fn list(State(s): State<AppState>, params: Params) -> ApiResult<Json<Page<Creator>>> {
    Ok(Json(s.store.list_creators(&params.page()?).await?))
}

async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Creator>> {
    Ok(Json(s.store.creator(&id).await?))
}

fn email(raw: &str) -> Result<String, ApiError> {
    let e = raw.trim();
    let ok = e.len() <= 320
        && !e.chars().any(char::is_whitespace)
        && matches!(e.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') && !domain.starts_with('.') && !domain.ends_with('.'));
    if !ok {
        return Err(ApiError::invalid(
            "invalid_email",
            format!("`{e}` is not an email address"),
        ));
    }
    Ok(e.to_string())
}

fn username(field: &str, raw: &str) -> Result<String, ApiError> {
    let u = raw.trim().trim_start_matches('@');
    if u.is_empty() || u.chars().count() > 100 || u.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid(
            "invalid_username",
            format!("{field} must be 1 to 100 characters without spaces"),
        ));
    }
    Ok(u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(email("creator@example.com").is_ok());
        for bad in [
            "",
            "creator",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@example.com",
            "a@example.",
        ] {
            assert!(email(bad).is_err(), "{bad} should be refused");
        }
    }
}
