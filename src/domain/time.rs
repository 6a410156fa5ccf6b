//! Timestamps are stored as microseconds since the Unix epoch (one integer type on both stores).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};

pub fn now() -> DateTime<Utc> {
    // Truncate to what the store keeps, so a value read back equals the value written.
    from_micros(Utc::now().timestamp_micros())
}

/// Where "now" comes from for what a test must control without sleeping (the charts' time
/// buckets): the system's clock, or a time the test sets.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `at` until [`Clock::set`] moves it.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(to_micros(at)))))
    }

    /// Moves a fixed clock (and every clone of it) to `at`; the system's clock cannot be set.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(t) = &self.0 {
            t.store(to_micros(at), Ordering::Relaxed);
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            Some(t) => from_micros(t.load(Ordering::Relaxed)),
            None => now(),
        }
    }
}

/// `t` as the store keeps it: whole microseconds.
pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    from_micros(t.timestamp_micros())
}

pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

/// RFC 3339 in UTC, as the management API writes every timestamp.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The seed's media format: `2022-04-12T11:18:20.902164`, UTC, six fractional digits, no offset.
pub fn seed_format(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Accepts RFC 3339 with an offset, or the seed's offset-free format (read as UTC).
pub fn parse_flexible(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if !has_seed_shape(s) {
        return None;
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
}

/// `YYYY-MM-DDTHH:MM:SS` with two digits in every field, seconds below 60, and an optional
/// fraction: the seed's format exactly, as the document's pattern says it (the calendar is
/// chrono's to check). chrono alone would also take `1:2:3` or a leap second.
fn has_seed_shape(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 19 {
        return false;
    }
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    let fields = digits.iter().all(|&i| b[i].is_ascii_digit())
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[17] < b'6';
    let fraction = match &b[19..] {
        [] => true,
        [b'.', rest @ ..] => !rest.is_empty() && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    fields && fraction
}

/// A calendar date `YYYY-MM-DD`, each month with its own days and 29 February in leap years only,
/// so every string the pattern admits is a date the parser takes. Digits as `[0-9]`: `\d`
/// would admit other scripts' digits in some regex dialects.
const DATE: &str = "(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])\
    |(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))\
    |(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)";

/// The seed's format, `2022-04-12T11:18:20.902164`: UTC, no offset, the fraction optional.
pub fn seed_pattern() -> String {
    format!("^{DATE}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?$")
}

/// A post's `postedAt` in the OpenAPI document; `null` or absent is now.
pub fn posted_at_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    timestamp_input_schema("now")
}

/// What `parse_flexible` takes, for the OpenAPI document: RFC 3339 (`date-time`) or the seed's
/// format, or `null`; `absent` says what `null` or no value means.
pub fn timestamp_input_schema(
    absent: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{
        AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
    };
    let any_of = AnyOfBuilder::new()
        .description(Some(format!(
            "RFC 3339 (`2022-04-12T11:18:20.902164Z`), or the seed's format \
             `YYYY-MM-DDTHH:MM:SS.ffffff`, read as UTC; `null` or absent: {absent}."
        )))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(seed_pattern())),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .examples(["2022-04-12T11:18:20.902164"])
        .build();
    utoipa::openapi::RefOr::T(Schema::AnyOf(any_of))
}

/// Serde helpers writing `DateTime<Utc>` as RFC 3339 UTC with microseconds.
pub mod serde_rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::rfc3339(*t)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_format_keeps_six_digits_and_no_offset() {
        let t = parse_flexible("2022-04-12T11:18:20.902164").expect("parses");
        assert_eq!(seed_format(t), "2022-04-12T11:18:20.902164");
        let whole = parse_flexible("2022-04-12T11:18:20Z").expect("parses");
        assert_eq!(seed_format(whole), "2022-04-12T11:18:20.000000");
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let t = parse_flexible("2022-04-12T13:18:20.5+02:00").expect("parses");
        assert_eq!(rfc3339(t), "2022-04-12T11:18:20.500000Z");
        assert!(parse_flexible("yesterday").is_none());
    }

    #[test]
    fn the_seed_pattern_admits_exactly_the_dates_and_times_the_parser_takes() {
        // Those without an offset: what `parse_flexible` takes in the seed's format.
        let seed =
            |s: &str| DateTime::parse_from_rfc3339(s).is_err() && parse_flexible(s).is_some();
        let mut samples = Vec::new();
        for year in [0, 4, 100, 400, 1900, 1999, 2000, 2023, 2024, 9999] {
            for month in 0..=13 {
                for day in 0..=32 {
                    samples.push(format!("{year:04}-{month:02}-{day:02}T12:00:00"));
                }
            }
        }
        for time in [
            "00:00:00",
            "23:59:59",
            "24:00:00",
            "12:60:00",
            "11:18:20.902164",
            "11:18:20.",
            "11:18:20.1234567890",
            "11:18:20.123456789",
            "1:02:03",
            "11:18",
        ] {
            samples.push(format!("2022-04-12T{time}"));
        }
        samples.extend(
            [
                "2022-04-12 11:18:20",
                "2022-04-12T11:18:20Z",
                "",
                "yesterday",
            ]
            .map(String::from),
        );
        crate::domain::schema::assert_pattern_agrees(
            &seed_pattern(),
            samples.iter().map(String::as_str),
            seed,
        );
    }

    #[test]
    fn a_fixed_clock_stands_where_it_is_set() {
        let t = parse_flexible("2026-12-04T14:32:10Z").expect("parses");
        let clock = Clock::fixed(t);
        let shared = clock.clone();
        assert_eq!(clock.now(), t);
        shared.set(t + chrono::Duration::hours(3));
        assert_eq!(clock.now(), t + chrono::Duration::hours(3));
        assert!(Clock::system().now() > t - chrono::Duration::days(36500));
    }

    #[test]
    fn micros_round_trip() {
        let t = now();
        assert_eq!(from_micros(to_micros(t)), t);
    }
}
