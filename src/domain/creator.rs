use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::invalid::{chars, Invalid, Problem};
use super::schema::{input_schema, string, CONTROL, SPACE};
use super::time::serde_rfc3339;
use super::CreatorId;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Creator {
    pub id: CreatorId,
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

/// `local@domain.tld` as `Email::parse` takes it: no spaces or control characters inside, a
/// domain with a dot that neither starts nor ends it, surrounding spaces trimmed.
pub(crate) fn email_pattern() -> String {
    let c = format!("[^@{SPACE}{CONTROL}]");
    let not_dot = format!("[^.@{SPACE}{CONTROL}]");
    format!("^[{SPACE}]*{c}+@{not_dot}{c}*\\.{c}*{not_dot}[{SPACE}]*$")
}

input_schema!(Email, || string(
    "An email address: `local@domain.tld`, no spaces or control characters; surrounding spaces \
     are trimmed."
)
.max_length(Some(MAX_EMAIL))
.pattern(Some(email_pattern()))
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

/// A handle as `Username::parse` takes it: leading `@`s and surrounding spaces dropped, then
/// something left, with no space or control character.
pub(crate) fn username_pattern() -> String {
    format!("^[{SPACE}]*@*[^@{SPACE}{CONTROL}][^{SPACE}{CONTROL}]*[{SPACE}]*$")
}

input_schema!(Username, || string(
    "A social handle, no spaces or control characters; leading `@`s and surrounding spaces are \
     dropped. `null` or absent: none."
)
.min_length(Some(1))
.max_length(Some(MAX_USERNAME))
.pattern(Some(username_pattern()))
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

    #[test]
    fn the_documented_patterns_admit_exactly_what_parse_takes() {
        use crate::domain::schema::assert_pattern_agrees;
        assert_pattern_agrees(
            &username_pattern(),
            [
                "ana",
                "@ana",
                "@@ana",
                " @ana ",
                "@",
                "@@",
                "",
                " ",
                "@ @ana",
                "a b",
                "a\tb",
                "a@b",
                "\u{3000}ana",
                "ana\u{85}",
                "ana\u{0}",
                "\u{1c}ana",
                "ana.creates_1",
                "\u{a0}@x\u{a0}",
                "x\u{feff}",
            ],
            |s| Username::parse("igUsername", s).is_ok(),
        );
        assert_pattern_agrees(
            &email_pattern(),
            [
                "a@b.c",
                " a@b.c ",
                "a@b",
                "@b.c",
                "a@.b",
                "a@b.",
                "a b@c.d",
                "a@b@c.d",
                "a@b..c",
                "a\0@b.c",
                "ä@ö.de",
                "a@b.c\u{a0}",
                "a@b.c\u{1c}",
                "",
                "@",
                "a@",
                "qk9|#~%`i%@1.rqlf.org*",
                "a@b.c.",
                "a.b@c.d",
                "\"q\"@x.io",
                "a@-.-",
            ],
            |s| Email::parse(s).is_ok(),
        );
    }
}
