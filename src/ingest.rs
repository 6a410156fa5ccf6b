//! Posts arriving one per request, written in groups: a request waits for the transaction that
//! writes and evaluates its posts, and the requests that arrive while one transaction runs share
//! the next. At low load a group is one request, written at once; under load groups grow, and
//! one commit (one flush of the write-ahead log) serves many posts.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;
use tracing::{Instrument, Span};

use crate::domain::{Lease, Leased, NewMedia, Posted};
use crate::error::{Error, Result};
use crate::store::{Ingested, Store};
use crate::telemetry;
use crate::traces;

/// Posts one group takes at most: beyond that a transaction only holds up the next group.
const GROUP_POSTS: usize = 4000;

/// Requests waiting for a writer; past that, a request waits to be queued.
const QUEUED_REQUESTS: usize = 4096;

/// The API's way in; cheap to clone.
#[derive(Clone)]
pub struct Ingester {
    requests: mpsc::Sender<Request>,
}

struct Request {
    posts: Vec<NewMedia>,
    reply: oneshot::Sender<Result<Vec<Posted>>>,
    /// The request's span (`Span::none()` when tracing is off): the ingest transaction's parent.
    span: Span,
}

impl Ingester {
    /// Starts `writers` tasks that write groups (SQLite has one writer, so one; PostgreSQL
    /// overlaps several). The deliveries each group's evaluation leases to this instance go to
    /// `handed`, the dispatcher's. The tasks end when every `Ingester` is dropped.
    pub fn start(
        store: Store,
        writers: usize,
        lease: Lease,
        handed: mpsc::UnboundedSender<Leased>,
    ) -> (Ingester, Vec<JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel(QUEUED_REQUESTS);
        let rx = Arc::new(Mutex::new(rx));
        let tasks = (0..writers.max(1))
            .map(|_| {
                tokio::spawn(write_groups(
                    store.clone(),
                    rx.clone(),
                    lease.clone(),
                    handed.clone(),
                ))
            })
            .collect();
        (Ingester { requests: tx }, tasks)
    }

    /// Writes `posts` and evaluates them; answers once they and what they earned are committed.
    /// A post whose `(platform, externalId)` is already stored is answered with the stored one.
    pub async fn write(&self, posts: Vec<NewMedia>) -> Result<Vec<Posted>> {
        let (reply, answer) = oneshot::channel();
        let span = if traces::on() {
            Span::current()
        } else {
            Span::none()
        };
        self.requests
            .send(Request { posts, reply, span })
            .await
            .map_err(|_| Error::ShuttingDown)?;
        answer.await.map_err(|_| Error::ShuttingDown)?
    }
}

async fn write_groups(
    store: Store,
    requests: Arc<Mutex<mpsc::Receiver<Request>>>,
    lease: Lease,
    handed: mpsc::UnboundedSender<Leased>,
) {
    loop {
        let group = {
            let mut requests = requests.lock().await;
            let Some(first) = requests.recv().await else {
                return;
            };
            let mut posts = first.posts.len();
            let mut group = vec![first];
            while posts < GROUP_POSTS {
                match requests.try_recv() {
                    Ok(next) => {
                        posts += next.posts.len();
                        group.push(next);
                    }
                    Err(_) => break,
                }
            }
            group
        };
        write_group(&store, group, &lease, &handed).await;
    }
}

/// One transaction for the group; if it fails, each request alone, so that each gets its own
/// answer (and one bad request cannot fail the others).
async fn write_group(
    store: &Store,
    group: Vec<Request>,
    lease: &Lease,
    handed: &mpsc::UnboundedSender<Leased>,
) {
    let span = ingest_span(&group);
    let spans: Vec<Span> = group.iter().map(|r| r.span.clone()).collect();
    let (posts, replies): (Vec<Vec<NewMedia>>, Vec<_>) =
        group.into_iter().map(|r| (r.posts, r.reply)).unzip();
    let started = Instant::now();
    match store.ingest(&posts, Some(lease)).instrument(span).await {
        Ok(ingested) => deliver(ingested, replies, started, handed),
        Err(e) if replies.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, requests = replies.len(), "a group failed; writing its requests one by one");
            for ((posts, reply), parent) in posts.into_iter().zip(replies).zip(spans) {
                let started = Instant::now();
                let span = crate::trace_span!(parent: &parent, "ingest", requests = 1);
                match store
                    .ingest(std::slice::from_ref(&posts), Some(lease))
                    .instrument(span)
                    .await
                {
                    Ok(ingested) => deliver(ingested, vec![reply], started, handed),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
        }
    }
}

/// The transaction's span: in the first request's trace, linked to the others' (one
/// transaction serves them all).
fn ingest_span(group: &[Request]) -> Span {
    if !traces::on() {
        return Span::none();
    }
    let Some(first) = group.first() else {
        return Span::none();
    };
    let span = tracing::info_span!(parent: &first.span, "ingest", requests = group.len());
    for other in &group[1..] {
        traces::link(&span, &other.span);
    }
    span
}

/// Hands the group's deliveries to the dispatcher and answers each request.
fn deliver(
    ingested: Ingested,
    replies: Vec<oneshot::Sender<Result<Vec<Posted>>>>,
    started: Instant,
    handed: &mpsc::UnboundedSender<Leased>,
) {
    let e = ingested.evaluated.evaluation;
    telemetry::batch("ingest", started, e.posts);
    metrics::counter!("lc_webhooks_posts_evaluated_total").increment(e.posts as u64);
    metrics::counter!("lc_webhooks_fulfillments_total").increment(e.fulfillments as u64);
    if !ingested.evaluated.leased.deliveries.is_empty() {
        // Without a dispatcher (shutting down) the leases run out and a claim sends them.
        let _ = handed.send(ingested.evaluated.leased);
    }
    for (result, reply) in ingested.results.into_iter().zip(replies) {
        let _ = reply.send(result.map_err(Error::from));
    }
}
