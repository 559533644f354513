//! `jpstart magic-link` and `jpstart user create`: one request each, printed
//! as the API answered.

use clap::{Args, Subcommand};
use jpstart_client::{requests, ApiRequest};
use jpstart_types::users::{MagicLinkParams, UserParams};

use super::args::ApiArgs;

/// `jpstart magic-link EMAIL`.
#[derive(Debug, Args)]
pub struct MagicLinkArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The address to send the login link to (`email`).
    pub email: String,
}

/// `jpstart user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a WordPress.com account (POST /jpphp/user); prints its token once.
    #[command(
        after_help = "Example:\n  jpstart user create --email jane@example.com --product-type jetpack --language en"
    )]
    Create(UserCreateArgs),
}

#[derive(Debug, Args)]
pub struct UserCreateArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The new account's address (`email`).
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// `jetpack` or `woocommerce` (`product_type`).
    #[arg(long, value_name = "TYPE", default_value = "jetpack")]
    pub product_type: String,
    /// ISO 639 code of the account's language (`language`).
    #[arg(long, value_name = "CODE")]
    pub language: Option<String>,
}

pub fn magic_link(a: &MagicLinkArgs) -> ApiRequest {
    requests::magic_link(&MagicLinkParams {
        email: Some(a.email.clone()),
    })
}

pub fn create_user(a: &UserCreateArgs) -> ApiRequest {
    requests::create_user(&UserParams {
        email: Some(a.email.clone()),
        product_type: Some(a.product_type.clone()),
        product_id: None,
        language: a.language.clone(),
    })
}
