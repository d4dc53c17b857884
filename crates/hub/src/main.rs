//! `homelabcmd`: the hub binary. Parses the command line, loads configuration and hands over
//! to the library; errors end here, as `anyhow` reports.

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use homelab_hub::clock::SystemClock;
use homelab_hub::config::{Config, ConfigFlags};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "homelabcmd",
    version,
    about = "Homelab Command hub: monitoring, alerting and dashboard for your homelab"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    flags: ConfigFlags,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Check the configuration and print it (secrets hidden).
    CheckConfig,
    /// Print the version.
    Version,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")))
        .init();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Version = command {
        println!("homelabcmd {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let config = Config::load(&cli.flags).context("configuration")?;
    match command {
        Command::CheckConfig => {
            println!("listen:          {}", config.listen_address());
            println!("database:        {}", homelab_store::redact_url(&config.database_url));
            println!("api key:         {}", if config.uses_default_api_key() { "DEFAULT (change it)" } else { "set" });
            println!("local agent:     {}", if config.local_agent.enabled { "enabled" } else { "disabled" });
            println!(
                "retention:       raw {} d, 5-minute {} d, hourly {} d",
                config.retention.raw_days, config.retention.five_minute_days, config.retention.hourly_days
            );
            Ok(())
        }
        Command::Migrate => {
            let store = homelab_hub::open_store(&config).await?;
            println!("{} database is at the latest schema", store.backend_name());
            store.close().await;
            Ok(())
        }
        Command::Serve | Command::Version => serve(config).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    if config.uses_default_api_key() {
        tracing::warn!(
            "the API key is the public default 'dev-key-change-me': anyone on your network can use this hub. \
             Set HOMELAB_CMD_API_KEY to a secret of your own."
        );
    }
    tracing::info!(database = %homelab_store::redact_url(&config.database_url), "opening the database");
    let store = homelab_hub::open_store(&config).await?;
    let listener = homelab_hub::bind(&config).await?;
    let address = listener.local_addr().context("listener address")?;
    tracing::info!("Homelab Command is running: http://{}  (API docs: /api/docs)", display_address(address));
    homelab_hub::serve(config, store, Arc::new(SystemClock), listener, shutdown_signal()).await?;
    Ok(())
}

fn display_address(address: std::net::SocketAddr) -> String {
    if address.ip().is_unspecified() { format!("localhost:{}", address.port()) } else { address.to_string() }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests and writes");
}
