//! Objects nested in a body (a rule's `reward` and `tiers`, a Test send's posts): read from a
//! JSON object only. serde's derived `Deserialize` would also read a struct, or an internally
//! tagged enum, from an array by position (`[1, ["NONE"]]` a tier); the API's body extractor
//! refuses that at the top level, these fields below it.

use serde::de::{DeserializeOwned, Deserializer, Error};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A `T` read from a JSON object, and from nothing else.
struct Object<T>(T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields = Map::<String, Value>::deserialize(d)?;
        serde_json::from_value(Value::Object(fields))
            .map(Object)
            .map_err(D::Error::custom)
    }
}

pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    Object::<T>::deserialize(d).map(|o| o.0)
}

/// An optional object: absent or `null` is `None` (with `#[serde(default)]`).
pub mod option {
    use super::*;

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<Object<T>>::deserialize(d).map(|o| o.map(|o| o.0))
    }
}

/// An optional list of objects: absent or `null` is `None` (with `#[serde(default)]`).
pub mod option_vec {
    use super::*;

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<T>>, D::Error> {
        Option::<Vec<Object<T>>>::deserialize(d)
            .map(|o| o.map(|items| items.into_iter().map(|o| o.0).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: Option<u32>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[serde(deserialize_with = "deserialize")]
        one: Inner,
        #[serde(default, deserialize_with = "option::deserialize")]
        maybe: Option<Inner>,
        #[serde(default, deserialize_with = "option_vec::deserialize")]
        many: Option<Vec<Inner>>,
    }

    #[test]
    fn nested_objects_are_read_from_objects_only() {
        let read = |json: &str| serde_json::from_str::<Outer>(json);
        assert_eq!(
            read(r#"{"one": {"a": 1}, "many": [{}]}"#).ok(),
            Some(Outer {
                one: Inner { a: Some(1) },
                maybe: None,
                many: Some(vec![Inner { a: None }]),
            })
        );
        assert!(read(r#"{"one": {}, "maybe": null, "many": null}"#).is_ok());
        assert!(serde_json::from_str::<Inner>("[1]").is_ok(), "serde alone");
        for bad in [
            r#"{"one": [1]}"#,
            r#"{"one": {}, "maybe": [1]}"#,
            r#"{"one": {}, "many": [[1]]}"#,
            r#"{"one": {"b": 1}}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}
