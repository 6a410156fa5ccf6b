//! Writes attempt results in batches: one transaction for many attempts.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::{SendResult, Store};

const BATCH: usize = 512;

/// The sending side; cheap to clone into every send task.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<SendResult>,
}

impl Recorder {
    /// Starts the writer task. It ends when every `Recorder` is dropped and the queue is drained.
    pub fn start(store: Store) -> (Recorder, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_batches(store, rx));
        (Recorder { tx }, task)
    }

    pub fn record(&self, result: SendResult) {
        if self.tx.send(result).is_err() {
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
        let mut wait = Duration::from_millis(50);
        // A database outage must not lose results: keep the batch until it is written.
        while let Err(e) = store.record(&batch).await {
            tracing::error!(error = %e, attempts = batch.len(), "recording attempts failed; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        batch.clear();
    }
}
