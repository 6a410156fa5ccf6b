//! Writes attempt results in batches: one transaction for many attempts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::domain::SendResult;
use crate::store::{storage_full, Store};
use crate::telemetry;

const BATCH: usize = 512;
/// How long a batch waits for more results before it is written.
const GATHER: Duration = Duration::from_millis(10);

/// The sending side; cheap to clone into every send task.
#[derive(Clone)]
pub struct Recorder {
    writers: Arc<[mpsc::UnboundedSender<SendResult>]>,
    next: Arc<AtomicUsize>,
}

impl Recorder {
    /// Starts `writers` writer tasks (each writes its own batches, so on PostgreSQL their round
    /// trips overlap). They end when every `Recorder` is dropped and their queues are drained.
    pub fn start(store: Store, writers: usize) -> (Recorder, Vec<tokio::task::JoinHandle<()>>) {
        let (senders, tasks): (Vec<_>, Vec<_>) = (0..writers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                (tx, tokio::spawn(write_batches(store.clone(), rx)))
            })
            .unzip();
        let recorder = Recorder {
            writers: senders.into(),
            next: Arc::new(AtomicUsize::new(0)),
        };
        (recorder, tasks)
    }

    pub fn record(&self, result: SendResult) {
        let writer = self.next.fetch_add(1, Ordering::Relaxed) % self.writers.len();
        if self.writers[writer].send(result).is_err() {
            // Only after shutdown: the lease runs out and the delivery is sent again.
            tracing::warn!(
                "result recorder is gone; the delivery will be retried when its lease ends"
            );
        }
    }
}

async fn write_batches(store: Store, mut rx: mpsc::UnboundedReceiver<SendResult>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // Every batch costs a commit, which rewrites the pages it touched: results arriving a
        // few at a time wait a moment for others to join them (BENCHMARKS.md, "single posts").
        let gathered_by = tokio::time::Instant::now() + GATHER;
        while batch.len() < BATCH {
            let room = BATCH - batch.len();
            let more = rx.recv_many(&mut batch, room);
            match tokio::time::timeout_at(gathered_by, more).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let mut wait = Duration::from_millis(50);
        let started = Instant::now();
        // A database outage must not lose results: keep the batch until it is written.
        while let Err(e) = store.record(&batch).await {
            if storage_full(&e).is_some() {
                store.note_full(&e);
            } else {
                tracing::error!(error = %e, attempts = batch.len(), "recording attempts failed; retrying");
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        store.note_written();
        telemetry::batch("record", started, batch.len());
        tracing::debug!(
            count = batch.len(),
            deliveries = %batch.iter().map(|r| r.delivery_id.to_string()).collect::<Vec<_>>().join(","),
            "recorded"
        );
        batch.clear();
    }
}
