//! A webhook receiver for trying lc-webhooks out: prints each webhook and checks its signature.
//!
//!     cargo run --example receiver -- 127.0.0.1:9000 [whsec_…]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9000".into());
    let secret = args.next();
    let app = Router::new().route(
        "/{*path}",
        post(move |headers: HeaderMap, body: Bytes| {
            let secret = secret.clone();
            async move { receive(headers, body, secret.as_deref()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("receiver listening on http://{addr}/ (any path)");
    axum::serve(listener, app).await?;
    Ok(())
}

fn receive(headers: HeaderMap, body: Bytes, secret: Option<&str>) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    println!(
        "--- webhook-id {} at {}",
        header("webhook-id"),
        header("webhook-timestamp")
    );
    // The receiver's own key arriving: showing it is the point of this example.
    println!("authorization: {}", header("authorization"));
    if let Some(secret) = secret {
        let timestamp = header("webhook-timestamp").parse().unwrap_or(0);
        let expected =
            lc_webhooks::dispatch::signature::sign(secret, header("webhook-id"), timestamp, &body);
        let ok = expected.is_some_and(|e| header("webhook-signature").split(' ').any(|s| s == e));
        println!("signature: {}", if ok { "valid" } else { "INVALID" });
    }
    println!("{}", String::from_utf8_lossy(&body));
    StatusCode::OK
}
