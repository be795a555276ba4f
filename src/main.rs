//! Start-up only: settings, logging, the command line, serving.

use clap::{Parser, Subcommand};
use shiplog::model::Role;
use shiplog::server::app::Application;
use shiplog::server::config::Config;
use shiplog::server::{db, demo, service};
use std::io::Read;
use std::process::ExitCode;

mod ci;
mod serving;

#[derive(Parser)]
#[command(
    name = "shiplog",
    version,
    about = "Deploy log and release notes for teams that deploy often"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app and the API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage people.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Fill an empty database with realistic demo data.
    Demo {
        /// How many change entries to make (about 20 per deploy beyond the default).
        #[arg(long, default_value_t = 150)]
        entries: usize,
        /// How many releases to group them into.
        #[arg(long, default_value_t = 6)]
        releases: usize,
    },
    /// Render and sanitise every stored Markdown text again (after upgrading
    /// Shiplog's Markdown renderer or sanitiser).
    Rerender,
    /// Copy the SQLite database, while it serves, into a new file, and check the copy.
    Backup {
        /// The new file.
        file: std::path::PathBuf,
    },
    /// The client for CI: record builds and deploys, ask the gate (reads
    /// SHIPLOG_URL and SHIPLOG_TOKEN).
    Ci {
        #[command(subcommand)]
        command: ci::CiCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a person; the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        /// admin, pm, engineer or viewer.
        #[arg(long)]
        role: String,
        /// Display name (defaults to the part of the email before `@`).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// admin, pm, engineer or viewer.
        #[arg(long)]
        role: String,
    },
}

// Pages allocate many small strings from several threads at once; mimalloc
// serves that markedly faster than the system allocator (bench/public.sh).
// Built without transparent huge pages (`no_thp`): with them, each thread's
// first touch of an arena made 2 MiB resident, and a 100,000-recipient send
// peaked near 105 MB instead of about 85 (bench/announce.py). Built with
// `override` too: mimalloc then also serves C's malloc, so SQLite's own
// allocations on the sqlx threads stop going through glibc's (whose
// consolidation of freed chunks showed in profiles of uncached search
// pages). An interleaved A/B on a shared 2-core machine gave about 8% more
// requests/s over four uncached pages, per page from -4% to +15%: a small
// gain, within that machine's noise.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Tokio's multi-threaded runtime, as `#[tokio::main]` makes it, but its
// workers hand memory back as they go idle, and the command runs on them
// (not on the main thread, which is no worker and never goes idle).
fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(serving::on_worker_idle)
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shiplog: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = runtime.spawn(run_cli());
    match runtime.block_on(command) {
        Ok(code) => code,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            eprintln!("shiplog: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_cli() -> ExitCode {
    let cli = Cli::parse();
    // The CI client talks to a server: it needs none of the server's settings.
    if let Some(Command::Ci { command }) = cli.command {
        return ci::run(command).await;
    }
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            eprintln!("shiplog: the .env file could not be read: {e}");
            return ExitCode::from(2);
        }
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shiplog: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing();
    match run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shiplog: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,tower_sessions=warn,tower_sessions_core=warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let store = db::connect(config.database_url.expose()).await?;
            println!("Migrations applied ({}).", store.backend());
            Ok(())
        }
        Command::User {
            command: UserCommand::Add { email, role, name },
        } => {
            let role: Role = role
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--role: {e}"))?;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']);
            let name =
                name.unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string());
            let store = db::connect(config.database_url.expose()).await?;
            let user = service::users::add_user(&store, &email, &name, role, password).await?;
            println!(
                "Created {} ({}) as {}.",
                user.name,
                user.email,
                user.role.label()
            );
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { name, role },
        } => {
            let store = db::connect(config.database_url.expose()).await?;
            let created =
                service::tokens::create(&store, &service::Actor::system(), &name, &role).await?;
            eprintln!(
                "Created token “{}” ({}). It is shown only this once:",
                created.token.name,
                created.token.role.label()
            );
            println!("{}", created.secret);
            Ok(())
        }
        Command::Demo { entries, releases } => {
            let store = db::connect(config.database_url.expose()).await?;
            let summary = demo::fill(&store, demo::DemoSize { entries, releases }).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Rerender => {
            let store = db::connect(config.database_url.expose()).await?;
            let md = shiplog::server::markdown::Markdown::new(
                Some(&config.public_url),
                &config.image_hosts,
            );
            for r in service::rerender::rerender(&store, &md).await? {
                println!(
                    "{}: {} rendered, {} changed{}",
                    r.field,
                    r.seen,
                    r.changed,
                    if r.refused.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; refused now, kept as plain text: {}",
                            r.refused.join(", ")
                        )
                    }
                );
            }
            println!("Customer pages show the new HTML once the page cache expires (SHIPLOG_PAGE_CACHE_MS).");
            Ok(())
        }
        Command::Backup { file } => {
            let store = db::connect(config.database_url.expose()).await?;
            let made = service::backup::backup(&store, &file).await?;
            println!(
                "Backed up {} deploys into {} ({} bytes); integrity check: {}.",
                made.deploys,
                file.display(),
                made.bytes,
                made.integrity
            );
            Ok(())
        }
        Command::Ci { .. } => unreachable!("handled before the settings are read"),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    match serving::raise_open_files_limit() {
        Ok((before, after)) if after > before => {
            tracing::info!(from = before, to = after, "open-files limit raised")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "the open-files limit could not be raised"),
    }
    let listen = config.listen;
    let public_url = config.public_url.clone();
    let app = Application::build(config).await?;
    app.spawn_session_cleanup();
    app.state.engine.clone().spawn();
    app.state.webhooks.clone().spawn();
    let pages = app.state.pages.clone();
    service::releases::spawn_scheduler(
        app.state.db.clone(),
        std::time::Duration::from_secs(10),
        move || pages.invalidate(),
    );
    if let Some(addr) = app.state.config.metrics_listen {
        let metrics = serving::listen(addr)
            .map_err(|e| anyhow::anyhow!("SHIPLOG_METRICS_LISTEN: cannot listen on {addr}: {e}"))?;
        let router = axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(shiplog::server::scrape::open),
            )
            .with_state(app.state.db.clone());
        tracing::info!(%addr, "metrics are served");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics, router).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    let listener = serving::listen(listen)
        .map_err(|e| anyhow::anyhow!("SHIPLOG_LISTEN: cannot listen on {listen}: {e}"))?;
    tracing::info!(%listen, %public_url, database = app.state.db.backend(), "Shiplog is serving");
    println!("Shiplog is running at {public_url}");
    serving::return_free_memory();
    let limits = app.state.config.limits.clone();
    let proxies = app.state.config.trusted_proxies.clone();
    shiplog::server::connections::serve(listener, app.router, limits, proxies, shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
