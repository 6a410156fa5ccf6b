//! Whole numbers as JSON Schema's `integer` reads them: any number without a fractional part,
//! so `2.0` is `2` (serde alone refuses a float where it wants a `u32`).

use serde::de::{self, Deserializer, Visitor};

struct WholeNumber;

impl Visitor<'_> for WholeNumber {
    type Value = u32;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a whole number from 0 to 4294967295")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
        u32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u32, E> {
        if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
            // Exact: a whole number within u32's range.
            Ok(v as u32)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
}

/// A required whole number.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    d.deserialize_any(WholeNumber)
}

/// `null`, absent (with `#[serde(default)]`) or a whole number.
pub mod option {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "super::deserialize")] u32);

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Ok(Option::<Whole>::deserialize(d)?.map(|w| w.0))
    }
}

/// For PATCH: absent leaves the value, `null` clears it, a whole number sets it.
pub mod nullable {
    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
        super::option::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Rule {
        #[serde(deserialize_with = "super::deserialize")]
        count: u32,
        #[serde(default, deserialize_with = "super::option::deserialize")]
        window: Option<u32>,
    }

    fn parse(json: &str) -> Result<Rule, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn a_whole_number_may_be_written_as_a_float() {
        assert_eq!(parse(r#"{"count": 2}"#).expect("2").count, 2);
        assert_eq!(parse(r#"{"count": 2.0}"#).expect("2.0").count, 2);
        assert_eq!(parse(r#"{"count": 1e3}"#).expect("1e3").count, 1000);
        let rule = parse(r#"{"count": 3, "window": 7.0}"#).expect("window 7.0");
        assert_eq!(rule.window, Some(7));
        assert_eq!(
            parse(r#"{"count": 3, "window": null}"#)
                .expect("null")
                .window,
            None
        );
        assert_eq!(parse(r#"{"count": 3}"#).expect("absent").window, None);
    }

    #[test]
    fn fractions_negatives_and_other_types_are_refused() {
        for bad in [
            r#"{"count": 2.5}"#,
            r#"{"count": -1}"#,
            r#"{"count": -1.0}"#,
            r#"{"count": 4294967296}"#,
            r#"{"count": "2"}"#,
            r#"{"count": true}"#,
            r#"{"count": 3, "window": 1.5}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
