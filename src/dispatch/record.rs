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

use tokio::sync::{mpsc, Mutex, Notify, Semaphore};

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
    results: mpsc::UnboundedSender<(SendResult, Hold)>,
    /// How many may wait and how many are sending, for the batches' gathering.
    load: Arc<Load>,
    /// Told each time a batch is written, and so its slots freed.
    written: Arc<Notify>,
}

/// What decides whether a batch waits for more results.
struct Load {
    /// The `--max-in-flight` slots: a send takes one, and its result gives it back once written.
    slots: Arc<Semaphore>,
    max_in_flight: usize,
    /// Sends under way whose results are not yet handed over.
    sending: AtomicUsize,
}

impl Load {
    /// A batch waits for more results while at least half the slots are free (no send waits
    /// for the ones its results hold), or while sends are under way (their results are coming,
    /// and they hold slots anyway). At low load that is always: batches of one or two results
    /// were most of PostgreSQL's statements at 4 clients (BENCHMARKS.md). With every slot held
    /// and nothing sending it is never: at `--max-in-flight 4` waiting cut the rate to a fifth.
    fn worth_waiting(&self) -> bool {
        self.slots.available_permits() * 2 >= self.max_in_flight
            || self.sending.load(Ordering::Acquire) > 0
    }
}

/// A send under way, from its start until its result is handed to the recorder (dropped).
pub struct Sending(Arc<Load>);

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.sending.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Recorder {
    /// Starts `writers` writer tasks sharing one queue: one gathers a batch while the others
    /// write theirs, so on PostgreSQL their round trips overlap. They end when every
    /// `Recorder` is dropped and the queue is drained. Its [`Recorder::slots`] are the
    /// service's `max_in_flight`.
    pub fn start(
        store: Store,
        writers: usize,
        max_in_flight: usize,
    ) -> (Recorder, Vec<tokio::task::JoinHandle<()>>) {
        let written = Arc::new(Notify::new());
        let load = Arc::new(Load {
            slots: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            sending: AtomicUsize::new(0),
        });
        let (results, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        let tasks = (0..writers.max(1))
            .map(|_| {
                let task = write_batches(store.clone(), rx.clone(), load.clone(), written.clone());
                tokio::spawn(task)
            })
            .collect();
        let recorder = Recorder {
            results,
            load,
            written,
        };
        (recorder, tasks)
    }

    /// The `--max-in-flight` slots, shared with the dispatcher.
    pub fn slots(&self) -> Arc<Semaphore> {
        self.load.slots.clone()
    }

    /// A send starts; its result is expected until the returned guard is dropped.
    pub fn sending(&self) -> Sending {
        self.load.sending.fetch_add(1, Ordering::AcqRel);
        Sending(self.load.clone())
    }

    /// Returns once a batch has been written since the last call: its send slots are free.
    pub async fn slots_freed(&self) {
        self.written.notified().await;
    }

    /// Queues `result` to be written; `hold` is dropped once it is.
    pub fn record(&self, result: SendResult, hold: Hold) {
        if self.results.send((result, hold)).is_err() {
            // Only after shutdown: the lease runs out and the delivery is sent again.
            tracing::warn!(
                "result recorder is gone; the delivery will be retried when its lease ends"
            );
        }
    }
}

async fn write_batches(
    store: Store,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<(SendResult, Hold)>>>,
    load: Arc<Load>,
    written: Arc<Notify>,
) {
    let mut held = Vec::with_capacity(BATCH);
    loop {
        if !gather(&rx, &load, &mut held).await {
            return;
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

/// Takes the next batch into `held`: the first result, and what joins it within [`GATHER`]
/// while [`Load::worth_waiting`]. Every batch costs a commit, which rewrites the pages it
/// touched (and on PostgreSQL six round trips). False once the queue is closed and drained.
async fn gather(
    rx: &Mutex<mpsc::UnboundedReceiver<(SendResult, Hold)>>,
    load: &Load,
    held: &mut Vec<(SendResult, Hold)>,
) -> bool {
    let mut rx = rx.lock().await;
    if rx.recv_many(held, BATCH).await == 0 {
        return false;
    }
    let gathered_by = tokio::time::Instant::now() + GATHER;
    while held.len() < BATCH && load.worth_waiting() {
        let room = BATCH - held.len();
        match tokio::time::timeout_at(gathered_by, rx.recv_many(held, room)).await {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    true
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
