//! `jpstart admin user ...`: partner users, the people of a partner who
//! sign in to the portal (SPEC §8). WordPress.com accounts are `admin
//! wpcom-user`.

use std::io::BufRead;

use clap::Subcommand;
use jpstart_server::admin::{Admin, AdminError};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a partner user; prints the generated password, once.
    #[command(
        after_help = "Examples:\n  jpstart admin user create --partner 1 --email jane@example.com --name \"Jane Doe\"\n  printf '%s\\n' \"$PASSWORD\" | jpstart admin user create --partner 1 --email jane@example.com --password-stdin"
    )]
    Create {
        #[arg(long)]
        partner: i64,
        #[arg(long, value_name = "EMAIL")]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input instead
        /// of generating one (then none is printed).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List partner users as a JSON array, in id order.
    #[command(after_help = "Example:\n  jpstart admin user list --partner 1")]
    List {
        #[arg(long)]
        partner: Option<i64>,
    },
    /// Disable a user: it can no longer sign in, and its sessions and
    /// reporting tokens are revoked at once.
    #[command(after_help = "Example:\n  jpstart admin user disable 4")]
    Disable { id: i64 },
    /// Enable a disabled user again (revoked sessions and tokens stay revoked).
    #[command(after_help = "Example:\n  jpstart admin user enable 4")]
    Enable { id: i64 },
}

pub async fn run(admin: &Admin, cmd: UserCommand) -> Result<String, AdminError> {
    let json = |v: serde_json::Result<String>| v.map_err(|e| AdminError::Invalid(e.to_string()));
    match cmd {
        UserCommand::Create {
            partner,
            email,
            name,
            password_stdin,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            json(serde_json::to_string(
                &admin
                    .create_partner_user(partner, &email, name.as_deref(), password.as_deref())
                    .await?,
            ))
        }
        UserCommand::List { partner } => {
            json(serde_json::to_string(&admin.partner_users(partner).await?))
        }
        UserCommand::Disable { id } => json(serde_json::to_string(
            &admin.set_partner_user_disabled(id, true).await?,
        )),
        UserCommand::Enable { id } => json(serde_json::to_string(
            &admin.set_partner_user_disabled(id, false).await?,
        )),
    }
}

/// The first line of standard input, without its line ending.
fn read_password() -> Result<String, AdminError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| AdminError::Invalid(format!("reading the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
