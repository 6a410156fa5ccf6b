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
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
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
