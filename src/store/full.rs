//! A store out of space: writes fail (each database says so its way: `backend::storage_full`).
//! The API answers them `503 storage_full`; this keeps when that was last seen, for `/healthz`,
//! and lets one ERROR line through every few seconds instead of one per request.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::domain::time::{now, to_micros};
use crate::error::Error;

/// How long after the last write refused for space the store counts as unable to write.
const FULL_FOR: Duration = Duration::from_secs(10);
/// At most one ERROR line this often.
const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub(super) struct FullState {
    /// When a write was last refused for space (µs; 0: never).
    seen_at: AtomicI64,
    logged_at: AtomicI64,
    /// Refusals not logged since the last line.
    unlogged: AtomicI64,
}

impl FullState {
    /// Notes a write refused for space; logs it, unless a line went out a moment ago.
    pub(super) fn note(&self, e: &Error) {
        let at = to_micros(now());
        let state = self;
        state.seen_at.store(at, Ordering::Relaxed);
        let logged = state.logged_at.load(Ordering::Relaxed);
        let due = at - logged >= LOG_EVERY.as_micros() as i64;
        if due
            && state
                .logged_at
                .compare_exchange(logged, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let suppressed = state.unlogged.swap(0, Ordering::Relaxed);
            tracing::error!(
                error = %e,
                suppressed,
                "the store is full: writes are refused until space is freed"
            );
        } else {
            state.unlogged.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A write went through: whatever filled the store has been freed.
    pub(super) fn note_written(&self) {
        self.seen_at.store(0, Ordering::Relaxed);
    }

    /// Whether a write was refused for space within the last few seconds.
    pub(super) fn seems_full(&self) -> bool {
        let seen = self.seen_at.load(Ordering::Relaxed);
        seen != 0 && to_micros(now()) - seen < FULL_FOR.as_micros() as i64
    }
}
