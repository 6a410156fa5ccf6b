//! What rules will filter creators by: their follower count and the segments (labels such as a
//! region) a brand gives them.

use serde::Serialize;
use utoipa::ToSchema;

use super::creator::Creator;
use super::invalid::{chars, Invalid, Problem};
use super::schema::{input_schema, string};

pub const MAX_SEGMENTS: usize = 20;
const MAX_SEGMENT: usize = 50;

/// A creator as the API shows it: who they are, and their profile.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatorView {
    #[serde(flatten)]
    pub creator: Creator,
    #[serde(flatten)]
    pub profile: Profile,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Followers; `null` when unknown.
    #[schema(required = true, value_type = Option<u64>, minimum = 0, maximum = 4294967295_u64)]
    pub followers: Option<u32>,
    /// The creator's segments (e.g. `EU`), in the order given, each once.
    #[schema(value_type = Vec<Segment>)]
    pub segments: Vec<String>,
}

/// The profile fields a `PATCH` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    /// `Some(None)` makes the follower count unknown.
    pub followers: Option<Option<u32>>,
    pub segments: Option<Vec<String>>,
}

/// One segment label: 1 to 50 letters, digits, `-` or `_`.
pub struct Segment;

impl Segment {
    fn check(raw: &str) -> bool {
        (1..=MAX_SEGMENT).contains(&chars(raw))
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }
}

/// Up to 20 segment labels, duplicates dropped (the first kept).
pub fn parse_segments(raw: Vec<String>) -> Result<Vec<String>, Invalid> {
    if raw.len() > MAX_SEGMENTS {
        return Err(Invalid::new(
            Problem::Segments,
            format!("segments takes at most {MAX_SEGMENTS} labels"),
        ));
    }
    let mut kept: Vec<String> = Vec::with_capacity(raw.len());
    for label in raw {
        if !Segment::check(&label) {
            return Err(Invalid::new(
                Problem::Segments,
                format!(
                    "segment `{}` must be 1 to {MAX_SEGMENT} letters, digits, `-` or `_`",
                    label.escape_debug()
                ),
            ));
        }
        if !kept.contains(&label) {
            kept.push(label);
        }
    }
    Ok(kept)
}

pub(crate) fn segment_pattern() -> String {
    format!("^[A-Za-z0-9_-]{{1,{MAX_SEGMENT}}}$")
}

input_schema!(Segment, || string(
    "A segment label such as `EU`: 1 to 50 ASCII letters, digits, `-` or `_`."
)
.min_length(Some(1))
.max_length(Some(MAX_SEGMENT))
.pattern(Some(segment_pattern()))
.examples(["EU"]));

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn segments_keep_their_order_and_lose_duplicates() {
        assert_eq!(
            parse_segments(labels(&["EU", "vip_1", "EU", "a-b"])),
            Ok(labels(&["EU", "vip_1", "a-b"]))
        );
        assert_eq!(parse_segments(vec![]), Ok(vec![]));
    }

    #[test]
    fn bad_segments_are_refused() {
        for bad in ["", "two words", "é", &"x".repeat(51), "a.b", "a\0"] {
            assert!(parse_segments(labels(&[bad])).is_err(), "{bad:?}");
        }
        assert!(parse_segments(labels(&["x"; 21])).is_err());
        assert!(parse_segments(labels(&["x"; 20])).is_ok());
    }

    #[test]
    fn the_documented_pattern_admits_exactly_what_parse_takes() {
        let long = "x".repeat(50);
        let longer = "x".repeat(51);
        crate::domain::schema::assert_pattern_agrees(
            &segment_pattern(),
            ["EU", "", " EU", "a-b_c9", "é", &long, &longer, "a\n"],
            |s| parse_segments(vec![s.to_string()]).is_ok(),
        );
    }
}
