//! The console is served by the binary without a token (it asks for one), with a policy that
//! lets only its own scripts run, so nothing a receiver answers can execute in it.

use crate::common::{Backend, TestApp};
use lc_webhooks::domain::Secret;

both_stores!(the_console_and_its_assets_are_served_with_a_strict_policy,);

async fn the_console_and_its_assets_are_served_with_a_strict_policy(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.admin_token = Some(Secret::new("console-token".into()))
    })
    .await
    else {
        return;
    };
    for (path, kind, needle) in [
        ("/", "text/html", "Delivery log"),
        ("/console.js", "text/javascript", "import"),
        ("/integrations.js", "text/javascript", "Add Integration"),
        ("/log.js", "text/javascript", "Delivery log"),
        ("/charts.js", "text/javascript", "svg(\"svg\""),
        ("/console.css", "text/css", "@media"),
    ] {
        let resp = reqwest::get(app.url(path)).await.expect("request");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert!(header("content-type").starts_with(kind), "{path}");
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        let body = resp.text().await.expect("body");
        assert!(body.contains(needle), "{path}");
        assert!(
            !body.contains("console-token"),
            "{path} shows the admin token"
        );
    }
    let page = reqwest::get(app.url("/")).await.expect("request");
    let html = page.text().await.expect("body");
    assert!(!html.contains("<script>"), "no inline script");
}
