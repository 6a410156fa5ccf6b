use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::openapi::schema::KnownFormat;
use utoipa::ToSchema;

use super::invalid::{chars, Invalid, Problem};
use super::schema::{format, input_schema, string};
use super::time::serde_rfc3339;
use super::CreatorId;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Creator {
    pub id: CreatorId,
    #[schema(format = Email)]
    pub email: String,
    /// `null` when the creator has no Instagram account.
    #[schema(required = true)]
    pub ig_username: Option<String>,
    /// `null` when the creator has no TikTok account.
    #[schema(required = true)]
    pub tt_username: Option<String>,
    #[serde(with = "serde_rfc3339")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewCreator {
    pub email: Email,
    pub ig_username: Option<Username>,
    pub tt_username: Option<Username>,
}

const MAX_EMAIL: usize = 320;
const MAX_USERNAME: usize = 100;

/// An email address: `local@domain.tld`, no spaces, at most 320 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, Invalid> {
        let e = raw.trim();
        let well_formed = matches!(e.split_once('@'), Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.'));
        let odd = |c: char| c.is_whitespace() || c.is_control();
        if chars(raw) > MAX_EMAIL || e.chars().any(odd) || !well_formed {
            return Err(Invalid::new(
                Problem::Email,
                format!("`{e}` is not an email address"),
            ));
        }
        Ok(Email(e.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

input_schema!(Email, || string("An email address.")
    .format(format(KnownFormat::Email))
    .max_length(Some(MAX_EMAIL))
    .examples(["ana@example.com"]));

/// An Instagram or TikTok handle, without the leading `@`: 1 to 100 characters, no spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// `field` names the input in the error (`igUsername`, `ttUsername`).
    pub fn parse(field: &str, raw: &str) -> Result<Username, Invalid> {
        let u = raw.trim().trim_start_matches('@');
        let odd = |c: char| c.is_whitespace() || c.is_control();
        if u.is_empty() || chars(raw) > MAX_USERNAME || u.chars().any(odd) {
            return Err(Invalid::new(
                Problem::Username,
                format!("{field} must be 1 to {MAX_USERNAME} characters without spaces"),
            ));
        }
        Ok(Username(u.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

input_schema!(Username, || string(
    "A social handle; a leading `@` is dropped. `null` or absent: none."
)
.min_length(Some(1))
.max_length(Some(MAX_USERNAME))
.examples(["ana.creates"]));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert_eq!(
            Email::parse(" creator@example.com ").map(|e| e.0),
            Ok("creator@example.com".into())
        );
        for bad in [
            "",
            "creator",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@example.com",
            "a@example.",
            "a\0b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn usernames_lose_their_at_and_keep_no_spaces() {
        assert_eq!(
            Username::parse("igUsername", "@ana.creates").map(|u| u.0),
            Ok("ana.creates".into())
        );
        let err = Username::parse("ttUsername", "two words").expect_err("spaces");
        assert!(err.message.contains("ttUsername"), "{err}");
        assert!(Username::parse("igUsername", "@").is_err());
        assert!(Username::parse("igUsername", &"u".repeat(101)).is_err());
    }
}
