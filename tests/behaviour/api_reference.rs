//! The API describes itself: the OpenAPI document served without a token is the one checked
//! into `docs/openapi.json`, the browsable reference works offline, and what the document
//! promises about methods and tokens holds.

use crate::common::{assert_error, Backend, TestApp};
use axum::http::{Method, StatusCode};
use lc_webhooks::domain::Secret;
use serde_json::Value;

both_stores!(
    the_served_document_is_the_checked_in_reference,
    the_browsable_reference_is_served_by_the_binary,
    a_method_a_path_does_not_take_is_405_with_allow,
    a_deliverys_payload_matches_exactly_one_format_the_document_names,
);

const TOKEN: &str = "reference-token";

async fn with_token(backend: Backend) -> Option<TestApp> {
    TestApp::start_with(backend, |s| s.admin_token = Some(Secret::new(TOKEN.into()))).await
}

/// Fetched without the admin token, although one is configured.
async fn open_get(app: &TestApp, path: &str) -> (StatusCode, String, Option<String>) {
    let resp = reqwest::get(app.url(path)).await.expect("request");
    let status = StatusCode::from_u16(resp.status().as_u16()).expect("status");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, resp.text().await.expect("body"), content_type)
}

async fn the_served_document_is_the_checked_in_reference(backend: Backend) {
    let Some(app) = with_token(backend).await else {
        return;
    };
    let (status, text, _) = open_get(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let served: Value = serde_json::from_str(&text).expect("JSON");
    let checked_in: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
            .expect("docs/openapi.json is in the repository"),
    )
    .expect("docs/openapi.json is JSON");
    assert!(
        served == checked_in,
        "docs/openapi.json is not what the service serves: regenerate it with \
         `cargo run -- openapi > docs/openapi.json`"
    );
    assert_eq!(served["openapi"], "3.1.0");
    let paths = served["paths"].as_object().expect("paths");
    for path in [
        "/v1/integrations",
        "/v1/integrations/{id}",
        "/v1/integrations/{id}/test",
        "/v1/creators",
        "/v1/creators/{id}",
        "/v1/media",
        "/v1/media/batch",
        "/v1/rules",
        "/v1/rules/{id}",
        "/v1/fulfillments",
        "/v1/fulfillments/{id}",
        "/v1/deliveries",
        "/v1/deliveries/{id}",
        "/v1/deliveries/{id}/retry",
        "/healthz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let secured = op.get("security").is_some();
            assert_eq!(
                secured,
                path.starts_with("/v1/"),
                "{method} {path}: the bearer token belongs to /v1 and only there"
            );
            let responses = op["responses"].as_object().expect("responses");
            if path.starts_with("/v1/") {
                for status in ["400", "401", "503"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("422"), "{method} {path} lacks 422");
            }
        }
    }
    let scheme = &served["components"]["securitySchemes"]["adminToken"];
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    // One webhook per event type, each with its body's schema and an example that fits it.
    let webhooks = served["webhooks"].as_object().expect("webhooks");
    let types = [
        "reward.instant",
        "reward.monthly",
        "program.signed_up",
        "program.approved",
        "program.rejected",
        "program.removed",
        "post.tagged",
        "sale.created",
    ];
    let mut names: Vec<&str> = webhooks.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = types.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected, "one webhook entry per event type");
    for t in types {
        let webhook = &webhooks[t]["post"];
        let content = &webhook["requestBody"]["content"]["application/json"];
        let example = &content["example"];
        assert!(example.is_object(), "{t} has no example: {webhook}");
        if let Err(why) = validate(&served, example, &content["schema"]) {
            panic!("{t}'s example does not fit its schema: {why}\n{example}");
        }
        let headers: Vec<&str> = webhook["parameters"]
            .as_array()
            .expect("webhook headers")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for h in [
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "lc-event-type",
        ] {
            assert!(
                headers.contains(&h),
                "{t}: the webhook's {h} is not described"
            );
        }
    }
    let reward = &webhooks["reward.instant"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["oneOf"];
    assert_eq!(
        reward,
        &serde_json::json!([
            {"$ref": "#/components/schemas/Payload"},
            {"$ref": "#/components/schemas/PostsPayload"},
        ]),
    );
    // The check itself refuses what does not fit.
    let post = &webhooks["post.tagged"]["post"]["requestBody"]["content"]["application/json"];
    let mut coded = post["example"].clone();
    coded["discountCode"] = Value::from("code123");
    assert!(validate(&served, &coded, &post["schema"]).is_err());
    let sale = &webhooks["sale.created"]["post"]["requestBody"]["content"]["application/json"];
    let mut float = sale["example"].clone();
    float["sale"]["amount"] = Value::from(12.5);
    assert!(validate(&served, &float, &sale["schema"]).is_err());
    let payload = &served["components"]["schemas"]["Payload"]["properties"];
    for key in crate::common::PAYLOAD_KEYS {
        assert!(payload.get(key).is_some(), "Payload lacks {key}");
    }
    app.stop().await;
}

async fn the_browsable_reference_is_served_by_the_binary(backend: Backend) {
    let Some(app) = with_token(backend).await else {
        return;
    };
    let (status, html, _) = open_get(&app, "/docs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("swagger-ui"), "{html}");
    // Its scripts and styles come from this binary, not from a CDN.
    assert!(
        !html.contains("https://"),
        "the page loads something remote: {html}"
    );
    for asset in ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"] {
        let (status, body, _) = open_get(&app, asset).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(body.len() > 10_000, "{asset} is only {} bytes", body.len());
    }
    let (status, config, _) = open_get(&app, "/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(config.contains("/openapi.json"), "{config}");
    app.stop().await;
}

async fn a_method_a_path_does_not_take_is_405_with_allow(backend: Backend) {
    let Some(app) = with_token(backend).await else {
        return;
    };
    let client = reqwest::Client::new();
    for (method, path, allowed) in [
        (Method::PUT, "/v1/integrations", vec!["GET", "POST"]),
        (
            Method::POST,
            "/v1/rules/0190a1b2-0000-7000-8000-000000000000",
            vec!["GET", "PATCH", "DELETE"],
        ),
        (Method::DELETE, "/healthz", vec!["GET"]),
    ] {
        let resp = client
            .request(method.clone(), app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 405, "{method} {path}");
        let allow = resp
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{method} {path}: 405 without Allow"))
            .to_string();
        for m in allowed {
            assert!(allow.contains(m), "{method} {path}: Allow is {allow}");
        }
        let body: Value = resp.json().await.expect("JSON error");
        let code = assert_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &body,
            StatusCode::METHOD_NOT_ALLOWED,
        );
        assert_eq!(code, "method_not_allowed");
    }
    app.stop().await;
}

/// The schema a `$ref` names, from the document.
fn component<'a>(doc: &'a Value, reference: &Value) -> &'a Value {
    let name = reference
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .unwrap_or_else(|| panic!("not a schema reference: {reference}"));
    &doc["components"]["schemas"][name]
}

/// Whether `value` has every key `schema` requires and, for a closed object, no other.
fn has_the_keys_of(value: &Value, schema: &Value) -> bool {
    let object = value.as_object().expect("an object");
    let required = schema["required"].as_array().expect("required keys");
    required
        .iter()
        .all(|k| object.contains_key(k.as_str().expect("a key")))
        && object.keys().all(|k| schema["properties"].get(k).is_some())
}

/// A delivery in the `posts` format once answered a payload the document called invalid
/// (`medias` required): the payload is one of several bodies (two reward formats, and the
/// bodies of other events), and each real payload has the keys of exactly one.
async fn a_deliverys_payload_matches_exactly_one_format_the_document_names(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let (_, text, _) = open_get(&app, "/openapi.json").await;
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    let payload = &component(&doc, &Value::from("#/components/schemas/DeliveryDetail"))["allOf"]
        .as_array()
        .and_then(|parts| parts.iter().find_map(|p| p["properties"].get("payload")))
        .expect("DeliveryDetail has a payload")["oneOf"];
    let formats: Vec<&Value> = payload
        .as_array()
        .expect("the payload is one of several formats")
        .iter()
        .map(|r| component(&doc, &r["$ref"]))
        .collect();
    assert_eq!(formats.len(), 4, "{payload}");
    let rx = crate::common::Receiver::always(200).await;
    for format in ["medias", "posts"] {
        let i = app
            .create_integration(
                &rx.url(),
                "sk_test_reference",
                serde_json::json!({"payloadFormat": format}),
            )
            .await;
        let sent = app
            .post_ok(
                &format!("/v1/integrations/{}/test", i["id"].as_str().unwrap()),
                serde_json::json!({}),
                StatusCode::OK,
            )
            .await;
        let d = app.delivery(sent["deliveryId"].as_str().unwrap()).await;
        let matching = formats
            .iter()
            .filter(|f| has_the_keys_of(&d["payload"], f))
            .count();
        assert_eq!(
            matching, 1,
            "a `{format}` payload fits {matching} of the document's formats: {}",
            d["payload"]
        );
    }
    // A membership event's and a sale's body each fit exactly one too.
    let i = app
        .create_integration(
            &rx.url(),
            "sk_test_reference",
            serde_json::json!({"eventTypes": ["program.signed_up", "sale.created"]}),
        )
        .await;
    let c = app.create_creator("ref@example.com", None, None).await;
    let p = app
        .post_ok(
            "/v1/programs",
            serde_json::json!({"name": "Reference"}),
            StatusCode::CREATED,
        )
        .await;
    app.post_ok(
        &format!("/v1/programs/{}/members", p["id"].as_str().unwrap()),
        serde_json::json!({"creatorId": c["id"]}),
        StatusCode::CREATED,
    )
    .await;
    app.post_ok(
        "/v1/sales",
        serde_json::json!({"creatorId": c["id"], "orderId": "ref-1", "amount": "1", "currency": "USD"}),
        StatusCode::CREATED,
    )
    .await;
    let events = app
        .deliveries(&format!("integrationId={}", i["id"].as_str().unwrap()))
        .await;
    assert_eq!(events.len(), 2);
    for event in events {
        let d = app.delivery(event["id"].as_str().unwrap()).await;
        let matching = formats
            .iter()
            .filter(|f| has_the_keys_of(&d["payload"], f))
            .count();
        assert_eq!(
            matching, 1,
            "{} fits {matching}: {}",
            d["eventType"], d["payload"]
        );
    }
    app.stop().await;
}

/// Whether `value` fits `schema`, for the keywords the document uses (`$ref`, `oneOf`, `allOf`,
/// `type`, `enum`, `required`, `properties`, `additionalProperties: false`, `items`, `minItems`,
/// `maxItems`, `pattern`); `Err` says where it does not.
fn validate(doc: &Value, value: &Value, schema: &Value) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref") {
        return validate(doc, value, component(doc, reference));
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            validate(doc, value, part)?;
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let fits = one
            .iter()
            .filter(|s| validate(doc, value, s).is_ok())
            .count();
        if fits != 1 {
            return Err(format!("fits {fits} of oneOf, not exactly one: {value}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits =
            allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
        if !fits {
            return Err(format!("{value} is {actual}, not {allowed:?}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            return Err(format!("{value} is not one of {options:?}"));
        }
    }
    if let (Some(pattern), Some(text)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) {
        let re = regex::Regex::new(pattern).expect("the pattern compiles");
        if !re.is_match(text) {
            return Err(format!("{text:?} does not match {pattern}"));
        }
    }
    if let Some(object) = value.as_object() {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = key.as_str().expect("a key");
            if !object.contains_key(key) {
                return Err(format!("{key} is required"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, v) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => validate(doc, v, property).map_err(|e| format!("{key}: {e}"))?,
                None if properties.is_some()
                    || schema.get("additionalProperties") == Some(&Value::Bool(false)) =>
                {
                    return Err(format!("{key} is not a property"));
                }
                None => {}
            }
        }
    }
    if let Some(items) = value.as_array() {
        let count = items.len() as u64;
        if schema
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|min| count < min)
            || schema
                .get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|max| count > max)
        {
            return Err(format!("{count} items"));
        }
        if let Some(item) = schema.get("items") {
            for (i, v) in items.iter().enumerate() {
                validate(doc, v, item).map_err(|e| format!("[{i}]: {e}"))?;
            }
        }
    }
    Ok(())
}
