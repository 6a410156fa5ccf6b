//! The id types as columns: text on both databases.

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Postgres, Sqlite, Type};

use super::statement::{text_arg, Arg, Text, Value};
use crate::domain::{CreatorId, DeliveryId, FulfillmentId, IntegrationId, MediaId, RuleId};

macro_rules! text_columns {
    ($($name:ty),+) => {$(
        impl<'a> Text<'a> for &'a $name {
            fn text(self) -> Cow<'a, str> {
                Cow::Borrowed(self.as_str())
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
                <&str as Decode<'r, Sqlite>>::decode(value).map(<$name>::from)
            }
        }

        impl Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <String as Type<Postgres>>::type_info()
            }
        }

        impl<'r> Decode<'r, Postgres> for $name {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                <&str as Decode<'r, Postgres>>::decode(value).map(<$name>::from)
            }
        }

        impl super::write::Field for &$name {
            fn value(&self) -> Value<'_> {
                Value::Text(Some(Cow::Borrowed(self.as_str())))
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
    DeliveryId
);
