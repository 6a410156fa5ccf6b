//! Programs and their members: create, read, change and delete a program; sign creators up
//! under automatic and manual approval; the three moves a member can make and the 409 for any
//! other; signing up again; two instances signing one creator up at once; creators' followers
//! and segments.

use crate::common::{assert_error, items, Backend, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    programs_are_created_read_listed_changed_and_deleted,
    bad_programs_are_422_and_write_nothing,
    automatic_approval_approves_at_once_and_manual_waits,
    only_the_allowed_moves_are_made_and_others_are_409_invalid_transition,
    signing_up_again_answers_the_member_or_signs_up_anew,
    two_instances_signing_one_creator_up_at_once_make_one_member,
    a_creators_followers_and_segments_round_trip,
    bad_followers_or_segments_are_422_and_change_nothing,
);

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

fn id(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_string()
}

async fn program(app: &TestApp, body: Value) -> String {
    id(
        &app.post_ok("/v1/programs", body, StatusCode::CREATED).await,
        "id",
    )
}

async fn creator(app: &TestApp, email: &str) -> String {
    id(&app.create_creator(email, None, None).await, "id")
}

async fn sign_up(app: &TestApp, program: &str, creator: &str) -> (StatusCode, Value) {
    app.post(
        &format!("/v1/programs/{program}/members"),
        json!({ "creatorId": creator }),
    )
    .await
}

async fn set_status(
    app: &TestApp,
    program: &str,
    creator: &str,
    status: &str,
) -> (StatusCode, Value) {
    app.patch(
        &format!("/v1/programs/{program}/members/{creator}"),
        json!({ "status": status }),
    )
    .await
}

async fn programs_are_created_read_listed_changed_and_deleted(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let created = app
        .post_ok(
            "/v1/programs",
            json!({"name": "  Ambassadors "}),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(created["name"], "Ambassadors");
    assert_eq!(created["approval"], "AUTOMATIC", "the default");
    assert_eq!(created["timeZone"], "UTC", "the default");
    assert_eq!(created["createdAt"], created["updatedAt"]);
    let p = id(&created, "id");
    assert_eq!(app.get_ok(&format!("/v1/programs/{p}")).await, created);

    let q = program(
        &app,
        json!({"name": "NY", "approval": "MANUAL", "timeZone": "America/New_York"}),
    )
    .await;
    let listed = items(app.get_ok("/v1/programs?limit=1").await);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], p.as_str(), "oldest first");
    let page = app.get_ok("/v1/programs?limit=1").await;
    let cursor = page["nextCursor"].as_str().expect("a next page");
    let second = app.get_ok(&format!("/v1/programs?cursor={cursor}")).await;
    assert_eq!(items(second.clone())[0]["id"], q.as_str());
    assert!(second["nextCursor"].is_null());

    let (s, changed) = app
        .patch(
            &format!("/v1/programs/{q}"),
            json!({"approval": "AUTOMATIC", "timeZone": "Europe/Paris"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(changed["name"], "NY", "left as it was");
    assert_eq!(changed["approval"], "AUTOMATIC");
    assert_eq!(changed["timeZone"], "Europe/Paris");

    let (s, _) = app.delete(&format!("/v1/programs/{q}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = app.get(&format!("/v1/programs/{q}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
    let (s, v) = app.delete(&format!("/v1/programs/{q}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
    let (s, v) = app
        .patch(&format!("/v1/programs/{q}"), json!({"name": "x"}))
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
    let c = creator(&app, "late@example.com").await;
    let (s, v) = sign_up(&app, &q, &c).await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
    assert_eq!(items(app.get_ok("/v1/programs").await).len(), 1);
}

async fn bad_programs_are_422_and_write_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    for (body, code) in [
        (
            json!({"name": "x", "timeZone": "Mars/Olympus"}),
            "invalid_time_zone",
        ),
        (json!({"name": "x", "timeZone": ""}), "invalid_time_zone"),
        (json!({"name": "x", "timeZone": "utc"}), "invalid_time_zone"),
        (json!({"name": "   "}), "invalid_name"),
        (
            json!({"name": "x", "approval": "SOMETIMES"}),
            "invalid_body",
        ),
        (json!({"name": "x", "extra": 1}), "invalid_body"),
        (json!({}), "invalid_body"),
    ] {
        let (s, v) = app.post("/v1/programs", body.clone()).await;
        assert_eq!(assert_error(s, &v, UNPROCESSABLE), code, "{body}: {v}");
    }
    assert!(items(app.get_ok("/v1/programs").await).is_empty());

    let p = program(&app, json!({"name": "kept"})).await;
    for body in [
        json!({"timeZone": "Nowhere/Else"}),
        json!({"name": ""}),
        json!({"approval": "manual"}),
    ] {
        let (s, v) = app.patch(&format!("/v1/programs/{p}"), body.clone()).await;
        assert_error(s, &v, UNPROCESSABLE);
    }
    let kept = app.get_ok(&format!("/v1/programs/{p}")).await;
    assert_eq!(kept["name"], "kept");
    assert_eq!(kept["timeZone"], "UTC");
    assert_eq!(kept["approval"], "AUTOMATIC");

    let (s, v) = app
        .request(
            Method::POST,
            &format!("/v1/programs/{p}/members"),
            Some(json!({"creatorId": "not-an-id"})),
        )
        .await;
    assert_error(s, &v, UNPROCESSABLE);
    let (s, v) = sign_up(&app, &p, "0190a000-0000-7000-8000-000000000000").await;
    assert_eq!(assert_error(s, &v, StatusCode::CONFLICT), "unknown_creator");
    let (s, v) = app
        .get(&format!("/v1/programs/{p}/members?status=approved"))
        .await;
    assert_eq!(assert_error(s, &v, UNPROCESSABLE), "invalid_status");
    assert!(items(app.get_ok(&format!("/v1/programs/{p}/members")).await).is_empty());
}

async fn automatic_approval_approves_at_once_and_manual_waits(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let auto = program(&app, json!({"name": "auto"})).await;
    let manual = program(&app, json!({"name": "manual", "approval": "MANUAL"})).await;
    let ana = creator(&app, "ana@example.com").await;

    let (s, m) = sign_up(&app, &auto, &ana).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["programId"], auto.as_str());
    assert_eq!(m["creatorId"], ana.as_str());
    assert_eq!(m["status"], "APPROVED");
    assert_eq!(m["approvedAt"], m["joinedAt"], "approved as it joined");

    let (s, m) = sign_up(&app, &manual, &ana).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["status"], "PENDING");
    assert!(m["approvedAt"].is_null(), "{m}");

    let pending = items(
        app.get_ok(&format!("/v1/programs/{manual}/members?status=PENDING"))
            .await,
    );
    assert_eq!(pending, vec![m.clone()]);
    assert!(items(
        app.get_ok(&format!("/v1/programs/{manual}/members?status=APPROVED"))
            .await
    )
    .is_empty());

    let (s, approved) = set_status(&app, &manual, &ana, "APPROVED").await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "APPROVED");
    assert!(approved["approvedAt"].is_string(), "{approved}");
    assert_eq!(approved["joinedAt"], m["joinedAt"]);

    let shown = app.get_ok(&format!("/v1/creators/{ana}")).await;
    let memberships = shown["memberships"].as_array().expect("memberships");
    assert_eq!(memberships.len(), 2, "{shown}");
    assert!(
        memberships.iter().all(|m| m["status"] == "APPROVED"),
        "{shown}"
    );
    assert!(memberships.contains(&approved), "{shown}");
}

async fn only_the_allowed_moves_are_made_and_others_are_409_invalid_transition(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let p = program(&app, json!({"name": "manual", "approval": "MANUAL"})).await;
    let ana = creator(&app, "ana@example.com").await;
    let bea = creator(&app, "bea@example.com").await;
    sign_up(&app, &p, &ana).await;
    sign_up(&app, &p, &bea).await;

    // PENDING: neither PENDING nor REMOVED.
    for to in ["PENDING", "REMOVED"] {
        let (s, v) = set_status(&app, &p, &ana, to).await;
        assert_eq!(
            assert_error(s, &v, StatusCode::CONFLICT),
            "invalid_transition",
            "PENDING to {to}"
        );
    }
    let (s, v) = set_status(&app, &p, &bea, "REJECTED").await;
    assert_eq!(
        (s, v["status"].clone()),
        (StatusCode::OK, json!("REJECTED"))
    );
    assert!(v["approvedAt"].is_null());
    // REJECTED: nothing.
    for to in ["PENDING", "APPROVED", "REJECTED", "REMOVED"] {
        let (s, v) = set_status(&app, &p, &bea, to).await;
        assert_eq!(
            assert_error(s, &v, StatusCode::CONFLICT),
            "invalid_transition"
        );
    }

    let (s, approved) = set_status(&app, &p, &ana, "APPROVED").await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    for to in ["PENDING", "APPROVED", "REJECTED"] {
        let (s, v) = set_status(&app, &p, &ana, to).await;
        assert_eq!(
            assert_error(s, &v, StatusCode::CONFLICT),
            "invalid_transition"
        );
    }
    let (s, removed) = set_status(&app, &p, &ana, "REMOVED").await;
    assert_eq!(s, StatusCode::OK, "{removed}");
    assert_eq!(removed["status"], "REMOVED");
    assert_eq!(removed["approvedAt"], approved["approvedAt"], "kept");
    for to in ["PENDING", "APPROVED", "REJECTED", "REMOVED"] {
        let (s, v) = set_status(&app, &p, &ana, to).await;
        assert_eq!(
            assert_error(s, &v, StatusCode::CONFLICT),
            "invalid_transition"
        );
    }
    // What the refusals left.
    let shown = items(app.get_ok(&format!("/v1/programs/{p}/members")).await);
    let status_of = |c: &str| {
        shown
            .iter()
            .find(|m| m["creatorId"] == c)
            .map(|m| m["status"].clone())
    };
    assert_eq!(status_of(&ana), Some(json!("REMOVED")));
    assert_eq!(status_of(&bea), Some(json!("REJECTED")));

    let (s, v) = app
        .patch(
            &format!("/v1/programs/{p}/members/{ana}"),
            json!({"status": "GONE"}),
        )
        .await;
    assert_error(s, &v, UNPROCESSABLE);
    let nobody = creator(&app, "nobody@example.com").await;
    let (s, v) = set_status(&app, &p, &nobody, "APPROVED").await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
}

async fn signing_up_again_answers_the_member_or_signs_up_anew(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let p = program(&app, json!({"name": "manual", "approval": "MANUAL"})).await;
    let ana = creator(&app, "ana@example.com").await;
    let (_, first) = sign_up(&app, &p, &ana).await;
    let (s, again) = sign_up(&app, &p, &ana).await;
    assert_eq!((s, &again), (StatusCode::OK, &first), "PENDING: as it is");

    let (_, approved) = set_status(&app, &p, &ana, "APPROVED").await;
    let (s, again) = sign_up(&app, &p, &ana).await;
    assert_eq!(
        (s, &again),
        (StatusCode::OK, &approved),
        "APPROVED: as it is"
    );

    set_status(&app, &p, &ana, "REMOVED").await;
    let (s, anew) = sign_up(&app, &p, &ana).await;
    assert_eq!(s, StatusCode::CREATED, "{anew}");
    assert_eq!(anew["status"], "PENDING");
    assert!(anew["approvedAt"].is_null(), "{anew}");
    assert!(
        anew["joinedAt"].as_str() > first["joinedAt"].as_str(),
        "{anew} after {first}"
    );

    set_status(&app, &p, &ana, "REJECTED").await;
    app.patch(
        &format!("/v1/programs/{p}"),
        json!({"approval": "AUTOMATIC"}),
    )
    .await;
    let (s, anew) = sign_up(&app, &p, &ana).await;
    assert_eq!(s, StatusCode::CREATED, "{anew}");
    assert_eq!(anew["status"], "APPROVED", "under the approval of now");
    assert_eq!(
        items(app.get_ok(&format!("/v1/programs/{p}/members")).await).len(),
        1
    );
}

async fn two_instances_signing_one_creator_up_at_once_make_one_member(backend: Backend) {
    const AT_ONCE: usize = 16;
    let Some(a) = TestApp::start(backend).await else {
        return;
    };
    let b = TestApp::start_on(a.db.clone(), |_| {})
        .await
        .expect("a second instance");
    let p = program(&a, json!({"name": "manual", "approval": "MANUAL"})).await;
    let ana = creator(&a, "ana@example.com").await;
    let answers = futures::future::join_all(
        (0..AT_ONCE).map(|i| sign_up(if i % 2 == 0 { &a } else { &b }, &p, &ana)),
    )
    .await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, m)| (*s == StatusCode::CREATED || *s == StatusCode::OK)
                && *m == answers[0].1),
        "every answer is the one member: {answers:?}"
    );
    assert_eq!(
        items(b.get_ok(&format!("/v1/programs/{p}/members")).await).len(),
        1
    );

    // Rejected, then signed up anew by both at once: one sign-up again.
    set_status(&a, &p, &ana, "REJECTED").await;
    let answers = futures::future::join_all(
        (0..AT_ONCE).map(|i| sign_up(if i % 2 == 0 { &a } else { &b }, &p, &ana)),
    )
    .await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(answers.iter().all(|(_, m)| m["status"] == "PENDING"));
}

async fn a_creators_followers_and_segments_round_trip(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let plain = app.create_creator("plain@example.com", None, None).await;
    assert!(plain["followers"].is_null(), "{plain}");
    assert_eq!(plain["segments"], json!([]));

    let c = app
        .post_ok(
            "/v1/creators",
            json!({"email": "eu@example.com", "followers": 12500,
                   "segments": ["EU", "vip_1", "EU", "a-b"]}),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(c["followers"], 12500);
    assert_eq!(c["segments"], json!(["EU", "vip_1", "a-b"]), "each once");
    let cid = id(&c, "id");
    let shown = app.get_ok(&format!("/v1/creators/{cid}")).await;
    assert_eq!(shown["followers"], 12500);
    assert_eq!(shown["segments"], c["segments"]);
    assert_eq!(shown["memberships"], json!([]));

    let (s, v) = app
        .patch(&format!("/v1/creators/{cid}"), json!({"followers": 0}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["followers"], 0);
    assert_eq!(v["segments"], c["segments"], "left as it was");
    let (_, v) = app
        .patch(&format!("/v1/creators/{cid}"), json!({"segments": ["US"]}))
        .await;
    assert_eq!(
        (v["followers"].clone(), v["segments"].clone()),
        (json!(0), json!(["US"]))
    );
    let (_, v) = app
        .patch(
            &format!("/v1/creators/{cid}"),
            json!({"followers": null, "segments": []}),
        )
        .await;
    assert!(v["followers"].is_null(), "{v}");
    assert_eq!(v["segments"], json!([]));
    let listed = items(app.get_ok("/v1/creators").await);
    let mine = listed
        .iter()
        .find(|l| l["id"] == cid.as_str())
        .expect("listed");
    assert_eq!(mine, &v);
    assert_eq!(mine["email"], "eu@example.com");
    let (s, v) = app
        .patch(
            "/v1/creators/0190a000-0000-7000-8000-000000000000",
            json!({"followers": 1}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND);
}

async fn bad_followers_or_segments_are_422_and_change_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let too_many: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
    let bad: Vec<Value> = vec![
        json!({"followers": -1}),
        json!({"followers": 1.5}),
        json!({"followers": "many"}),
        json!({"followers": 4_294_967_296_u64}),
        json!({"segments": ["two words"]}),
        json!({"segments": [""]}),
        json!({"segments": ["x".repeat(51)]}),
        json!({"segments": ["été"]}),
        json!({"segments": too_many}),
        json!({"segments": "EU"}),
        json!({"segments": null}),
        json!({"email": "other@example.com"}),
    ];
    for (i, extra) in bad.iter().enumerate() {
        let mut body = json!({"email": format!("bad{i}@example.com")});
        if let Some(fields) = extra.as_object() {
            for (k, v) in fields {
                body[k] = v.clone();
            }
        }
        if extra.get("email").is_some() {
            continue;
        }
        let (s, v) = app.post("/v1/creators", body.clone()).await;
        assert_error(s, &v, UNPROCESSABLE);
        if extra.get("segments").is_some_and(Value::is_array) {
            assert_eq!(v["error"]["code"], "invalid_segments", "{body}: {v}");
        }
    }
    assert!(items(app.get_ok("/v1/creators").await).is_empty());

    let c = app
        .post_ok(
            "/v1/creators",
            json!({"email": "kept@example.com", "followers": 7, "segments": ["EU"]}),
            StatusCode::CREATED,
        )
        .await;
    let cid = id(&c, "id");
    for body in bad
        .iter()
        .filter(|b| b.get("segments") != Some(&Value::Null))
    {
        let (s, v) = app
            .patch(&format!("/v1/creators/{cid}"), body.clone())
            .await;
        assert_error(s, &v, UNPROCESSABLE);
    }
    let kept = app.get_ok(&format!("/v1/creators/{cid}")).await;
    assert_eq!(kept["followers"], 7);
    assert_eq!(kept["segments"], json!(["EU"]));
    assert_eq!(kept["email"], "kept@example.com");
}
