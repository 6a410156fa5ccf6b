//! Every kind of bad input the contract implies: the right status, the error shape, nothing written.

use crate::common::{assert_error, items, wait_until, Backend, Receiver, TestApp, WAIT};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    malformed_json_is_400,
    malformed_json_is_400_even_when_a_field_is_also_wrong,
    missing_fields_wrong_types_and_unknown_fields_are_422,
    unknown_ids_in_the_path_are_404,
    media_for_an_unknown_creator_is_422_and_writes_nothing,
    an_id_that_names_nothing_is_a_409_and_writes_nothing,
    bad_integration_urls_are_422,
    empty_api_key_or_name_is_422,
    bad_signing_secret_is_422,
    body_over_1_mib_is_413,
    batch_with_one_bad_post_is_422_and_writes_nothing,
    batch_of_more_than_1000_or_none_is_422,
    bad_limits_are_422,
    bad_status_filter_is_422,
    a_cursor_the_api_did_not_give_is_400,
    unknown_or_repeated_query_parameters_are_400,
    duplicate_creator_email_is_409,
    bad_rules_are_422_and_write_nothing,
    bad_patches_are_422_and_change_nothing,
    pagination_follows_next_cursor_through_every_item_once,
    filtered_pages_hold_only_matching_items_each_once,
    a_body_that_is_not_a_json_object_is_422_and_changes_nothing,
);

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

async fn expect_error(app: &TestApp, method: Method, path: &str, body: Value, status: StatusCode) {
    let (s, v) = app.request(method.clone(), path, Some(body.clone())).await;
    assert_eq!(s, status, "{method} {path} {body} answered {v}");
    assert_error(s, &v, status);
}

async fn creator(app: &TestApp) -> String {
    app.create_creator("v@example.com", None, None).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn count(app: &TestApp, path: &str) -> usize {
    items(app.get_ok(path).await).len()
}

async fn malformed_json_is_400(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let i = app
        .create_integration("http://127.0.0.1:9/h", "k", json!({}))
        .await;
    let r = app.create_rule(json!({})).await;
    let cases = [
        (Method::POST, "/v1/integrations".to_string()),
        (Method::POST, "/v1/creators".to_string()),
        (Method::POST, "/v1/media".to_string()),
        (Method::POST, "/v1/media/batch".to_string()),
        (Method::POST, "/v1/rules".to_string()),
        (
            Method::PATCH,
            format!("/v1/integrations/{}", i["id"].as_str().unwrap()),
        ),
        (
            Method::PATCH,
            format!("/v1/rules/{}", r["id"].as_str().unwrap()),
        ),
    ];
    for (method, path) in cases {
        for bad in [&b"{"[..], b"not json", b"", b"{,}", b"{\""] {
            let (s, text) = app
                .request_raw(method.clone(), &path, Some(bad.to_vec()))
                .await;
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: non-JSON error ({e}): {text}"));
            assert_eq!(
                s,
                StatusCode::BAD_REQUEST,
                "{method} {path} with {:?} answered {text}",
                String::from_utf8_lossy(bad)
            );
            assert_error(s, &v, StatusCode::BAD_REQUEST);
        }
    }
    assert_eq!(count(&app, "/v1/integrations").await, 1);
    assert_eq!(count(&app, "/v1/creators").await, 0);
    app.stop().await;
}

async fn missing_fields_wrong_types_and_unknown_fields_are_422(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let cid = creator(&app).await;
    let integration = json!({"name": "n", "url": "http://127.0.0.1:9/h", "apiKey": "k"});
    let rule = json!({"name": "r", "postTypes": ["STORY"], "count": 2, "reward": {"type": "NONE"}});
    let media = json!({"creatorId": cid, "postType": "STORY"});
    let without = |v: &Value, key: &str| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove(key);
        v
    };
    let with = |v: &Value, key: &str, val: Value| {
        let mut v = v.clone();
        v[key] = val;
        v
    };
    let cases: Vec<(&str, Value)> = vec![
        // Missing fields.
        ("/v1/integrations", without(&integration, "name")),
        ("/v1/integrations", without(&integration, "url")),
        ("/v1/integrations", without(&integration, "apiKey")),
        ("/v1/creators", json!({})),
        ("/v1/media", without(&media, "creatorId")),
        ("/v1/media", without(&media, "postType")),
        ("/v1/rules", without(&rule, "name")),
        ("/v1/rules", without(&rule, "count")),
        ("/v1/rules", without(&rule, "reward")),
        ("/v1/media/batch", json!({})),
        // Wrong types and values.
        ("/v1/integrations", with(&integration, "apiKey", json!(42))),
        (
            "/v1/integrations",
            with(&integration, "active", json!("yes")),
        ),
        ("/v1/creators", json!({"email": 5})),
        ("/v1/creators", json!({"email": "not-an-email"})),
        (
            "/v1/creators",
            json!({"email": "a@example.com", "igUsername": "has space"}),
        ),
        ("/v1/media", with(&media, "postType", json!("VIDEO"))),
        ("/v1/media", with(&media, "platform", json!("MYSPACE"))),
        ("/v1/media", with(&media, "postedAt", json!("yesterday"))),
        ("/v1/media", with(&media, "postedAt", json!(1650000000))),
        ("/v1/rules", with(&rule, "count", json!("two"))),
        ("/v1/rules", with(&rule, "count", json!(-1))),
        ("/v1/rules", with(&rule, "postTypes", json!(["VIDEO"]))),
        ("/v1/rules", with(&rule, "reward", json!({"type": "CASH"}))),
        ("/v1/rules", with(&rule, "windowDays", json!(0))),
        ("/v1/rules", with(&rule, "platforms", json!([]))),
        ("/v1/media/batch", json!({"media": "all of them"})),
        ("/v1/media/batch", json!([media.clone()])),
        // Unknown fields.
        ("/v1/integrations", with(&integration, "secret", json!("x"))),
        (
            "/v1/creators",
            json!({"email": "b@example.com", "instagram": "x"}),
        ),
        ("/v1/media", with(&media, "caption", json!("hi"))),
        ("/v1/rules", with(&rule, "limit", json!(3))),
        (
            "/v1/media/batch",
            json!({"media": [media.clone()], "dryRun": true}),
        ),
    ];
    for (path, body) in cases {
        expect_error(&app, Method::POST, path, body, UNPROCESSABLE).await;
    }
    assert_eq!(count(&app, "/v1/integrations").await, 0);
    assert_eq!(count(&app, "/v1/rules").await, 0);
    assert_eq!(count(&app, "/v1/creators").await, 1);
    assert_eq!(count(&app, &format!("/v1/media?creatorId={cid}")).await, 0);
    app.stop().await;
}

async fn unknown_ids_in_the_path_are_404(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let nope = "0190c0de-0000-7000-8000-000000000000";
    let cases = [
        (Method::GET, format!("/v1/integrations/{nope}"), None),
        (
            Method::PATCH,
            format!("/v1/integrations/{nope}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/v1/integrations/{nope}"), None),
        (
            Method::POST,
            format!("/v1/integrations/{nope}/test"),
            Some(json!({})),
        ),
        (Method::GET, format!("/v1/rules/{nope}"), None),
        (
            Method::PATCH,
            format!("/v1/rules/{nope}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/v1/rules/{nope}"), None),
        (Method::GET, format!("/v1/creators/{nope}"), None),
        (Method::GET, format!("/v1/fulfillments/{nope}"), None),
        (Method::GET, format!("/v1/deliveries/{nope}"), None),
        (
            Method::POST,
            format!("/v1/deliveries/{nope}/retry"),
            Some(json!({})),
        ),
        (Method::GET, "/v1/no-such-thing".to_string(), None),
    ];
    for (method, path, body) in cases {
        let (s, v) = app.request(method.clone(), &path, body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path} answered {v}");
        assert_error(s, &v, StatusCode::NOT_FOUND);
    }
    // A deleted integration or rule is gone too.
    let i = app
        .create_integration("http://127.0.0.1:9/h", "k", json!({}))
        .await;
    let path = format!("/v1/integrations/{}", i["id"].as_str().unwrap());
    let (s, v) = app.delete(&path).await;
    assert!(s.is_success(), "{v}");
    let (s, v) = app.get(&path).await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
    let r = app.create_rule(json!({})).await;
    let path = format!("/v1/rules/{}", r["id"].as_str().unwrap());
    let (s, v) = app.delete(&path).await;
    assert!(s.is_success(), "{v}");
    let (s, v) = app.get(&path).await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn media_for_an_unknown_creator_is_422_and_writes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    expect_error(
        &app,
        Method::POST,
        "/v1/media",
        json!({"creatorId": "nobody", "postType": "STORY"}),
        UNPROCESSABLE,
    )
    .await;
    expect_error(
        &app,
        Method::POST,
        "/v1/media",
        json!({"creatorId": "", "postType": "STORY"}),
        UNPROCESSABLE,
    )
    .await;
    assert_eq!(count(&app, "/v1/media").await, 0);
    let (s, v) = app.get("/v1/media?creatorId=nobody").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST);
    app.stop().await;
}

/// A well-formed id that names no creator or integration is valid input the current state
/// refuses: a 409 with the code naming what is missing, and nothing written. A malformed id
/// stays a 422.
async fn an_id_that_names_nothing_is_a_409_and_writes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    const NOBODY: &str = "0190a1b2-0000-7000-8000-00000000dead";
    let cid = creator(&app).await;
    let conflict = |path: &'static str, method: Method, body: Value, code: &'static str| {
        let app = &app;
        async move {
            let (s, v) = app.request(method.clone(), path, Some(body.clone())).await;
            assert_eq!(s, StatusCode::CONFLICT, "{method} {path} {body}: {v}");
            assert_eq!(assert_error(s, &v, StatusCode::CONFLICT), code, "{v}");
        }
    };
    conflict(
        "/v1/media",
        Method::POST,
        json!({"creatorId": NOBODY, "postType": "STORY"}),
        "unknown_creator",
    )
    .await;
    conflict(
        "/v1/media/batch",
        Method::POST,
        json!({"media": [{"creatorId": cid, "postType": "STORY"},
                         {"creatorId": NOBODY, "postType": "STORY"}]}),
        "unknown_creator",
    )
    .await;
    assert_eq!(count(&app, &format!("/v1/media?creatorId={cid}")).await, 0);
    conflict(
        "/v1/rules",
        Method::POST,
        json!({"name": "r", "count": 2, "reward": {"type": "NONE"}, "integrationIds": [NOBODY]}),
        "unknown_integration",
    )
    .await;
    assert_eq!(count(&app, "/v1/rules").await, 0);
    let r = app.create_rule(json!({})).await;
    let rpath = format!("/v1/rules/{}", r["id"].as_str().unwrap());
    let (s, v) = app
        .patch(&rpath, json!({"integrationIds": [NOBODY], "count": 5}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(
        assert_error(s, &v, StatusCode::CONFLICT),
        "unknown_integration"
    );
    let after = app.get_ok(&rpath).await;
    assert_eq!(after["count"], r["count"], "nothing changed: {after}");
    assert_eq!(after["integrationIds"], Value::Null);
    app.stop().await;
}

async fn bad_integration_urls_are_422(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for url in [
        "ftp://example.com/hook",
        "/relative/hook",
        "example.com/hook",
        "",
        "   ",
        "http://",
        "javascript:alert(1)",
        "file:///etc/passwd",
    ] {
        expect_error(
            &app,
            Method::POST,
            "/v1/integrations",
            json!({"name": "n", "url": url, "apiKey": "k"}),
            UNPROCESSABLE,
        )
        .await;
    }
    assert_eq!(count(&app, "/v1/integrations").await, 0);
    for url in ["http://example.com/hook", "https://example.com:8443/h?x=1"] {
        app.create_integration(url, "k", json!({})).await;
    }
    app.stop().await;
}

async fn empty_api_key_or_name_is_422(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for (name, key) in [("n", ""), ("n", "   "), ("", "k"), ("   ", "k")] {
        expect_error(
            &app,
            Method::POST,
            "/v1/integrations",
            json!({"name": name, "url": "http://example.com/h", "apiKey": key}),
            UNPROCESSABLE,
        )
        .await;
    }
    for name in ["", "  "] {
        expect_error(
            &app,
            Method::POST,
            "/v1/rules",
            json!({"name": name, "count": 2, "reward": {"type": "NONE"}}),
            UNPROCESSABLE,
        )
        .await;
    }
    assert_eq!(count(&app, "/v1/integrations").await, 0);
    assert_eq!(count(&app, "/v1/rules").await, 0);
    app.stop().await;
}

async fn bad_signing_secret_is_422(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for secret in [
        "",
        "plain-secret",
        "whsec_",
        "whsec_not base64!",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        expect_error(
            &app,
            Method::POST,
            "/v1/integrations",
            json!({"name": "n", "url": "http://example.com/h", "apiKey": "k", "signingSecret": secret}),
            UNPROCESSABLE,
        )
        .await;
    }
    assert_eq!(count(&app, "/v1/integrations").await, 0);
    app.stop().await;
}

async fn body_over_1_mib_is_413(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let cid = creator(&app).await;
    // Valid JSON, just too large: a batch padded with whitespace past 1 MiB.
    let mut body = format!("{{\"media\": [{{\"creatorId\": \"{cid}\", \"postType\": \"STORY\"}}]")
        .into_bytes();
    body.extend(std::iter::repeat_n(b' ', 1024 * 1024 + 10));
    body.push(b'}');
    let (s, text) = app
        .request_raw(Method::POST, "/v1/media/batch", Some(body))
        .await;
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON 413 ({e}): {text}"));
    assert_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(count(&app, &format!("/v1/media?creatorId={cid}")).await, 0);
    app.stop().await;
}

async fn batch_with_one_bad_post_is_422_and_writes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let cid = creator(&app).await;
    let good = json!({"creatorId": cid, "postType": "STORY"});
    for bad in [
        json!({"creatorId": "nobody", "postType": "STORY"}),
        json!({"creatorId": cid, "postType": "VIDEO"}),
        json!({"creatorId": cid, "postType": "STORY", "postedAt": "soon"}),
        json!({"creatorId": cid}),
        json!("a string"),
    ] {
        let batch = json!({"media": [good.clone(), good.clone(), bad.clone(), good.clone()]});
        expect_error(&app, Method::POST, "/v1/media/batch", batch, UNPROCESSABLE).await;
        assert_eq!(
            count(&app, &format!("/v1/media?creatorId={cid}")).await,
            0,
            "a batch with {bad} wrote posts"
        );
    }
    // The good ones alone are accepted, all of them.
    let r = app
        .post_ok(
            "/v1/media/batch",
            json!({"media": [good.clone(), good.clone(), good]}),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(items(r).len(), 3);
    assert_eq!(count(&app, &format!("/v1/media?creatorId={cid}")).await, 3);
    app.stop().await;
}

async fn batch_of_more_than_1000_or_none_is_422(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let cid = creator(&app).await;
    let post = json!({"creatorId": cid, "postType": "FEED"});
    let too_many: Vec<Value> = (0..1001).map(|_| post.clone()).collect();
    expect_error(
        &app,
        Method::POST,
        "/v1/media/batch",
        json!({ "media": too_many }),
        UNPROCESSABLE,
    )
    .await;
    expect_error(
        &app,
        Method::POST,
        "/v1/media/batch",
        json!({"media": []}),
        UNPROCESSABLE,
    )
    .await;
    assert_eq!(count(&app, &format!("/v1/media?creatorId={cid}")).await, 0);
    // Exactly 1000 is fine.
    let full: Vec<Value> = (0..1000).map(|_| post.clone()).collect();
    let r = app
        .post_ok(
            "/v1/media/batch",
            json!({ "media": full }),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(items(r).len(), 1000);
    app.stop().await;
}

async fn bad_limits_are_422(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for list in [
        "/v1/integrations",
        "/v1/creators",
        "/v1/media",
        "/v1/rules",
        "/v1/fulfillments",
        "/v1/deliveries",
    ] {
        for limit in ["0", "501", "abc", "-1", "1.5"] {
            let path = format!("{list}?limit={limit}");
            let (s, v) = app.get(&path).await;
            assert_eq!(s, UNPROCESSABLE, "GET {path} answered {v}");
            assert_error(s, &v, UNPROCESSABLE);
        }
        for limit in ["1", "500"] {
            app.get_ok(&format!("{list}?limit={limit}")).await;
        }
    }
    app.stop().await;
}

const LISTS: [&str; 6] = [
    "/v1/integrations",
    "/v1/creators",
    "/v1/media",
    "/v1/rules",
    "/v1/fulfillments",
    "/v1/deliveries",
];

async fn a_cursor_the_api_did_not_give_is_400(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for list in LISTS {
        for cursor in ["zzz", "1", "0190a1b2"] {
            let path = format!("{list}?cursor={cursor}");
            let (s, v) = app.get(&path).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "GET {path} answered {v}");
            assert_eq!(
                assert_error(s, &v, StatusCode::BAD_REQUEST),
                "invalid_cursor"
            );
        }
    }
    // An id filter that is not an id is refused too, rather than matching nothing.
    for path in [
        "/v1/media?creatorId=nobody",
        "/v1/fulfillments?ruleId=x",
        "/v1/deliveries?integrationId=x",
    ] {
        let (s, v) = app.get(path).await;
        assert_error(s, &v, StatusCode::BAD_REQUEST);
    }
    app.stop().await;
}

async fn unknown_or_repeated_query_parameters_are_400(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), "k", json!({})).await;
    for path in [
        "/v1/deliveries?stauts=failed",
        "/v1/integrations?limit=5&verbose=1",
        "/v1/creators?creatorId=0190a1b2-0000-7000-8000-000000000000",
        "/v1/deliveries?status=failed&status=pending",
    ] {
        let (s, v) = app.get(path).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "GET {path} answered {v}");
        let code = assert_error(s, &v, StatusCode::BAD_REQUEST);
        assert!(
            code == "unknown_parameter" || code == "repeated_parameter",
            "{path}: {code}"
        );
    }
    let (s, v) = app.get("/v1/deliveries?stauts=failed").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("status"),
        "the message lists the parameters it takes: {v}"
    );
    // A POST with a query string is held to the same rule.
    let (s, v) = app
        .post("/v1/creators?dryRun=1", json!({"email": "q@example.com"}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST);
    assert!(
        items(app.get_ok("/v1/creators").await).is_empty(),
        "nothing was written"
    );
    app.stop().await;
}

async fn bad_status_filter_is_422(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for status in ["done", "PENDING", "succeeded,failed"] {
        let (s, v) = app.get(&format!("/v1/deliveries?status={status}")).await;
        assert_error(s, &v, UNPROCESSABLE);
    }
    for status in ["pending", "succeeded", "failed"] {
        app.get_ok(&format!("/v1/deliveries?status={status}")).await;
    }
    app.stop().await;
}

async fn duplicate_creator_email_is_409(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    app.create_creator("dup@example.com", Some("one"), None)
        .await;
    expect_error(
        &app,
        Method::POST,
        "/v1/creators",
        json!({"email": "dup@example.com", "igUsername": "two"}),
        StatusCode::CONFLICT,
    )
    .await;
    let all = items(app.get_ok("/v1/creators").await);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["igUsername"], "one");
    app.stop().await;
}

async fn bad_rules_are_422_and_write_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let i = app
        .create_integration("http://127.0.0.1:9/h", "k", json!({}))
        .await;
    let base = json!({"name": "r", "postTypes": ["STORY"], "count": 2, "reward": {"type": "DISCOUNT_CODE"}});
    let with = |key: &str, val: Value| {
        let mut v = base.clone();
        v[key] = val;
        v
    };
    for body in [
        with("count", json!(0)),
        with("integrationIds", json!(["no-such-integration"])),
        with("integrationIds", json!([i["id"], "no-such-integration"])),
        with(
            "reward",
            json!({"type": "DISCOUNT_CODE", "codePrefix": "has space"}),
        ),
        with("reward", json!({"type": "DISCOUNT_CODE", "codePrefix": ""})),
    ] {
        expect_error(&app, Method::POST, "/v1/rules", body, UNPROCESSABLE).await;
    }
    assert_eq!(count(&app, "/v1/rules").await, 0);
    // The same rule with a known integration is fine.
    let r = app
        .post_ok(
            "/v1/rules",
            with("integrationIds", json!([i["id"]])),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(r["integrationIds"], json!([i["id"]]));
    app.stop().await;
}

async fn bad_patches_are_422_and_change_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let i = app
        .create_integration("http://example.com/h", "k", json!({}))
        .await;
    let ipath = format!("/v1/integrations/{}", i["id"].as_str().unwrap());
    for body in [
        json!({"url": "ftp://example.com"}),
        json!({"apiKey": ""}),
        json!({"name": ""}),
        json!({"signingSecret": "nope"}),
        json!({"unknown": 1}),
    ] {
        expect_error(&app, Method::PATCH, &ipath, body, UNPROCESSABLE).await;
    }
    let after = app.get_ok(&ipath).await;
    assert_eq!(after["url"], "http://example.com/h");
    assert_eq!(after["name"], i["name"]);
    assert_eq!(after["signing"], false);

    let r = app.create_rule(json!({})).await;
    let rpath = format!("/v1/rules/{}", r["id"].as_str().unwrap());
    for body in [
        json!({"count": 0}),
        json!({"integrationIds": ["nope"]}),
        json!({"name": " "}),
        json!({"count": "3"}),
    ] {
        expect_error(&app, Method::PATCH, &rpath, body, UNPROCESSABLE).await;
    }
    let after = app.get_ok(&rpath).await;
    assert_eq!(after["count"], 2);
    assert_eq!(after["integrationIds"], Value::Null);
    assert_eq!(after["name"], r["name"]);
    app.stop().await;
}

async fn pagination_follows_next_cursor_through_every_item_once(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let mut created = Vec::new();
    for n in 0..5 {
        let c = app
            .create_creator(&format!("page{n}@example.com"), None, None)
            .await;
        created.push(c["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/v1/creators?limit=2".to_string(),
            Some(c) => format!("/v1/creators?limit=2&cursor={c}"),
        };
        let page = app.get_ok(&path).await;
        pages += 1;
        assert!(pages <= 5, "pagination does not end");
        let got = items(page.clone());
        assert!(got.len() <= 2, "page larger than limit: {page}");
        seen.extend(got.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        assert!(
            page.as_object().unwrap().contains_key("nextCursor"),
            "{page}"
        );
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => {
                assert!(page["nextCursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    sorted_seen.dedup();
    assert_eq!(sorted_seen.len(), 5, "an item came twice: {seen:?}");
    let mut sorted_created = created.clone();
    sorted_created.sort();
    assert_eq!(sorted_seen, sorted_created);
    // Default limit covers all five in one page with a null cursor.
    let all = app.get_ok("/v1/creators").await;
    assert_eq!(items(all.clone()).len(), 5);
    assert!(all["nextCursor"].is_null());
    app.stop().await;
}

/// Every item of `path` (which has a query), two per page, following `nextCursor` to the end.
async fn walk(app: &TestApp, path: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let page = match &cursor {
            None => app.get_ok(&format!("{path}&limit=2")).await,
            Some(c) => app.get_ok(&format!("{path}&limit=2&cursor={c}")).await,
        };
        all.extend(items(page.clone()));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return all,
        }
    }
    panic!("pagination of {path} does not end");
}

fn ids(items: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn filtered_pages_hold_only_matching_items_each_once(backend: Backend) {
    let Some(app) = TestApp::start_with(backend, |s| {
        s.retry_schedule = lc_webhooks::dispatch::RetrySchedule::parse("1h").unwrap();
    })
    .await
    else {
        return;
    };
    let ok = Receiver::always(200).await;
    let failing = Receiver::always(500).await;
    let a = app.create_integration(&ok.url(), "key-a", json!({})).await;
    let b = app
        .create_integration(&failing.url(), "key-b", json!({}))
        .await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    app.create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let one = app.create_creator("one@example.com", None, None).await;
    let two = app.create_creator("two@example.com", None, None).await;
    let (one, two) = (one["id"].as_str().unwrap(), two["id"].as_str().unwrap());
    for creator in [one, one, one, two] {
        app.post_media(creator, "STORY", json!({})).await;
    }
    wait_until(WAIT, "four succeeded and four tried", || async {
        let succeeded = app.deliveries("status=succeeded").await.len();
        let tried = app
            .deliveries(&format!("integrationId={b}"))
            .await
            .iter()
            .filter(|d| d["attemptCount"] == 1)
            .count();
        (succeeded == 4 && tried == 4).then_some(())
    })
    .await;

    let to_a = walk(&app, &format!("/v1/deliveries?integrationId={a}")).await;
    assert_eq!(to_a.len(), 4);
    assert!(to_a.iter().all(|d| d["integrationId"] == a), "{to_a:?}");
    let mut unique = ids(&to_a);
    unique.dedup();
    assert_eq!(unique.len(), 4, "an item came twice");

    let pending_b = walk(
        &app,
        &format!("/v1/deliveries?integrationId={b}&status=pending"),
    )
    .await;
    assert_eq!(pending_b.len(), 4);
    assert!(pending_b
        .iter()
        .all(|d| d["integrationId"] == b && d["status"] == "pending"));
    let succeeded_b = walk(
        &app,
        &format!("/v1/deliveries?status=succeeded&integrationId={b}"),
    )
    .await;
    assert!(succeeded_b.is_empty(), "{succeeded_b:?}");
    let all = walk(&app, "/v1/deliveries?status=pending").await;
    assert_eq!(ids(&all), ids(&pending_b));

    let of_one = walk(&app, &format!("/v1/fulfillments?creatorId={one}")).await;
    assert_eq!(of_one.len(), 3);
    assert!(of_one.iter().all(|f| f["creatorId"] == one), "{of_one:?}");
    let fulfillment = of_one[0]["id"].as_str().unwrap();
    let its = walk(&app, &format!("/v1/deliveries?fulfillmentId={fulfillment}")).await;
    assert_eq!(its.len(), 2);
    let posts = walk(&app, &format!("/v1/media?creatorId={two}")).await;
    assert_eq!(posts.len(), 1);
    app.stop().await;
}

/// `{"unknownField": 1} trailing` and `{"count": "two"` are not JSON at all, so they are 400s;
/// the parser must not report the field error it met before the syntax error.
async fn malformed_json_is_400_even_when_a_field_is_also_wrong(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for (path, bad) in [
        ("/v1/integrations", &b"{\"a\":1} trailing"[..]),
        ("/v1/rules", b"{\"count\": \"two\""),
        ("/v1/creators", b"{\"email\": 5,"),
        ("/v1/media", b"[1, 2"),
        ("/v1/integrations", b"{\"x\" 1}"),
        ("/v1/media", b"{\"name\": }"),
    ] {
        let (s, text) = app
            .request_raw(Method::POST, path, Some(bad.to_vec()))
            .await;
        let v: Value = serde_json::from_str(&text).expect("JSON error body");
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "POST {path} with malformed {:?} answered {text}",
            String::from_utf8_lossy(bad)
        );
        assert_error(s, &v, StatusCode::BAD_REQUEST);
    }
    app.stop().await;
}

/// An array of `fields` values: `first` in order, then `null`s, as serde would have read a
/// struct of that many fields by position.
fn by_position(fields: usize, first: Vec<Value>) -> Value {
    let mut values = first;
    values.resize(fields, Value::Null);
    Value::Array(values)
}

async fn a_body_that_is_not_a_json_object_is_422_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    // Receives nothing but Test sends, so no delivery moves while the state is compared.
    let i = app
        .create_integration("http://127.0.0.1:9/h", "k", json!({"eventTypes": []}))
        .await;
    let i = i["id"].as_str().unwrap().to_string();
    let c = creator(&app).await;
    let other = app.create_creator("w@example.com", None, None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.create_rule(json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let m = app
        .post_ok(
            "/v1/rules",
            json!({"name": "m", "postTypes": ["STORY"], "schedule": "MONTHLY",
                   "tiers": [{"count": 1, "reward": {"type": "NONE"}}]}),
            StatusCode::CREATED,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = app
        .post_ok("/v1/programs", json!({"name": "P"}), StatusCode::CREATED)
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post_ok(
        &format!("/v1/programs/{p}/members"),
        json!({ "creatorId": c }),
        StatusCode::CREATED,
    )
    .await;
    let state = [
        "/v1/integrations".to_string(),
        format!("/v1/integrations/{i}"),
        "/v1/creators".to_string(),
        format!("/v1/creators/{c}"),
        "/v1/media".to_string(),
        "/v1/rules".to_string(),
        format!("/v1/rules/{r}"),
        format!("/v1/rules/{m}/runs"),
        "/v1/programs".to_string(),
        format!("/v1/programs/{p}"),
        format!("/v1/programs/{p}/members"),
        "/v1/sales".to_string(),
        "/v1/deliveries".to_string(),
        "/v1/fulfillments".to_string(),
    ];
    let mut before = Vec::new();
    for path in &state {
        before.push(app.get_ok(path).await);
    }

    // Every endpoint with a body, each sent an array as long as its body's fields and
    // read by position would have been a valid request.
    let post = Method::POST;
    let patch = Method::PATCH;
    let story = || json!([c, "STORY"]);
    let cases = [
        (
            post.clone(),
            "/v1/integrations".to_string(),
            by_position(
                11,
                vec![json!("arr"), json!("http://127.0.0.1:9/a"), json!("k")],
            ),
        ),
        (
            patch.clone(),
            format!("/v1/integrations/{i}"),
            by_position(11, vec![json!("renamed")]),
        ),
        (
            post.clone(),
            format!("/v1/integrations/{i}/test"),
            by_position(7, vec![]),
        ),
        (
            post.clone(),
            format!("/v1/integrations/{i}/rotate-secret"),
            by_position(2, vec![]),
        ),
        (
            post.clone(),
            format!("/v1/integrations/{i}/replay"),
            json!(["2020-01-01T00:00:00Z"]),
        ),
        (
            post.clone(),
            "/v1/creators".to_string(),
            json!(["arr@example.com", null, null, null, []]),
        ),
        (
            patch.clone(),
            format!("/v1/creators/{c}"),
            json!([1000, ["vip"]]),
        ),
        (
            post.clone(),
            "/v1/media".to_string(),
            by_position(6, vec![json!(c), json!("STORY")]),
        ),
        (
            post.clone(),
            "/v1/media/batch".to_string(),
            json!([[by_position(6, vec![json!(c), json!("STORY")])]]),
        ),
        (
            post.clone(),
            "/v1/rules".to_string(),
            by_position(
                19,
                vec![
                    json!("arr"),
                    json!(["STORY"]),
                    json!(null),
                    json!(2),
                    json!(null),
                    json!(null),
                    json!({"type": "NONE"}),
                ],
            ),
        ),
        (
            patch.clone(),
            format!("/v1/rules/{r}"),
            by_position(19, vec![json!("renamed")]),
        ),
        (
            post.clone(),
            format!("/v1/rules/{m}/runs"),
            json!(["2025-01"]),
        ),
        (
            post.clone(),
            "/v1/programs".to_string(),
            by_position(3, vec![json!("arr")]),
        ),
        (
            patch.clone(),
            format!("/v1/programs/{p}"),
            by_position(3, vec![json!("renamed")]),
        ),
        (
            post.clone(),
            format!("/v1/programs/{p}/members"),
            json!([other]),
        ),
        (
            patch.clone(),
            format!("/v1/programs/{p}/members/{c}"),
            json!(["REJECTED"]),
        ),
        (
            post.clone(),
            "/v1/sales".to_string(),
            json!([c, "order-arr", "10.00", "USD", null]),
        ),
    ];
    for (method, path, body) in cases {
        let (s, v) = app.request(method.clone(), &path, Some(body.clone())).await;
        let code = assert_error(s, &v, UNPROCESSABLE);
        assert_eq!(code, "invalid_body", "{method} {path} {body}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("must be a JSON object"),
            "{method} {path} {body}: {message}"
        );
    }
    // Any other top-level value too; `null` where the body is required.
    for body in [json!("renamed"), json!(3), json!(true), Value::Null] {
        let (s, v) = app.patch(&format!("/v1/programs/{p}"), body.clone()).await;
        assert_eq!(
            assert_error(s, &v, UNPROCESSABLE),
            "invalid_body",
            "{body}: {v}"
        );
    }
    // A batch's posts are bodies too, each an object.
    let (s, v) = app
        .post("/v1/media/batch", json!({"media": [story()]}))
        .await;
    assert_eq!(assert_error(s, &v, UNPROCESSABLE), "invalid_body", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("media[0]: ")),
        "{v}"
    );

    // Objects nested in a body too: a rule's reward and tiers, a Test send's posts.
    let nested = [
        (
            post.clone(),
            "/v1/rules".to_string(),
            json!({"name": "n", "postTypes": ["STORY"], "count": 2, "reward": ["NONE"]}),
        ),
        (
            patch.clone(),
            format!("/v1/rules/{r}"),
            json!({"reward": ["DISCOUNT_CODE", "GOLD-"]}),
        ),
        (
            post.clone(),
            "/v1/rules".to_string(),
            json!({"name": "n", "postTypes": ["STORY"], "schedule": "MONTHLY", "tiers": [[1, {"type": "NONE"}]]}),
        ),
        (
            post.clone(),
            "/v1/rules".to_string(),
            json!({"name": "n", "postTypes": ["STORY"], "schedule": "MONTHLY", "tiers": [{"count": 1, "reward": ["NONE"]}]}),
        ),
        (
            patch.clone(),
            format!("/v1/rules/{m}"),
            json!({"tiers": [[5, {"type": "NONE"}]]}),
        ),
        (
            post.clone(),
            format!("/v1/integrations/{i}/test"),
            json!({"posts": [[null, null, "STORY", null]]}),
        ),
    ];
    for (method, path, body) in nested {
        let (s, v) = app.request(method.clone(), &path, Some(body.clone())).await;
        let code = assert_error(s, &v, UNPROCESSABLE);
        assert_eq!(code, "invalid_body", "{method} {path} {body}: {v}");
    }

    for (path, was) in state.iter().zip(before) {
        assert_eq!(app.get_ok(path).await, was, "{path} changed");
    }
    app.stop().await;
}
