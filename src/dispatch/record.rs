//! Writes attempt results in batches: one transaction for many attempts.
//!
//! A result keeps its attempt's slot of `--max-in-flight` until it is written. A webhook whose
//! answer is not yet recorded is sent again after a crash, just like one still in flight, so
//! counting it is what keeps resends within `--max-in-flight`: results queued behind a busy
//! writer once made a crash resend more than that (277 at 256, BENCHMARKS.md). Its
//! integration's slot is freed at the answer: holding that too bounded resends by the lane's
//! 64 but halved one fast receiver's rate on PostgreSQL, since a lane then waits for commits.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use crate::domain::SendResult;
use crate::store::{storage_full, Store};
use crate::telemetry;

const BATCH: usize = 512;
/// How long a batch waits for more results before it is written.
const GATHER: Duration = Duration::from_millis(10);

/// What a result holds until it is written (its attempt's slot of `--max-in-flight`).
pub type Hold = Box<dyn Any + Send>;

/// The sending side; cheap to clone into every send task.
#[derive(Clone)]
pub struct Recorder {
    writers: Arc<[mpsc::UnboundedSender<(SendResult, Hold)>]>,
    next: Arc<AtomicUsize>,
    /// Sends under way whose results are not yet handed over.
    sending: Arc<AtomicUsize>,
    /// Told each time a batch is written, and so its slots freed.
    written: Arc<Notify>,
}

/// A send under way, from its start until its result is handed to the recorder (dropped).
pub struct Sending(Arc<AtomicUsize>);

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Recorder {
    /// Starts `writers` writer tasks (each writes its own batches, so on PostgreSQL their round
    /// trips overlap). They end when every `Recorder` is dropped and their queues are drained.
    pub fn start(store: Store, writers: usize) -> (Recorder, Vec<tokio::task::JoinHandle<()>>) {
        let sending = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(Notify::new());
        let (senders, tasks): (Vec<_>, Vec<_>) = (0..writers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                let task = write_batches(store.clone(), rx, sending.clone(), written.clone());
                (tx, tokio::spawn(task))
            })
            .unzip();
        let recorder = Recorder {
            writers: senders.into(),
            next: Arc::new(AtomicUsize::new(0)),
            sending,
            written,
        };
        (recorder, tasks)
    }

    /// Returns once a batch has been written since the last call: its send slots are free.
    pub async fn slots_freed(&self) {
        self.written.notified().await;
    }

    /// A send starts; its result is expected until the returned guard is dropped.
    pub fn sending(&self) -> Sending {
        self.sending.fetch_add(1, Ordering::AcqRel);
        Sending(self.sending.clone())
    }

    /// Queues `result` to be written; `hold` is dropped once it is.
    pub fn record(&self, result: SendResult, hold: Hold) {
        let writer = self.next.fetch_add(1, Ordering::Relaxed) % self.writers.len();
        if self.writers[writer].send((result, hold)).is_err() {
            // Only after shutdown: the lease runs out and the delivery is sent again.
            tracing::warn!(
                "result recorder is gone; the delivery will be retried when its lease ends"
            );
        }
    }
}

async fn write_batches(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<(SendResult, Hold)>,
    sending: Arc<AtomicUsize>,
    written: Arc<Notify>,
) {
    let mut held = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut held, BATCH).await > 0 {
        // Every batch costs a commit, which rewrites the pages it touched: results arriving a
        // few at a time wait a moment for others to join them (BENCHMARKS.md, "single posts"),
        // but only while sends are under way: with none, no more will come, and the slots
        // the waiting results hold would only stay idle.
        let gathered_by = tokio::time::Instant::now() + GATHER;
        while held.len() < BATCH && sending.load(Ordering::Acquire) > 0 {
            let room = BATCH - held.len();
            let more = rx.recv_many(&mut held, room);
            match tokio::time::timeout_at(gathered_by, more).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let (batch, holds): (Vec<SendResult>, Vec<Hold>) = held.drain(..).unzip();
        let started = Instant::now();
        // Each write until it succeeds: a database outage must not lose results. Each once:
        // the counts, written again, would count the batch twice.
        retry(
            || store.record_health(&batch),
            &store,
            &batch,
            "recording health and chart counts",
        )
        .await;
        retry(
            || store.record(&batch),
            &store,
            &batch,
            "recording attempts",
        )
        .await;
        store.note_written();
        drop(holds);
        written.notify_one();
        telemetry::batch("record", started, batch.len());
        tracing::debug!(
            count = batch.len(),
            deliveries = %batch.iter().map(|r| r.delivery_id.to_string()).collect::<Vec<_>>().join(","),
            "recorded"
        );
    }
}

/// Runs `write` until it succeeds, waiting longer after each failure (up to 5 s).
async fn retry<F, Fut>(mut write: F, store: &Store, batch: &[SendResult], what: &str)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::error::Result<()>>,
{
    let mut wait = Duration::from_millis(50);
    while let Err(e) = write().await {
        if storage_full(&e).is_some() {
            store.note_full(&e);
        } else {
            tracing::error!(error = %e, attempts = batch.len(), "{what} failed; retrying");
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}
