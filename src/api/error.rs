//! The one error shape: `{"error": {"code": "snake_case", "message": "…"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Invalid, Problem};
use crate::error::{Conflict, Error};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// A write refused for space: the router tells the store (for `/healthz`, and to log it
    /// once every few seconds rather than once per request).
    pub storage_full: Option<std::sync::Arc<Error>>,
}

/// Put on the response of a write refused for space.
#[derive(Clone)]
pub struct StorageFull(pub std::sync::Arc<Error>);

/// Every error answer of the API.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, `snake_case`: `malformed_json`, `invalid_url`, `not_found`, `unauthorized`, …
    #[schema(pattern = "^[a-z_]+$", examples("invalid_url"))]
    code: &'static str,
    /// A sentence for the person reading it.
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            storage_full: None,
        }
    }

    /// A 422: valid JSON (or a parameter of the right name) with a value that is refused.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// A 400: the request itself is malformed.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<Invalid> for ApiError {
    /// A well-formed id that names nothing (or nothing any more) is valid input that the
    /// current state refuses, as retrying a delivery of a deleted integration is: a 409. Every
    /// other refused value is a 422.
    fn from(e: Invalid) -> Self {
        let status = match e.problem {
            Problem::UnknownCreator | Problem::UnknownIntegration | Problem::UnknownProgram => {
                StatusCode::CONFLICT
            }
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, problem_code(e.problem), e.message)
    }
}

fn problem_code(problem: Problem) -> &'static str {
    match problem {
        Problem::Name => "invalid_name",
        Problem::Email => "invalid_email",
        Problem::Username => "invalid_username",
        Problem::Url => "invalid_url",
        Problem::ApiKey => "invalid_api_key",
        Problem::AuthHeader => "invalid_auth_header",
        Problem::AuthPrefix => "invalid_auth_prefix",
        Problem::SigningSecret => "invalid_signing_secret",
        Problem::GracePeriod => "invalid_grace_period",
        Problem::Count => "invalid_count",
        Problem::WindowDays => "invalid_window_days",
        Problem::Platforms => "invalid_platforms",
        Problem::CodePrefix => "invalid_code_prefix",
        Problem::CreatorId => "invalid_creator_id",
        Problem::IntegrationId => "invalid_integration_id",
        Problem::PostedAt => "invalid_posted_at",
        Problem::ExternalId => "invalid_external_id",
        Problem::Batch => "invalid_batch",
        Problem::PayloadFormat => "invalid_payload_format",
        Problem::MaxConcurrency => "invalid_max_concurrency",
        Problem::MaxPerSecond => "invalid_max_per_second",
        Problem::Segments => "invalid_segments",
        Problem::TimeZone => "invalid_time_zone",
        Problem::BufferDays => "invalid_buffer_days",
        Problem::FulfillmentLimit => "invalid_fulfillment_limit",
        Problem::TimeframeDays => "invalid_timeframe_days",
        Problem::ProgramId => "invalid_program_id",
        Problem::EventTypes => "invalid_event_types",
        Problem::EventType => "invalid_event_type",
        Problem::OrderId => "invalid_order_id",
        Problem::Amount => "invalid_amount",
        Problem::Currency => "invalid_currency",
        Problem::SoldAt => "invalid_sold_at",
        Problem::Tiers => "invalid_tiers",
        Problem::Month => "invalid_month",
        Problem::Schedule => "invalid_schedule",
        Problem::BlockedUrl => "blocked_url",
        Problem::UnknownCreator => "unknown_creator",
        Problem::UnknownIntegration => "unknown_integration",
        Problem::UnknownProgram => "unknown_program",
    }
}

fn conflict_code(conflict: &Conflict) -> &'static str {
    match conflict {
        Conflict::EmailTaken(_) => "email_taken",
        Conflict::DeliveryPending => "delivery_pending",
        Conflict::IntegrationDeleted => "integration_deleted",
        Conflict::InvalidTransition(_) => "invalid_transition",
        Conflict::ProgramInUse => "program_in_use",
        Conflict::MonthNotEnded(_) => "month_not_ended",
        Conflict::NotMonthly => "not_monthly",
        // The two pairs of options that clash have codes of their own; anything else, its
        // problem's.
        Conflict::RuleOptions(invalid) => match invalid.problem {
            Problem::FulfillmentLimit => "limit_needs_repeatable",
            Problem::TimeframeDays => "timeframe_needs_program",
            other => problem_code(other),
        },
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            Error::Invalid(invalid) => invalid.into(),
            Error::Conflict(conflict) => ApiError::new(
                StatusCode::CONFLICT,
                conflict_code(&conflict),
                conflict.to_string(),
            ),
            Error::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the service is shutting down; try another instance or again shortly",
            ),
            other => match crate::store::storage_full(&other) {
                Some(store) => storage_full(store, other),
                None => internal(other),
            },
        }
    }
}

/// A write the store refused for want of space: a 503 naming the store, logged by the router.
fn storage_full(store: &str, e: Error) -> ApiError {
    let mut answer = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_full",
        format!(
            "the {store} store is full and refuses writes; nothing was changed. \
             Free space (or raise its limit) and try again"
        ),
    );
    answer.storage_full = Some(std::sync::Arc::new(e));
    answer
}

/// Any other failure. Details stay in the log: they may name tables, hosts or values.
fn internal(e: Error) -> ApiError {
    tracing::error!(error = %e, "request failed");
    let unavailable = matches!(
        &e,
        Error::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
    );
    if unavailable {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the database is not answering; try again",
        )
    } else {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(e) = self.storage_full {
            response.extensions_mut().insert(StorageFull(e));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
