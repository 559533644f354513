//! `jpstart sandbox requests` and `jpstart requests` (a server with
//! `--request-log` outside a sandbox): the partner's request log (SPEC §9),
//! one page as the API answered it.

use std::process::ExitCode;

use clap::Args;
use jpstart_client::{requests, ApiRequest, RequestLogQuery};

use super::args::ApiArgs;
use super::Failure;

/// `jpstart requests [--key N] [--status N] [--path P]`.
#[derive(Debug, Args)]
pub struct RequestsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Your partner (organisation) id: `partner_id` in the credentials the
    /// operator gave you, not the key's client id.
    #[arg(long, env = "JPSTART_PARTNER", value_name = "ID")]
    pub partner: u64,
    /// Only this key's requests (a sub-key may name only its own).
    #[arg(long, value_name = "ID")]
    pub key: Option<u64>,
    /// Only answers with this HTTP status (e.g. 400).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<u16>,
    /// Only requests whose path starts with this.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Page, from 1.
    #[arg(long, value_name = "N")]
    pub page: Option<u64>,
    /// Entries per page (at most 100).
    #[arg(long, value_name = "N")]
    pub per_page: Option<u64>,
}

/// The request these arguments send.
pub fn request(a: &RequestsArgs) -> ApiRequest {
    requests::request_log(
        a.partner,
        &RequestLogQuery {
            page: a.page,
            per_page: a.per_page,
            key_id: a.key,
            status: a.status,
            path: a.path.clone(),
        },
    )
}

/// Runs the command: the page on stdout, as every partner command prints.
pub async fn run(a: &RequestsArgs) -> Result<ExitCode, Failure> {
    super::single(&a.api, true, request(a)).await
}
