//! How many sends one integration may have in flight, and how many it may start a second.
//!
//! The concurrency limit adapts to how the receiver answers, as TCP's congestion window does
//! (and Netflix's concurrency-limits for services): it starts like slow start, one more per
//! answer (doubling each round trip) while the receiver answers at a steady latency and the limit
//! is in use, until a round's rate cannot use what it grew (TCP's ssthresh), then grows steadily; it is cut by half on a refusal for load (429, 502, 503, 504), a timeout or a failed
//! connection, and by a tenth when latency climbs well above its recent floor. It never exceeds
//! the hard maximum. Pure arithmetic over what it is told, with the time passed in, so each rule
//! is tested without HTTP.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The limit a new integration starts at, below its hard maximum: TCP's larger initial window.
/// From 64, a burst at 8,000 posts a second to a 200 ms receiver queued through a second of slow
/// start (sent → arrival p50 415 ms); from 256, 258 ms (BENCHMARKS.md).
pub const INITIAL_LIMIT: usize = 256;
/// A round is at least this long, so a fast receiver's is not one answer.
const MIN_ROUND: Duration = Duration::from_millis(10);
/// The latency floor is the fastest answer of this period and the one before: a receiver that
/// became slower for good gets a new floor within two periods.
const FLOOR_PERIOD: Duration = Duration::from_secs(10);
/// A round whose mean latency exceeds floor × this + [`LATENCY_SLACK`] is congested. The slack
/// keeps a fast receiver's milliseconds of noise on a busy machine from counting.
const LATENCY_FACTOR: u32 = 2;
const LATENCY_SLACK: Duration = Duration::from_millis(50);
/// Above floor × [`LATENCY_FACTOR`] + this the limit holds: answers queue somewhere already, and
/// more at once would only lengthen the queue (for a fast receiver, the sender's own CPU).
const HOLD_SLACK: Duration = Duration::from_millis(5);
/// Cut on a refusal for load, a timeout or a failed connection.
const OVERLOAD_CUT: f64 = 0.5;
/// Cut on latency well above its floor: gentler, latency is a hint.
const LATENCY_CUT: f64 = 0.9;
/// Growth per healthy round after slow start: 1, or this share of the limit if larger.
const STEADY_GROWTH: f64 = 0.05;
/// The limit grows only while below the round's rate × the latency floor × this (Little's law:
/// the sends in flight that rate needs at that latency, with room to find out whether more
/// buys more), or below [`INITIAL_LIMIT`]. A fast receiver whose latency only rises with more at
/// once (the sender's own CPU is the bottleneck) stays near the start; a slow one doubles.
const HEADROOM: f64 = 2.0;

/// What one attempt says about the receiver's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// It answered, after this long, with something other than a refusal for load.
    Answered(Duration),
    /// 429, 502, 503, 504, a timeout or a failed connection.
    Overloaded,
}

impl Signal {
    /// The signal of an attempt that got `status`, or `error` without one, after `took`; `None`
    /// when the attempt says nothing about the receiver (refused before it was sent).
    pub fn of(status: Option<u16>, error: Option<&str>, took: Duration) -> Option<Signal> {
        match (status, error) {
            (Some(429 | 502 | 503 | 504), _) => Some(Signal::Overloaded),
            (Some(_), _) => Some(Signal::Answered(took)),
            (None, Some(e)) if e.starts_with("timed out") || e.starts_with("connection failed") => {
                Some(Signal::Overloaded)
            }
            (None, _) => None,
        }
    }
}

/// One integration's adaptive concurrency limit.
#[derive(Debug, Clone)]
pub struct AdaptiveLimit {
    limit: f64,
    max: usize,
    slow_start: bool,
    floor: LatencyFloor,
    round: Round,
    /// The last round's [`AdaptiveLimit::useful_bound`] and busiest moment: slow start grows
    /// between rounds' ends, before the round it grows in has its own.
    last_bound: f64,
    last_busiest: usize,
}

#[derive(Debug, Clone)]
struct Round {
    started: Instant,
    /// The limit when the round began: slow start at most doubles it, and a cut halves it.
    start_limit: f64,
    answered: u32,
    overloaded: u32,
    latency_total: Duration,
    /// The most sends in flight at once during the round: the limit grows only when in use.
    busiest: usize,
}

impl Round {
    fn new(started: Instant, start_limit: f64) -> Round {
        Round {
            started,
            start_limit,
            answered: 0,
            overloaded: 0,
            latency_total: Duration::ZERO,
            busiest: 0,
        }
    }
}

#[derive(Debug, Clone)]
struct LatencyFloor {
    period_started: Instant,
    current: Option<Duration>,
    previous: Option<Duration>,
}

impl LatencyFloor {
    fn note(&mut self, latency: Duration, now: Instant) {
        if now.duration_since(self.period_started) >= FLOOR_PERIOD {
            self.previous = self.current.take();
            self.period_started = now;
        }
        self.current = Some(self.current.map_or(latency, |c| c.min(latency)));
    }

    fn get(&self) -> Option<Duration> {
        match (self.current, self.previous) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl AdaptiveLimit {
    /// A limit of at most `max` (1 or more), starting at [`INITIAL_LIMIT`] or `max` if lower.
    pub fn new(max: usize, now: Instant) -> AdaptiveLimit {
        let max = max.max(1);
        let limit = INITIAL_LIMIT.min(max) as f64;
        AdaptiveLimit {
            limit,
            max,
            slow_start: true,
            floor: LatencyFloor {
                period_started: now,
                current: None,
                previous: None,
            },
            round: Round::new(now, limit),
            last_bound: INITIAL_LIMIT as f64,
            last_busiest: 0,
        }
    }

    /// Sends allowed in flight at once now.
    pub fn limit(&self) -> usize {
        (self.limit as usize).clamp(1, self.max)
    }

    /// The hard maximum.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A new hard maximum (its settings changed); the limit comes down to it at once.
    pub fn set_max(&mut self, max: usize) {
        self.max = max.max(1);
        self.limit = self.limit.min(self.max as f64);
        self.round.start_limit = self.round.start_limit.min(self.limit);
    }

    /// A send started, making `in_flight` at once.
    pub fn started(&mut self, in_flight: usize) {
        self.round.busiest = self.round.busiest.max(in_flight);
    }

    /// A send ended with `signal`. At the end of each round (about one round trip at the
    /// latency floor) the limit is cut or grown by what the round saw.
    pub fn ended(&mut self, signal: Signal, now: Instant) {
        match signal {
            Signal::Answered(latency) => {
                self.round.answered += 1;
                self.round.latency_total += latency;
                self.floor.note(latency, now);
                self.slow_start_step(latency);
            }
            Signal::Overloaded => self.round.overloaded += 1,
        }
        let length = self.floor.get().unwrap_or(MIN_ROUND).max(MIN_ROUND);
        if now.duration_since(self.round.started) < length {
            return;
        }
        let round = std::mem::replace(&mut self.round, Round::new(now, self.limit));
        self.adjust(&round, now);
        self.round.start_limit = self.limit;
    }

    /// Slow start grows by one per answer, as TCP's window per acknowledgement: what an answer
    /// frees and one more go out at once, not at the round's end. Answers come back in bursts
    /// (a burst sent at once answers at once), so growing only when a round ends lagged a round
    /// trip behind and left a burst queued for a second (BENCHMARKS.md).
    fn slow_start_step(&mut self, latency: Duration) {
        if !self.slow_start || self.round.overloaded > 0 {
            return;
        }
        let Some(floor) = self.floor.get().filter(|_| self.grows_per_answer()) else {
            return;
        };
        if latency > floor * LATENCY_FACTOR + HOLD_SLACK {
            return;
        }
        if self.round.busiest.max(self.last_busiest) * 2 < self.limit() {
            return;
        }
        let cap = self
            .last_bound
            .max(self.round.start_limit * 2.0)
            .min(self.max as f64);
        if self.limit + 1.0 <= cap {
            self.limit += 1.0;
        }
    }

    /// Per answer only while a round is one round trip: below [`MIN_ROUND`] a round spans many,
    /// and growth within it would climb each round only to be clamped at its end (the limit of
    /// a fast receiver bound by the sender's CPU would saw well above the start).
    fn grows_per_answer(&self) -> bool {
        self.floor.get().is_some_and(|floor| floor >= MIN_ROUND)
    }

    fn adjust(&mut self, round: &Round, now: Instant) {
        self.last_busiest = round.busiest;
        // What the round was sent under: growth within it is not what the signal is about.
        let base = round.start_limit.min(self.limit);
        if round.overloaded > 0 {
            self.slow_start = false;
            let mut cut = base * OVERLOAD_CUT;
            // Refused at least as often as answered: no more at once than it answered, so a
            // receiver refusing everything is down to one within a round, however wide it began.
            if round.overloaded >= round.answered {
                cut = cut.min(f64::from(round.answered));
            }
            self.limit = cut.max(1.0);
            return;
        }
        if round.answered == 0 {
            return;
        }
        let mean = round.latency_total / round.answered;
        if let Some(floor) = self.floor.get() {
            if mean > floor * LATENCY_FACTOR + LATENCY_SLACK {
                self.slow_start = false;
                self.limit = (base * LATENCY_CUT).max(1.0);
                return;
            }
            if mean > floor * LATENCY_FACTOR + HOLD_SLACK {
                // Hold: what slow start grew within the round goes too.
                self.limit = base;
                return;
            }
        }
        // Growing a limit that is not used would only let a later burst through unchecked.
        if round.busiest * 2 < base as usize {
            self.limit = base;
            return;
        }
        let bound = self.useful_bound(round, now);
        self.last_bound = bound;
        if self.slow_start && self.grows_per_answer() {
            // Grown per answer already; keep only what the round's rate can use.
            self.limit = self.limit.min(bound.max(round.start_limit));
            return;
        }
        if self.limit >= bound {
            return;
        }
        let grown = if self.slow_start {
            // A fast receiver's round spans many round trips: grown at its end, by its answers.
            self.limit + f64::from(round.answered).min(self.limit)
        } else {
            self.limit + (self.limit * STEADY_GROWTH).max(1.0)
        };
        self.limit = grown.min(bound).min(self.max as f64);
    }

    /// The most sends in flight the round's rate can use at the latency floor, with
    /// [`HEADROOM`]; never below [`INITIAL_LIMIT`], so a new or slow receiver still ramps.
    fn useful_bound(&self, round: &Round, now: Instant) -> f64 {
        let took = now.duration_since(round.started).as_secs_f64();
        let floor = self.floor.get().unwrap_or(MIN_ROUND).as_secs_f64();
        let needed = if took > 0.0 {
            f64::from(round.answered) / took * floor * HEADROOM
        } else {
            f64::INFINITY
        };
        needed.max(INITIAL_LIMIT as f64)
    }
}

/// At most `per_second` sends started in any one second: the start times of the last
/// `per_second` sends, and a new one waits until the oldest of them is a second old.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_second: usize,
    starts: VecDeque<Instant>,
}

const SECOND: Duration = Duration::from_secs(1);

impl RateLimit {
    pub fn new(per_second: u32) -> RateLimit {
        let per_second = usize::try_from(per_second).unwrap_or(usize::MAX).max(1);
        RateLimit {
            per_second,
            starts: VecDeque::with_capacity(per_second.min(1024)),
        }
    }

    pub fn per_second(&self) -> usize {
        self.per_second
    }

    /// `None` when a send may start now, or when it may.
    pub fn next_start(&self, now: Instant) -> Option<Instant> {
        if self.starts.len() < self.per_second {
            return None;
        }
        let oldest = *self.starts.front()?;
        let free_at = oldest + SECOND;
        (free_at > now).then_some(free_at)
    }

    /// Takes a start at `now` if one is free.
    pub fn try_start(&mut self, now: Instant) -> bool {
        if self.next_start(now).is_some() {
            return false;
        }
        while self.starts.len() >= self.per_second {
            self.starts.pop_front();
        }
        self.starts.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// One round trip of `latency` with the limit in use: as many answers as the limit, spread
    /// over the round as they come back from sends started one after the other.
    fn round(
        l: &mut AdaptiveLimit,
        start: Instant,
        latency: Duration,
        signal: impl Fn(usize) -> Signal,
    ) -> Instant {
        let n = l.limit();
        l.started(n);
        let n32 = u32::try_from(n).expect("small");
        for i in 1..=n32 {
            l.ended(signal(i as usize), start + latency * i / n32);
        }
        start + latency
    }

    fn healthy_rounds(
        l: &mut AdaptiveLimit,
        start: Instant,
        rounds: u32,
        latency: Duration,
    ) -> Instant {
        let mut now = start;
        for _ in 0..rounds {
            now = round(l, now, latency, |_| Signal::Answered(latency));
        }
        now
    }

    /// `n` sends started at once and answered together at `back`, each after `latency`.
    fn burst(l: &mut AdaptiveLimit, n: usize, back: Instant, latency: Duration) {
        l.started(n);
        for _ in 0..n {
            l.ended(Signal::Answered(latency), back);
        }
    }

    #[test]
    fn slow_start_doubles_each_round_trip_to_reach_rate_times_latency_within_two_seconds() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        assert_eq!(l.limit(), INITIAL_LIMIT);
        // 6,000/s at 200 ms needs 1,200 in flight (Little's law).
        let mut now = t0;
        let mut rounds = 0;
        while l.limit() < 1200 {
            now = healthy_rounds(&mut l, now, 1, 200 * MS);
            rounds += 1;
            assert!(rounds < 20, "no growth: {}", l.limit());
        }
        assert!(
            now.duration_since(t0) <= Duration::from_secs(2),
            "took {rounds} rounds"
        );
        assert!(l.limit() <= 4096);
    }

    #[test]
    fn a_burst_answered_at_once_doubles_the_limit_at_once() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        // The start goes out at once and comes back at once, 200 ms later: what it freed and as
        // much again may go out now, not a round trip later when the next answer ends a round.
        let back = t0 + 200 * MS;
        burst(&mut l, INITIAL_LIMIT, back, 200 * MS);
        // (The first answer ends the first round, which weighs its own growth against the one
        // answer the round saw: one less.)
        assert_eq!(l.limit(), INITIAL_LIMIT * 2 - 1);
        let second = l.limit();
        burst(&mut l, second, back + 200 * MS, 200 * MS);
        assert!(l.limit() >= INITIAL_LIMIT * 4 - 2, "{}", l.limit());
    }

    /// Rounds of `latency` in which the receiver answers `per_second` whatever the limit, with
    /// the limit in use: more at once would buy nothing.
    fn rounds_at_rate(
        l: &mut AdaptiveLimit,
        start: Instant,
        rounds: u32,
        latency: Duration,
        per_second: u32,
    ) -> Instant {
        let mut now = start;
        let length = latency.max(MIN_ROUND);
        let answers = (u64::from(per_second) * length.as_millis() as u64 / 1000).max(1);
        let answers = u32::try_from(answers).expect("small");
        for _ in 0..rounds {
            l.started(l.limit());
            for i in 1..=answers {
                l.ended(Signal::Answered(latency), now + length * i / answers);
            }
            now += length;
        }
        now
    }

    #[test]
    fn a_fast_receiver_at_a_steady_rate_keeps_the_initial_limit() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        // 5,000 a second at 1 ms needs 5 in flight: no reason to go above the start.
        rounds_at_rate(&mut l, t0, 200, MS, 5_000);
        assert_eq!(l.limit(), INITIAL_LIMIT);
    }

    #[test]
    fn a_fast_receiver_answering_many_a_round_stays_at_the_start_within_rounds_too() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        // 50,000 a second at 1 ms (a sender bound by its own CPU): 500 answers a 10 ms round,
        // 50 needed in flight. A round spans ten round trips, so nothing grows per answer
        // within it, only at its end and only below the rate's bound.
        let mut now = rounds_at_rate(&mut l, t0, 1, MS, 50_000);
        assert_eq!(l.limit(), INITIAL_LIMIT);
        let mut highest = 0;
        for _ in 0..100 {
            l.started(l.limit());
            for i in 1..=500u32 {
                l.ended(Signal::Answered(MS), now + 10 * MS * i / 500);
                highest = highest.max(l.limit());
            }
            now += 10 * MS;
        }
        assert_eq!(highest, INITIAL_LIMIT);
    }

    #[test]
    fn a_round_that_holds_keeps_nothing_slow_start_grew_in_it() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        let mut now = healthy_rounds(&mut l, t0, 2, 100 * MS);
        let held = l.limit();
        // Answers alternate 100 and 330 ms: the fast half may grow the limit one by one, but
        // the round's mean (215 ms) is above 2 × 100 + 5, so the round holds, growth and all.
        for _ in 0..20 {
            now = round(&mut l, now, 100 * MS, |i| {
                Signal::Answered(if i % 2 == 0 { 100 * MS } else { 330 * MS })
            });
        }
        assert_eq!(l.limit(), held);
    }

    #[test]
    fn no_growth_after_a_refusal_in_the_same_round() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        l.started(INITIAL_LIMIT);
        l.ended(Signal::Overloaded, t0 + MS);
        for i in 1..=100 {
            // Within the round (its length is the 200 ms floor from the first answer on).
            l.ended(Signal::Answered(200 * MS), t0 + MS + i * MS);
        }
        assert_eq!(l.limit(), INITIAL_LIMIT);
    }

    #[test]
    fn a_burst_then_a_trickle_returns_to_the_start() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        let mut now = t0 + 200 * MS;
        burst(&mut l, INITIAL_LIMIT, now, 200 * MS);
        assert!(l.limit() > INITIAL_LIMIT);
        // Then three at a time: the burst's growth is not kept for a limit nobody uses.
        for _ in 0..20 {
            now += 200 * MS;
            burst(&mut l, 3, now, 200 * MS);
        }
        assert_eq!(l.limit(), INITIAL_LIMIT);
    }

    #[test]
    fn growth_stops_at_twice_rate_times_the_latency_floor() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        // 1,000 a second at 200 ms needs 200 in flight; with room to probe, at most 400.
        rounds_at_rate(&mut l, t0, 30, 200 * MS, 1_000);
        assert!(l.limit() >= 200, "{}", l.limit());
        assert!(l.limit() <= 400, "{}", l.limit());
    }

    #[test]
    fn never_above_the_hard_maximum() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(100, t0);
        healthy_rounds(&mut l, t0, 50, 5 * MS);
        assert_eq!(l.limit(), 100);
        l.set_max(10);
        assert_eq!(l.limit(), 10);
        let mut small = AdaptiveLimit::new(3, t0);
        assert_eq!(small.limit(), 3);
        healthy_rounds(&mut small, t0, 10, 5 * MS);
        assert_eq!(small.limit(), 3);
    }

    #[test]
    fn an_unused_limit_does_not_grow() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        let mut now = t0;
        for _ in 0..20 {
            now += 100 * MS;
            burst(&mut l, 3, now, 100 * MS);
        }
        assert_eq!(l.limit(), INITIAL_LIMIT);
    }

    #[test]
    fn overload_halves_once_per_round_and_steady_growth_follows() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        let mut now = healthy_rounds(&mut l, t0, 3, 200 * MS);
        let before = l.limit();
        assert_eq!(before, INITIAL_LIMIT * 8, "doubled three times");
        // A round in which a few of many answers were 503s: one cut, not one per 503.
        now = round(&mut l, now, 200 * MS, |i| {
            if i % 10 == 0 {
                Signal::Overloaded
            } else {
                Signal::Answered(200 * MS)
            }
        });
        let cut = before / 2;
        assert_eq!(l.limit(), cut);
        // After a cut the limit grows by a twentieth a round, not by doubling.
        healthy_rounds(&mut l, now, 1, 200 * MS);
        assert_eq!(l.limit(), cut + cut / 20);
    }

    #[test]
    fn a_receiver_refusing_half_its_requests_is_cut_to_a_few() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        let mut now = healthy_rounds(&mut l, t0, 4, 200 * MS);
        assert!(l.limit() >= 1000);
        for _ in 0..30 {
            now = round(&mut l, now, 200 * MS, |i| {
                if i % 2 == 1 {
                    Signal::Overloaded
                } else {
                    Signal::Answered(200 * MS)
                }
            });
        }
        assert!(l.limit() <= 2, "limit {}", l.limit());
    }

    #[test]
    fn a_round_refused_more_than_answered_cuts_to_what_was_answered() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        assert_eq!(l.limit(), INITIAL_LIMIT);
        // Everything refused: down to one at once, not to half of a wide start.
        let now = round(&mut l, t0, 20 * MS, |_| Signal::Overloaded);
        assert_eq!(l.limit(), 1);
        // Grown again, then a round with three refusals in four: what it answered.
        let mut l = AdaptiveLimit::new(4096, now);
        let now = healthy_rounds(&mut l, now, 1, 20 * MS);
        let wide = l.limit();
        round(&mut l, now, 20 * MS, |i| {
            if i % 4 == 0 {
                Signal::Answered(20 * MS)
            } else {
                Signal::Overloaded
            }
        });
        assert!(l.limit() <= wide / 4 + 1, "{} from {wide}", l.limit());
        assert!(l.limit() >= wide / 8, "{} from {wide}", l.limit());
    }

    #[test]
    fn latency_well_above_its_floor_cuts_by_a_tenth() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4096, t0);
        let mut now = healthy_rounds(&mut l, t0, 2, 100 * MS);
        let held = INITIAL_LIMIT * 4;
        assert_eq!(l.limit(), held);
        // Above twice the floor but within the slack: held.
        now = healthy_rounds(&mut l, now, 1, 240 * MS);
        assert_eq!(l.limit(), held);
        // Within twice the floor: still growing.
        now = healthy_rounds(&mut l, now, 1, 150 * MS);
        let grown = l.limit();
        assert!(grown > held, "{grown}");
        // 300 ms against a 100 ms floor, more than 2 × 100 + 50: cut, by a tenth a round, not
        // halved (two rounds here are six at the 100 ms floor, and the first cut is from the
        // limit its round began at: 0.9^6 of that is over a third of `grown`; six halvings,
        // a sixty-fourth).
        healthy_rounds(&mut l, now, 2, 300 * MS);
        assert!(l.limit() < grown, "{} after {grown}", l.limit());
        assert!(l.limit() >= grown / 3, "{} after {grown}", l.limit());
    }

    #[test]
    fn signals_of_attempts() {
        let took = 7 * MS;
        assert_eq!(
            Signal::of(Some(200), None, took),
            Some(Signal::Answered(took))
        );
        assert_eq!(
            Signal::of(Some(404), None, took),
            Some(Signal::Answered(took))
        );
        for status in [429, 502, 503, 504] {
            assert_eq!(
                Signal::of(Some(status), None, took),
                Some(Signal::Overloaded)
            );
        }
        assert_eq!(
            Signal::of(None, Some("timed out"), took),
            Some(Signal::Overloaded)
        );
        assert_eq!(
            Signal::of(None, Some("connection failed: refused"), took),
            Some(Signal::Overloaded)
        );
        assert_eq!(
            Signal::of(None, Some("blocked: private address"), took),
            None
        );
    }

    #[test]
    fn a_rate_limit_allows_n_starts_in_any_second() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(3);
        for i in 0..3 {
            assert!(r.try_start(t0 + i * 100 * MS));
        }
        let now = t0 + 300 * MS;
        assert!(!r.try_start(now));
        assert_eq!(r.next_start(now), Some(t0 + Duration::from_secs(1)));
        assert!(r.try_start(t0 + Duration::from_secs(1)));
        assert!(!r.try_start(t0 + 1050 * MS));
        assert!(r.try_start(t0 + 1100 * MS));
    }
}
