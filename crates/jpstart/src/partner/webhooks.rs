//! `jpstart webhooks create|list|delete|deliveries|replay|monitor`: one
//! request each, printed as the API answered (SPEC §10). The token must be
//! a top-level key's (or a partner user's); `--partner` names the partner.

use clap::{Args, Subcommand};
use jpstart_client::webhooks::requests;
use jpstart_client::ApiRequest;
use jpstart_types::webhooks::EventType;

use super::args::ApiArgs;
use super::Failure;

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register an endpoint; prints its signing secret (shown only this once).
    #[command(
        after_help = "Example:\n  jpstart webhooks create --partner 1 --url https://hooks.example.com/jp --event activation.active --event activation.cancelled"
    )]
    Create(CreateArgs),
    /// The partner's endpoints (without secrets).
    #[command(after_help = "Example:\n  jpstart webhooks list --partner 1")]
    List(PartnerArgs),
    /// Delete an endpoint: nothing more is sent to it.
    #[command(after_help = "Example:\n  jpstart webhooks delete --partner 1 3")]
    Delete(WebhookArgs),
    /// An endpoint's delivery log, newest first.
    #[command(after_help = "Example:\n  jpstart webhooks deliveries --partner 1 3")]
    Deliveries(WebhookArgs),
    /// Send a delivery again (same event id and body, a fresh signature).
    #[command(after_help = "Example:\n  jpstart webhooks replay --partner 1 3 42")]
    Replay(ReplayArgs),
    /// Set the partner's Monitor downtime URL.
    #[command(
        after_help = "Example:\n  jpstart webhooks monitor --partner 1 --url https://monitor.example.com/jp"
    )]
    Monitor(MonitorArgs),
}

#[derive(Debug, Args)]
pub struct PartnerArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The partner's numeric id.
    #[arg(long, value_name = "ID")]
    pub partner: i64,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub partner: PartnerArgs,
    /// Where the events are POSTed (`url`).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// An event type to send (repeatable; none: all), e.g. activation.active.
    #[arg(long = "event", value_name = "TYPE")]
    pub events: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WebhookArgs {
    #[command(flatten)]
    pub partner: PartnerArgs,
    /// The endpoint's id.
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub partner: PartnerArgs,
    /// The endpoint's id.
    pub id: i64,
    /// The delivery's id (from `jpstart webhooks deliveries`).
    pub delivery: i64,
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub partner: PartnerArgs,
    /// Where Monitor POSTs downtime notifications (`url`).
    #[arg(long, value_name = "URL")]
    pub url: String,
}

/// The API arguments of a command.
pub fn api(c: &WebhooksCommand) -> &ApiArgs {
    match c {
        WebhooksCommand::Create(a) => &a.partner.api,
        WebhooksCommand::List(a) => &a.api,
        WebhooksCommand::Delete(a) | WebhooksCommand::Deliveries(a) => &a.partner.api,
        WebhooksCommand::Replay(a) => &a.partner.api,
        WebhooksCommand::Monitor(a) => &a.partner.api,
    }
}

/// The request of a command; an unknown event type is a usage error.
pub fn request(c: &WebhooksCommand) -> Result<ApiRequest, Failure> {
    Ok(match c {
        WebhooksCommand::Create(a) => {
            let events = a
                .events
                .iter()
                .map(|e| {
                    EventType::parse(e.trim()).ok_or_else(|| {
                        let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                        Failure::Usage(format!("--event {e}: not one of {}", all.join(", ")))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            requests::create_webhook(a.partner.partner, &a.url, &events)
        }
        WebhooksCommand::List(a) => requests::list_webhooks(a.partner),
        WebhooksCommand::Delete(a) => requests::delete_webhook(a.partner.partner, a.id),
        WebhooksCommand::Deliveries(a) => requests::deliveries(a.partner.partner, a.id),
        WebhooksCommand::Replay(a) => requests::replay(a.partner.partner, a.id, a.delivery),
        WebhooksCommand::Monitor(a) => requests::set_monitor_webhook(a.partner.partner, &a.url),
    })
}
