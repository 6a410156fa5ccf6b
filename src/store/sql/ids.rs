//! The id types as columns: their text (lowercase, hyphenated) on both databases, parsed back
//! into a UUID when read, so a stored row is where an id enters as much as a request is.

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Postgres, Sqlite, Type};

use super::statement::{text_arg, Arg, Text, Value};
use crate::domain::{
    CreatorId, DeliveryId, EventId, FulfillmentId, Id, IntegrationId, MediaId, ProgramId, RuleId,
    SaleId,
};

/// A stored id: anything but one is a corrupt row.
fn parse<T: Id>(raw: &str) -> Result<T, BoxDynError> {
    T::parse(raw).ok_or_else(|| format!("stored id `{}` is not a UUID", raw.escape_debug()).into())
}

macro_rules! text_columns {
    ($($name:ty),+) => {$(
        impl<'a> Text<'a> for &'a $name {
            fn text(self) -> Cow<'a, str> {
                Cow::Owned(self.to_string())
            }
        }

        text_arg!(&'a $name);

        impl Type<Sqlite> for $name {
            fn type_info() -> SqliteTypeInfo {
                <String as Type<Sqlite>>::type_info()
            }
        }

        impl<'r> Decode<'r, Sqlite> for $name {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                parse(<&str as Decode<'r, Sqlite>>::decode(value)?)
            }
        }

        impl Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <String as Type<Postgres>>::type_info()
            }
        }

        impl<'r> Decode<'r, Postgres> for $name {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                parse(<&str as Decode<'r, Postgres>>::decode(value)?)
            }
        }

        impl super::write::Field for &$name {
            fn value(&self) -> Value<'_> {
                Value::Text(Some(Cow::Owned(self.to_string())))
            }
        }

        impl super::write::PgType for $name {
            const NAME: &'static str = "text";
        }
    )+};
}

text_columns!(
    IntegrationId,
    CreatorId,
    MediaId,
    RuleId,
    FulfillmentId,
    DeliveryId,
    ProgramId,
    EventId,
    SaleId
);
