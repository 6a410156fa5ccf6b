//! What every write names: its purpose, which labels its time at SQLite's one writer in
//! `/metrics` and picks PostgreSQL's settings for it; and the gate this process's writers queue
//! at for that one writer.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::telemetry;

/// What a write is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Ingest,
    Evaluate,
    Claim,
    Record,
    Release,
    Config,
    Retry,
    TestSend,
    Checkpoint,
    Retention,
    MonthRun,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Ingest => "ingest",
            Purpose::Evaluate => "evaluate",
            Purpose::Claim => "claim",
            Purpose::Record => "record",
            Purpose::Release => "release",
            Purpose::Config => "config",
            Purpose::Retry => "retry",
            Purpose::TestSend => "test_send",
            Purpose::Checkpoint => "checkpoint",
            Purpose::Retention => "retention",
            Purpose::MonthRun => "month_run",
        }
    }
}

/// One writer at a time. SQLite takes one writer and makes the others poll its lock, sleeping
/// up to 100 ms between tries; queueing this process's writers here wakes the next one at once.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteGate(Arc<Mutex<()>>);

/// A turn at the gate, held until dropped; how long it waited and was held goes to `/metrics`.
pub(crate) struct WriteTurn {
    _guard: OwnedMutexGuard<()>,
    purpose: Purpose,
    since: Instant,
}

impl WriteGate {
    pub(crate) async fn turn(&self, purpose: Purpose) -> WriteTurn {
        let asked = Instant::now();
        let guard = self.0.clone().lock_owned().await;
        telemetry::write_gate_wait(purpose.label(), asked);
        WriteTurn {
            _guard: guard,
            purpose,
            since: Instant::now(),
        }
    }
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        telemetry::write_gate_hold(self.purpose.label(), self.since);
    }
}
