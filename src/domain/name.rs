use serde::Serialize;

use super::invalid::{chars, Invalid, Problem};
use super::schema::{input_schema, string, CONTROL, SPACE};

const MAX: usize = 200;

/// A display name: at most 200 characters as sent, not blank once trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Name, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || chars(raw) > MAX || raw.chars().any(char::is_control) {
            return Err(Invalid::new(
                Problem::Name,
                format!("name must be 1 to {MAX} characters, not only spaces, and no control characters"),
            ));
        }
        Ok(Name(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// No control character, and something besides spaces.
pub(crate) fn pattern() -> String {
    format!("^[^{CONTROL}]*[^{SPACE}{CONTROL}][^{CONTROL}]*$")
}

input_schema!(Name, || string(
    "A display name: not only spaces, no control characters; leading and trailing spaces are \
     trimmed."
)
.min_length(Some(1))
.max_length(Some(MAX))
.pattern(Some(pattern()))
.examples(["my shop"]));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_never_blank() {
        assert_eq!(
            Name::parse("  my shop ").map(Name::into_inner),
            Ok("my shop".into())
        );
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse("").is_err());
        assert!(Name::parse(&"n".repeat(MAX)).is_ok());
        assert!(Name::parse(&"n".repeat(MAX + 1)).is_err());
        assert!(Name::parse("nul\0byte").is_err());
    }

    #[test]
    fn the_documented_pattern_admits_exactly_the_names_parse_takes() {
        crate::domain::schema::assert_pattern_agrees(
            &pattern(),
            [
                "my shop",
                "  my shop ",
                "",
                " ",
                "   ",
                "\t",
                "\u{3000}",
                "\u{2003}x",
                "x\u{85}",
                "\u{a0}",
                "é",
                "a\0b",
                "\u{1c}",
                "\u{9f}",
                "\u{feff}",
                "\u{180e}",
                "line\nbreak",
                "0",
            ],
            |s| Name::parse(s).is_ok(),
        );
    }
}
