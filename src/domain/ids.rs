//! One id type per kind of thing, so that a (creator, rule) key cannot be passed where a
//! (rule, creator) one is wanted. Every id is a UUIDv7 string: time-ordered, so ids double as
//! the pagination key.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::KnownFormat;

use super::schema::{format, string};

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh id.
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }

            /// Whether `raw` has the shape of an id (it may still name nothing).
            pub fn is_well_formed(raw: &str) -> bool {
                uuid::Uuid::try_parse(raw).is_ok()
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// An id as stored or as given: whether it names anything is the store's to say.
        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
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
    FulfillmentId;
    /// Also the `webhook-id` header of every attempt.
    DeliveryId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_well_formed_and_ordered_by_time() {
        let a = RuleId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RuleId::generate();
        assert!(RuleId::is_well_formed(a.as_str()));
        assert!(a < b, "{a} then {b}");
        assert!(!CreatorId::is_well_formed("zzz"));
    }
}
