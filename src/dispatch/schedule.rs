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
    /// Parses `5s,5m,30m,2h`; an empty string means a single attempt.
    pub fn parse(s: &str) -> Result<Self, String> {
        let delays = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(parse_duration)
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
        assert_eq!(
            RetrySchedule::parse("")
                .expect("empty is one attempt")
                .max_attempts(),
            1
        );
    }
}
