//! Small builders for the OpenAPI schemas of the input types, written beside their `parse`, so
//! a limit the document states is the limit the code enforces.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};

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
