//! The partner commands: the API's JSON on stdout and exit 0 on success; the
//! error JSON on stderr and exit 1 when the API (or the network) fails; exit
//! 2 on usage errors — as `partner-provision.sh` and `partner-cancel.sh` did.
//!
//! Layout: [`args`] (clap), this file (one command = one request),
//! [`bulk`] (CSV runs), [`sandbox`] (a sandbox's clock, sites, mail).

pub mod args;
mod bulk;
pub mod report;
pub mod request_log;
pub mod sandbox;
pub mod users;
pub mod webhooks;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::CommandFactory;
use jpstart_client::{requests, ApiRequest, Client, Credentials, Error, RetryPolicy};
use jpstart_types::params::{FtpParams, ProvisionParams, SshParams};
use jpstart_types::wire::ErrorBody;
use jpstart_types::{SecretString, Truthy};

use crate::cli::{Cli, Command};
use args::{ApiArgs, ProvisionFlags};

/// Runs one partner command (or `completions`).
pub async fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Token(a) => token(a.api).await,
        Command::Provision(a) => match provision_params(&a.params) {
            Ok(p) => single(&a.api, true, requests::provision(&p)).await,
            Err(e) => Err(e),
        },
        Command::Cancel(a) => {
            let req = requests::cancel(&a.site, a.plan.as_deref(), a.cancel_all);
            single(&a.api, true, req).await
        }
        Command::Status(a) => {
            let req = if a.v13 {
                requests::status_v13(&a.site)
            } else {
                requests::status_v14(&a.site)
            };
            single(&a.api, true, req).await
        }
        Command::UpgradePaths(a) => single(&a.api, true, requests::upgrade_paths(&a.site)).await,
        Command::Errors(a) => single(&a.api, false, requests::errors(a.verbose)).await,
        Command::Bulk(b) => bulk::run(b).await,
        Command::Requests(a) => request_log::run(&a).await,
        Command::MagicLink(a) => single(&a.api, true, users::magic_link(&a)).await,
        Command::User(users::UserCommand::Create(a)) => {
            single(&a.api, true, users::create_user(&a)).await
        }
        Command::Sandbox(c) => {
            let (api, needs_auth, req) = sandbox::request(c);
            single(&api, needs_auth, req).await
        }
        Command::Webhooks(w) => match webhooks::request(&w) {
            Ok(req) => single(webhooks::api(&w), true, req).await,
            Err(e) => Err(e),
        },
        Command::Report(r) => match r.request() {
            Ok(req) => single(r.api(), true, req).await,
            Err(e) => Err(e),
        },
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "jpstart", &mut script);
            write_stdout(&script);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(_) | Command::Admin(_) => {
            Err(Failure::Usage("not a partner command".into()))
        }
    };
    result.unwrap_or_else(|f| f.report())
}

/// Why a command failed, and so its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or configuration: exit 2.
    Usage(String),
    /// The API or the network failed: exit 1, error JSON on stderr.
    Call(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::NoCredentials | Error::BaseUrl { .. } | Error::Site(_) | Error::Build(_) => {
                Failure::Usage(e.to_string())
            }
            e => Failure::Call(e),
        }
    }
}

impl Failure {
    fn report(self) -> ExitCode {
        match self {
            Failure::Usage(msg) => {
                let _ = Cli::command()
                    .error(ErrorKind::ArgumentConflict, msg)
                    .print();
                ExitCode::from(2)
            }
            Failure::Call(e) => {
                eprintln!("{}", error_json(&e));
                ExitCode::from(1)
            }
        }
    }
}

/// The error as JSON: the API's own body when it sent one, else the
/// documented error shape with a client-side code.
pub fn error_json(e: &Error) -> String {
    if let Error::Api { body, .. } = e {
        return body.trim().to_string();
    }
    let code = match e {
        Error::Transport(_) => "http_request_failed",
        Error::Status { .. } => "unexpected_status",
        Error::Decode { .. } => "invalid_response",
        _ => "client_error",
    };
    serde_json::to_string(&ErrorBody::new(code, &e.to_string())).unwrap_or_default()
}

/// The client for these arguments.
pub fn client(api: &ApiArgs, needs_auth: bool) -> Result<Client, Failure> {
    let legacy = std::env::var(jpstart_client::LEGACY_HOST_ENV).ok();
    let base = jpstart_client::resolve_base_url(api.api_url.as_deref(), legacy.as_deref())?;
    let credentials = if needs_auth {
        Some(credentials(api)?)
    } else {
        None
    };
    let mut builder = Client::builder()
        .base_url(base.as_str())
        .credentials(credentials)
        .timeout(api.timeout)
        .retry(RetryPolicy {
            max_attempts: api.attempts,
            ..RetryPolicy::default()
        });
    if let Some(path) = &api.ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
        builder = builder.add_root_certificate_pem(pem);
    }
    Ok(builder.build()?)
}

/// A token when one is given, else the key's id and secret.
fn credentials(api: &ApiArgs) -> Result<Credentials, Failure> {
    if let Some(t) = some(&api.token) {
        return Ok(Credentials::Token(SecretString::new(t.trim())));
    }
    match (some(&api.partner_id), some(&api.partner_secret)) {
        (Some(id), Some(secret)) => Ok(Credentials::Partner {
            client_id: id.trim().to_string(),
            client_secret: SecretString::new(secret),
        }),
        _ => Err(Failure::Usage(
            "credentials needed: --partner-id and --partner-secret (JPSTART_PARTNER_ID, JPSTART_PARTNER_SECRET), or --token (JPSTART_TOKEN)".into(),
        )),
    }
}

fn some(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.trim().is_empty())
}

/// `jpstart token`: always from the id and secret.
async fn token(mut api: ApiArgs) -> Result<ExitCode, Failure> {
    api.token = None;
    let client = client(&api, true)?;
    let res = client.token().await?;
    print_json(&serde_json::to_value(&res).unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

/// One request; the body printed as the API sent it (key order kept).
async fn single(api: &ApiArgs, needs_auth: bool, req: ApiRequest) -> Result<ExitCode, Failure> {
    let client = client(api, needs_auth)?;
    let body: serde_json::Value = client.execute(&req).await?;
    print_json(&body);
    Ok(ExitCode::SUCCESS)
}

fn print_json(v: &serde_json::Value) {
    let mut line = serde_json::to_vec(v).unwrap_or_default();
    line.push(b'\n');
    write_stdout(&line);
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn write_stdout(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}

/// The provision flags as the API's parameters.
fn provision_params(f: &ProvisionFlags) -> Result<ProvisionParams, Failure> {
    let private_key = match (&f.ssh_private_key, &f.ssh_private_key_file) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?,
        ),
        (None, None) => None,
    };
    Ok(ProvisionParams {
        siteurl: Some(f.siteurl.clone()),
        local_user: Some(f.local_user.clone()),
        plan: f.plan.clone(),
        force_register: Truthy(f.force_register),
        force_connect: Truthy(f.force_connect),
        onboarding: Truthy(f.onboarding),
        wpcom_user_id: f.wpcom_user_id.clone(),
        wpcom_user_email: f.wpcom_user_email.clone(),
        partner_tracking_id: f.partner_tracking_id.clone(),
        ssh: SshParams {
            ssh_user: f.ssh_user.clone(),
            ssh_pass: f.ssh_pass.clone().map(SecretString::new),
            ssh_private_key: private_key.map(SecretString::new),
            ssh_host: f.ssh_host.clone(),
            ssh_port: f.ssh_port.map(|p| p.to_string()),
        },
        ftp: FtpParams {
            ftp_user: f.ftp_user.clone(),
            ftp_pass: f.ftp_pass.clone().map(SecretString::new),
            ftp_host: f.ftp_host.clone(),
            ftp_port: f.ftp_port.map(|p| p.to_string()),
        },
        ..ProvisionParams::default()
    })
}
