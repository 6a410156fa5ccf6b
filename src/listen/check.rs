//! What `listen` checks on each webhook: the API key, the Standard Webhooks signature and its
//! timestamp, and its `lc-event-type`. Pure, so each verdict is unit-tested.

use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::dispatch::signature;
use crate::domain::{key_hint, EventType, Secret};

/// What the receiver expects.
#[derive(Debug, Clone)]
pub struct Expect {
    /// `None`: the key is shown (as a hint), not checked.
    pub api_key: Option<Secret>,
    pub auth_header: String,
    pub auth_prefix: String,
    /// The secrets a signature may be made with; any one verifies (several while a secret is
    /// rotated). Empty: signatures are not checked.
    pub signing_secrets: Vec<Secret>,
    /// How far `webhook-timestamp` may be from this clock.
    pub tolerance: Duration,
}

/// The headers of one webhook that the checks read.
#[derive(Debug, Clone, Default)]
pub struct Seen<'a> {
    pub auth: Option<&'a str>,
    pub webhook_id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub event_type: Option<&'a str>,
}

/// One check's outcome: passed (with what to print) or failed (with why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok(String),
    Skipped(String),
    Wrong(String),
}

impl Verdict {
    pub fn is_wrong(&self) -> bool {
        matches!(self, Verdict::Wrong(_))
    }
}

/// A key as `listen` shows it: its hint and its length (`…23 (11 characters)`), never the key.
pub fn shown(key: &str) -> String {
    let n = key.chars().count();
    let noun = if n == 1 { "character" } else { "characters" };
    format!("{} ({n} {noun})", key_hint(key))
}

/// The `lc-event-type` header: present and one of the event types; the type when it is.
pub fn event_type(seen: &Seen<'_>) -> (Verdict, Option<EventType>) {
    match seen.event_type {
        None => (Verdict::Wrong("no lc-event-type header".into()), None),
        Some(raw) => match EventType::parse(raw) {
            Some(t) => (
                Verdict::Ok(format!("lc-event-type {}", t.as_str())),
                Some(t),
            ),
            None => (
                Verdict::Wrong(format!(
                    "lc-event-type `{}` is not an event type",
                    raw.escape_debug()
                )),
                None,
            ),
        },
    }
}

pub fn api_key(expect: &Expect, seen: &Seen<'_>) -> Verdict {
    let Some(given) = seen.auth else {
        return match &expect.api_key {
            Some(_) => Verdict::Wrong(format!("no {} header", expect.auth_header)),
            None => Verdict::Skipped(format!("no {} header", expect.auth_header)),
        };
    };
    // The prefix is shown as it came; only the key after it is hinted.
    let (prefix, given_key) = match given.strip_prefix(expect.auth_prefix.as_str()) {
        Some(key) => (expect.auth_prefix.as_str(), key),
        None => ("", given),
    };
    let Some(key) = &expect.api_key else {
        return Verdict::Skipped(format!(
            "{} {prefix}{} (not checked)",
            expect.auth_header,
            shown(given_key)
        ));
    };
    let wanted = format!("{}{}", expect.auth_prefix, key.expose());
    if bool::from(given.as_bytes().ct_eq(wanted.as_bytes())) {
        Verdict::Ok(format!(
            "{} {prefix}{}",
            expect.auth_header,
            shown(given_key)
        ))
    } else if !given.starts_with(&expect.auth_prefix) {
        Verdict::Wrong(format!(
            "{} does not start with {:?}",
            expect.auth_header, expect.auth_prefix
        ))
    } else {
        Verdict::Wrong(format!(
            "wrong API key {}, expected {}",
            shown(given_key),
            shown(key.expose())
        ))
    }
}

/// The signature over `id.timestamp.body`, and a timestamp within the tolerance of `now`.
pub fn signature(expect: &Expect, seen: &Seen<'_>, body: &[u8], now: i64) -> Verdict {
    if expect.signing_secrets.is_empty() {
        return match seen.signature {
            Some(_) => Verdict::Skipped("signed (not checked: no --signing-secret)".into()),
            None => Verdict::Skipped("not signed".into()),
        };
    }
    let Some(given) = seen.signature else {
        return Verdict::Wrong("no webhook-signature header".into());
    };
    let (Some(id), Some(raw_ts)) = (seen.webhook_id, seen.timestamp) else {
        return Verdict::Wrong("no webhook-id or webhook-timestamp header".into());
    };
    let Ok(timestamp) = raw_ts.parse::<i64>() else {
        return Verdict::Wrong(format!("webhook-timestamp {raw_ts:?} is not unix seconds"));
    };
    let mut expected = Vec::with_capacity(expect.signing_secrets.len());
    for secret in &expect.signing_secrets {
        let Some(sig) = signature::sign(secret.expose(), id, timestamp, body) else {
            return Verdict::Wrong("--signing-secret is not whsec_ and base64".into());
        };
        expected.push(sig);
    }
    // Every signature given against every secret: a rotation sends two, either may be the
    // one this receiver's secrets make.
    let matches = given.split(' ').any(|candidate| {
        expected
            .iter()
            .any(|sig| bool::from(candidate.as_bytes().ct_eq(sig.as_bytes())))
    });
    if !matches {
        return Verdict::Wrong(
            "wrong signature: not made with this signing secret, or the body was changed".into(),
        );
    }
    let skew = (now - timestamp).unsigned_abs();
    if skew > expect.tolerance.as_secs() {
        return Verdict::Wrong(format!(
            "signature valid, but webhook-timestamp is {skew} s from this clock (more than {} s)",
            expect.tolerance.as_secs()
        ));
    }
    Verdict::Ok("signature valid".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn expect(key: Option<&str>, secret: Option<&str>) -> Expect {
        Expect {
            api_key: key.map(|k| Secret::new(k.into())),
            auth_header: "Authorization".into(),
            auth_prefix: "Bearer ".into(),
            signing_secrets: secret.map(|s| Secret::new(s.into())).into_iter().collect(),
            tolerance: Duration::from_secs(300),
        }
    }

    #[test]
    fn the_event_type_must_be_present_and_known() {
        let seen = |t: Option<&'static str>| Seen {
            event_type: t,
            ..Seen::default()
        };
        assert_eq!(
            event_type(&seen(Some("sale.created"))),
            (
                Verdict::Ok("lc-event-type sale.created".into()),
                Some(EventType::SaleCreated)
            )
        );
        assert!(event_type(&seen(None)).0.is_wrong());
        assert!(event_type(&seen(Some("post.liked"))).0.is_wrong());
    }

    #[test]
    fn the_key_is_checked_and_never_printed_whole() {
        let e = expect(Some("sk_test_0123456789"), None);
        let seen = |auth| Seen {
            auth: Some(auth),
            ..Seen::default()
        };
        assert!(matches!(
            api_key(&e, &seen("Bearer sk_test_0123456789")),
            Verdict::Ok(_)
        ));
        let wrong = api_key(&e, &seen("Bearer sk_test_9999999999"));
        let Verdict::Wrong(why) = &wrong else {
            panic!("{wrong:?}");
        };
        assert!(
            !why.contains("sk_test_9999999999") && !why.contains("sk_test_0123456789"),
            "{why}"
        );
        assert!(api_key(&e, &seen("Token sk_test_0123456789")).is_wrong());
        assert!(api_key(&e, &Seen::default()).is_wrong());
        assert_eq!(
            api_key(
                &expect(Some("sk_test_123"), None),
                &seen("Bearer sk_test_123")
            ),
            Verdict::Ok("Authorization Bearer …23 (11 characters)".into())
        );
        assert_eq!(
            api_key(
                &expect(Some("sk_test_123"), None),
                &seen("Bearer sk_test_456")
            ),
            Verdict::Wrong(
                "wrong API key …56 (11 characters), expected …23 (11 characters)".into()
            )
        );
        let unchecked = api_key(&expect(None, None), &seen("Bearer sk_live_secret_value"));
        assert!(
            matches!(&unchecked, Verdict::Skipped(s) if !s.contains("secret_value")),
            "{unchecked:?}"
        );
    }

    #[test]
    fn the_signature_and_its_timestamp_are_checked() {
        let e = expect(None, Some(SECRET));
        let body = br#"{"test": 2432232314}"#;
        let seen = |sig| Seen {
            webhook_id: Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            timestamp: Some("1614265330"),
            signature: Some(sig),
            ..Seen::default()
        };
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(
            signature(&e, &seen(good), body, 1614265330),
            Verdict::Ok("signature valid".into())
        );
        let several = format!("v1,AAAA {good}");
        assert!(matches!(
            signature(&e, &seen(&several), body, 1614265330),
            Verdict::Ok(_)
        ));
        assert!(signature(&e, &seen(good), b"{}", 1614265330).is_wrong());
        assert!(signature(&e, &seen("v1,AAAA"), body, 1614265330).is_wrong());
        let late = signature(&e, &seen(good), body, 1614265330 + 3600);
        assert!(
            matches!(&late, Verdict::Wrong(w) if w.contains("3600 s")),
            "{late:?}"
        );
        assert!(signature(&e, &Seen::default(), body, 0).is_wrong());
        // Several secrets: a signature made with any one of them passes.
        let mut either = expect(None, Some("whsec_c2lnbmluZy1rZXktbmV3LTAxMjM0NTY3ODk="));
        assert!(signature(&either, &seen(good), body, 1614265330).is_wrong());
        either.signing_secrets.push(Secret::new(SECRET.into()));
        assert_eq!(
            signature(&either, &seen(good), body, 1614265330),
            Verdict::Ok("signature valid".into())
        );
        assert!(!signature(&expect(None, None), &seen(good), body, 0).is_wrong());
    }
}
