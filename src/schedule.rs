//! The monthly schedule: runs each active monthly rule's months as they come due (00:00 on the
//! first business day after a month, in the rule's zone), oldest first, catching up every
//! month missed while the service was down. Where each rule stands is in the database
//! (`schedule_last_run`), not in memory: a restarted instance, or another one, picks up where
//! the schedule left off. Several instances may tick at once: a month is granted once per
//! creator whatever runs it (the store's unique index), and the place moves by compare-and-set.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::domain::{Clock, RunStarter};
use crate::rules::monthly::months_due;
use crate::store::{Scheduled, Store};

/// Ticks every `tick` (the first at once, so a month missed during downtime is run as soon as
/// the service is back) until `shutdown`. "Now" is `clock`'s: tests move a fixed clock.
pub async fn run_periodically(
    store: Store,
    clock: Clock,
    tick: Duration,
    deliveries_ready: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match run_due(&store, &clock).await {
            Ok(granted) if granted > 0 => deliveries_ready.notify_one(),
            Ok(_) => {}
            Err(e) => store.log_failure(&e, "the monthly schedule failed; will try again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One tick: every month due at `clock.now()` of every active monthly rule, run oldest first,
/// each followed by the rule's place moving on to it. A rule that fails is logged and tried
/// again next tick; the others go on. Returns the fulfillments granted.
pub async fn run_due(store: &Store, clock: &Clock) -> crate::error::Result<u64> {
    let mut granted = 0;
    for rule in store.scheduled_rules().await? {
        match run_rule(store, clock, &rule).await {
            Ok(n) => granted += n,
            // Deleted or deactivated since it was read: nothing to run.
            Err(crate::error::Error::NotFound(_)) => {}
            Err(e) => store.log_failure(&e, "a monthly rule's run failed; will try again"),
        }
    }
    Ok(granted)
}

async fn run_rule(store: &Store, clock: &Clock, rule: &Scheduled) -> crate::error::Result<u64> {
    let mut granted = 0;
    let mut place = rule.last_run;
    for month in months_due(rule.zone, rule.created_at, place, clock.now()) {
        let n = store
            .run_month(&rule.rule_id, month, RunStarter::Schedule, clock.now())
            .await?;
        granted += n;
        if n > 0 {
            tracing::info!(rule = %rule.rule_id, %month, fulfillments = n, "monthly rule run");
        }
        // Another instance moved it first: it runs (or ran) what comes next.
        if !store.advance_schedule(&rule.rule_id, place, month).await? {
            break;
        }
        place = Some(month);
    }
    Ok(granted)
}
