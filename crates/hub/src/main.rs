//! `homelabcmd`: the hub binary. Parses the command line, loads configuration and hands over
//! to the library; errors end here, as `anyhow` reports.

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use homelab_hub::clock::SystemClock;
use homelab_hub::config::{Config, ConfigFlags};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

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
    /// Manage agent registration tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a one-time registration token and print the agent install command.
    Create {
        /// `readonly` or `readwrite`.
        #[arg(long, default_value = "readonly", value_parser = ["readonly", "readwrite"])]
        mode: String,
        /// Display name the new server gets.
        #[arg(long)]
        name: Option<String>,
        /// systemd unit the agent should watch (repeatable).
        #[arg(long = "service")]
        services: Vec<String>,
        /// Minutes until the token expires (5–60).
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(i64).range(5..=60))]
        expiry_minutes: i64,
    },
    /// List unclaimed, unexpired tokens.
    List,
    /// Revoke an unclaimed token by id.
    Revoke { id: i64 },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // RUST_LOG as `level` and `target=level` directives (tracing's `Targets`; no regex engine in
    // the binary for span and field filters nobody used).
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO).with_target("tower_http", LevelFilter::WARN));
    tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_filter(filter)).init();
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
        Command::Token { action } => token(&config, action).await,
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
    match homelab_hub::listen::raise_open_file_limit() {
        Some(files) => tracing::info!(open_files = files, "open-file limit"),
        None => tracing::warn!("cannot read the open-file limit"),
    }
    tracing::info!(database = %homelab_store::redact_url(&config.database_url), "opening the database");
    let store = homelab_hub::open_store(&config).await?;
    let listener = homelab_hub::bind(&config).await?;
    let address = listener.local_addr().context("listener address")?;
    tracing::info!("Homelab Command is running: http://{}  (API docs: /api/docs)", display_address(address));
    homelab_hub::serve(config, store, Arc::new(SystemClock), listener, shutdown_signal()).await?;
    Ok(())
}

async fn token(config: &Config, action: TokenAction) -> anyhow::Result<()> {
    let store = homelab_hub::open_store(config).await?;
    let now = chrono::Utc::now();
    let result = match action {
        TokenAction::Create { mode, name, services, expiry_minutes } => {
            let services = (!services.is_empty()).then_some(services);
            let (token, new) = homelab_hub::tokens::new_registration_token(
                mode,
                name,
                services,
                now,
                chrono::Duration::minutes(expiry_minutes),
            );
            let stored = store.create_registration_token(&new).await?;
            let hub = config
                .external_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", display_address(config.listen_address())));
            println!("token:   {token}");
            println!("expires: {}", homelab_core::time::format(&stored.expires_at));
            println!("\nOn the new machine run:\n  {}", homelab_hub::tokens::install_command(&hub, &token));
            Ok(())
        }
        TokenAction::List => {
            let tokens = store.list_registration_tokens(now).await?;
            if tokens.is_empty() {
                println!("no pending tokens");
            }
            for t in tokens {
                println!(
                    "{:>5}  {}…  {:<9}  expires {}  {}",
                    t.id,
                    t.token_prefix,
                    t.mode,
                    homelab_core::time::format(&t.expires_at),
                    t.display_name.unwrap_or_default()
                );
            }
            Ok(())
        }
        TokenAction::Revoke { id } => {
            store.delete_registration_token(id).await.map(|()| println!("token {id} revoked"))
        }
    };
    store.close().await;
    Ok(result?)
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
