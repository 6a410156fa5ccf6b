//! Wires the store, the evaluator, the dispatcher and the API into one running service.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use thiserror::Error;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use crate::api::{self, AppState};
use crate::config::{bind_hint, Settings};
use crate::dispatch::{
    free_dead_owners_periodically, Dispatcher, DispatcherConfig, Lanes, Recorder, Sender,
};
use crate::domain::{DeliveryId, Lease};
use crate::evaluator::run_evaluator;
use crate::ingest::Ingester;
use crate::retention;
use crate::store::{
    describe_connect_failure, describe_database, InstanceLock, Store, StoreOptions,
};

/// How long sends in flight may take to finish after a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the service did not start, said once, with the flag to change.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("{0}")]
    Unsafe(String),
    /// The store could not be reached or migrated: what, where, and what to do.
    #[error("{0}")]
    Store(String),
    #[error("cannot listen on {addr} (--listen / LC_LISTEN): {source}{hint}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] rustls::Error),
}

/// A started service. Dropping it does not stop it; call [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    pub store: Store,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    recorder_tasks: Vec<JoinHandle<()>>,
    /// Held until the service has stopped: while it is, no other instance frees its leases.
    liveness: InstanceLock,
}

/// The process-wide Prometheus recorder (metrics macros write to one global recorder).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// Connects, migrates, binds the listener and starts every task.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    settings.check().map_err(StartError::Unsafe)?;
    let url = &settings.database_url;
    let unreachable = |e| StartError::Store(describe_connect_failure(url, &e));
    let options = StoreOptions {
        disable_after: settings.disable_after,
        sqlite_max_pages: settings.sqlite_max_pages,
    };
    let store = Store::connect_with(url, options)
        .await
        .map_err(unreachable)?;
    store.migrate().await.map_err(unreachable)?;
    // One name for this instance's leases: those its dispatcher claims, and those its
    // evaluations put on the deliveries they hand over to it. New for every run of the
    // process, so that a restarted instance sees its predecessor's leases as a dead owner's.
    let lease = Lease {
        owner: DeliveryId::generate().to_string(),
        length: settings.lease_time,
    };
    let liveness = store
        .hold_liveness(&lease.owner)
        .await
        .map_err(unreachable)?;
    let listen_failed = |source: std::io::Error| StartError::Listen {
        addr: settings.listen,
        hint: bind_hint(&source),
        source,
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(listen_failed)?;
    let addr = listener.local_addr().map_err(listen_failed)?;

    let sender = Sender::new(settings.http_timeout, settings.targets.clone())?
        .with_clock(settings.clock.clone());
    let new_posts = Arc::new(Notify::new());
    let deliveries_ready = Arc::new(Notify::new());
    let (stop, stopped) = watch::channel(false);
    let tuning = store.tuning();
    let writers = tuning.concurrent_writers;
    let (recorder, recorder_tasks) =
        Recorder::start(store.clone(), writers, settings.max_in_flight);
    let (handed, handed_over) = mpsc::unbounded_channel();
    let (ingester, ingest_tasks) = Ingester::start(
        store.clone(),
        tuning.ingest_writers,
        lease.clone(),
        handed.clone(),
    );

    // Shared by the dispatcher, which adapts each integration's limit, and the API, which shows it.
    let lanes = Lanes::new(settings.max_in_flight_per_integration);
    let dispatcher = Dispatcher::new(
        store.clone(),
        sender.clone(),
        recorder,
        DispatcherConfig {
            schedule: settings.retry_schedule.clone(),
            lease: settings.lease_time,
            send_timeout: settings.http_timeout,
            max_in_flight: settings.max_in_flight,
            poll_interval: settings.poll_interval,
        },
        deliveries_ready.clone(),
        lease.owner.clone(),
        lanes.clone(),
    );
    let state = AppState {
        store: store.clone(),
        ingester,
        sender,
        admin_token: settings.admin_token.clone(),
        deliveries_ready: deliveries_ready.clone(),
        metrics: metrics_handle(),
        clock: settings.clock.clone(),
        lanes,
    };
    let app = api::router(state);
    let mut http_stop = stopped.clone();
    let http = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = http_stop.wait_for(|s| *s).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    let mut tasks = vec![http];
    tasks.extend(ingest_tasks);
    tasks.push(tokio::spawn(maintain_periodically(
        store.clone(),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(retention::sweep_periodically(
        store.clone(),
        settings.retention,
        settings.clock.clone(),
        stopped.clone(),
    )));
    for _ in 0..writers {
        tasks.push(tokio::spawn(run_evaluator(
            store.clone(),
            new_posts.clone(),
            lease.clone(),
            handed.clone(),
            settings.poll_interval,
            stopped.clone(),
        )));
    }
    tasks.push(tokio::spawn(crate::schedule::run_periodically(
        store.clone(),
        settings.clock.clone(),
        settings.monthly_tick,
        deliveries_ready.clone(),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(free_dead_owners_periodically(
        store.clone(),
        lease.owner.clone(),
        settings.poll_interval,
        deliveries_ready.clone(),
        stopped.clone(),
    )));
    let notified = (store.clone(), new_posts.clone(), deliveries_ready.clone());
    let listening = stopped.clone();
    tasks.push(tokio::spawn(async move {
        let (store, posts, deliveries) = notified;
        store
            .forward_notifications(posts, deliveries, listening)
            .await;
    }));
    drop(handed);
    tasks.push(tokio::spawn(dispatcher.run(
        handed_over,
        stopped,
        SHUTDOWN_GRACE,
    )));
    let here = clickable(addr);
    tracing::info!(
        "lc-webhooks listening on {addr}: console {here}/, API reference {here}/docs; database: \
         {}; retry schedule {}",
        describe_database(&settings.database_url),
        settings.retry_schedule.describe()
    );
    Ok(Running {
        addr,
        store,
        stop,
        tasks,
        recorder_tasks,
        liveness,
    })
}

/// The address as a browser can open it: an unspecified address (`0.0.0.0`) is reached on
/// loopback from this machine.
fn clickable(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

async fn maintain_periodically(store: Store, mut shutdown: watch::Receiver<bool>) {
    let every = store.tuning().maintenance_interval;
    while !*shutdown.borrow() {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = store.maintain().await {
            tracing::warn!(error = %e, "store maintenance failed; will try again");
        }
    }
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops claiming, lets sends in flight finish (a few seconds at most), writes their results.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // The dispatcher held the last recorder handle: the writer drains its queue and ends.
        for task in self.recorder_tasks {
            let _ = task.await;
        }
        drop(self.liveness);
        self.store.close().await;
    }
}
