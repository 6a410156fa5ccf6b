//! The retention sweep: deletes old attempts of settled deliveries in small batches, in the
//! background, so the database stays the size of `--retention` worth of traffic; and the
//! charts' counts once no chart can show them.

use std::time::Duration;

use tokio::sync::watch;

use crate::domain::stats::STATS_KEPT_MICROS;
use crate::domain::time::now;
use crate::domain::Clock;
use crate::store::Store;

/// Attempts deleted per write: each batch is one short transaction, so dispatch is never held
/// up behind a long delete.
const BATCH: u32 = 500;

/// How often the sweep runs: every minute, or more often for a retention shorter than that.
pub fn interval(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_millis(250), Duration::from_secs(60))
}

/// `clock` is the charts' (their counts go by it, as the charts read them).
pub async fn sweep_periodically(
    store: Store,
    retention: Duration,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = interval(retention);
    let Ok(keep) = chrono::Duration::from_std(retention) else {
        return;
    };
    while !*shutdown.borrow() {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let charted = clock.now() - chrono::Duration::microseconds(STATS_KEPT_MICROS);
        if let Err(e) = store.delete_old_stats(charted).await {
            store.log_failure(&e, "deleting old chart counts failed; will try again");
        }
        let Some(cutoff) = now().checked_sub_signed(keep) else {
            continue;
        };
        loop {
            match store.delete_old_attempts(cutoff, BATCH).await {
                Ok(n) => {
                    metrics::counter!("lc_webhooks_attempts_expired_total").increment(n);
                    if n < u64::from(BATCH) {
                        break;
                    }
                    // Let other writers in between batches.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    store.log_failure(&e, "deleting old attempts failed; will try again");
                    break;
                }
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_runs_every_minute_or_sooner_for_a_short_retention() {
        assert_eq!(
            interval(Duration::from_secs(30 * 86_400)),
            Duration::from_secs(60)
        );
        assert_eq!(interval(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(interval(Duration::ZERO), Duration::from_millis(250));
    }
}
