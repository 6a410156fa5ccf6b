//! LoudCrowd's rule options, on both stores: the program and its approval, the Timeframe from
//! approval, the Buffer Limit between counted posts, the Fulfillment Limit, segments and
//! follower counts, media types; what each refuses; and a program a rule names cannot be deleted. Rewards are
//! committed with the `201` of the post that earned them, so each check reads them at once; one
//! test also counts what a receiver got.

use crate::common::{assert_error, Backend, Receiver, TestApp};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

both_stores!(
    the_fulfillment_limit_is_never_exceeded,
    a_limit_set_later_counts_the_rewards_already_granted,
    a_creator_outside_the_segments_does_not_earn,
    too_few_followers_do_not_earn,
    only_posts_of_the_rule_s_media_types_count,
    only_approved_members_posting_after_approval_earn,
    a_post_after_the_timeframe_does_not_count,
    a_post_inside_the_buffer_does_not_count,
    bad_options_are_refused_and_change_nothing,
    a_program_a_rule_names_cannot_be_deleted,
);

const KEY: &str = "test-api-key-0001";

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// An app with a receiver and an integration pointing at it.
async fn app_with_receiver(backend: Backend) -> Option<(TestApp, Receiver)> {
    let app = TestApp::start(backend).await?;
    let rx = Receiver::always(200).await;
    app.create_integration(&rx.url(), KEY, json!({})).await;
    Some((app, rx))
}

/// A creator with `profile` (`followers`, `segments`) merged in; its id.
async fn creator(app: &TestApp, email: &str, profile: Value) -> String {
    let mut body = json!({ "email": email });
    crate::common::merge(&mut body, profile);
    id(&app.post_ok("/v1/creators", body, StatusCode::CREATED).await)
}

/// One Story post by `creator`, posted at `at` (or now).
async fn story(app: &TestApp, creator: &str, at: Option<DateTime<Utc>>) {
    let extra = match at {
        Some(at) => json!({ "postedAt": at.to_rfc3339() }),
        None => json!({}),
    };
    app.post_media(creator, "STORY", extra).await;
}

/// The rewards `creator` has earned so far.
async fn earned(app: &TestApp, creator: &str) -> usize {
    app.fulfillments(&format!("creatorId={creator}"))
        .await
        .len()
}

async fn program(app: &TestApp, approval: &str) -> String {
    id(&app
        .post_ok(
            "/v1/programs",
            json!({"name": "Ambassadors", "approval": approval}),
            StatusCode::CREATED,
        )
        .await)
}

/// Signs `creator` up; the member as answered.
async fn sign_up(app: &TestApp, program: &str, creator: &str) -> Value {
    let (status, member) = app
        .post(
            &format!("/v1/programs/{program}/members"),
            json!({ "creatorId": creator }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    member
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .with_timezone(&Utc)
}

async fn the_fulfillment_limit_is_never_exceeded(backend: Backend) {
    let Some((app, rx)) = app_with_receiver(backend).await else {
        return;
    };
    let rule = app
        .create_rule(json!({"count": 1, "repeatable": true, "fulfillmentLimit": 2}))
        .await;
    assert_eq!(rule["fulfillmentLimit"], 2);
    let c = creator(&app, "c@example.com", json!({})).await;
    for n in 1..=4 {
        story(&app, &c, None).await;
        assert_eq!(earned(&app, &c).await, n.min(2), "after post {n}");
    }
    rx.assert_exactly(2).await;
    // The limit counts per creator: another one earns too.
    let d = creator(&app, "d@example.com", json!({})).await;
    story(&app, &d, None).await;
    assert_eq!(earned(&app, &d).await, 1);
}

async fn a_limit_set_later_counts_the_rewards_already_granted(backend: Backend) {
    let Some((app, _rx)) = app_with_receiver(backend).await else {
        return;
    };
    let rule = app
        .create_rule(json!({"count": 1, "repeatable": true}))
        .await;
    let c = creator(&app, "c@example.com", json!({})).await;
    story(&app, &c, None).await;
    story(&app, &c, None).await;
    assert_eq!(earned(&app, &c).await, 2, "every post earns");
    let (status, body) = app
        .patch(
            &format!("/v1/rules/{}", id(&rule)),
            json!({"fulfillmentLimit": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for _ in 0..3 {
        story(&app, &c, None).await;
    }
    assert_eq!(earned(&app, &c).await, 3, "two before the limit, one after");
}

async fn a_creator_outside_the_segments_does_not_earn(backend: Backend) {
    let Some((app, _rx)) = app_with_receiver(backend).await else {
        return;
    };
    let rule = app
        .create_rule(json!({"count": 1, "segments": ["EU", "VIP"]}))
        .await;
    assert_eq!(rule["segments"], json!(["EU", "VIP"]));
    let eu = creator(&app, "eu@example.com", json!({"segments": ["US", "EU"]})).await;
    let us = creator(&app, "us@example.com", json!({"segments": ["US"]})).await;
    let none = creator(&app, "none@example.com", json!({})).await;
    for c in [&eu, &us, &none] {
        story(&app, c, None).await;
    }
    assert_eq!(earned(&app, &eu).await, 1);
    assert_eq!(earned(&app, &us).await, 0, "outside the segments");
    assert_eq!(earned(&app, &none).await, 0, "no segment at all");
    // A segment given later counts for the posts after it.
    let (status, _) = app
        .patch(&format!("/v1/creators/{us}"), json!({"segments": ["VIP"]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    story(&app, &us, None).await;
    assert_eq!(earned(&app, &us).await, 1);
}

async fn too_few_followers_do_not_earn(backend: Backend) {
    let Some((app, _rx)) = app_with_receiver(backend).await else {
        return;
    };
    app.create_rule(json!({"count": 1, "minFollowers": 1000}))
        .await;
    let enough = creator(&app, "a@example.com", json!({"followers": 1000})).await;
    let few = creator(&app, "b@example.com", json!({"followers": 999})).await;
    let unknown = creator(&app, "c@example.com", json!({})).await;
    for c in [&enough, &few, &unknown] {
        story(&app, c, None).await;
    }
    assert_eq!(earned(&app, &enough).await, 1);
    assert_eq!(earned(&app, &few).await, 0, "999 < 1000");
    assert_eq!(earned(&app, &unknown).await, 0, "unknown does not qualify");
    let (status, _) = app
        .patch(&format!("/v1/creators/{few}"), json!({"followers": 5000}))
        .await;
    assert_eq!(status, StatusCode::OK);
    story(&app, &few, None).await;
    assert_eq!(earned(&app, &few).await, 1, "grown past the minimum");
}

async fn only_posts_of_the_rule_s_media_types_count(backend: Backend) {
    let Some((app, _rx)) = app_with_receiver(backend).await else {
        return;
    };
    let rule = app
        .create_rule(json!({"count": 1, "mediaTypes": ["VIDEO", "VIDEO"]}))
        .await;
    assert_eq!(rule["mediaTypes"], json!(["VIDEO"]), "each type once");
    let video = creator(&app, "v@example.com", json!({})).await;
    let image = creator(&app, "i@example.com", json!({})).await;
    let unknown = creator(&app, "u@example.com", json!({})).await;
    app.post_media(&video, "STORY", json!({"mediaType": "VIDEO"}))
        .await;
    app.post_media(&image, "STORY", json!({"mediaType": "IMAGE"}))
        .await;
    app.post_media(&unknown, "STORY", json!({})).await;
    assert_eq!(earned(&app, &video).await, 1);
    assert_eq!(earned(&app, &image).await, 0, "another media type");
    assert_eq!(earned(&app, &unknown).await, 0, "unknown media type");
    // `[]` lifts the filter for the posts after it.
    let (status, patched) = app
        .patch(
            &format!("/v1/rules/{}", id(&rule)),
            json!({"mediaTypes": []}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["mediaTypes"], json!([]));
    app.post_media(&image, "STORY", json!({"mediaType": "IMAGE"}))
        .await;
    assert_eq!(earned(&app, &image).await, 1);
}

async fn only_approved_members_posting_after_approval_earn(backend: Backend) {
    let Some((app, _rx)) = app_with_receiver(backend).await else {
        return;
    };
    let auto = program(&app, "AUTOMATIC").await;
    let manual = program(&app, "MANUAL").await;
    let rule = app
        .create_rule(json!({"count": 1, "programId": auto}))
        .await;
    assert_eq!(rule["programId"], auto.as_str());
    app.create_rule(json!({"count": 1, "programId": manual}))
        .await;
    let member = creator(&app, "m@example.com", json!({})).await;
    let outsider = creator(&app, "o@example.com", json!({})).await;
    let approved_at = time(&sign_up(&app, &auto, &member).await["approvedAt"]);
    let pending = sign_up(&app, &manual, &member).await;
    assert_eq!(pending["status"], "PENDING");

    story(&app, &member, Some(approved_at - Duration::days(1))).await;
    assert_eq!(earned(&app, &member).await, 0, "posted before approval");
    story(&app, &outsider, None).await;
    assert_eq!(earned(&app, &outsider).await, 0, "not a member");
    story(&app, &member, Some(approved_at + Duration::hours(1))).await;
    let got = app.fulfillments(&format!("creatorId={member}")).await;
    assert_eq!(
        got.len(),
        1,
        "approved in one program, pending in the other"
    );
    assert_eq!(got[0]["ruleId"], rule["id"]);

    // Removed: posts no longer count.
    let (status, _) = app
        .patch(
            &format!("/v1/programs/{auto}/members/{member}"),
            json!({"status": "REMOVED"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let again = creator(&app, "again@example.com", json!({})).await;
    sign_up(&app, &auto, &again).await;
    let (status, _) = app
        .patch(
            &format!("/v1/programs/{auto}/members/{again}"),
            json!({"status": "REMOVED"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    story(&app, &again, None).await;
    assert_eq!(earned(&app, &again).await, 0, "removed");
}

async fn a_post_after_the_timeframe_does_not_count(backend: Backend) {
    let Some((app, _rx)) = app_with_receiver(backend).await else {
        return;
    };
    let p = program(&app, "AUTOMATIC").await;
    app.create_rule(json!({"count": 2, "programId": p, "timeframeDays": 30}))
        .await;
    let c = creator(&app, "c@example.com", json!({})).await;
    let approved_at = time(&sign_up(&app, &p, &c).await["approvedAt"]);
    story(&app, &c, Some(approved_at + Duration::days(1))).await;
    story(&app, &c, Some(approved_at + Duration::days(31))).await;
    assert_eq!(
        earned(&app, &c).await,
        0,
        "the second is past the timeframe"
    );
    story(
        &app,
        &c,
        Some(approved_at + Duration::days(30) - Duration::minutes(1)),
    )
    .await;
    assert_eq!(earned(&app, &c).await, 1, "the 30th day is within it");
}

async fn a_post_inside_the_buffer_does_not_count(backend: Backend) {
    let Some((app, rx)) = app_with_receiver(backend).await else {
        return;
    };
    app.create_rule(json!({"count": 2, "repeatable": true, "bufferDays": 7}))
        .await;
    let c = creator(&app, "c@example.com", json!({})).await;
    let start = Utc::now();
    let day = |n| Some(start + Duration::days(n));
    story(&app, &c, day(0)).await;
    story(&app, &c, day(3)).await;
    assert_eq!(earned(&app, &c).await, 0, "3 days after: inside the buffer");
    story(&app, &c, day(7)).await;
    let got = app.fulfillments(&format!("creatorId={c}")).await;
    assert_eq!(got.len(), 1, "a week after the first");
    let medias: Vec<String> = got[0]["payload"]["medias"]
        .as_array()
        .expect("medias")
        .iter()
        .map(|m| m["postedAt"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(medias.len(), 2, "{medias:?}");
    // The buffer runs on from the last post the reward counted (day 7).
    story(&app, &c, day(10)).await;
    story(&app, &c, day(14)).await;
    assert_eq!(earned(&app, &c).await, 1, "day 14 is the next to count");
    story(&app, &c, day(21)).await;
    assert_eq!(earned(&app, &c).await, 2);
    rx.assert_exactly(2).await;
}

async fn bad_options_are_refused_and_change_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let base = json!({"name": "r", "postTypes": ["STORY"], "count": 2, "reward": {"type": "NONE"}});
    let refused = |extra: Value| {
        let mut body = base.clone();
        crate::common::merge(&mut body, extra);
        body
    };
    let unknown_program = "0190a000-0000-7000-8000-000000000001";
    for (extra, status, code) in [
        (json!({"bufferDays": 0}), 422, "invalid_buffer_days"),
        (json!({"bufferDays": 32}), 422, "invalid_buffer_days"),
        (
            json!({"fulfillmentLimit": 0}),
            422,
            "invalid_fulfillment_limit",
        ),
        (
            json!({"fulfillmentLimit": 1001, "repeatable": true}),
            422,
            "invalid_fulfillment_limit",
        ),
        (
            json!({"fulfillmentLimit": 2}),
            422,
            "invalid_fulfillment_limit",
        ),
        (
            json!({"fulfillmentLimit": 2, "repeatable": false}),
            422,
            "invalid_fulfillment_limit",
        ),
        (json!({"timeframeDays": 30}), 422, "invalid_timeframe_days"),
        (json!({"segments": ["two words"]}), 422, "invalid_segments"),
        (json!({"minFollowers": -1}), 422, "invalid_body"),
        (json!({"mediaTypes": ["GIF"]}), 422, "invalid_body"),
        (json!({"programId": "nope"}), 422, "invalid_program_id"),
        (
            json!({"programId": unknown_program}),
            409,
            "unknown_program",
        ),
    ] {
        let (got, body) = app.post("/v1/rules", refused(extra.clone())).await;
        let expected = StatusCode::from_u16(status).expect("status");
        assert_eq!(assert_error(got, &body, expected), code, "{extra}");
    }
    let p = program(&app, "AUTOMATIC").await;
    let (status, _) = app
        .post(
            "/v1/rules",
            refused(json!({"timeframeDays": 3651, "programId": p})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, listed) = app.get("/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"], json!([]), "nothing written");

    // A PATCH that would leave the rule inconsistent changes nothing.
    let rule = app
        .create_rule(json!({"repeatable": true, "fulfillmentLimit": 5}))
        .await;
    let path = format!("/v1/rules/{}", id(&rule));
    // (What it refuses depends on the stored rule: a 409.)
    let (status, body) = app.patch(&path, json!({"repeatable": false})).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "limit_needs_repeatable"
    );
    let (status, body) = app.patch(&path, json!({"timeframeDays": 10})).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "timeframe_needs_program"
    );
    let (status, body) = app
        .patch(&path, json!({"programId": unknown_program}))
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "unknown_program"
    );
    let now = app.get_ok(&path).await;
    assert_eq!(now["repeatable"], true);
    assert_eq!(now["fulfillmentLimit"], 5);
    assert_eq!(now["timeframeDays"], Value::Null);
    assert_eq!(now["programId"], Value::Null);
    assert_eq!(now["updatedAt"], rule["updatedAt"], "nothing changed");
    // And one that keeps it whole takes effect; `null` clears an option.
    let (status, changed) = app
        .patch(
            &path,
            json!({"programId": p, "timeframeDays": 10, "fulfillmentLimit": null,
                   "bufferDays": 7, "segments": ["EU"], "minFollowers": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["programId"], p.as_str());
    assert_eq!(changed["timeframeDays"], 10);
    assert_eq!(changed["fulfillmentLimit"], Value::Null);
    assert_eq!(changed["bufferDays"], 7);
    assert_eq!(changed["segments"], json!(["EU"]));
    assert_eq!(changed["minFollowers"], 10);
}

async fn a_program_a_rule_names_cannot_be_deleted(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let p = program(&app, "AUTOMATIC").await;
    let rule = app.create_rule(json!({"programId": p})).await;
    let (status, body) = app.delete(&format!("/v1/programs/{p}")).await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "program_in_use"
    );
    app.get_ok(&format!("/v1/programs/{p}")).await;
    let (status, _) = app.delete(&format!("/v1/rules/{}", id(&rule))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.delete(&format!("/v1/programs/{p}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "no live rule names it");
    let (status, body) = app
        .post(
            "/v1/rules",
            json!({"name": "r", "count": 1, "reward": {"type": "NONE"}, "programId": p}),
        )
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::CONFLICT),
        "unknown_program",
        "a deleted program cannot be named"
    );
}
