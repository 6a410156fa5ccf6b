//! Query parameter names are checked against the OpenAPI document: a name the operation does
//! not declare (a typo such as `?stauts=failed`) is a 400, never silently ignored.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::{OpenApi, RefOr};

use super::error::ApiError;
use super::extract::query_pairs;

/// The query parameter names of every documented operation, by method and path.
#[derive(Debug, Default)]
pub struct QueryNames(HashMap<(String, String), HashSet<String>>);

impl QueryNames {
    pub fn of(doc: &OpenApi) -> Arc<QueryNames> {
        let mut names = HashMap::new();
        for (path, item) in &doc.paths.paths {
            for (method, operation) in operations(item) {
                let declared = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        RefOr::T(p) if p.parameter_in == ParameterIn::Query => Some(p.name.clone()),
                        _ => None,
                    })
                    .collect();
                names.insert((method.to_string(), path.clone()), declared);
            }
        }
        Arc::new(QueryNames(names))
    }
}

fn operations(
    item: &utoipa::openapi::PathItem,
) -> impl Iterator<Item = (&'static str, &utoipa::openapi::path::Operation)> {
    [
        ("GET", &item.get),
        ("POST", &item.post),
        ("PATCH", &item.patch),
        ("PUT", &item.put),
        ("DELETE", &item.delete),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
}

/// Refuses query parameters the matched `/v1` operation does not declare (`/healthz` and
/// `/metrics` ignore them: probes add their own).
pub async fn refuse_undeclared(
    State(names): State<Arc<QueryNames>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(path) = matched.filter(|p| p.as_str().starts_with("/v1/")) {
        let key = (req.method().to_string(), path.as_str().to_string());
        if let Some(declared) = names.0.get(&key) {
            for (name, _) in query_pairs(req.uri().query()) {
                if !declared.contains(&name) {
                    let mut known: Vec<&str> = declared.iter().map(String::as_str).collect();
                    known.sort_unstable();
                    let hint = if known.is_empty() {
                        "it takes none".to_string()
                    } else {
                        format!("it takes {}", known.join(", "))
                    };
                    return ApiError::bad_request(
                        "unknown_parameter",
                        format!(
                            "{} does not take query parameter `{name}`: {hint}",
                            path.as_str()
                        ),
                    )
                    .into_response();
                }
            }
        }
    }
    next.run(req).await
}
