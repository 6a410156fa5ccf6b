//! Request parsing that answers in the API's error shape.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use super::error::ApiError;
use crate::domain::page::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::domain::{time, Id, PageRequest};

/// A JSON object body. Malformed JSON is a 400; well-formed JSON of the wrong shape (an
/// array, a string, … or an object with a wrong field) a 422. The `Content-Type` is not
/// checked, so `curl -d` works as typed.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Like [`JsonBody`], but an empty body, or `null`, is the type's default.
pub struct OptionalJsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse_body::<Option<T>>(&bytes, true).map(|t| OptionalJsonBody(t.unwrap_or_default()))
    }
}

/// A JSON object read as `T`. Every request body is an object: serde's derived `Deserialize`
/// would also read a struct from an array of its fields by position (`[null, null]` a valid
/// patch), which the contract does not allow, so any other top-level value is refused here,
/// once for every endpoint.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_body(bytes, false)
}

/// [`parse_json`], also taking a top-level `null` when `null_allowed` (for an `Option<T>`).
fn parse_body<T: DeserializeOwned>(bytes: &[u8], null_allowed: bool) -> Result<T, ApiError> {
    // Syntax first: a body that is not JSON at all is a 400 even if a field in it is also wrong.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    })?;
    // Valid JSON, so its first byte past whitespace names the top-level value's kind.
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if let Some(kind) = first.and_then(|b| not_an_object(*b, null_allowed)) {
        return Err(ApiError::invalid(
            "invalid_body",
            format!("the body must be a JSON object, not {kind}"),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::invalid("invalid_body", e.to_string()),
        _ => ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}")),
    })
}

/// What a top-level value starting with `first` is, when it is not an object (nor an allowed `null`).
fn not_an_object(first: u8, null_allowed: bool) -> Option<&'static str> {
    match first {
        b'{' => None,
        b'n' if null_allowed => None,
        b'[' => Some("an array"),
        b'"' => Some("a string"),
        b't' | b'f' => Some("true or false"),
        b'n' => Some("null"),
        _ => Some("a number"),
    }
}

fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than the service accepts",
        )
    } else {
        ApiError::bad_request("unreadable_body", e.body_text())
    }
}

/// The `{id}` of a path. Every id is a UUID, so anything else is a 404 at once: it names
/// nothing, and does not go to the database (where PostgreSQL refuses a NUL byte in text).
pub struct IdPath<T>(pub T);

impl<S: Send + Sync, T: Id> FromRequestParts<S> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
        T::parse(&id).map(IdPath).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such thing: that is not an id",
            )
        })
    }
}

/// Query parameters as strings, each name at most once; [`super::query_names`] has already
/// refused names the endpoint does not document.
pub struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut map = HashMap::new();
        for (name, value) in query_pairs(parts.uri.query()) {
            if map.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad_request(
                    "repeated_parameter",
                    format!("query parameter `{name}` is given more than once"),
                ));
            }
        }
        Ok(Params(map))
    }
}

/// The decoded `name=value` pairs of a query string.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The paging parameters every list takes (declared for the document; [`Params::page`] reads them).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50); anything else is a 422.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `nextCursor` of the page before; a value that is not an id is a 400.
    #[param(format = Uuid)]
    cursor: Option<String>,
}

impl Params {
    /// A parameter's value, if given; an empty value is a value (and refused as the
    /// parameter's type would refuse it), not an absent parameter.
    pub fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    /// An id-valued filter (`creatorId`, `integrationId`, …): an id or nothing, so that a
    /// mistyped one is a 400 rather than a silently empty page.
    pub fn id<T: Id>(&self, key: &str) -> Result<Option<T>, ApiError> {
        self.get(key)
            .map(|v| {
                T::parse(&v).ok_or_else(|| {
                    ApiError::bad_request("invalid_parameter", format!("{key} `{v}` is not an id"))
                })
            })
            .transpose()
    }

    /// An RFC 3339 timestamp.
    pub fn time(&self, key: &str, code: &'static str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(key)
            .map(|v| {
                DateTime::parse_from_rfc3339(&v)
                    .map(|t| time::truncate(t.with_timezone(&Utc)))
                    .map_err(|_| {
                        ApiError::invalid(code, format!("{key} `{v}` is not an RFC 3339 timestamp"))
                    })
            })
            .transpose()
    }

    /// A whole number in `range` written in digits only, or `default` when absent; anything
    /// else is a 422 with `code`.
    pub fn whole(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u32>,
        default: u32,
        code: &'static str,
    ) -> Result<u32, ApiError> {
        let Some(raw) = self.get(key) else {
            return Ok(default);
        };
        raw.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| raw.parse::<u32>().ok())
            .flatten()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    code,
                    format!(
                        "{key} must be a whole number from {} to {}, not `{raw}`",
                        range.start(),
                        range.end()
                    ),
                )
            })
    }

    /// `?limit=` (1 to 500, default 50) and `?cursor=` (an id from `nextCursor`).
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "invalid_limit",
                        format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        // An id, in the one spelling ids are stored in.
        let cursor = self
            .get("cursor")
            .map(|c| {
                uuid::Uuid::try_parse(&c)
                    .map(|id| id.hyphenated().to_string())
                    .map_err(|_| {
                        ApiError::bad_request(
                            "invalid_cursor",
                            format!(
                                "cursor `{c}` is not an id; pass back the nextCursor of the page before"
                            ),
                        )
                    })
            })
            .transpose()?;
        Ok(PageRequest { limit, cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq, Default)]
    #[serde(deny_unknown_fields)]
    struct Patch {
        a: Option<u32>,
        b: Option<u32>,
    }

    #[test]
    fn only_an_object_is_read_as_a_body() {
        assert_eq!(
            parse_json::<Patch>(br#" {"a": 1}"#).ok(),
            Some(Patch {
                a: Some(1),
                b: None
            })
        );
        assert!(
            serde_json::from_str::<Patch>("[null, null]").is_ok(),
            "serde alone reads an array by position"
        );
        for other in [
            "[null, null]",
            " \n[1, 2]",
            "null",
            "3",
            "-1",
            r#""a""#,
            "true",
        ] {
            let e = parse_json::<Patch>(other.as_bytes()).expect_err(other);
            assert_eq!(
                (e.status, e.code),
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
                "{other}"
            );
            assert!(
                e.message.starts_with("the body must be a JSON object"),
                "{other}: {}",
                e.message
            );
        }
        // Not JSON at all is still a 400 first.
        assert_eq!(
            parse_json::<Patch>(b"[1,").expect_err("syntax").status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn an_optional_body_may_also_be_null() {
        assert_eq!(parse_body::<Option<Patch>>(b"null", true).ok(), Some(None));
        let e = parse_body::<Option<Patch>>(b"[null, null]", true).expect_err("array");
        assert_eq!(e.code, "invalid_body");
    }
}
