use std::time::Duration;

use crate::config::{format_duration, parse_duration};

/// The delays between attempts. The first attempt is immediate, so `delays.len() + 1`
/// attempts at most. A delay is a plain function of the attempt number: the next attempt's
/// time is stored, not slept on, so a restart resumes the schedule where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        let h = 3600;
        let secs = [5, 5 * 60, 30 * 60, 2 * h, 5 * h, 10 * h, 10 * h];
        RetrySchedule {
            delays: secs.into_iter().map(Duration::from_secs).collect(),
        }
    }
}

impl RetrySchedule {
    /// Parses `5s,5m,30m,2h`; `none` means a single attempt. Nothing at all is refused: it
    /// more likely is a variable left empty than a wish for no retries.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(RetrySchedule { delays: Vec::new() });
        }
        if s.trim().is_empty() {
            return Err(
                "the retry schedule is empty: give delays such as 5s,5m,30m, or `none` for a \
                 single attempt"
                    .into(),
            );
        }
        let delays = s
            .split(',')
            .map(str::trim)
            .map(|p| {
                if p.is_empty() {
                    Err(format!("`{s}` has an empty delay between commas"))
                } else {
                    parse_duration(p)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RetrySchedule { delays })
    }

    /// How long after the first attempt the last one starts when every attempt fails: then
    /// the delivery is `failed` (`Retry-After` aside).
    pub fn until_last_attempt(&self) -> Duration {
        self.delays.iter().sum()
    }

    /// The schedule in one phrase for the start-up line: `3s,10s,30s (4 attempts, the last 43s
    /// after the first)`.
    pub fn describe(&self) -> String {
        if self.delays.is_empty() {
            return "none (a single attempt)".into();
        }
        let delays: Vec<String> = self.delays.iter().map(|d| format_duration(*d)).collect();
        format!(
            "{} ({} attempts, the last {} after the first)",
            delays.join(","),
            self.max_attempts(),
            span(self.until_last_attempt())
        )
    }

    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len() + 1).unwrap_or(u32::MAX)
    }

    /// How long to wait after failed attempt `number` (1-based); `None` once the schedule is used up.
    /// A receiver's `Retry-After` lengthens the wait, up to the schedule's largest step.
    pub fn delay_after(&self, number: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let planned = *self
            .delays
            .get(usize::try_from(number).ok()?.checked_sub(1)?)?;
        let cap = self.delays.iter().max().copied().unwrap_or_default();
        Some(match retry_after {
            Some(asked) => planned.max(asked.min(cap)),
            None => planned,
        })
    }
}

/// A span for people: `43s`, `27h35m5s`, `1.5s`.
fn span(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() != 0 || secs == 0 {
        return format!("{}s", d.as_secs_f64());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    [(h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_allows_eight_attempts() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 8);
        assert_eq!(s.delay_after(1, None), Some(Duration::from_secs(5)));
        assert_eq!(s.delay_after(7, None), Some(Duration::from_secs(36_000)));
        assert_eq!(s.delay_after(8, None), None);
    }

    #[test]
    fn the_schedule_says_when_the_last_attempt_comes() {
        let short = RetrySchedule::parse("3s,10s,30s").expect("valid");
        assert_eq!(short.until_last_attempt(), Duration::from_secs(43));
        assert_eq!(
            short.describe(),
            "3s,10s,30s (4 attempts, the last 43s after the first)"
        );
        assert_eq!(
            RetrySchedule::default().describe(),
            "5s,5m,30m,2h,5h,10h,10h (8 attempts, the last 27h35m5s after the first)"
        );
        assert_eq!(
            RetrySchedule::parse("none").expect("valid").describe(),
            "none (a single attempt)"
        );
        assert_eq!(
            RetrySchedule::parse("100ms,200ms")
                .expect("valid")
                .describe(),
            "100ms,200ms (3 attempts, the last 0.3s after the first)"
        );
    }

    #[test]
    fn retry_after_lengthens_the_wait_up_to_the_largest_step() {
        let s = RetrySchedule::parse("1s,10s").expect("valid");
        assert_eq!(
            s.delay_after(1, Some(Duration::from_secs(4))),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            s.delay_after(1, Some(Duration::from_secs(400))),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            s.delay_after(2, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn a_bad_schedule_is_refused() {
        assert!(RetrySchedule::parse("5s,soon").is_err());
        assert!(RetrySchedule::parse("5s,,5m").is_err());
        let empty = RetrySchedule::parse("").expect_err("empty is refused");
        assert!(empty.contains("none"), "{empty}");
        assert_eq!(
            RetrySchedule::parse("none")
                .expect("none is one attempt")
                .max_attempts(),
            1
        );
    }
}
