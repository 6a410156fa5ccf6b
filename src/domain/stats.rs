//! What the console's charts show: attempts by outcome in minute or hour buckets, and how long
//! they took (p50, p95). The store keeps the counts; this module lays them out in time.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::time::{from_micros, serde_rfc3339, to_micros};
use super::IntegrationId;

pub const MINUTE_MICROS: i64 = 60 * 1_000_000;
pub const HOUR_MICROS: i64 = 60 * MINUTE_MICROS;

/// `?hours=` of an integration's stats: 1 to this many, 24 by default.
pub const MAX_HOURS: u32 = 48;
pub const DEFAULT_HOURS: u32 = 24;
/// `?minutes=` of the delivery log's stats: 1 to this many, 60 by default.
pub const MAX_MINUTES: u32 = 120;
pub const DEFAULT_MINUTES: u32 = 60;

/// How long the rows behind the charts are kept: the longest window, and the hour it began in.
pub const STATS_KEPT_MICROS: i64 = (MAX_HOURS as i64 + 1) * HOUR_MICROS;

/// What became of a number of attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCounts {
    /// Answered with a 2xx.
    pub succeeded: u64,
    /// Failed, and the delivery is tried again later.
    pub retried: u64,
    /// Failed, and the delivery failed with it: its schedule used up, or its one attempt (a
    /// manual retry, a Test send) failed.
    pub failed: u64,
}

impl OutcomeCounts {
    pub fn add(&mut self, other: OutcomeCounts) {
        self.succeeded += other.succeeded;
        self.retried += other.retried;
        self.failed += other.failed;
    }

    pub fn total(&self) -> u64 {
        self.succeeded + self.retried + self.failed
    }
}

/// How long attempts took, from sending to the answer (or the timeout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    /// How many attempts were measured.
    pub attempts: u64,
    /// Half of them took at most this many milliseconds; `null` without attempts.
    #[schema(required = true)]
    pub p50_ms: Option<u64>,
    /// 95 in 100 of them took at most this many milliseconds; `null` without attempts.
    #[schema(required = true)]
    pub p95_ms: Option<u64>,
}

/// The duration an attempt of `ms` milliseconds is counted as: exact below 100 ms, rounded up
/// to two significant digits from there (`1234` → `1300`), so a handful of values per decade
/// cover every duration and a percentile is never lower than the attempt it names.
pub fn latency_bin(ms: u64) -> u64 {
    let mut unit = 1;
    while ms / unit >= 100 {
        unit *= 10;
    }
    ms.div_ceil(unit) * unit
}

/// Attempt durations (as [`latency_bin`] counts them) and how many took each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durations(BTreeMap<u64, u64>);

impl Durations {
    pub fn add(&mut self, ms: u64, attempts: u64) {
        if attempts > 0 {
            *self.0.entry(latency_bin(ms)).or_default() += attempts;
        }
    }

    pub fn merge(&mut self, other: &Durations) {
        for (&ms, &n) in &other.0 {
            *self.0.entry(ms).or_default() += n;
        }
    }

    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// The nearest-rank percentile: the smallest duration that at least `percent` in 100
    /// attempts did not exceed. `None` without attempts.
    pub fn percentile(&self, percent: u64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (percent * n).div_ceil(100).clamp(1, n);
        let mut seen = 0;
        self.0.iter().find_map(|(&ms, &count)| {
            seen += count;
            (seen >= rank).then_some(ms)
        })
    }

    pub fn latency(&self) -> Latency {
        Latency {
            attempts: self.count(),
            p50_ms: self.percentile(50),
            p95_ms: self.percentile(95),
        }
    }
}

/// `count` buckets of `width` µs, oldest first, aligned to whole UTC minutes or hours; the
/// last holds `until` and is still filling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The start of the first bucket (µs).
    pub first: i64,
    pub width: i64,
    pub count: u32,
    /// Now (µs).
    pub until: i64,
}

impl Window {
    pub fn ending_at(now: DateTime<Utc>, width: i64, count: u32) -> Window {
        let until = to_micros(now);
        let last = until.div_euclid(width) * width;
        Window {
            first: last - i64::from(count.saturating_sub(1)) * width,
            width,
            count,
            until,
        }
    }

    /// The end of the last bucket (µs): nothing at or after it is in the window.
    pub fn end(&self) -> i64 {
        self.first + i64::from(self.count) * self.width
    }

    /// The bucket holding `at` (µs), if the window does.
    pub fn index(&self, at: i64) -> Option<usize> {
        (self.first..self.end())
            .contains(&at)
            .then(|| usize::try_from((at - self.first) / self.width).unwrap_or(0))
    }

    fn start(&self, i: usize) -> DateTime<Utc> {
        from_micros(self.first + i64::try_from(i).unwrap_or(0) * self.width)
    }

    fn seconds(&self) -> u32 {
        u32::try_from(self.width / 1_000_000).unwrap_or(u32::MAX)
    }
}

/// One hour of an integration's attempts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HourStats {
    /// The start of the hour (UTC).
    #[serde(with = "serde_rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(flatten)]
    pub outcomes: OutcomeCounts,
    pub latency: Latency,
}

/// An integration's attempts over the last hours: per hour by outcome, and how long they took.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationStats {
    pub integration_id: IntegrationId,
    /// The start of the first bucket: a whole UTC hour.
    #[serde(with = "serde_rfc3339")]
    pub from: DateTime<Utc>,
    /// Now: the last bucket is the current hour, still filling.
    #[serde(with = "serde_rfc3339")]
    pub until: DateTime<Utc>,
    /// The width of a bucket: 3600.
    pub bucket_seconds: u32,
    /// One per hour (`hours` of them), oldest first.
    pub buckets: Vec<HourStats>,
    /// Every bucket's attempts together.
    pub totals: OutcomeCounts,
    /// Every bucket's attempts together.
    pub latency: Latency,
}

impl IntegrationStats {
    /// Lays out `counts` (per minute start) and `durations` (per hour start: a duration in ms
    /// and how many attempts took it) over `window`; rows outside it are left out.
    pub fn build(
        integration_id: IntegrationId,
        window: Window,
        counts: &[(i64, OutcomeCounts)],
        durations: &[(i64, u64, u64)],
    ) -> IntegrationStats {
        let n = window.count as usize;
        let mut outcomes = vec![OutcomeCounts::default(); n];
        let mut times = vec![Durations::default(); n];
        for (at, c) in counts {
            if let Some(i) = window.index(*at) {
                outcomes[i].add(*c);
            }
        }
        for (at, ms, attempts) in durations {
            if let Some(i) = window.index(*at) {
                times[i].add(*ms, *attempts);
            }
        }
        let mut totals = OutcomeCounts::default();
        let mut all = Durations::default();
        for (c, d) in outcomes.iter().zip(&times) {
            totals.add(*c);
            all.merge(d);
        }
        IntegrationStats {
            integration_id,
            from: from_micros(window.first),
            until: from_micros(window.until),
            bucket_seconds: window.seconds(),
            buckets: (0..n)
                .map(|i| HourStats {
                    start: window.start(i),
                    outcomes: outcomes[i],
                    latency: times[i].latency(),
                })
                .collect(),
            totals,
            latency: all.latency(),
        }
    }
}

/// One minute of attempts, every integration's together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinuteStats {
    /// The start of the minute (UTC).
    #[serde(with = "serde_rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(flatten)]
    pub outcomes: OutcomeCounts,
}

/// Every integration's attempts over the last minutes, per minute by outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStats {
    /// The start of the first bucket: a whole UTC minute.
    #[serde(with = "serde_rfc3339")]
    pub from: DateTime<Utc>,
    /// Now: the last bucket is the current minute, still filling.
    #[serde(with = "serde_rfc3339")]
    pub until: DateTime<Utc>,
    /// The width of a bucket: 60.
    pub bucket_seconds: u32,
    /// One per minute (`minutes` of them), oldest first.
    pub buckets: Vec<MinuteStats>,
    /// Every bucket's attempts together.
    pub totals: OutcomeCounts,
}

impl DeliveryStats {
    /// Lays out `counts` (per minute start) over `window`; rows outside it are left out.
    pub fn build(window: Window, counts: &[(i64, OutcomeCounts)]) -> DeliveryStats {
        let mut outcomes = vec![OutcomeCounts::default(); window.count as usize];
        for (at, c) in counts {
            if let Some(i) = window.index(*at) {
                outcomes[i].add(*c);
            }
        }
        let mut totals = OutcomeCounts::default();
        for c in &outcomes {
            totals.add(*c);
        }
        DeliveryStats {
            from: from_micros(window.first),
            until: from_micros(window.until),
            bucket_seconds: window.seconds(),
            buckets: outcomes
                .into_iter()
                .enumerate()
                .map(|(i, outcomes)| MinuteStats {
                    start: window.start(i),
                    outcomes,
                })
                .collect(),
            totals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::parse_flexible;

    fn at(s: &str) -> DateTime<Utc> {
        parse_flexible(s).expect("a time")
    }

    #[test]
    fn durations_from_100_ms_count_rounded_up_to_two_significant_digits() {
        for (ms, bin) in [
            (0, 0),
            (7, 7),
            (99, 99),
            (100, 100),
            (101, 110),
            (123, 130),
            (999, 1000),
            (1000, 1000),
            (1234, 1300),
            (10_001, 11_000),
        ] {
            assert_eq!(latency_bin(ms), bin, "{ms} ms");
        }
    }

    #[test]
    fn a_percentile_is_the_nearest_rank() {
        let mut d = Durations::default();
        assert_eq!(d.percentile(50), None);
        assert_eq!(d.latency(), Latency::default());
        for ms in 1..=100 {
            d.add(ms, 1);
        }
        // 1..=99 exactly, 100 as itself: p50 is the 50th value, p95 the 95th.
        assert_eq!(d.percentile(50), Some(50));
        assert_eq!(d.percentile(95), Some(95));
        assert_eq!(d.percentile(100), Some(100));
        let mut few = Durations::default();
        few.add(10, 1);
        few.add(20, 1);
        few.add(300, 1);
        // Of three, the second is the median and the 95th percentile is the slowest.
        assert_eq!(few.latency().p50_ms, Some(20));
        assert_eq!(few.latency().p95_ms, Some(300));
        let mut one = Durations::default();
        one.add(42, 1);
        assert_eq!(one.latency().p50_ms, Some(42));
        assert_eq!(one.latency().p95_ms, Some(42));
    }

    #[test]
    fn percentiles_of_merged_hours_are_those_of_all_their_attempts() {
        // An hour of nine fast attempts and an hour of one slow one: the median of the ten is
        // fast, which no mix of the two hours' own percentiles would tell.
        let mut fast = Durations::default();
        fast.add(5, 9);
        let mut slow = Durations::default();
        slow.add(900, 1);
        let mut all = fast.clone();
        all.merge(&slow);
        assert_eq!(all.count(), 10);
        assert_eq!(all.percentile(50), Some(5));
        assert_eq!(all.percentile(95), Some(900));
    }

    #[test]
    fn a_window_ends_with_the_bucket_that_holds_now() {
        let w = Window::ending_at(at("2026-12-04T14:32:10Z"), HOUR_MICROS, 24);
        assert_eq!(from_micros(w.first), at("2026-12-03T15:00:00Z"));
        assert_eq!(from_micros(w.end()), at("2026-12-04T15:00:00Z"));
        assert_eq!(w.index(to_micros(at("2026-12-04T14:00:00Z"))), Some(23));
        assert_eq!(w.index(to_micros(at("2026-12-03T15:00:00Z"))), Some(0));
        assert_eq!(w.index(to_micros(at("2026-12-03T14:59:59Z"))), None);
        assert_eq!(w.index(to_micros(at("2026-12-04T15:00:00Z"))), None);
    }

    #[test]
    fn stats_put_each_row_in_its_hour_and_add_up() {
        let w = Window::ending_at(at("2026-12-04T14:32:10Z"), HOUR_MICROS, 3);
        let c = |s, r, f| OutcomeCounts {
            succeeded: s,
            retried: r,
            failed: f,
        };
        let minute = |s: &str| to_micros(at(s));
        let stats = IntegrationStats::build(
            IntegrationId::named("i"),
            w,
            &[
                (minute("2026-12-04T12:00:00Z"), c(1, 0, 0)),
                (minute("2026-12-04T12:59:00Z"), c(2, 1, 0)),
                (minute("2026-12-04T14:30:00Z"), c(0, 0, 1)),
                (minute("2026-12-04T11:59:00Z"), c(9, 9, 9)),
            ],
            &[
                (minute("2026-12-04T12:00:00Z"), 40, 3),
                (minute("2026-12-04T14:00:00Z"), 2000, 1),
            ],
        );
        assert_eq!(stats.bucket_seconds, 3600);
        let outcomes: Vec<OutcomeCounts> = stats.buckets.iter().map(|b| b.outcomes).collect();
        assert_eq!(outcomes, [c(3, 1, 0), c(0, 0, 0), c(0, 0, 1)]);
        assert_eq!(stats.totals, c(3, 1, 1));
        assert_eq!(stats.buckets[0].latency.p50_ms, Some(40));
        assert_eq!(stats.buckets[1].latency.attempts, 0);
        assert_eq!(stats.latency.attempts, 4);
        assert_eq!(stats.latency.p50_ms, Some(40));
        assert_eq!(stats.latency.p95_ms, Some(2000));
    }
}
