//! Rotating an integration's signing secret: the new secret, and how long the one it replaces
//! is still signed with beside it, so receivers can switch over without rejecting a webhook.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::invalid::{Invalid, Problem};
use super::schema::{input_schema, string};
use super::time::serde_rfc3339;
use super::Secret;

/// Without `gracePeriod`, the old secret is signed with for a day.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
/// The longest grace period: a week.
pub const MAX_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long the replaced secret still signs: a whole number and a unit (`ms`, `s`, `m`, `h`,
/// `d`), or `0`; from 0 to 7 days.
pub struct GracePeriod;

impl GracePeriod {
    pub fn parse(raw: &str) -> Result<Duration, Invalid> {
        let invalid = || {
            Invalid::new(
                Problem::GracePeriod,
                format!(
                    "gracePeriod must be a whole number and a unit (ms, s, m, h or d) from 0 to 7d, \
                     such as \"24h\", not {raw:?}"
                ),
            )
        };
        if raw == "0" {
            return Ok(Duration::ZERO);
        }
        // The service's duration syntax, exactly: no spaces around it.
        if raw.trim() != raw || !raw.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(invalid());
        }
        let grace = crate::config::parse_duration(raw).map_err(|_| invalid())?;
        if grace > MAX_GRACE {
            return Err(invalid());
        }
        Ok(grace)
    }
}

/// Exactly what `parse` takes, the 7-day limit included (the API fuzzer holds the document to
/// it: a value the pattern admits must be accepted): `0`, or per unit a number up to 7 days in
/// it (604800000ms, 604800s, 10080m, 168h, 7d), leading zeros allowed.
pub(crate) const GRACE_PERIOD_PATTERN: &str = "^(?:0\
    |0*(?:[0-9]{1,8}|[1-5][0-9]{8}|60[0-3][0-9]{6}|604[0-7][0-9]{5}|604800000)ms\
    |0*(?:[0-9]{1,5}|[1-5][0-9]{5}|60[0-3][0-9]{3}|604[0-7][0-9]{2}|604800)s\
    |0*(?:[0-9]{1,4}|100[0-7][0-9]|10080)m\
    |0*(?:[0-9]{1,2}|1[0-5][0-9]|16[0-8])h\
    |0*[0-7]d)$";

input_schema!(GracePeriod, || string(
    "How long the replaced secret is still signed with beside the new one: a whole number and a \
     unit (`ms`, `s`, `m`, `h`, `d`), from `0` (switch at once) to `7d`; default `24h`."
)
.pattern(Some(GRACE_PERIOD_PATTERN))
.examples(["24h"]));

/// A rotation to store: the new secret, taking effect at `at`, and the grace period of the one
/// it replaces.
#[derive(Debug, Clone)]
pub struct SecretRotation {
    pub new_secret: Secret,
    pub grace: Duration,
    pub at: DateTime<Utc>,
}

impl SecretRotation {
    /// When the replaced secret stops being signed with.
    pub fn previous_expires_at(&self) -> DateTime<Utc> {
        let grace = chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        self.at.checked_add_signed(grace).unwrap_or(self.at)
    }
}

/// What a rotation answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRotated {
    /// The new secret, when the service generated it: shown this once, never again. Absent
    /// when the request gave `newSecret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false, examples("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))]
    pub signing_secret: Option<RevealedOnce>,
    /// Until when webhooks also carry a signature made with the replaced secret (now, for a
    /// `gracePeriod` of 0); `null` when the integration had no secret before.
    #[serde(with = "serde_rfc3339::option")]
    #[schema(required = true)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// A generated secret on its one way out, in the rotation's answer. Its `Debug` stays redacted.
#[derive(Clone)]
pub struct RevealedOnce(pub Secret);

impl std::fmt::Debug for RevealedOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for RevealedOnce {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grace_period_is_a_duration_from_zero_to_seven_days() {
        assert_eq!(GracePeriod::parse("24h"), Ok(DEFAULT_GRACE));
        assert_eq!(GracePeriod::parse("0"), Ok(Duration::ZERO));
        assert_eq!(GracePeriod::parse("0s"), Ok(Duration::ZERO));
        assert_eq!(GracePeriod::parse("7d"), Ok(MAX_GRACE));
        assert_eq!(
            GracePeriod::parse("1500ms"),
            Ok(Duration::from_millis(1500))
        );
        for bad in [
            "8d", "169h", "-1h", "1 h", " 1h", "1h ", "h", "", "1w", "1.5h", "tomorrow",
        ] {
            assert!(GracePeriod::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_documented_pattern_admits_exactly_what_parse_takes_to_seven_days() {
        let mut samples: Vec<String> = [
            "0",
            "0s",
            "24h",
            "7d",
            "90m",
            "500ms",
            "",
            "1",
            "h",
            "1 h",
            " 1h",
            "-1h",
            "1w",
            "1.5h",
            "00",
            "007d",
            "0000000000000000000000001h",
            "8d",
            "99999999999999999999999h",
            "0d",
            "1m ",
            "+1h",
            "1H",
            "1hh",
            "1sms",
        ]
        .map(String::from)
        .to_vec();
        // Every unit around its limit, and around each boundary of the pattern's ranges.
        for (unit, limit) in [
            ("ms", 604_800_000u64),
            ("s", 604_800),
            ("m", 10_080),
            ("h", 168),
            ("d", 7),
        ] {
            let mut n = 1u64;
            while n <= limit * 10 {
                for m in [n.saturating_sub(1), n, n + 1, n * 6, n * 6 - 1] {
                    samples.push(format!("{m}{unit}"));
                }
                n *= 10;
            }
            for m in [limit - 1, limit, limit + 1, limit + 1000, limit / 2 * 3] {
                samples.push(format!("{m}{unit}"));
            }
            for prefix in [
                "60", "603", "604", "6047", "6048", "1007", "1008", "16", "159",
            ] {
                for tail in ["", "0", "9", "00", "99", "999", "0000", "99999", "000000"] {
                    samples.push(format!("{prefix}{tail}{unit}"));
                }
            }
        }
        crate::domain::schema::assert_pattern_agrees(
            GRACE_PERIOD_PATTERN,
            samples.iter().map(String::as_str),
            |s| GracePeriod::parse(s).is_ok(),
        );
    }

    #[test]
    fn the_replaced_secret_expires_a_grace_period_after_the_rotation() {
        let at = crate::domain::time::parse_flexible("2026-12-04T10:00:00Z").expect("time");
        let r = SecretRotation {
            new_secret: Secret::new("whsec_AA==".into()),
            grace: DEFAULT_GRACE,
            at,
        };
        assert_eq!(r.previous_expires_at(), at + chrono::Duration::hours(24));
        let shown = serde_json::to_string(&SecretRotated {
            signing_secret: None,
            previous_secret_expires_at: None,
        })
        .expect("json");
        assert_eq!(shown, r#"{"previousSecretExpiresAt":null}"#);
        assert!(!format!("{:?}", RevealedOnce(Secret::new("whsec_x".into()))).contains("whsec"));
    }
}
