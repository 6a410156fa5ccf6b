//! Small builders for the OpenAPI schemas of the input types, written beside their `parse`, so
//! a limit the document states is the limit the code enforces.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};

/// The characters Rust's `char::is_whitespace` (Unicode `White_Space`) matches, as the inside of
/// a regular-expression class: what `trim()` removes. Written so that ECMA-262 (the dialect
/// JSON Schema names), Python's `re` and Rust's `regex` read it alike.
pub(crate) const SPACE: &str =
    r"\x09-\x0D\x20\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The characters `char::is_control` matches (Unicode `Cc`), as the inside of a class.
pub(crate) const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";

/// A string schema with a description.
pub(crate) fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

pub(crate) fn format(known: KnownFormat) -> Option<SchemaFormat> {
    Some(SchemaFormat::KnownFormat(known))
}

/// Implements `ToSchema` for an input type from a function building its schema.
macro_rules! input_schema {
    ($ty:ty, $build:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let build: fn() -> utoipa::openapi::schema::ObjectBuilder = $build;
                build().into()
            }
        }
        impl utoipa::ToSchema for $ty {}
    };
}
pub(crate) use input_schema;

/// Asserts that `pattern` admits exactly the samples `parse` accepts: the document promises no
/// more and no less than the code keeps.
#[cfg(test)]
pub(crate) fn assert_pattern_agrees<'a>(
    pattern: &str,
    samples: impl IntoIterator<Item = &'a str>,
    parse: impl Fn(&str) -> bool,
) {
    let re = regex::Regex::new(pattern).expect("the pattern compiles");
    for sample in samples {
        assert_eq!(
            re.is_match(sample),
            parse(sample),
            "{sample:?}: the pattern says {}, the parser says {}",
            re.is_match(sample),
            parse(sample)
        );
    }
}
