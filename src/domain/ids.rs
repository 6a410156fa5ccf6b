//! One id type per kind of thing, so that a (creator, rule) key cannot be passed where a
//! (rule, creator) one is wanted. Every id is a UUIDv7 by type: a value of these types is one
//! (parsed where it enters: the API, `import`, a stored row), so nothing else holds text where an
//! id belongs. Ids are time-ordered, and their text (lowercase, hyphenated) sorts as they do, so
//! ids double as the pagination key.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::KnownFormat;
use uuid::Uuid;

use super::schema::{format, string};

/// What every id type can do beside its own name.
pub trait Id: Sized {
    /// The id `raw` spells, if it spells one (a UUID in any of its usual spellings).
    fn parse(raw: &str) -> Option<Self>;
}

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id.
            pub fn generate() -> Self {
                $name(Uuid::now_v7())
            }

            /// An id for a test, named: ordered as the names are (up to 16 bytes).
            #[cfg(test)]
            pub fn named(name: &str) -> Self {
                let mut bytes = [0u8; 16];
                let len = name.len().min(16);
                bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
                $name(Uuid::from_bytes(bytes))
            }
        }

        impl Id for $name {
            fn parse(raw: &str) -> Option<Self> {
                Uuid::try_parse(raw).ok().map($name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                <$name as Id>::parse(&raw).ok_or_else(|| {
                    serde::de::Error::custom(format!("`{}` is not an id", raw.escape_debug()))
                })
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                string(concat!("The id of a ", stringify!($name), " (UUIDv7)."))
                    .format(format(KnownFormat::Uuid))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    )+};
}

ids! {
    IntegrationId;
    CreatorId;
    MediaId;
    RuleId;
    ProgramId;
    FulfillmentId;
    /// Also the `webhook-id` header of every attempt.
    DeliveryId;
    /// An event other than a reward (a reward's event id is its fulfillment's).
    EventId;
    SaleId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_ordered_by_time_as_ids_and_as_text() {
        let a = RuleId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RuleId::generate();
        assert!(a < b, "{a} then {b}");
        assert!(a.to_string() < b.to_string(), "{a} then {b}");
    }

    #[test]
    fn an_id_is_parsed_once_and_printed_one_way() {
        let id = CreatorId::generate();
        let upper = id.to_string().to_uppercase();
        assert_eq!(CreatorId::parse(&upper), Some(id.clone()));
        assert_eq!(CreatorId::parse(&id.to_string()), Some(id));
        for bad in ["zzz", "", "0190a000-0000-7000-8000-00000000000\0"] {
            assert_eq!(CreatorId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_id_in_json_is_its_text_and_anything_else_is_refused() {
        let id = MediaId::generate();
        let json = serde_json::to_string(&id).expect("json");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<MediaId>(&json).expect("back"), id);
        assert!(serde_json::from_str::<MediaId>("\"m1\"").is_err());
    }
}
