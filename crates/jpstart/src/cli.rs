//! The command line, declared with clap's derive API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "jpstart",
    version,
    about = "A self-hostable Jetpack Start partner API server, its operator tools, and a partner client."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server.
    #[command(
        after_help = "Example:\n  jpstart serve --listen 127.0.0.1:8080 --database-url sqlite://jpstart.db"
    )]
    Serve(ServeArgs),
    /// Operator tools: partners, keys, tokens, sites, activations.
    Admin(AdminArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, env = "JPSTART_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// Base URL of the links the API hands out (authorization page).
    #[arg(long, env = "JPSTART_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// PEM certificate chain: serve HTTPS directly.
    #[arg(long, env = "JPSTART_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "JPSTART_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// How long a pending activation waits for the site owner (e.g. 14d, 2s).
    #[arg(long, env = "JPSTART_PENDING_TTL", default_value = "14d", value_parser = humantime::parse_duration)]
    pub pending_ttl: std::time::Duration,
    /// A replacement product catalogue (JSON, same format as the built-in one).
    #[arg(long, env = "JPSTART_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// A file holding the 64-hex-digit key that seals stored credentials
    /// (instead of JPSTART_SECRET_KEY; required for PostgreSQL unless that
    /// is set). SQLite default: `<dbfile>.key`, generated on first start.
    #[arg(long, env = "JPSTART_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, env = "JPSTART_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// Also serve `GET /bench/hello`, the HTTP-stack floor of
    /// `jpstart-bench` (no auth, no storage). Not for production.
    #[arg(long, hide = true)]
    pub bench_routes: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// sqlite://PATH (created on first start) or postgres://...
    #[arg(long, env = "JPSTART_DATABASE_URL", default_value = jpstart_server::config::DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Partners.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Partner keys (OAuth clients).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Sites.
    #[command(subcommand)]
    Site(SiteCommand),
    /// List activations as a JSON array.
    #[command(after_help = "Example:\n  jpstart admin activations --site example.com::demo")]
    Activations {
        /// Blog id, identifier (example.com::demo) or URL.
        #[arg(long)]
        site: Option<String>,
        /// Partner id.
        #[arg(long)]
        partner: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PartnerCommand {
    /// Create a partner and its first key; prints its credentials once.
    #[command(after_help = "Example:\n  jpstart admin partner create --name \"Example Hosting\"")]
    Create {
        #[arg(long)]
        name: String,
    },
    /// Allow the authorization page to redirect to URLs under a prefix.
    #[command(
        after_help = "Example:\n  jpstart admin partner allow-redirect --partner 1 https://panel.example-host.com/"
    )]
    AllowRedirect {
        #[arg(long)]
        partner: i64,
        prefix: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create another key for a partner; prints its credentials once.
    #[command(
        after_help = "Example:\n  jpstart admin key create --partner 1 --name staging --test --limit premium=100"
    )]
    Create {
        #[arg(long)]
        partner: i64,
        #[arg(long)]
        name: Option<String>,
        /// A test key (never billed).
        #[arg(long)]
        test: bool,
        /// Per-product limit of live activations, SLUG=N (repeatable).
        #[arg(long = "limit", value_name = "SLUG=N")]
        limits: Vec<String>,
    },
    /// Disable a key: its tokens stop working (partner_key_disabled).
    #[command(after_help = "Example:\n  jpstart admin key disable 3")]
    Disable { id: i64 },
    /// Enable a disabled key.
    #[command(after_help = "Example:\n  jpstart admin key enable 3")]
    Enable { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Revoke one token, or every token of a key.
    #[command(
        after_help = "Examples:\n  jpstart admin token revoke --token AbC123...\n  jpstart admin token revoke --key 3"
    )]
    Revoke {
        #[arg(long, conflicts_with = "key", required_unless_present = "key")]
        token: Option<String>,
        #[arg(long)]
        key: Option<i64>,
    },
    /// Mint a token for a key (any scope: for testing invalid_scope handling).
    #[command(after_help = "Example:\n  jpstart admin token create --key 3 --scope global")]
    Create {
        #[arg(long)]
        key: i64,
        #[arg(long)]
        scope: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Mark a site connected, as if its owner had approved: pending activations become active.
    #[command(after_help = "Example:\n  jpstart admin site connect example.com::demo")]
    Connect { site: String },
    /// Grant a product outside the partner API (partners cannot cancel it: not_jps_plan).
    #[command(
        after_help = "Example:\n  jpstart admin site grant https://example.com --product premium"
    )]
    Grant {
        site: String,
        #[arg(long)]
        product: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
