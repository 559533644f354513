//! `jpstart admin wpcom-user ...`: the operator's WordPress.com accounts.

use clap::Subcommand;
use jpstart_server::admin::{Admin, AdminError};

#[derive(Debug, Subcommand)]
pub enum WpcomUserCommand {
    /// Create an account (username generated from the address).
    #[command(
        after_help = "Example:\n  jpstart admin wpcom-user create --email jane@example.com --partner 1"
    )]
    Create {
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// Record the account as made for this partner.
        #[arg(long)]
        partner: Option<i64>,
    },
    /// List accounts as a JSON array, oldest first.
    #[command(after_help = "Example:\n  jpstart admin wpcom-user list --email jane@example.com")]
    List {
        /// Only the account of this address (any case).
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
    },
}

pub async fn run(admin: &Admin, cmd: WpcomUserCommand) -> Result<String, AdminError> {
    let json = |v: serde_json::Result<String>| v.map_err(|e| AdminError::Invalid(e.to_string()));
    match cmd {
        WpcomUserCommand::Create { email, partner } => json(serde_json::to_string(
            &admin.create_wpcom_user(&email, partner).await?,
        )),
        WpcomUserCommand::List { email } => json(serde_json::to_string(
            &admin.wpcom_users(email.as_deref()).await?,
        )),
    }
}
