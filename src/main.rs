use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use lc_webhooks::config::{Cli, Command, Settings, StoreArgs};
use lc_webhooks::domain::Secret;
use lc_webhooks::listen::{Expect, ListenConfig};
use lc_webhooks::store::{describe_connect_failure, Store};
use lc_webhooks::traces::{Exporter, TraceError, TraceExport};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

// glibc's malloc took about a fifth of the service's CPU in the benchmark (perf); with jemalloc
// the service used a third less CPU per delivery on PostgreSQL.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Crates whose debug output is one line per statement, frame or handshake: quiet unless
/// `RUST_LOG` names them.
const NOISY: &[&str] = &["sqlx", "hyper", "hyper_util", "h2", "rustls", "reqwest"];

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lc-webhooks: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Traces only for the service itself, and only with a collector named.
    let export = match &cli.command {
        None => cli.serve.trace_export(),
        Some(Command::Serve(args)) => args.trace_export(),
        Some(_) => None,
    };
    let exporter = {
        let _inside = runtime.enter();
        match init_logs(export.as_ref()) {
            Ok(exporter) => exporter,
            Err(e) => {
                eprintln!("lc-webhooks: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let result = runtime.block_on(run(cli));
    if let Some(exporter) = exporter {
        // The spans still buffered go out before the runtime their exports run on stops.
        exporter.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One sentence that names the flag and the fix; the causes are already in it.
            eprintln!("lc-webhooks: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, coloured only on a terminal; with `export`, spans go to the collector too.
fn init_logs(export: Option<&TraceExport>) -> Result<Option<Exporter>, TraceError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(asked) if !asked.trim().is_empty() => {
            let mut directives = asked.clone();
            for noisy in NOISY {
                if !asked.contains(noisy) {
                    directives.push_str(&format!(",{noisy}=warn"));
                }
            }
            EnvFilter::new(directives)
        }
        _ => EnvFilter::new("info,sqlx=warn"),
    };
    let Some(export) = export else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
        return Ok(None);
    };
    let (exporter, spans) = Exporter::start(export)?;
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter);
    tracing_subscriber::registry().with(logs).with(spans).init();
    // The origin only: a URL may carry credentials.
    tracing::info!(collector = %export.endpoint.origin().ascii_serialization(), "exporting traces");
    Ok(Some(exporter))
}

/// `/healthz` answered 200, or an error saying what it answered.
async fn healthcheck(url: &url::Url, timeout: std::time::Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "{url} answered {status}: {body}");
    println!("{body}");
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(Settings::from(cli.serve)).await,
        Some(Command::Serve(args)) => serve(Settings::from(args)).await,
        Some(Command::Migrate(store)) => {
            connect(&store).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Some(Command::Import(args)) => {
            let store = connect(&args.store).await?;
            let imported = lc_webhooks::import::import_file(&store, &args.file)
                .await
                .with_context(|| format!("import from {} wrote nothing", args.file.display()))
                .map_err(|e| anyhow::anyhow!("{e:#}"))?;
            if imported.already_stored == 0 {
                println!("imported {} posts", imported.posts);
            } else {
                println!(
                    "imported {} posts; {} already stored (same platform and externalId), not counted again",
                    imported.posts, imported.already_stored
                );
            }
            Ok(())
        }
        Some(Command::Listen(args)) => {
            let config = ListenConfig {
                addr: args.listen,
                expect: Expect {
                    api_key: args.api_key.map(Secret::new),
                    auth_header: args.auth_header,
                    auth_prefix: args.auth_prefix,
                    signing_secrets: args.signing_secret.into_iter().map(Secret::new).collect(),
                    tolerance: args.tolerance,
                },
                fail_rate: args.fail_rate,
                delay: args.delay,
                forward_to: args.forward_to,
                // Each once, in the event type list's order.
                event_types: lc_webhooks::domain::EventTypes::from_types(args.event_types)
                    .types()
                    .to_vec(),
            };
            lc_webhooks::listen::run(config, shutdown_signal())
                .await
                .map_err(|e| anyhow::anyhow!(e))
        }
        Some(Command::Healthcheck(args)) => healthcheck(&args.url, args.timeout).await,
        Some(Command::Openapi) => {
            let doc = lc_webhooks::api::document();
            println!("{}", doc.to_pretty_json()?);
            Ok(())
        }
    }
}

/// The store named by `--database-url`, migrated.
async fn connect(args: &StoreArgs) -> anyhow::Result<Store> {
    let url = &args.database_url;
    let store = Store::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!(describe_connect_failure(url, &e)))?;
    store
        .migrate()
        .await
        .map_err(|e| anyhow::anyhow!(describe_connect_failure(url, &e)))?;
    Ok(store)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    raise_open_file_limit(settings.max_in_flight);
    let running = lc_webhooks::service::start(settings)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Each send in flight holds a socket, so the default of 8192 outgrows the soft open-file limit
/// most systems start a process with (1024): raise it toward the hard limit, and say when even
/// that is short, rather than fail sends with "too many open files" under load.
fn raise_open_file_limit(max_in_flight: usize) {
    // Sockets for the sends, plus the database pool, the listener and the files a process keeps.
    let wanted = max_in_flight as u64 + 512;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => tracing::warn!(
            open_files = got,
            wanted,
            "the open-file limit is below what --max-in-flight needs; raise it (ulimit -n, or LimitNOFILE= under systemd) or lower --max-in-flight"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open-file limit"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
