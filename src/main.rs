use anyhow::Context;
use clap::Parser;
use lc_webhooks::config::{Cli, Command, Settings};
use lc_webhooks::store::Store;
use tracing_subscriber::EnvFilter;

// glibc's malloc took about a fifth of the service's CPU in the benchmark (perf); with jemalloc
// the service used a third less CPU per delivery on PostgreSQL.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let cli = Cli::parse();
    let settings = Settings::from(cli.settings);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let store = Store::connect(&settings.database_url).await?;
            store.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Import { file } => {
            let store = Store::connect(&settings.database_url).await?;
            store.migrate().await?;
            let n = lc_webhooks::import::import_file(&store, &file).await?;
            println!("imported {n} posts");
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let running = lc_webhooks::service::start(settings)
        .await
        .context("starting lc-webhooks")?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
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
