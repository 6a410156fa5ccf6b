//! The calendar and the tiers of monthly rules: which month a post belongs to, when a month
//! starts, ends and is due to run, which months a schedule must catch up on, and which tier a
//! creator reached. Pure functions of a time zone and instants; the store keeps the schedule
//! and carries out the runs.
//!
//! # How a month is run
//!
//! - **The month.** A monthly rule counts calendar months in its time zone (the rule's
//!   `timeZone` if set, else its program's, else UTC). A post belongs to the month of its
//!   `postedAt` read on a clock in that zone ([`month_of`]): 03:00 UTC on 1 December is still
//!   30 November in New York, so that post counts toward November there. The same month as
//!   instants is [`month_bounds`], `[start, end)`, and the two always agree.
//! - **Days start at local midnight.** Where midnight does not exist because the clocks jump
//!   over it (Paraguay on 1 October 2017, 00:00 → 01:00), the day starts at the jump, the first
//!   instant the clock shows that date. Where midnight happens twice because the clocks go back
//!   over it (Cuba on 1 November 2020, 01:00 → 00:00), the day starts at the first of the two.
//!   Either way every instant belongs to exactly one day and one month: a month can be an hour
//!   shorter or longer than its days, never overlap its neighbours or leave a gap.
//! - **A month is due** at 00:00, in the rule's zone, on the first business day after it ends:
//!   the first Monday to Friday on or after the 1st of the next month ([`due_at`]). Public
//!   holidays are not known, so a 1 January that falls on a weekday is a business day.
//!   November 2026 is due on Tuesday 1 December 2026; a month that ends on a Friday or a
//!   Saturday is due the Monday after.
//! - **Catch-up.** The schedule runs, oldest first, every month that is due and not run yet
//!   ([`months_due`]): after downtime, all the months it missed as soon as it is back. A rule's
//!   first month is the month it was created in; a month that has not ended is never due.
//! - **By hand.** A month may be run by hand as soon as it has ended ([`has_ended`]), before it
//!   is due; a month that has not ended is refused (`409 month_not_ended`). Whichever runs a
//!   month first, the schedule or a hand run, a month grants at most once per creator: the
//!   store records one fulfillment per (rule, creator, month).
//! - **Tiers.** A monthly rule has 1 to [`MAX_TIERS`] tiers with strictly increasing counts
//!   ([`check_tiers`]). Each creator whose counted posts of the month reach a tier earns one
//!   fulfillment, for the highest tier reached ([`highest_tier_reached`]), numbered from 1.

use std::ops::Range;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::{GapInfo, Tz};
use serde::Serialize;
use thiserror::Error;

use crate::domain::{Month, MAX_COUNT};

/// The month `at` falls in on a clock in `tz`.
///
/// Instants whose local date lies outside the years 0 to 9999 (a few hours at either end of
/// what a post can carry) are counted in the first or last month there is.
pub fn month_of(at: DateTime<Utc>, tz: Tz) -> Month {
    let local = at.with_timezone(&tz).date_naive();
    Month::of_date(local).unwrap_or(if local.year() < 0 {
        Month::FIRST
    } else {
        Month::LAST
    })
}

/// The first instant of `month` in `tz`.
pub fn month_start(month: Month, tz: Tz) -> DateTime<Utc> {
    start_of_day(month.first_day(), tz)
}

/// The first instant after `month` in `tz`: the start of the next month.
pub fn month_end(month: Month, tz: Tz) -> DateTime<Utc> {
    start_of_day(month.day_after_last(), tz)
}

/// The instants of `month` in `tz`, `[start, end)`: `t` is in it exactly when
/// [`month_of`]`(t, tz) == month`.
pub fn month_bounds(month: Month, tz: Tz) -> Range<DateTime<Utc>> {
    month_start(month, tz)..month_end(month, tz)
}

/// Whether `month` is over in `tz` at `now`: what a run by hand requires.
pub fn has_ended(month: Month, tz: Tz, now: DateTime<Utc>) -> bool {
    now >= month_end(month, tz)
}

/// The first Monday to Friday after `month` ends: the 1st of the next month, or the Monday
/// after it when it falls on a weekend.
pub fn first_business_day_after(month: Month) -> NaiveDate {
    let first = month.day_after_last();
    let days_to_monday = match first.weekday() {
        Weekday::Sat => 2,
        Weekday::Sun => 1,
        _ => 0,
    };
    first + chrono::Days::new(days_to_monday)
}

/// When `month` is due to run in `tz`: the start of the first business day after it ends.
/// Never before the month ends.
pub fn due_at(month: Month, tz: Tz) -> DateTime<Utc> {
    start_of_day(first_business_day_after(month), tz)
}

/// The first month the schedule has not run: the month after `last_run`, or, before any run,
/// the month the rule was created in (never a month before that one). `None` after `9999-12`.
pub fn first_month_not_run(
    tz: Tz,
    created_at: DateTime<Utc>,
    last_run: Option<Month>,
) -> Option<Month> {
    let created = month_of(created_at, tz);
    match last_run {
        None => Some(created),
        Some(last) => last.next().map(|next| next.max(created)),
    }
}

/// The months due at `now` and not run yet, oldest first: from [`first_month_not_run`], every
/// month whose [`due_at`] has come. Empty when the next month is not due yet.
///
/// `last_run` is the latest month the schedule has run. A month run by hand is run for good,
/// but counting a hand run of a later month as `last_run` would skip an earlier month that is
/// due and not run; the schedule keeps its own place.
pub fn months_due(
    tz: Tz,
    created_at: DateTime<Utc>,
    last_run: Option<Month>,
    now: DateTime<Utc>,
) -> Vec<Month> {
    let mut due = Vec::new();
    let mut next = first_month_not_run(tz, created_at, last_run);
    while let Some(month) = next {
        if due_at(month, tz) > now {
            break;
        }
        due.push(month);
        next = month.next();
    }
    due
}

/// The first instant of `date` in `tz`: its local midnight; the first of the two when the
/// clocks go back over midnight; the instant the clocks jump to when they jump over it.
pub(crate) fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, second) => first.min(second).with_timezone(&Utc),
        chrono::LocalResult::None => match GapInfo::new(&midnight, &tz).and_then(|gap| gap.end) {
            Some(after_gap) => after_gap.with_timezone(&Utc),
            // A gap has no end only past the zone's last change, or if the instant after it
            // were itself repeated; no zone has either. Read midnight at the offset then in
            // force rather than fail.
            None => midnight.and_utc() - offset_at(midnight.and_utc(), tz),
        },
    }
}

fn offset_at(at: DateTime<Utc>, tz: Tz) -> chrono::TimeDelta {
    use chrono::Offset;
    let seconds = tz.offset_from_utc_datetime(&at.naive_utc()).fix();
    chrono::TimeDelta::seconds(i64::from(seconds.local_minus_utc()))
}

/// The most tiers a monthly rule has.
pub const MAX_TIERS: usize = 10;

/// A tier's place in its rule's list, numbered from 1 as fulfillments carry it (`"tier": 2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TierNumber(u8);

impl TierNumber {
    /// The tier at `index` (0-based) in the list, if a rule can have that many.
    pub fn from_index(index: usize) -> Option<TierNumber> {
        (index < MAX_TIERS).then(|| TierNumber(index as u8 + 1))
    }

    /// 1 for the first tier.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The tier's position in the list, 0 for the first.
    pub fn index(self) -> usize {
        usize::from(self.0) - 1
    }
}

/// The highest tier whose count `counted` posts reach, given the tiers' counts in order; `None`
/// when not even the first is reached. The tiers are expected to pass [`check_tiers`]; if
/// they don't, the last of the first [`MAX_TIERS`] that is reached wins.
pub fn highest_tier_reached(tier_counts: &[u32], counted: u64) -> Option<TierNumber> {
    tier_counts
        .iter()
        .take(MAX_TIERS)
        .rposition(|&count| counted >= u64::from(count))
        .and_then(TierNumber::from_index)
}

/// A list of tiers a monthly rule cannot have. Places are 0-based, as in a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidTiers {
    #[error("tiers must hold at least one tier")]
    Empty,
    #[error("tiers holds {0} tiers; a monthly rule has at most {MAX_TIERS}")]
    TooMany(usize),
    #[error("tiers[{index}].count must be from 1 to {MAX_COUNT}, not {count}")]
    CountOutOfRange { index: usize, count: u32 },
    #[error(
        "tiers[{index}].count ({count}) must be greater than tiers[{}].count ({previous}): \
         each tier asks for more posts than the one before",
        .index - 1
    )]
    NotIncreasing {
        index: usize,
        count: u32,
        previous: u32,
    },
}

/// Checks a rule's tier counts, in order: 1 to [`MAX_TIERS`] tiers, each count from 1 to
/// [`MAX_COUNT`], strictly increasing. The first problem found is reported.
pub fn check_tiers(tier_counts: &[u32]) -> Result<(), InvalidTiers> {
    if tier_counts.is_empty() {
        return Err(InvalidTiers::Empty);
    }
    if tier_counts.len() > MAX_TIERS {
        return Err(InvalidTiers::TooMany(tier_counts.len()));
    }
    let mut previous = None;
    for (index, &count) in tier_counts.iter().enumerate() {
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(InvalidTiers::CountOutOfRange { index, count });
        }
        if let Some(previous) = previous.filter(|&p| count <= p) {
            return Err(InvalidTiers::NotIncreasing {
                index,
                count,
                previous,
            });
        }
        previous = Some(count);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use chrono_tz::America::{Asuncion, Havana, New_York, Santiago};
    use chrono_tz::Asia::Beirut;
    use chrono_tz::Europe::London;
    use chrono_tz::Pacific::Apia;
    use chrono_tz::UTC;

    fn month(raw: &str) -> Month {
        Month::parse(raw).expect(raw)
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect(rfc3339)
            .with_timezone(&Utc)
    }

    fn day(iso: &str) -> NaiveDate {
        iso.parse().expect(iso)
    }

    fn months(raw: &[&str]) -> Vec<Month> {
        raw.iter().map(|m| month(m)).collect()
    }

    #[test]
    fn a_post_at_3am_utc_on_the_first_belongs_to_the_previous_month_in_new_york() {
        assert_eq!(
            month_of(at("2026-12-01T03:00:00Z"), New_York),
            month("2026-11")
        );
        assert_eq!(month_of(at("2026-12-01T03:00:00Z"), UTC), month("2026-12"));
        // Midnight in New York in December is 05:00 UTC.
        assert_eq!(
            month_of(at("2026-12-01T04:59:59.999999Z"), New_York),
            month("2026-11")
        );
        assert_eq!(
            month_of(at("2026-12-01T05:00:00Z"), New_York),
            month("2026-12")
        );
    }

    #[test]
    fn a_post_late_on_the_last_day_utc_belongs_to_the_next_month_east_of_utc() {
        let tokyo = chrono_tz::Asia::Tokyo;
        assert_eq!(
            month_of(at("2026-11-30T15:00:00Z"), tokyo),
            month("2026-12")
        );
        assert_eq!(
            month_of(at("2026-11-30T14:59:59Z"), tokyo),
            month("2026-11")
        );
    }

    #[test]
    fn a_month_is_the_instants_from_its_first_midnight_to_the_next_months() {
        assert_eq!(
            month_bounds(month("2026-11"), UTC),
            at("2026-11-01T00:00:00Z")..at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            month_bounds(month("2026-12"), UTC),
            at("2026-12-01T00:00:00Z")..at("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            month_bounds(month("2024-02"), UTC).end,
            at("2024-03-01T00:00:00Z"),
            "29 days in a leap February"
        );
    }

    #[test]
    fn new_york_march_is_an_hour_short_across_the_spring_change() {
        let march = month_bounds(month("2026-03"), New_York);
        assert_eq!(march.start, at("2026-03-01T05:00:00Z"), "00:00 EST");
        assert_eq!(march.end, at("2026-04-01T04:00:00Z"), "00:00 EDT");
        assert_eq!(
            march.end - march.start,
            TimeDelta::days(31) - TimeDelta::hours(1)
        );
    }

    #[test]
    fn new_york_november_is_an_hour_long_across_the_autumn_change() {
        // The clocks go back at 02:00 on Sunday 1 November 2026: its midnight is still EDT.
        let november = month_bounds(month("2026-11"), New_York);
        assert_eq!(november.start, at("2026-11-01T04:00:00Z"), "00:00 EDT");
        assert_eq!(november.end, at("2026-12-01T05:00:00Z"), "00:00 EST");
        assert_eq!(
            november.end - november.start,
            TimeDelta::days(30) + TimeDelta::hours(1)
        );
    }

    #[test]
    fn london_months_follow_british_summer_time() {
        assert_eq!(
            month_bounds(month("2026-03"), London),
            at("2026-03-01T00:00:00Z")..at("2026-03-31T23:00:00Z")
        );
        assert_eq!(
            month_bounds(month("2026-10"), London),
            at("2026-09-30T23:00:00Z")..at("2026-11-01T00:00:00Z")
        );
    }

    #[test]
    fn a_month_whose_midnight_is_skipped_starts_when_the_clocks_jump() {
        // Paraguay, Sunday 1 October 2017: 00:00 -04 became 01:00 -03 at 04:00 UTC.
        let october = month("2017-10");
        let midnight = day("2017-10-01").and_time(chrono::NaiveTime::MIN);
        assert!(
            Asuncion.from_local_datetime(&midnight).earliest().is_none(),
            "skipped"
        );
        assert_eq!(month_start(october, Asuncion), at("2017-10-01T04:00:00Z"));
        assert_eq!(
            month_end(month("2017-09"), Asuncion),
            at("2017-10-01T04:00:00Z")
        );
        assert_eq!(
            month_of(at("2017-10-01T03:59:59.999999Z"), Asuncion),
            month("2017-09")
        );
        assert_eq!(month_of(at("2017-10-01T04:00:00Z"), Asuncion), october);
    }

    #[test]
    fn a_month_whose_midnight_happens_twice_starts_at_the_first() {
        // Cuba, Sunday 1 November 2020: 01:00 -04 went back to 00:00 -05, so the clock read
        // 00:00 at 04:00 UTC and again at 05:00 UTC.
        let november = month("2020-11");
        let midnight = day("2020-11-01").and_time(chrono::NaiveTime::MIN);
        assert!(
            matches!(
                Havana.from_local_datetime(&midnight),
                chrono::LocalResult::Ambiguous(..)
            ),
            "twice"
        );
        assert_eq!(month_start(november, Havana), at("2020-11-01T04:00:00Z"));
        assert_eq!(
            month_of(at("2020-11-01T03:59:59Z"), Havana),
            month("2020-10")
        );
        assert_eq!(month_of(at("2020-11-01T04:30:00Z"), Havana), november);
        assert_eq!(
            month_end(month("2020-10"), Havana),
            month_start(november, Havana)
        );
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_clocks_jump() {
        // Chile, Sunday 6 September 2026: 00:00 -04 becomes 01:00 -03 at 04:00 UTC.
        assert_eq!(
            start_of_day(day("2026-09-06"), Santiago),
            at("2026-09-06T04:00:00Z")
        );
        // Lebanon, Sunday 29 March 2026: 00:00 +02 becomes 01:00 +03 at 22:00 UTC.
        assert_eq!(
            start_of_day(day("2026-03-29"), Beirut),
            at("2026-03-28T22:00:00Z")
        );
        // When the clocks go back from 00:00 to 23:00 the day starts after the repeated hour.
        assert_eq!(
            start_of_day(day("2026-10-25"), Beirut),
            at("2026-10-24T22:00:00Z")
        );
    }

    #[test]
    fn a_skipped_day_starts_when_the_next_one_does() {
        // Samoa skipped Friday 30 December 2011: from 29 December 23:59:59 -10 to 31 December
        // 00:00 +14, at 10:00 UTC.
        assert_eq!(
            start_of_day(day("2011-12-30"), Apia),
            at("2011-12-30T10:00:00Z")
        );
        assert_eq!(
            start_of_day(day("2011-12-31"), Apia),
            at("2011-12-30T10:00:00Z")
        );
    }

    #[test]
    fn every_month_start_is_where_month_of_turns_over_in_every_time_zone() {
        let tick = TimeDelta::microseconds(1);
        let (mut skipped, mut twice) = (0, 0);
        for tz in chrono_tz::TZ_VARIANTS {
            let mut m = month("2005-01");
            while m <= month("2030-12") {
                let range = month_bounds(m, tz);
                let previous = m.previous().expect("after year 0");
                assert_eq!(month_of(range.start, tz), m, "{tz} {m} start");
                assert_eq!(
                    month_of(range.start - tick, tz),
                    previous,
                    "{tz} {m} before"
                );
                assert!(range.start < range.end, "{tz} {m}");
                assert!(due_at(m, tz) >= range.end, "{tz} {m} due before it ends");
                let midnight = m.first_day().and_time(chrono::NaiveTime::MIN);
                match tz.from_local_datetime(&midnight) {
                    chrono::LocalResult::None => skipped += 1,
                    chrono::LocalResult::Ambiguous(..) => twice += 1,
                    chrono::LocalResult::Single(_) => {}
                }
                m = m.next().expect("before year 9999");
            }
        }
        eprintln!("month starts: {skipped} skipped midnights, {twice} repeated");
        assert!(
            skipped > 0 && twice > 0,
            "the sweep meets both kinds of midnight"
        );
    }

    #[test]
    fn a_month_is_due_at_midnight_on_the_first_business_day_after_it() {
        // Tuesday 1 December 2026, 00:00 EST.
        assert_eq!(
            first_business_day_after(month("2026-11")),
            day("2026-12-01")
        );
        assert_eq!(
            due_at(month("2026-11"), New_York),
            at("2026-12-01T05:00:00Z")
        );
        assert_eq!(due_at(month("2026-11"), London), at("2026-12-01T00:00:00Z"));
    }

    #[test]
    fn a_month_ending_on_friday_runs_the_next_monday() {
        // Friday 31 July 2026.
        assert_eq!(
            first_business_day_after(month("2026-07")),
            day("2026-08-03")
        );
        assert_eq!(
            due_at(month("2026-07"), New_York),
            at("2026-08-03T04:00:00Z")
        );
    }

    #[test]
    fn a_month_ending_on_saturday_runs_the_next_monday() {
        // Saturday 31 January 2026.
        assert_eq!(
            first_business_day_after(month("2026-01")),
            day("2026-02-02")
        );
    }

    #[test]
    fn a_month_whose_next_first_is_a_skipped_sunday_midnight_runs_monday() {
        // Paraguay skipped midnight on Sunday 1 October 2017; Monday 2 October 00:00 is -03.
        assert_eq!(
            due_at(month("2017-09"), Asuncion),
            at("2017-10-02T03:00:00Z")
        );
    }

    #[test]
    fn a_month_has_ended_at_its_last_instant_in_its_time_zone_not_utcs() {
        let november = month("2026-11");
        assert!(!has_ended(
            november,
            New_York,
            at("2026-12-01T04:59:59.999999Z")
        ));
        assert!(has_ended(november, New_York, at("2026-12-01T05:00:00Z")));
        assert!(has_ended(november, UTC, at("2026-12-01T00:00:00Z")));
        assert!(!has_ended(
            month("2026-12"),
            New_York,
            at("2026-12-15T00:00:00Z")
        ));
    }

    #[test]
    fn a_month_ended_on_a_weekend_can_be_run_by_hand_before_it_is_due() {
        let july = month("2026-07");
        let saturday_noon = at("2026-08-01T16:00:00Z");
        assert!(has_ended(july, New_York, saturday_noon));
        assert!(months_due(
            New_York,
            at("2026-06-01T12:00:00Z"),
            Some(month("2026-06")),
            saturday_noon
        )
        .is_empty());
    }

    #[test]
    fn a_month_that_has_not_ended_is_not_due() {
        let created = at("2026-11-10T12:00:00Z");
        assert!(months_due(New_York, created, None, at("2026-11-30T23:00:00Z")).is_empty());
        assert!(months_due(New_York, created, None, at("2026-12-01T04:59:59Z")).is_empty());
        assert_eq!(
            months_due(New_York, created, None, at("2026-12-01T05:00:00Z")),
            months(&["2026-11"])
        );
    }

    #[test]
    fn a_month_already_run_is_not_due_again() {
        let created = at("2026-11-10T12:00:00Z");
        let now = at("2026-12-20T12:00:00Z");
        assert!(months_due(New_York, created, Some(month("2026-11")), now).is_empty());
    }

    #[test]
    fn months_missed_during_downtime_are_all_due_oldest_first() {
        let created = at("2026-06-15T12:00:00Z");
        let back_up = at("2026-12-02T12:00:00Z");
        assert_eq!(
            months_due(New_York, created, Some(month("2026-07")), back_up),
            months(&["2026-08", "2026-09", "2026-10", "2026-11"])
        );
        assert_eq!(
            months_due(New_York, created, None, back_up),
            months(&["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"])
        );
    }

    #[test]
    fn catch_up_crosses_the_year_end() {
        let created = at("2026-10-01T12:00:00Z");
        assert_eq!(
            months_due(
                UTC,
                created,
                Some(month("2026-10")),
                at("2027-02-02T00:00:00Z")
            ),
            months(&["2026-11", "2026-12", "2027-01"])
        );
    }

    #[test]
    fn a_rules_first_month_is_the_month_it_was_created_in_its_time_zone() {
        // 03:00 UTC on 1 December is still November in New York, so November is run.
        let created = at("2026-12-01T03:00:00Z");
        let now = at("2027-01-05T12:00:00Z");
        assert_eq!(
            months_due(New_York, created, None, now),
            months(&["2026-11", "2026-12"])
        );
        assert_eq!(months_due(UTC, created, None, now), months(&["2026-12"]));
    }

    #[test]
    fn months_before_the_rule_was_created_are_never_due() {
        // A hand run of a month long before the rule existed does not make the months
        // between due.
        let created = at("2026-10-05T12:00:00Z");
        assert_eq!(
            first_month_not_run(UTC, created, Some(month("2020-01"))),
            Some(month("2026-10"))
        );
        assert_eq!(
            months_due(
                UTC,
                created,
                Some(month("2020-01")),
                at("2026-11-03T00:00:00Z")
            ),
            months(&["2026-10"])
        );
    }

    #[test]
    fn a_rule_created_after_now_has_nothing_due() {
        let now = at("2026-11-03T00:00:00Z");
        assert!(months_due(UTC, at("2027-03-01T00:00:00Z"), None, now).is_empty());
    }

    #[test]
    fn the_highest_tier_reached_is_chosen() {
        let tiers = [1, 3, 5];
        let reached = |n| highest_tier_reached(&tiers, n).map(TierNumber::get);
        assert_eq!(reached(0), None);
        assert_eq!(reached(1), Some(1));
        assert_eq!(reached(2), Some(1));
        assert_eq!(reached(3), Some(2));
        assert_eq!(reached(4), Some(2));
        assert_eq!(reached(5), Some(3));
        assert_eq!(reached(1_000_000), Some(3));
    }

    #[test]
    fn no_tier_is_reached_below_the_first() {
        assert_eq!(highest_tier_reached(&[4, 8], 3), None);
        assert_eq!(highest_tier_reached(&[], 3), None);
    }

    #[test]
    fn tiers_are_numbered_from_one() {
        let third = highest_tier_reached(&[1, 2, 3], 3).expect("reached");
        assert_eq!((third.get(), third.index()), (3, 2));
        assert_eq!(serde_json::to_string(&third).expect("serialises"), "3");
        assert_eq!(TierNumber::from_index(9).map(TierNumber::get), Some(10));
        assert_eq!(TierNumber::from_index(10), None);
    }

    #[test]
    fn one_to_ten_strictly_increasing_tiers_are_valid() {
        assert_eq!(check_tiers(&[1]), Ok(()));
        assert_eq!(check_tiers(&[1, 3, 10]), Ok(()));
        assert_eq!(check_tiers(&[1, 2, 3, 4, 5, 6, 7, 8, 9, MAX_COUNT]), Ok(()));
    }

    #[test]
    fn a_tier_list_that_is_empty_or_longer_than_ten_is_refused() {
        assert_eq!(check_tiers(&[]), Err(InvalidTiers::Empty));
        let eleven: Vec<u32> = (1..=11).collect();
        let err = check_tiers(&eleven).expect_err("eleven tiers");
        assert_eq!(err, InvalidTiers::TooMany(11));
        assert_eq!(
            err.to_string(),
            "tiers holds 11 tiers; a monthly rule has at most 10"
        );
    }

    #[test]
    fn a_tier_count_of_zero_or_above_the_maximum_is_refused() {
        let err = check_tiers(&[0, 2]).expect_err("count 0");
        assert_eq!(err, InvalidTiers::CountOutOfRange { index: 0, count: 0 });
        assert_eq!(
            err.to_string(),
            "tiers[0].count must be from 1 to 10000, not 0"
        );
        assert_eq!(
            check_tiers(&[1, MAX_COUNT + 1]),
            Err(InvalidTiers::CountOutOfRange {
                index: 1,
                count: MAX_COUNT + 1
            })
        );
    }

    #[test]
    fn tier_counts_that_do_not_strictly_increase_are_refused() {
        let err = check_tiers(&[1, 3, 3]).expect_err("repeated count");
        assert_eq!(
            err,
            InvalidTiers::NotIncreasing {
                index: 2,
                count: 3,
                previous: 3
            }
        );
        assert_eq!(
            err.to_string(),
            "tiers[2].count (3) must be greater than tiers[1].count (3): each tier asks for \
             more posts than the one before"
        );
        assert!(matches!(
            check_tiers(&[5, 2]),
            Err(InvalidTiers::NotIncreasing { index: 1, .. })
        ));
    }
}
