//! A calendar month, `2026-11`: what a monthly rule is run for. Which instants belong to it
//! depends on a time zone, and that is the rule engine's business (`rules::monthly`); this is
//! only the name of the month.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use utoipa::openapi::schema::ObjectBuilder;

use super::schema::{input_schema, string};

/// A year and a month of the Gregorian calendar, from `0000-01` to `9999-12`: the years a
/// four-digit `YYYY-MM` can spell, the same years an RFC 3339 `postedAt` can carry. Ordered
/// by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    // Field order is the order of months: year first.
    year: i32,
    month: u32,
}

/// A month that is not written `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "month `{}` is not a month written YYYY-MM with a month from 01 to 12, such as `2026-11`",
    .0.escape_debug()
)]
pub struct InvalidMonth(pub String);

impl Month {
    pub const FIRST: Month = Month { year: 0, month: 1 };
    pub const LAST: Month = Month {
        year: 9999,
        month: 12,
    };

    /// The month, if `month` is 1 to 12 and `year` 0 to 9999.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((0..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    /// Exactly `YYYY-MM`: four digits, a hyphen, two digits from `01` to `12`. Nothing around
    /// it, no sign, no single-digit month.
    pub fn parse(raw: &str) -> Result<Month, InvalidMonth> {
        let invalid = || InvalidMonth(raw.to_owned());
        let bytes = raw.as_bytes();
        let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
        if bytes.len() != 7 || bytes[4] != b'-' || !digits(0..4) || !digits(5..7) {
            return Err(invalid());
        }
        let year = raw[0..4].parse().map_err(|_| invalid())?;
        let month = raw[5..7].parse().map_err(|_| invalid())?;
        Month::new(year, month).ok_or_else(invalid)
    }

    /// The month `date` falls in (`None` outside the years 0 to 9999).
    pub fn of_date(date: NaiveDate) -> Option<Month> {
        Month::new(date.year(), date.month())
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// 1 (January) to 12 (December).
    pub fn month(self) -> u32 {
        self.month
    }

    /// The month after this one; `None` after `9999-12`.
    pub fn next(self) -> Option<Month> {
        if self.month == 12 {
            Month::new(self.year + 1, 1)
        } else {
            Month::new(self.year, self.month + 1)
        }
    }

    /// The month before this one; `None` before `0000-01`.
    pub fn previous(self) -> Option<Month> {
        if self.month == 1 {
            Month::new(self.year - 1, 12)
        } else {
            Month::new(self.year, self.month - 1)
        }
    }

    /// The 1st of the month.
    pub fn first_day(self) -> NaiveDate {
        date(self.year, self.month)
    }

    /// The 1st of the following month: the first day that is no longer in this one (for
    /// `9999-12`, 10000-01-01, which chrono can still name).
    pub fn day_after_last(self) -> NaiveDate {
        if self.month == 12 {
            date(self.year + 1, 1)
        } else {
            date(self.year, self.month + 1)
        }
    }
}

/// The 1st of a month of the years 0 to 10000, all within chrono's range, so the fallback is
/// never taken.
fn date(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MAX)
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = InvalidMonth;

    fn from_str(s: &str) -> Result<Month, InvalidMonth> {
        Month::parse(s)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Month, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Month::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// What [`Month::parse`] accepts, as the document states it.
const PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])$";

fn month_schema() -> ObjectBuilder {
    string("A calendar month, written YYYY-MM.")
        .pattern(Some(PATTERN))
        .examples(["2026-11"])
}

input_schema!(Month, month_schema);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schema::assert_pattern_agrees;

    fn month(raw: &str) -> Month {
        Month::parse(raw).expect(raw)
    }

    #[test]
    fn a_month_is_written_year_hyphen_month() {
        let m = month("2026-11");
        assert_eq!((m.year(), m.month()), (2026, 11));
        assert_eq!(m.to_string(), "2026-11");
        assert_eq!(month("0000-01").to_string(), "0000-01");
        assert_eq!(month("9999-12").to_string(), "9999-12");
        assert_eq!(
            Month::new(7, 3).map(|m| m.to_string()),
            Some("0007-03".into())
        );
    }

    #[test]
    fn anything_but_yyyy_mm_is_refused_with_a_clear_message() {
        for bad in [
            "",
            "2026",
            "2026-1",
            "2026-011",
            "2026-00",
            "2026-13",
            "2026/11",
            "26-11",
            "+2026-11",
            "-202-11",
            " 2026-11",
            "2026-11 ",
            "2026-11-01",
            "２０２６-11",
            "2026-1١",
            "november",
        ] {
            let err = Month::parse(bad).expect_err(bad);
            assert_eq!(err, InvalidMonth(bad.to_owned()));
            assert!(
                err.to_string().contains("YYYY-MM") && err.to_string().contains("2026-11"),
                "{err}"
            );
        }
        assert!(Month::new(2026, 0).is_none());
        assert!(Month::new(2026, 13).is_none());
        assert!(Month::new(10_000, 1).is_none());
        assert!(Month::new(-1, 12).is_none());
    }

    #[test]
    fn a_month_travels_in_json_as_its_yyyy_mm_string() {
        let m = month("2026-11");
        assert_eq!(
            serde_json::to_string(&m).expect("serialises"),
            r#""2026-11""#
        );
        assert_eq!(serde_json::from_str::<Month>(r#""2026-11""#).ok(), Some(m));
        let err = serde_json::from_str::<Month>(r#""2026-13""#).expect_err("13th month");
        assert!(err.to_string().contains("YYYY-MM"), "{err}");
        assert!(serde_json::from_str::<Month>("202611").is_err());
    }

    #[test]
    fn months_follow_each_other_across_years() {
        assert_eq!(month("2026-12").next(), Some(month("2027-01")));
        assert_eq!(month("2026-11").next(), Some(month("2026-12")));
        assert_eq!(month("2027-01").previous(), Some(month("2026-12")));
        assert_eq!(Month::LAST.next(), None);
        assert_eq!(Month::FIRST.previous(), None);
        assert!(month("2026-12") < month("2027-01"));
        assert!(month("2026-02") < month("2026-10"));
        assert_eq!(month("2026-12").first_day().to_string(), "2026-12-01");
        assert_eq!(month("2026-12").day_after_last().to_string(), "2027-01-01");
        assert_eq!(Month::LAST.day_after_last().to_string(), "+10000-01-01");
        assert_eq!(
            Month::of_date(NaiveDate::from_ymd_opt(2024, 2, 29).expect("leap day")),
            Some(month("2024-02"))
        );
    }

    #[test]
    fn the_documented_pattern_admits_exactly_what_parse_accepts() {
        assert_pattern_agrees(
            PATTERN,
            [
                "2026-11",
                "0000-01",
                "9999-12",
                "2026-00",
                "2026-13",
                "2026-1",
                "2026-011",
                "+2026-11",
                "2026/11",
                "",
                "2026-11\n",
                "12026-11",
            ],
            |s| Month::parse(s).is_ok(),
        );
    }
}
