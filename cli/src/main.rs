//! `sluice`: the local server, the Bedrock simulator and admin commands.
//!
//! - `serve`: the gateway in one process on SQLite (`--data-dir`), Bedrock through the standard AWS chain.
//! - `login`, `users`, `teams`: sign in to a running Sluice; people and teams (local store or `--url`).
//! - `keys`: create, list and revoke virtual keys (SQLite by default, DynamoDB with `--table`).
//! - `spend`: period totals per org, team and person; `budget set|clear`: budgets.
//! - `usage replay|recount`: puts records from the usage ledger's fallback back into the store; counts stored
//!   records the stream missed.
//! - `export`: the finance CSV of the usage ledger for given days (the layout the export function writes to S3).
//! - `bedrock-sim`: a local server speaking Bedrock Runtime's wire protocol, for tests and demos.

mod export;
mod feed;
mod keys;
mod people;
mod policies;
mod portal;
mod portal_publish;
mod remote;
mod serve;
mod sim;
mod spend;
mod usage;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    about = "Claude Code on your own AWS account, through Amazon Bedrock"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where keys and (later) usage live: a local SQLite folder, or the deployed DynamoDB table.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Folder for the local SQLite database.
    #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,
    /// Use this DynamoDB table (a deployed Sluice) instead of the local folder; AWS settings come from the usual
    /// environment and profile chain.
    #[arg(long, env = "SLUICE_TABLE", conflicts_with = "data_dir")]
    pub table: Option<String>,
    /// Go through the admin API of a running Sluice (its admin address; sign in first with `sluice login`).
    #[arg(long, env = "SLUICE_URL", conflicts_with_all = ["data_dir", "table"])]
    pub url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway locally (SQLite), for Claude Code at ANTHROPIC_BASE_URL=http://<listen>.
    Serve {
        #[arg(long, env = "SLUICE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, env = "SLUICE_DATA_DIR", default_value = ".data")]
        data_dir: PathBuf,
    },
    /// Sign in to a running Sluice (its admin address) for commands given `--url`.
    Login {
        #[arg(long, env = "SLUICE_URL")]
        url: String,
        #[arg(long, short = 'u', default_value = "admin")]
        username: String,
        /// The password (else read from SLUICE_PASSWORD, else from standard input).
        #[arg(long, short = 'p', env = "SLUICE_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Manage people.
    Users {
        #[command(subcommand)]
        command: people::UsersCommand,
    },
    /// Manage teams.
    Teams {
        #[command(subcommand)]
        command: people::TeamsCommand,
    },
    /// Manage virtual keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Policies: which models and tools each group may use (get, set from a YAML/JSON file, test a caller).
    Policies {
        #[command(subcommand)]
        command: policies::PoliciesCommand,
    },
    /// The managed settings Claude Code signed in with `/login` gets (the base document; policies add to it).
    ManagedSettings {
        #[command(subcommand)]
        command: policies::ManagedCommand,
    },
    /// Run the Bedrock simulator (Bedrock Runtime wire protocol on a local port).
    BedrockSim(sim::SimArgs),
    /// Spend in a budget period, per org, team and person.
    Spend(spend::SpendArgs),
    /// Budgets: set or clear a person's, a team's or the org default.
    Budget {
        #[command(subcommand)]
        command: spend::BudgetCommand,
    },
    /// The usage ledger.
    Usage {
        #[command(subcommand)]
        command: usage::UsageCommand,
    },
    /// The usage ledger of finished UTC days as CSV (the finance export's files), to a folder or stdout.
    Export(export::ExportArgs),
    /// The web portal this binary embeds.
    Portal {
        #[command(subcommand)]
        command: PortalCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PortalCommand {
    /// Upload the portal to the stack's bucket and invalidate CloudFront's copy of its entry page.
    Publish(portal_publish::PublishArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let default = match cli.command {
            Command::Keys { .. }
            | Command::Login { .. }
            | Command::Users { .. }
            | Command::Teams { .. }
            | Command::Policies { .. }
            | Command::ManagedSettings { .. }
            | Command::Usage { .. }
            | Command::Spend(_)
            | Command::Export(_)
            | Command::Portal { .. }
            | Command::Budget { .. } => "warn",
            _ => "info",
        };
        default.into()
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(sluice_aws::logging::OneLine(std::io::stderr))
        .init();
    let result = match cli.command {
        Command::Serve { listen, data_dir } => serve::run(&listen, &data_dir).await,
        Command::Keys { command } => keys::run(command).await,
        Command::Login {
            url,
            username,
            password,
        } => {
            let password = match password {
                Some(p) => Ok(p),
                None => remote::read_password(),
            };
            match password {
                Ok(password) => remote::login(&url, &username, &password).await,
                Err(e) => Err(e),
            }
        }
        Command::Users { command } => people::run_users(command).await,
        Command::Teams { command } => people::run_teams(command).await,
        Command::Policies { command } => policies::run(command).await,
        Command::ManagedSettings { command } => policies::run_managed(command).await,
        Command::BedrockSim(args) => sim::run(args).await,
        Command::Usage { command } => usage::run(command).await,
        Command::Spend(args) => spend::run_spend(args).await,
        Command::Budget { command } => spend::run_budget(command).await,
        Command::Export(args) => export::run(args).await,
        Command::Portal {
            command: PortalCommand::Publish(args),
        } => portal_publish::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain, so "cannot open .data/sluice.db: permission denied" reads as one sentence.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
