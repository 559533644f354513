//! `jpstart report activations|summary|invoices`: the reporting endpoints
//! (SPEC §8), one request each, printed as the API answered.

use clap::{Args, Subcommand};
use jpstart_client::reporting::{requests, ActivationsQuery};
use jpstart_client::ApiRequest;

use super::args::ApiArgs;
use super::Failure;

/// `jpstart report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// A key's activations, newest first, a page at a time.
    #[command(
        after_help = "Example:\n  jpstart report activations --partner 1 --key 2 --plan premium --activated-after 2027-01-01 --per-page 100"
    )]
    Activations(ActivationsArgs),
    /// New and live activations of a key per day, month or year.
    #[command(after_help = "Example:\n  jpstart report summary --key 2 --scale day")]
    Summary(SummaryArgs),
    /// A key's invoices of past months, newest first (--upcoming: this month so far).
    #[command(after_help = "Example:\n  jpstart report invoices --partner 1 --key 2 --upcoming")]
    Invoices(InvoicesArgs),
}

/// Which key of which partner.
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The partner (organisation) id: `partner_id` as `admin partner create` printed it.
    #[arg(long, value_name = "ID")]
    pub partner: u64,
    /// The key id [default: the --partner-id client id, which is the key's id].
    #[arg(long, value_name = "ID")]
    pub key: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ActivationsArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// Page number, from 1 (`page`).
    #[arg(long, value_name = "N")]
    pub page: Option<u32>,
    /// Activations per page, 1 to 100 (`per_page`, default 20).
    #[arg(long, value_name = "N")]
    pub per_page: Option<u32>,
    /// Only this product slug (`plans[]`; repeatable).
    #[arg(long = "plan", value_name = "SLUG")]
    pub plans: Vec<String>,
    /// Only activated after this instant: ISO 8601 or UNIX seconds.
    #[arg(long, value_name = "TIME")]
    pub activated_after: Option<String>,
    /// Only activated before this instant: ISO 8601 or UNIX seconds.
    #[arg(long, value_name = "TIME")]
    pub activated_before: Option<String>,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The key id [default: the token's own key].
    #[arg(long, value_name = "ID")]
    pub key: Option<u64>,
    /// `day`, `month` or `year` (`scale`, default month).
    #[arg(long, value_name = "SCALE")]
    pub scale: Option<String>,
}

#[derive(Debug, Args)]
pub struct InvoicesArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// The current month so far instead of the past months.
    #[arg(long)]
    pub upcoming: bool,
}

impl ReportCommand {
    pub fn api(&self) -> &ApiArgs {
        match self {
            ReportCommand::Activations(a) => &a.key.api,
            ReportCommand::Summary(a) => &a.api,
            ReportCommand::Invoices(a) => &a.key.api,
        }
    }

    /// The one request the command sends.
    pub fn request(&self) -> Result<ApiRequest, Failure> {
        Ok(match self {
            ReportCommand::Activations(a) => {
                let query = ActivationsQuery {
                    page: a.page,
                    per_page: a.per_page,
                    plans: a.plans.clone(),
                    activated_after: a.activated_after.clone(),
                    activated_before: a.activated_before.clone(),
                };
                requests::activations(a.key.partner, key_id(&a.key)?, &query)
            }
            ReportCommand::Summary(a) => requests::summary(a.key, a.scale.as_deref()),
            ReportCommand::Invoices(a) if a.upcoming => {
                requests::upcoming_invoice(a.key.partner, key_id(&a.key)?)
            }
            ReportCommand::Invoices(a) => requests::invoices(a.key.partner, key_id(&a.key)?),
        })
    }
}

/// `--key`, else the client id (a key's client id is its id).
fn key_id(k: &KeyArgs) -> Result<u64, Failure> {
    if let Some(key) = k.key {
        return Ok(key);
    }
    k.api
        .partner_id
        .as_deref()
        .and_then(|id| id.trim().parse().ok())
        .ok_or_else(|| {
            Failure::Usage("--key is needed (or --partner-id, the key's client id)".into())
        })
}
