use std::time::Duration;

use crate::config::parse_duration;

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
