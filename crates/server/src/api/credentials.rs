//! `POST /rest/v1.3/jpphp/{blog_id}/ssh-credentials` and `/ftp-credentials`
//! (SPEC §5 "Also part of the system"; upstream: host-partner-documentation,
//! jetpack-start-endpoints ssh-credentials.md and ftp-credentials.md), and
//! the same credentials given at provision.
//!
//! Credentials are validated ([`crate::domain::credentials`]), sealed with
//! the server key ([`crate::crypto`]) bound to the site and kind, and stored.
//! Nothing here ever answers or logs them.

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use jpstart_types::params::{FtpParams, SshParams};
use jpstart_types::wire::Success;
use jpstart_types::{BlogId, PartnerId};

use crate::app::state::AppState;
use crate::domain::credentials::{self, Credentials};
use crate::domain::CredentialsRefusal;
use crate::domain::{ApiError, ErrorCode};
use crate::rest::rejects::errors_of;
use crate::rest::{operation, ApiVersion, Endpoint, Help, Params, Rest, SitePath};
use crate::store::Decided;
use crate::writer::Writer;

/// Refused while parsing the credentials, before the unit of work.
const PARSE: &[ErrorCode] = &[ErrorCode::InvalidCredentials];

/// `ssh-credentials` and `ftp-credentials`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    const AUTH: &str = "Bearer token (scope jetpack-partner)";
    vec![
        Endpoint {
            operations: vec![operation!(ssh_credentials)],
            methods: |_| post(ssh_credentials),
            rest: Some(Rest {
                min: ApiVersion::V1_3,
                max: None,
                help: Help {
                    description: "Stores SSH credentials for the site's backups, encrypted; they are never returned.",
                    versions: "1.3+",
                    authentication: AUTH,
                    parameters: &[
                        ("ssh_user", "required"),
                        ("ssh_pass", "the password; ssh_pass or ssh_private_key is required"),
                        ("ssh_private_key", "the private key (PEM text)"),
                        ("ssh_host", "required"),
                        ("ssh_port", "1 to 65535, default 22"),
                    ],
                    response: &[("success", "true")],
                },
                errors: errors_of(&ssh_credentials).with(PARSE).with(CredentialsRefusal::CODES),
            }),
        },
        Endpoint {
            operations: vec![operation!(ftp_credentials)],
            methods: |_| post(ftp_credentials),
            rest: Some(Rest {
                min: ApiVersion::V1_3,
                max: None,
                help: Help {
                    description: "Stores FTP credentials for the site's backups, encrypted; they are never returned.",
                    versions: "1.3+",
                    authentication: AUTH,
                    parameters: &[
                        ("ftp_user", "required"),
                        ("ftp_host", "required"),
                        ("ftp_pass", "optional"),
                        ("ftp_port", "1 to 65535, default 21"),
                    ],
                    response: &[("success", "true")],
                },
                errors: errors_of(&ftp_credentials).with(PARSE).with(CredentialsRefusal::CODES),
            }),
        },
    ]
}

/// `POST /rest/v1.3/jpphp/{blog_id}/ssh-credentials`. Unlike at provision,
/// `ssh_host` is required here (as upstream documents it).
#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/{blog_id}/ssh-credentials",
    tag = "jpphp",
    security(("bearer" = [])),
    params(("blog_id" = String, Path, description = "The blog id (digits); a site identifier is accepted too.", example = "1"),),
    request_body(
        description = "Any of the four body formats; body parameters win over the query string.",
        content(
            (SshParams = "application/x-www-form-urlencoded"),
            (SshParams = "multipart/form-data"),
            (SshParams = "application/json"),
        )
    ),
    responses((status = 200, description = "Stored.", body = Success)),
)]
pub async fn ssh_credentials(
    State(state): State<AppState>,
    Writer(caller): Writer,
    path: SitePath,
    Params(p): Params<SshParams>,
) -> Result<Json<Success>, ApiError> {
    let blog = site(&state, &path).await?;
    let creds = credentials::ssh(&p, None)?;
    save(&state, blog, caller.partner_id, &creds).await?;
    Ok(Json(Success { success: true }))
}

/// `POST /rest/v1.3/jpphp/{blog_id}/ftp-credentials`. Unlike at provision,
/// `ftp_host` is required here (as upstream documents it).
#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/{blog_id}/ftp-credentials",
    tag = "jpphp",
    security(("bearer" = [])),
    params(("blog_id" = String, Path, description = "The blog id (digits); a site identifier is accepted too.", example = "1"),),
    request_body(
        description = "Any of the four body formats; body parameters win over the query string.",
        content(
            (FtpParams = "application/x-www-form-urlencoded"),
            (FtpParams = "multipart/form-data"),
            (FtpParams = "application/json"),
        )
    ),
    responses((status = 200, description = "Stored.", body = Success)),
)]
pub async fn ftp_credentials(
    State(state): State<AppState>,
    Writer(caller): Writer,
    path: SitePath,
    Params(p): Params<FtpParams>,
) -> Result<Json<Success>, ApiError> {
    let blog = site(&state, &path).await?;
    let creds = credentials::ftp(&p, None)?;
    save(&state, blog, caller.partner_id, &creds).await?;
    Ok(Json(Success { success: true }))
}

/// The site's blog id; 403 `invalid_blog` for an unknown one.
async fn site(state: &AppState, path: &SitePath) -> Result<BlogId, ApiError> {
    let site = state
        .store
        .site(&path.site, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::with_arg(ErrorCode::InvalidBlog, &path.segment))?;
    Ok(site.blog_id)
}

async fn save(
    state: &AppState,
    blog: BlogId,
    partner: PartnerId,
    creds: &Credentials,
) -> Result<(), ApiError> {
    // Refused by the holder rule (403 `forbidden`), or when the site was
    // deleted between the lookup and the write (answered as unknown).
    Ok(seal_and_store(state, blog, partner, creds).await??)
}

async fn seal_and_store(
    state: &AppState,
    blog: BlogId,
    partner: PartnerId,
    creds: &Credentials,
) -> Decided<(), CredentialsRefusal> {
    let kind = creds.kind.as_str();
    let context = format!("credentials:{blog}:{kind}");
    let sealed = state
        .secret_key
        .seal(&creds.to_plaintext(), context.as_bytes());
    let stored = state
        .store
        .set_credentials(blog, partner, creds.kind, &sealed, state.clock.now())
        .await?;
    if stored.is_ok() {
        tracing::info!(blog_id = %blog, kind, "backup credentials stored");
    }
    Ok(stored)
}

/// What provision reports about credentials it was given: `(set, error)`.
pub type Report = Option<(bool, String)>;

/// Validates and stores the SSH and FTP credentials sent with a provision.
/// A problem never fails the provision; it is reported in
/// `ssh_set`/`ssh_error` and `ftp_set`/`ftp_error` (only for the kinds that
/// were sent).
/// The holder rule applies as on the endpoints: a site another partner
/// holds keeps its credentials, and the report says why.
pub async fn at_provision(
    state: &AppState,
    blog: BlogId,
    partner: PartnerId,
    host: &str,
    ssh: &SshParams,
    ftp: &FtpParams,
) -> (Report, Report) {
    let ssh_report = if credentials::ssh_sent(ssh) {
        Some(report(state, blog, partner, credentials::ssh(ssh, Some(host))).await)
    } else {
        None
    };
    let ftp_report = if credentials::ftp_sent(ftp) {
        Some(report(state, blog, partner, credentials::ftp(ftp, Some(host))).await)
    } else {
        None
    };
    (ssh_report, ftp_report)
}

async fn report(
    state: &AppState,
    blog: BlogId,
    partner: PartnerId,
    validated: Result<Credentials, ApiError>,
) -> (bool, String) {
    match validated {
        Err(e) => (false, e.message),
        Ok(creds) => match seal_and_store(state, blog, partner, &creds).await {
            Ok(Ok(())) => (true, String::new()),
            Ok(Err(CredentialsRefusal::UnknownBlog(_))) => {
                (false, "The site is not registered.".to_string())
            }
            Ok(Err(CredentialsRefusal::NotHolder(r))) => (false, r.message()),
            Err(e) => {
                tracing::error!(error = %e, blog_id = %blog, "storing credentials failed");
                (
                    false,
                    "The credentials could not be stored; retry the request.".to_string(),
                )
            }
        },
    }
}
