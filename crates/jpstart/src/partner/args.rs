//! The partner commands' arguments. Flags are named after the API's
//! parameters (`--siteurl` sends `siteurl`, `--local-user` sends
//! `local_user`, ...).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use jpstart_types::SiteRef;

/// Where the API is and who is calling: shared by every partner command.
#[derive(Debug, Args, Clone)]
pub struct ApiArgs {
    /// Base URL of the API [default: https://public-api.wordpress.com].
    /// Wins over JETPACK_START_API_HOST (a bare host, https implied, as the
    /// old scripts read it).
    #[arg(long, env = "JPSTART_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// The partner key's client id (with --partner-secret).
    #[arg(long, env = "JPSTART_PARTNER_ID", value_name = "ID")]
    pub partner_id: Option<String>,
    /// The partner key's client secret.
    #[arg(
        long,
        env = "JPSTART_PARTNER_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub partner_secret: Option<String>,
    /// An access token from `jpstart token` (used instead of id and secret).
    #[arg(
        long,
        env = "JPSTART_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// A PEM CA certificate to trust as well (a self-signed sandbox).
    #[arg(long, env = "JPSTART_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Limit of one HTTP attempt.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// Attempts per request in all; connection errors, 5xx and 429 are
    /// retried with exponential backoff, 4xx never.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=20), value_name = "N")]
    pub attempts: u32,
}

/// `jpstart token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `jpstart provision`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub params: ProvisionFlags,
}

/// The provision parameters.
#[derive(Debug, Args, Clone)]
pub struct ProvisionFlags {
    /// The site's URL (`siteurl`).
    #[arg(long, value_name = "URL")]
    pub siteurl: String,
    /// The site's local WordPress user: id, login or e-mail (`local_user`).
    #[arg(long, value_name = "USER")]
    pub local_user: String,
    /// Product slug (`plan`), e.g. personal, premium, professional,
    /// jetpack-backup-daily; none: only register the site.
    #[arg(long, value_name = "SLUG")]
    pub plan: Option<String>,
    /// Give the site a fresh registration (`force_register`).
    #[arg(long)]
    pub force_register: bool,
    /// Drop the site's connection first (`force_connect`).
    #[arg(long)]
    pub force_connect: bool,
    /// Send the site owner through onboarding (`onboarding`).
    #[arg(long)]
    pub onboarding: bool,
    /// WordPress.com user id to connect (`wpcom_user_id`).
    #[arg(long, value_name = "ID")]
    pub wpcom_user_id: Option<String>,
    /// WordPress.com user e-mail (`wpcom_user_email`).
    #[arg(long, value_name = "EMAIL")]
    pub wpcom_user_email: Option<String>,
    /// Your own reference, kept with the activation (`partner_tracking_id`).
    #[arg(long, value_name = "ID")]
    pub partner_tracking_id: Option<String>,
    /// SSH user for backups (`ssh_user`; needs --ssh-pass or a key).
    #[arg(long, value_name = "USER")]
    pub ssh_user: Option<String>,
    /// SSH password (`ssh_pass`).
    #[arg(long, value_name = "PASS")]
    pub ssh_pass: Option<String>,
    /// SSH private key text (`ssh_private_key`).
    #[arg(long, value_name = "KEY", conflicts_with = "ssh_private_key_file")]
    pub ssh_private_key: Option<String>,
    /// File whose content is sent as `ssh_private_key`.
    #[arg(long, value_name = "FILE")]
    pub ssh_private_key_file: Option<PathBuf>,
    /// SSH host (`ssh_host`; default: the site's host).
    #[arg(long, value_name = "HOST")]
    pub ssh_host: Option<String>,
    /// SSH port (`ssh_port`; default 22).
    #[arg(long, value_name = "PORT")]
    pub ssh_port: Option<u16>,
    /// FTP user (`ftp_user`).
    #[arg(long, value_name = "USER")]
    pub ftp_user: Option<String>,
    /// FTP password (`ftp_pass`).
    #[arg(long, value_name = "PASS")]
    pub ftp_pass: Option<String>,
    /// FTP host (`ftp_host`).
    #[arg(long, value_name = "HOST")]
    pub ftp_host: Option<String>,
    /// FTP port (`ftp_port`; default 21).
    #[arg(long, value_name = "PORT")]
    pub ftp_port: Option<u16>,
}

/// `jpstart cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The site: blog id, identifier (example.com::demo) or URL.
    #[arg(value_parser = parse_site_arg, value_name = "SITE")]
    pub site: SiteRef,
    /// The product to cancel (`plan`); default: the site's Jetpack plan.
    #[arg(long, value_name = "SLUG")]
    pub plan: Option<String>,
    /// Cancel everything this key provisioned on the site (`cancel-all`).
    #[arg(long, conflicts_with = "plan")]
    pub cancel_all: bool,
}

/// `jpstart status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The site: blog id, identifier (example.com::demo) or URL.
    #[arg(value_parser = parse_site_arg, value_name = "SITE")]
    pub site: SiteRef,
    /// The deprecated v1.3 shape (plan, is_partner_plan, ...).
    #[arg(long)]
    pub v13: bool,
}

/// `jpstart upgrade-paths`.
#[derive(Debug, Args)]
pub struct SiteArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The site: blog id, identifier (example.com::demo) or URL.
    #[arg(value_parser = parse_site_arg, value_name = "SITE")]
    pub site: SiteRef,
}

/// `jpstart errors`.
#[derive(Debug, Args)]
pub struct ErrorsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Each code's description, cause and solution.
    #[arg(long)]
    pub verbose: bool,
}

/// `jpstart bulk ...`.
#[derive(Debug, Subcommand)]
pub enum BulkCommand {
    /// Provision every row of a CSV file (columns named after the API's
    /// parameters: siteurl,local_user,plan,...).
    #[command(after_help = BULK_PROVISION_HELP)]
    Provision(BulkArgs),
    /// Cancel every row of a CSV file (columns: site,plan,cancel-all).
    #[command(after_help = BULK_CANCEL_HELP)]
    Cancel(BulkArgs),
}

const BULK_PROVISION_HELP: &str = "\
CSV columns (header row required; only siteurl and local_user are required):
  siteurl,local_user,plan,force_register,force_connect,onboarding,wpcom_user_id,
  wpcom_user_email,partner_tracking_id,ssh_user,ssh_pass,ssh_private_key,ssh_host,
  ssh_port,ftp_user,ftp_pass,ftp_host,ftp_port
Booleans: 1, t, true (any case) are true; anything else is false.

Example:
  printf 'siteurl,local_user,plan\\nhttps://example.com,admin,premium\\n' > sites.csv
  jpstart bulk provision --csv sites.csv --concurrency 8
  # interrupted? go on where it stopped:
  jpstart bulk provision --csv sites.csv --resume";

const BULK_CANCEL_HELP: &str = "\
CSV columns (header row required): site (blog id, identifier or URL; required),
  plan (optional), cancel-all (optional boolean; cancel_all also accepted).

Example:
  printf 'site,plan,cancel-all\\nhttps://example.com,premium,\\n12345,,1\\n' > cancel.csv
  jpstart bulk cancel --csv cancel.csv --results cancel.results.csv";

/// Options of both bulk commands.
#[derive(Debug, Args)]
pub struct BulkArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The input CSV file.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// The results CSV [default: FILE.results.csv].
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Skip the rows the results file already records as done, and append.
    #[arg(long)]
    pub resume: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256), value_name = "N")]
    pub concurrency: u32,
}

/// A site argument: blog id, identifier or URL (a URL becomes its
/// identifier, `https://example.com/demo` → `example.com::demo`).
pub fn parse_site_arg(s: &str) -> Result<SiteRef, String> {
    jpstart_client::parse_site(s).map_err(|e| e.to_string())
}
