//! Bodies that must be JSON objects: serde also reads a struct from an array of its fields in
//! order (`[null, null]` would be a valid patch), which the document does not allow.

use serde::de::{DeserializeOwned, Deserializer, Error};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A JSON object read as `T`; any other JSON value is refused as the wrong type.
pub struct Object<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields = Map::<String, Value>::deserialize(d)?;
        serde_json::from_value(Value::Object(fields))
            .map(Object)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Patch {
        a: Option<u32>,
        b: Option<u32>,
    }

    #[test]
    fn only_an_object_is_read() {
        let read = |json: &str| serde_json::from_str::<Object<Patch>>(json).map(|o| o.0);
        assert_eq!(
            read(r#"{"a": 1}"#).ok(),
            Some(Patch {
                a: Some(1),
                b: None
            })
        );
        assert!(
            serde_json::from_str::<Patch>("[null, null]").is_ok(),
            "serde alone"
        );
        for other in ["[null, null]", "[1, 2]", "null", "3", r#""a""#] {
            assert!(read(other).is_err(), "{other}");
        }
    }
}
