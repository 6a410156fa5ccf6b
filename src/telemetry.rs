//! The service's own figures for `/metrics`: how big and how long each store batch is, and what
//! is waiting. The names are the contract with dashboards; README lists them.

use std::time::Instant;

use crate::domain::time::{now, to_micros};

/// One batch of a pipeline stage (`evaluate`, `claim`, `record`): its rows and its time in the store.
pub fn batch(stage: &'static str, started: Instant, rows: usize) {
    metrics::histogram!("lc_webhooks_batch_seconds", "stage" => stage)
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!("lc_webhooks_batch_rows", "stage" => stage).record(rows as f64);
}

/// Time a writer waited for its turn at SQLite's one writer.
pub fn write_gate_wait(purpose: &'static str, asked: Instant) {
    metrics::histogram!("lc_webhooks_write_gate_wait_seconds", "purpose" => purpose)
        .record(asked.elapsed().as_secs_f64());
}

/// Time a turn at SQLite's one writer was held: summed per second, how busy the writer is.
pub fn write_gate_hold(purpose: &'static str, since: Instant) {
    metrics::histogram!("lc_webhooks_write_gate_hold_seconds", "purpose" => purpose)
        .record(since.elapsed().as_secs_f64());
}

/// What is waiting, as read from the store for `/metrics`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Posts written but not yet evaluated against the rules.
    pub posts: i64,
    /// Deliveries not yet settled: due, in flight, or waiting for a retry.
    pub deliveries: i64,
    /// The earliest `due_at` (µs) among them; in the past when something is overdue.
    pub earliest_due_micros: Option<i64>,
}

/// The backlog as gauges.
pub fn backlog(backlog: &Backlog) {
    metrics::gauge!("lc_webhooks_backlog_posts").set(backlog.posts as f64);
    metrics::gauge!("lc_webhooks_backlog_deliveries").set(backlog.deliveries as f64);
    let overdue = backlog
        .earliest_due_micros
        .map_or(0, |due| (to_micros(now()) - due).max(0));
    metrics::gauge!("lc_webhooks_oldest_due_seconds").set(overdue as f64 / 1e6);
}
