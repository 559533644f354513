//! The command line, declared with clap's derive API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::partner;

#[derive(Debug, Parser)]
#[command(
    name = "jpstart",
    version,
    about = "A self-hostable Jetpack Start partner API server, its operator tools, and a partner client.",
    after_help = "Examples:\n  jpstart serve --listen 127.0.0.1:8080 --database-url sqlite://jpstart.db\n  jpstart admin partner create --name \"Example Hosting\"\n  jpstart provision --partner-id 1234 --partner-secret S3CR3T --siteurl https://example.com --local-user admin --plan premium\n\nEach command's --help has its own examples."
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
    Serve(Box<ServeArgs>),
    /// Operator tools: partners, keys, tokens, sites, activations.
    #[command(
        after_help = "Examples:\n  jpstart admin partner create --name \"Example Hosting\"\n  jpstart admin key create --partner 1 --limit premium=100\n  jpstart admin activations --site example.com::demo\n\nEvery command prints JSON on stdout; a failure exits non-zero with one line on stderr."
    )]
    Admin(AdminArgs),
    /// Partner: get an access token for your key (POST /oauth2/token).
    #[command(
        after_help = "Example:\n  jpstart token --partner-id 1234 --partner-secret S3CR3T\n  export JPSTART_TOKEN=$(jpstart token --partner-id 1234 --partner-secret S3CR3T | jq -r .access_token)"
    )]
    Token(partner::args::TokenArgs),
    /// Partner: provision a product to a site (replaces partner-provision.sh).
    #[command(
        after_help = "Example:\n  jpstart provision --partner-id 1234 --partner-secret S3CR3T --siteurl https://example.com/demo --local-user admin --plan premium"
    )]
    Provision(Box<partner::args::ProvisionArgs>),
    /// Partner: cancel a site's plan or products (replaces partner-cancel.sh).
    #[command(
        after_help = "Examples:\n  jpstart cancel https://example.com/demo --plan premium\n  jpstart cancel example.com::demo --cancel-all\n  jpstart cancel 12345"
    )]
    Cancel(partner::args::CancelArgs),
    /// Partner: a site's connection and products.
    #[command(
        after_help = "Examples:\n  jpstart status https://example.com/demo\n  jpstart status 12345 --v13"
    )]
    Status(partner::args::StatusArgs),
    /// Partner: the products that may be provisioned to a site now.
    #[command(after_help = "Example:\n  jpstart upgrade-paths example.com::demo")]
    UpgradePaths(partner::args::SiteArgs),
    /// Partner: the API's error codes (no credentials needed).
    #[command(after_help = "Example:\n  jpstart errors --verbose --api-url http://127.0.0.1:8080")]
    Errors(partner::args::ErrorsArgs),
    /// Partner: e-mail a WordPress app login link to an address.
    #[command(
        after_help = "Example:\n  jpstart magic-link jane@example.com --token $JPSTART_TOKEN"
    )]
    MagicLink(partner::users::MagicLinkArgs),
    /// Partner: WordPress.com accounts (for partners allowed to create them).
    #[command(
        subcommand,
        after_help = "Example:\n  jpstart user create --email jane@example.com --product-type jetpack"
    )]
    User(partner::users::UserCommand),
    /// Partner: your request log (SPEC §9), newest first, secrets redacted.
    #[command(
        after_help = "Examples:\n  jpstart requests --partner 1 --token $JPSTART_TOKEN\n  jpstart requests --partner 1 --status 400 --path /rest/v1.3/jpphp/provision"
    )]
    Requests(partner::request_log::RequestsArgs),
    /// Partner: webhook endpoints, their delivery log and replay (SPEC §10).
    #[command(
        subcommand,
        after_help = "Example:\n  jpstart webhooks create --partner 1 --url https://hooks.example.com/jp --event activation.active"
    )]
    Webhooks(partner::webhooks::WebhooksCommand),
    /// Partner: reports of a key: activations, summary, invoices.
    #[command(
        subcommand,
        after_help = "Example:\n  jpstart report invoices --partner 1 --key 2 --upcoming"
    )]
    Report(partner::report::ReportCommand),
    /// Partner: provision or cancel many sites from a CSV file.
    #[command(
        subcommand,
        after_help = "Example:\n  jpstart bulk provision --csv sites.csv --concurrency 8"
    )]
    Bulk(partner::args::BulkCommand),
    /// Partner: a sandbox's test clock, magic sites and mail outbox (a
    /// jpstart started with --sandbox).
    #[command(
        subcommand,
        after_help = "Examples:\n  jpstart sandbox sites\n  jpstart sandbox clock advance 15d --token $JPSTART_TOKEN\n  jpstart sandbox mail --to jane@example.com"
    )]
    Sandbox(partner::sandbox::SandboxCommand),
    /// Shell completion script on stdout.
    #[command(
        after_help = "Example:\n  jpstart completions bash > /etc/bash_completion.d/jpstart"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
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
    /// Run on the test clock kept in the database, moved by `jpstart admin
    /// clock` and shared by every server on the database (tests; the
    /// sandbox implies it). Costs one query per request: off by default.
    #[arg(long, env = "JPSTART_TEST_CLOCK", value_parser = clap::builder::BoolishValueParser::new())]
    pub test_clock: bool,
    /// Run as a sandbox (SPEC §9): magic sites, the test clock (implied),
    /// `/sandbox`, the request log. Off by default: without it the magic
    /// names are ordinary sites.
    #[arg(long, env = "JPSTART_SANDBOX", value_parser = clap::builder::BoolishValueParser::new())]
    pub sandbox: bool,
    /// Record every request under /rest, /wpcom and /oauth2, secrets
    /// redacted, readable at GET /wpcom/v2/jetpack-partners/{id}/requests
    /// and with `jpstart admin requests` (SPEC §9; on in the sandbox).
    #[arg(long, env = "JPSTART_REQUEST_LOG", value_parser = clap::builder::BoolishValueParser::new())]
    pub request_log: bool,
    /// How long the request log keeps an entry (e.g. 7d, 12h).
    #[arg(long, env = "JPSTART_REQUEST_LOG_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub request_log_retention: std::time::Duration,
    /// Entries waiting to be written at most; past it new ones are dropped
    /// (and counted in /metrics). For tests.
    #[arg(long, default_value_t = jpstart_server::request_log::DEFAULT_QUEUE, value_parser = clap::value_parser!(usize), hide = true)]
    pub request_log_queue: usize,
    /// Log format on stderr.
    #[arg(long, env = "JPSTART_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// Token requests allowed per client id: N/UNIT[:BURST] (UNIT s, min, h), 0 = off.
    #[arg(long, env = "JPSTART_TOKEN_RATE_LIMIT", default_value = "10/s:20")]
    pub token_rate_limit: jpstart_server::throttle::RateSpec,
    /// Token requests allowed per client IP address, same syntax.
    #[arg(
        long,
        env = "JPSTART_TOKEN_RATE_LIMIT_PER_ADDRESS",
        default_value = "30/s:60"
    )]
    pub token_rate_limit_per_address: jpstart_server::throttle::RateSpec,
    /// Live tokens per key; one more revokes the least recently used (0 = no cap).
    #[arg(long, env = "JPSTART_TOKENS_PER_KEY", default_value_t = jpstart_server::domain::bounds::DEFAULT_TOKENS_PER_KEY)]
    pub tokens_per_key: u32,
    /// How stale a token's "last used" time may get (one write per token per interval).
    #[arg(long, env = "JPSTART_TOKEN_TOUCH_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub token_touch_interval: std::time::Duration,
    /// Write requests (provision, cancel, credentials, partner-keys/new) per
    /// key and server process: N/UNIT[:BURST], 0 = off.
    #[arg(long, env = "JPSTART_WRITE_RATE_LIMIT", default_value = "20/s:100")]
    pub write_rate_limit: jpstart_server::throttle::RateSpec,
    /// Longest stored id or user name (local_user, partner_tracking_id), in characters.
    #[arg(long, env = "JPSTART_MAX_FIELD_LENGTH", default_value_t = jpstart_server::domain::bounds::DEFAULT_MAX_FIELD_LENGTH)]
    pub max_field_length: usize,
    /// Longest stored URL (siteurl), in characters.
    #[arg(long, env = "JPSTART_MAX_URL_LENGTH", default_value_t = jpstart_server::domain::bounds::DEFAULT_MAX_URL_LENGTH)]
    pub max_url_length: usize,
    /// Longest a client may take to send a request's headers.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, hide = true)]
    pub header_timeout: std::time::Duration,
    /// Longest a request may take from its headers to its response.
    #[arg(long, env = "JPSTART_REQUEST_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub request_timeout: std::time::Duration,
    /// Open connections at most; lowered at start to what the open-file
    /// limit (`ulimit -n`) leaves room for. At the cap the oldest idle
    /// connection is closed to make room.
    #[arg(long, env = "JPSTART_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Open connections per client IP address (IPv6: per /64), 0 = no cap.
    /// Behind a reverse proxy every connection comes from the proxy: set 0.
    #[arg(
        long,
        env = "JPSTART_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 128
    )]
    pub max_connections_per_address: u32,
    /// The most sub-keys (partner-keys/new) a partner may have.
    #[arg(long, env = "JPSTART_MAX_SUB_KEYS", default_value_t = 100)]
    pub max_sub_keys: u32,
    /// Also serve `GET /bench/hello`, the HTTP-stack floor of
    /// `jpstart-bench` (no auth, no storage). Not for production.
    #[arg(long, hide = true)]
    pub bench_routes: bool,
    /// Deliver mail (magic links) through this SMTP relay,
    /// smtp://HOST[:PORT] (plain SMTP, no TLS or login); without it mail
    /// stays in the outbox (`jpstart admin mail`).
    #[arg(long, env = "JPSTART_SMTP_URL", value_name = "URL")]
    pub smtp_url: Option<String>,
    /// How long a partner portal session lasts after sign-in.
    #[arg(long, env = "JPSTART_PORTAL_SESSION_TTL", default_value = "12h", value_parser = humantime::parse_duration)]
    pub portal_session_ttl: std::time::Duration,
    /// Portal sign-in attempts per e-mail address: N/UNIT[:BURST], 0 = off.
    #[arg(
        long,
        env = "JPSTART_PORTAL_LOGIN_RATE_LIMIT",
        default_value = "5/min:10"
    )]
    pub portal_login_rate_limit: jpstart_server::throttle::RateSpec,
    /// Portal sign-in attempts per client IP address (IPv6: per /64), same syntax.
    #[arg(
        long,
        env = "JPSTART_PORTAL_LOGIN_RATE_LIMIT_PER_ADDRESS",
        default_value = "30/min:60"
    )]
    pub portal_login_rate_limit_per_address: jpstart_server::throttle::RateSpec,
    /// The From of the mail jpstart sends.
    #[arg(long, env = "JPSTART_MAIL_FROM", default_value = jpstart_server::mail::DEFAULT_FROM, value_name = "MAILBOX")]
    pub mail_from: String,
    /// Wait before a failed webhook delivery's first retry; it doubles up
    /// to 1 h, for 3 days (SPEC §10).
    #[arg(long, env = "JPSTART_WEBHOOK_RETRY_BASE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_retry_base: std::time::Duration,
    /// Let webhook and Monitor URLs reach loopback and private addresses
    /// (the SSRF guard refuses them otherwise; `--sandbox` implies this).
    #[arg(long, env = "JPSTART_WEBHOOK_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub webhook_allow_private: bool,
    /// How long a receiver has to answer 2xx (SPEC §10: 10 s; tests).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, hide = true)]
    pub webhook_timeout: std::time::Duration,
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
    /// The product catalogue the server runs with (as `serve --catalog`), so
    /// `--limit` and `--product` accept its slugs.
    #[arg(long, env = "JPSTART_CATALOG", global = true)]
    pub catalog: Option<PathBuf>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Partners.
    #[command(
        subcommand,
        after_help = "Examples:\n  jpstart admin partner create --name \"Example Hosting\"\n  jpstart admin partner allow-redirect --partner 1 https://panel.example-host.com/"
    )]
    Partner(PartnerCommand),
    /// Partner keys (OAuth clients).
    #[command(
        subcommand,
        after_help = "Examples:\n  jpstart admin key create --partner 1 --name staging --test --limit premium=100\n  jpstart admin key disable 3\n  jpstart admin key enable 3"
    )]
    Key(KeyCommand),
    /// Access tokens.
    #[command(
        subcommand,
        after_help = "Examples:\n  jpstart admin token create --key 3\n  jpstart admin token revoke --token AbC123...\n  jpstart admin token revoke --key 3"
    )]
    Token(TokenCommand),
    /// Sites.
    #[command(
        subcommand,
        after_help = "Examples:\n  jpstart admin site connect example.com::demo\n  jpstart admin site grant https://example.com --product premium"
    )]
    Site(SiteCommand),
    /// WordPress.com accounts.
    #[command(
        subcommand,
        after_help = "Examples:\n  jpstart admin wpcom-user create --email jane@example.com\n  jpstart admin wpcom-user list"
    )]
    WpcomUser(crate::admin_users::WpcomUserCommand),
    /// Partner users: the people of a partner who sign in to the portal.
    #[command(
        subcommand,
        after_help = "Examples:\n  jpstart admin user create --partner 1 --email jane@example.com\n  jpstart admin user list --partner 1\n  jpstart admin user disable 4"
    )]
    User(crate::admin_partner_users::UserCommand),
    /// The mail outbox (magic links), oldest first, as a JSON array.
    #[command(after_help = "Example:\n  jpstart admin mail --to jane@example.com")]
    Mail {
        /// Only mail to this address (any case).
        #[arg(long, value_name = "EMAIL")]
        to: Option<String>,
    },
    /// Copy an embedded (SQLite) database into an empty PostgreSQL database.
    #[command(
        after_help = "Example:\n  jpstart admin migrate --from sqlite://jpstart.db --to postgres://jpstart@db.internal/jpstart\n\nThe target database must exist and be empty; ids are kept; row counts are verified.\nStop the servers on the source first: rows written after the copy started are not copied."
    )]
    Migrate {
        /// The source: sqlite://PATH.
        #[arg(long)]
        from: String,
        /// The target: postgres://USER@HOST/DATABASE (existing, empty).
        #[arg(long)]
        to: String,
    },
    /// Fill a fresh database with a year of demo activity (partners, keys,
    /// sub-keys, thousands of activations); prints the keys' secrets once.
    #[command(
        after_help = "Example:\n  jpstart admin --database-url sqlite://demo.db seed-demo --activations 3000"
    )]
    SeedDemo {
        /// About this many activations in all.
        #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
        activations: u32,
        /// Seed of the random history (the same seed, the same history).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
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
    /// The request log (SPEC §9), newest first, as a JSON array; entries
    /// that named no key have partner_id and key_id null.
    #[command(
        after_help = "Examples:\n  jpstart admin requests --partner 1 --limit 20\n  jpstart admin requests --key 3"
    )]
    Requests {
        /// Only this partner's requests.
        #[arg(long)]
        partner: Option<i64>,
        /// Only this key's requests.
        #[arg(long)]
        key: Option<i64>,
        /// Entries at most [default: 100].
        #[arg(long)]
        limit: Option<i64>,
    },
    /// The test clock servers started with --test-clock run on (SPEC §9).
    #[command(
        subcommand,
        after_help = "Examples:\n  jpstart admin clock show\n  jpstart admin clock advance 15d\n  jpstart admin clock set 2027-01-01T00:00:00Z\n\nPrints {\"now\":ISO8601,\"offset_s\":N}. The clock moves forward only, for every server\non the database at once; servers without --test-clock ignore it."
    )]
    Clock(ClockCommand),
    /// Online backup of an SQLite database into a new FILE (the server may
    /// keep running), with its key file as FILE.key.
    #[command(
        after_help = "Example:\n  jpstart admin backup /var/backups/jpstart-2026-11-21.db\n\nRestore: stop the server, put FILE (and FILE.key) in place of the database\n(and <database>.key), start it. PostgreSQL: use pg_dump instead."
    )]
    Backup {
        /// Where to write the copy; must not exist yet.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Print the clock.
    #[command(after_help = "Example:\n  jpstart admin clock show")]
    Show,
    /// Move the clock forward by a duration (15d, 2h, 30s).
    #[command(after_help = "Example:\n  jpstart admin clock advance 15d")]
    Advance {
        #[arg(value_parser = humantime::parse_duration)]
        duration: std::time::Duration,
    },
    /// Move the clock forward to a time (ISO 8601; refused if in its past).
    #[command(after_help = "Example:\n  jpstart admin clock set 2027-01-01T00:00:00Z")]
    Set {
        #[arg(value_parser = parse_time)]
        time: jpstart_server::clock::Timestamp,
    },
}

fn parse_time(s: &str) -> Result<jpstart_server::clock::Timestamp, String> {
    jpstart_server::clock::Timestamp::parse_iso8601(s)
        .ok_or_else(|| format!("{s:?} is not an ISO 8601 time (e.g. 2027-01-01T00:00:00Z)"))
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
    /// Allow a partner to create WordPress.com accounts (POST /jpphp/user,
    /// automatic account creation at provision); --off withdraws it.
    #[command(
        after_help = "Examples:\n  jpstart admin partner allow-user-creation 1\n  jpstart admin partner allow-user-creation 1 --off"
    )]
    AllowUserCreation {
        /// The partner id.
        partner: i64,
        #[arg(long)]
        off: bool,
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
    /// Every key with its parent, limits, live counts and flags (a JSON array).
    #[command(
        after_help = "Examples:\n  jpstart admin key list\n  jpstart admin key list --partner 1"
    )]
    List {
        #[arg(long)]
        partner: Option<i64>,
    },
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
    /// Show a site: blog id, connection, live products.
    #[command(after_help = "Example:\n  jpstart admin site show https://example.com/demo")]
    Show { site: String },
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

    /// Every command, group or leaf, shows an example in its `--help` (the
    /// README promises it).
    #[test]
    fn every_command_has_an_example() {
        fn walk(cmd: &mut clap::Command, path: &str, missing: &mut Vec<String>) {
            let help = cmd.render_long_help().to_string();
            if !help.contains("Example") {
                missing.push(path.to_string());
            }
            for sub in cmd.get_subcommands_mut() {
                // clap's own `help` subcommand.
                if sub.get_name() == "help" {
                    continue;
                }
                let path = format!("{path} {}", sub.get_name());
                walk(sub, &path, missing);
            }
        }
        let mut cli = super::Cli::command();
        cli.build();
        let mut missing = Vec::new();
        walk(&mut cli, "jpstart", &mut missing);
        assert_eq!(missing, Vec::<String>::new(), "commands without an example");
    }
}
