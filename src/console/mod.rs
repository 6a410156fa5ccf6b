//! The web console at `/`: static HTML, CSS and JavaScript modules, embedded in the binary, that
//! call the REST API under `/v1` with the admin token the user signs in with.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("index.html");
const STYLE: &str = include_str!("console.css");

/// The scripts, by the path each is served at: `console.js` imports the others.
const SCRIPTS: &[(&str, &str)] = &[
    ("/console.js", include_str!("console.js")),
    ("/api.js", include_str!("api.js")),
    ("/app.js", include_str!("app.js")),
    ("/dom.js", include_str!("dom.js")),
    ("/charts.js", include_str!("charts.js")),
    ("/integrations.js", include_str!("integrations.js")),
    ("/rewards.js", include_str!("rewards.js")),
    ("/programs.js", include_str!("programs.js")),
    ("/creators.js", include_str!("creators.js")),
    ("/log.js", include_str!("log.js")),
    ("/events.js", include_str!("events.js")),
];

/// Only this origin's scripts and styles run, so a receiver's answer shown in the console can
/// never execute; `connect-src 'self'` keeps the token from being sent anywhere else.
const POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        // Browsers ask for it on every page; an empty answer keeps a 404 out of their console.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route(
            "/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        );
    for (path, script) in SCRIPTS {
        router = router.route(
            path,
            get(|| async { asset("text/javascript; charset=utf-8", script) }),
        );
    }
    router
}
