//! What an integration authenticates with: the API key and the header it travels in, and the
//! optional Standard Webhooks signing secret.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

use super::invalid::{chars, printable_ascii, Invalid, Problem};
use super::schema::{input_schema, string};
use super::Secret;

pub const DEFAULT_AUTH_HEADER: &str = "Authorization";
pub const DEFAULT_AUTH_PREFIX: &str = "Bearer ";
pub const SIGNING_SECRET_PREFIX: &str = "whsec_";

const MAX_API_KEY: usize = 4096;
const MAX_HEADER: usize = 100;
const MAX_PREFIX: usize = 100;
const MAX_SIGNING_SECRET: usize = 1024;

/// The key the receiver checks: printable ASCII, not blank, at most 4096 characters.
pub struct ApiKey;

impl ApiKey {
    pub fn parse(raw: String) -> Result<Secret, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::new(Problem::ApiKey, "apiKey must not be empty"));
        }
        if chars(&raw) > MAX_API_KEY || !printable_ascii(&raw) {
            return Err(Invalid::new(
                Problem::ApiKey,
                format!("apiKey must be printable ASCII, at most {MAX_API_KEY} characters"),
            ));
        }
        Ok(Secret::new(raw))
    }
}

/// Printable ASCII with something besides spaces.
pub(crate) const API_KEY_PATTERN: &str = "^[ -~]*[!-~][ -~]*$";

input_schema!(ApiKey, || string(
    "Sent on every webhook as `<authHeader>: <authPrefix><apiKey>`. Write-only: never returned."
)
.min_length(Some(1))
.max_length(Some(MAX_API_KEY))
.pattern(Some(API_KEY_PATTERN))
.examples(["sk_test_123"]));

/// Headers the service sets itself cannot carry the key.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "lc-event-type",
    "traceparent",
];

/// The header the API key is sent in: an HTTP token (RFC 9110), not one the service sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader(String);

impl AuthHeader {
    pub fn parse(raw: &str) -> Result<AuthHeader, Invalid> {
        let token = !raw.is_empty()
            && raw.len() <= MAX_HEADER
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token || RESERVED_HEADERS.contains(&raw.to_ascii_lowercase().as_str()) {
            return Err(Invalid::new(
                Problem::AuthHeader,
                format!("authHeader `{raw}` is not a header name the key can be sent in"),
            ));
        }
        Ok(AuthHeader(raw.to_string()))
    }

    pub fn default_header() -> AuthHeader {
        AuthHeader(DEFAULT_AUTH_HEADER.to_string())
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An HTTP token (RFC 9110); the names the service sets itself are refused too, which the
/// pattern does not say (the description does).
pub(crate) const AUTH_HEADER_PATTERN: &str = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

input_schema!(AuthHeader, || string(
    "The header the API key is sent in (default `Authorization`); not one the service sets itself \
     (`Content-Type`, `webhook-*`, …)."
)
.min_length(Some(1))
.max_length(Some(MAX_HEADER))
.pattern(Some(AUTH_HEADER_PATTERN))
.examples(["X-Api-Key"]));

/// Written before the key in its header: printable ASCII, at most 100 characters, may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPrefix(String);

impl AuthPrefix {
    pub fn parse(raw: &str) -> Result<AuthPrefix, Invalid> {
        if chars(raw) > MAX_PREFIX || !printable_ascii(raw) {
            return Err(Invalid::new(
                Problem::AuthPrefix,
                format!("authPrefix must be printable ASCII, at most {MAX_PREFIX} characters"),
            ));
        }
        Ok(AuthPrefix(raw.to_string()))
    }

    pub fn default_prefix() -> AuthPrefix {
        AuthPrefix(DEFAULT_AUTH_PREFIX.to_string())
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Printable ASCII, possibly nothing.
pub(crate) const AUTH_PREFIX_PATTERN: &str = "^[ -~]*$";

input_schema!(AuthPrefix, || string(
    "Written before the key (default `Bearer `; empty for a bare key)."
)
.max_length(Some(MAX_PREFIX))
.pattern(Some(AUTH_PREFIX_PATTERN))
.examples(["Bearer "]));

/// A Standard Webhooks secret: `whsec_` and the base64 of the HMAC key.
pub struct SigningSecret;

impl SigningSecret {
    pub fn parse(raw: String) -> Result<Secret, Invalid> {
        if raw.len() > MAX_SIGNING_SECRET || signing_key(&raw).is_none() {
            return Err(Invalid::new(
                Problem::SigningSecret,
                "signingSecret must be `whsec_` followed by a base64 key",
            ));
        }
        Ok(Secret::new(raw))
    }

    /// A fresh secret with a 32-byte key.
    pub fn generate() -> Secret {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Secret::new(format!("{SIGNING_SECRET_PREFIX}{}", STANDARD.encode(key)))
    }
}

/// The key bytes of a `whsec_<base64>` secret, or `None` if it is not one.
pub fn signing_key(secret: &str) -> Option<Vec<u8>> {
    let key = STANDARD
        .decode(secret.strip_prefix(SIGNING_SECRET_PREFIX)?)
        .ok()?;
    (!key.is_empty()).then_some(key)
}

/// `whsec_` and canonical, padded base64 of at least one byte, as the decoder takes it: the last
/// character before `=` or `==` carries no leftover bits.
pub(crate) const SIGNING_SECRET_PATTERN: &str = "^whsec_(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|\
     [A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)$";

input_schema!(SigningSecret, || string(
    "`whsec_` and a base64 key. When set, every webhook carries a Standard Webhooks \
     `webhook-signature`. Write-only: never returned; `null` on PATCH removes it."
)
.max_length(Some(MAX_SIGNING_SECRET))
.pattern(Some(SIGNING_SECRET_PATTERN))
.examples(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_printable_and_not_blank() {
        assert!(ApiKey::parse("sk_test_123".into()).is_ok());
        assert!(ApiKey::parse("   ".into()).is_err());
        assert!(ApiKey::parse("tab\tkey".into()).is_err());
        assert!(ApiKey::parse("k".repeat(MAX_API_KEY + 1)).is_err());
    }

    #[test]
    fn the_key_cannot_ride_in_a_header_the_service_sets() {
        assert!(AuthHeader::parse("X-Api-Key").is_ok());
        for bad in [
            "",
            "Webhook-Signature",
            "LC-Event-Type",
            "traceparent",
            "content-type",
            "two words",
            "x:y",
        ] {
            assert!(AuthHeader::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(AuthPrefix::parse("").is_ok());
        assert!(AuthPrefix::parse("Bearer\n").is_err());
    }

    #[test]
    fn a_secret_must_be_whsec_base64() {
        assert!(signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_some());
        assert!(signing_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(signing_key("whsec_not base64!").is_none());
        assert!(signing_key("whsec_").is_none());
        let fresh = SigningSecret::generate();
        assert_eq!(signing_key(fresh.expose()).map(|k| k.len()), Some(32));
    }

    #[test]
    fn the_documented_patterns_admit_exactly_what_parse_takes() {
        use crate::domain::schema::assert_pattern_agrees;
        assert_pattern_agrees(
            API_KEY_PATTERN,
            [
                "sk_test_123",
                "",
                " ",
                "   ",
                " a ",
                "tab\tkey",
                "é",
                "~",
                "new\nline",
            ],
            |s| ApiKey::parse(s.to_string()).is_ok(),
        );
        assert_pattern_agrees(
            AUTH_PREFIX_PATTERN,
            ["", "Bearer ", "Token\n", "é", " "],
            |s| AuthPrefix::parse(s).is_ok(),
        );
        let mut secrets: Vec<String> = [
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_",
            "whsec_AA==",
            "whsec_AB==",
            "whsec_AAA=",
            "whsec_AAB=",
            "whsec_AAE=",
            "whsec_AAAA",
            "whsec_A===",
            "whsec_AA=",
            "whsec_AAA",
            "whsec_AAAAAA==",
            "whsec_AAAA====",
            "whsec_not base64!",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_I+VUy0h2U2Hiz80Q5Q/NcMeygK/38L09WnwncWOE+0Wqn0U5M+FyqpY0=",
        ]
        .map(String::from)
        .to_vec();
        // Every length of key, and every last character before the padding.
        for len in 1..=7 {
            for last in 0..=255u8 {
                let mut key = vec![7u8; len];
                key[len - 1] = last;
                secrets.push(format!("whsec_{}", STANDARD.encode(&key)));
                let encoded = STANDARD.encode(&key);
                for c in ['A', 'B', 'Q', 'R', 'g', 'w', '/', '+'] {
                    let mut tampered: Vec<char> = encoded.chars().collect();
                    if let Some(i) = tampered.iter().rposition(|ch| *ch != '=') {
                        tampered[i] = c;
                    }
                    secrets.push(format!(
                        "whsec_{}",
                        tampered.into_iter().collect::<String>()
                    ));
                }
            }
        }
        assert_pattern_agrees(
            SIGNING_SECRET_PATTERN,
            secrets.iter().map(String::as_str),
            |s| signing_key(s).is_some(),
        );
    }
}
