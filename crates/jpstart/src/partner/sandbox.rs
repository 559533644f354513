//! `jpstart sandbox ...`: a sandbox's test clock, magic sites and mail
//! outbox (a jpstart started with `--sandbox`, SPEC §9), one request each,
//! printed as the server answered.
//!
//! The clock needs the key's credentials only to move it; reading the
//! clock, the sites and the mail needs none.

use clap::{Args, Subcommand};
use jpstart_client::{requests, ApiRequest};
use jpstart_types::sandbox::ClockParams;

use super::args::ApiArgs;

/// `jpstart sandbox ...`.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// The sandbox's clock (GET /sandbox/clock; POST to move it forward).
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  jpstart sandbox clock\n  jpstart sandbox clock advance 15d --token $JPSTART_TOKEN\n  jpstart sandbox clock set 2027-01-01T00:00:00Z --token $JPSTART_TOKEN\n\nPrints {\"now\":ISO8601,\"offset_s\":N}, as `jpstart admin clock` does. The clock moves\nforward only, for the whole sandbox."
    )]
    Clock(ClockArgs),
    /// Every magic site and what it answers (GET /sandbox).
    #[command(after_help = "Example:\n  jpstart sandbox sites --api-url http://127.0.0.1:8080")]
    Sites(SitesArgs),
    /// The mail outbox, one-time links included (GET /sandbox/mail).
    #[command(after_help = "Example:\n  jpstart sandbox mail --to jane@example.com")]
    Mail(MailArgs),
    /// The request log (GET /wpcom/v2/jetpack-partners/{id}/requests):
    /// your requests, newest first, secrets redacted.
    #[command(
        after_help = "Examples:\n  jpstart sandbox requests --partner 1 --token $JPSTART_TOKEN\n  jpstart sandbox requests --partner 1 --status 400 --path /rest/v1.3/jpphp/provision"
    )]
    Requests(super::request_log::RequestsArgs),
}

/// `jpstart sandbox clock [show|advance D|set T]`; alone, it shows.
#[derive(Debug, Args)]
pub struct ClockArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub step: Option<ClockStep>,
}

#[derive(Debug, Subcommand)]
pub enum ClockStep {
    /// Print the clock.
    #[command(
        after_help = "Example:\n  jpstart sandbox clock show --api-url http://127.0.0.1:8080"
    )]
    Show(SitesArgs),
    /// Move the clock forward by a duration (15d, 2h, 30s).
    #[command(after_help = "Example:\n  jpstart sandbox clock advance 15d --token $JPSTART_TOKEN")]
    Advance(AdvanceArgs),
    /// Move the clock forward to a time (ISO 8601; refused if in its past).
    #[command(
        after_help = "Example:\n  jpstart sandbox clock set 2027-01-01T00:00:00Z --token $JPSTART_TOKEN"
    )]
    Set(SetArgs),
}

#[derive(Debug, Args)]
pub struct AdvanceArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// How far: 15d, 2h 30m, 90s (`advance`).
    #[arg(value_name = "DURATION")]
    pub duration: String,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// To when: 2027-01-01T00:00:00Z (`now`).
    #[arg(value_name = "ISO8601")]
    pub time: String,
}

/// Where the sandbox is; no credentials needed.
#[derive(Debug, Args)]
pub struct SitesArgs {
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct MailArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Only mail to this address (any case).
    #[arg(long, value_name = "EMAIL")]
    pub to: Option<String>,
}

/// The command's request: where to send it, whether it needs the token,
/// and what it is.
pub fn request(command: SandboxCommand) -> (ApiArgs, bool, ApiRequest) {
    match command {
        SandboxCommand::Clock(ClockArgs { api, step: None })
        | SandboxCommand::Clock(ClockArgs {
            step: Some(ClockStep::Show(SitesArgs { api })),
            ..
        }) => (api, false, requests::sandbox_clock()),
        SandboxCommand::Clock(ClockArgs {
            step: Some(ClockStep::Advance(a)),
            ..
        }) => {
            let params = ClockParams {
                advance: Some(a.duration),
                now: None,
            };
            (a.api, true, requests::move_sandbox_clock(&params))
        }
        SandboxCommand::Clock(ClockArgs {
            step: Some(ClockStep::Set(s)),
            ..
        }) => {
            let params = ClockParams {
                advance: None,
                now: Some(s.time),
            };
            (s.api, true, requests::move_sandbox_clock(&params))
        }
        SandboxCommand::Sites(SitesArgs { api }) => (api, false, requests::sandbox_sites()),
        SandboxCommand::Mail(MailArgs { api, to }) => {
            let req = requests::sandbox_mail(to.as_deref());
            (api, false, req)
        }
        SandboxCommand::Requests(a) => {
            let req = super::request_log::request(&a);
            (a.api, true, req)
        }
    }
}
