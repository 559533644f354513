//! `POST /rest/v1.3/jpphp/provision` and `/{blog_id}/partner-provision`
//! (SPEC §5; upstream: host-partner-documentation,
//! jetpack/jetpack-start-endpoints/plan-provisioning.md).

use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use jpstart_types::params::{non_empty, ProvisionParams};
use jpstart_types::wire::ProvisionResponse;
use jpstart_types::{ActivationId, BlogId, ProductSlug, SiteRef, SiteUrl};

use crate::app::state::AppState;
use crate::auth::Caller;
use crate::domain::bounds::check_length;
use crate::domain::{ApiError, ErrorCode, ProvisionRefusal};
use crate::rest::rejects::errors_of;
use crate::rest::{operation, ApiVersion, BlogIdPath, Endpoint, Help, Params, Rest};
use crate::secrets;
use crate::store::{ProvisionOutcome, ProvisionRequest, ProvisionSite};
use crate::writer::Writer;

/// Refused while reading the parameters, before any unit of work.
const PARSE: &[ErrorCode] = &[
    ErrorCode::InvalidSiteurl,
    ErrorCode::InvalidLocalUser,
    ErrorCode::InvalidPlan,
    ErrorCode::InvalidPartnerTrackingId,
];

/// What `partner-provision` refuses while reading its parameters (no
/// `siteurl`; a user only when one is sent).
const PARTNER_PARSE: &[ErrorCode] = &[
    ErrorCode::InvalidLocalUser,
    ErrorCode::InvalidPlan,
    ErrorCode::InvalidPartnerTrackingId,
];

const PARAMS: &[(&str, &str)] = &[
    ("siteurl", "required: the site's URL"),
    (
        "local_user",
        "required (older name: local_username): the site user that will own the connection",
    ),
    (
        "plan",
        "a catalogue slug; absent: register and connect the site without a product",
    ),
    (
        "force_register",
        "bool: give the site a fresh registration (drops its connection)",
    ),
    ("force_connect", "bool: drop the site's connection first"),
    ("onboarding", "bool: accepted, no effect"),
    ("wpcom_user_id", "accepted, no effect"),
    (
        "wpcom_user_email",
        "for a partner allowed to create accounts, an address of no account: automatic account creation (the answer has access_token)",
    ),
    (
        "ssh_user, ssh_pass, ssh_private_key, ssh_host, ssh_port",
        "backup credentials (ssh_user needs ssh_pass or ssh_private_key)",
    ),
    (
        "ftp_user, ftp_pass, ftp_host, ftp_port",
        "backup credentials",
    ),
    (
        "partner_tracking_id (query; also partner-tracking-id)",
        "stored on the activation",
    ),
];

const RESPONSE: &[(&str, &str)] = &[
    ("success", "true"),
    (
        "auth_required",
        "true when the site owner must approve the connection",
    ),
    (
        "next_url",
        "the authorization page (pending; always with a query string, so `&partner_redirect=URL` may be appended) or the site's Jetpack admin page",
    ),
    (
        "access_token",
        "after automatic account creation: the new account's token",
    ),
    (
        "ssh_set, ssh_error",
        "with SSH parameters: whether they were stored, and why not",
    ),
    (
        "ftp_set, ftp_error",
        "with FTP parameters: whether they were stored, and why not",
    ),
];

/// `provision` and `partner-provision`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    const AUTH: &str = "Bearer token (scope jetpack-partner)";
    let provision_help = Help {
        description:
            "Provisions a product to a site given by its URL, registering the site on first use.",
        versions: "1.3+",
        authentication: AUTH,
        parameters: PARAMS,
        response: RESPONSE,
    };
    let partner_help = Help {
        description: "Provisions a product to an already registered site (used by `wp jetpack partner_provision`; JSON body).",
        ..provision_help
    };
    vec![
        Endpoint {
            operations: vec![operation!(provision)],
            methods: |_| post(provision),
            rest: Some(Rest {
                min: ApiVersion::V1_3,
                max: None,
                help: provision_help,
                errors: errors_of(&provision)
                    .with(PARSE)
                    .with(ProvisionRefusal::CODES),
            }),
        },
        // Neither `siteurl` nor `local_user` is read here.
        Endpoint {
            operations: vec![operation!(partner_provision)],
            methods: |_| post(partner_provision),
            rest: Some(Rest {
                min: ApiVersion::V1_3,
                max: None,
                help: partner_help,
                errors: errors_of(&partner_provision)
                    .with(PARTNER_PARSE)
                    .with(ProvisionRefusal::CODES),
            }),
        },
    ]
}

/// `POST /rest/v1.3/jpphp/provision`.
#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/provision",
    tag = "jpphp",
    security(("bearer" = [])),
    request_body(
        description = "Any of the four body formats; body parameters win over the query string.",
        content(
            (ProvisionParams = "application/x-www-form-urlencoded"),
            (ProvisionParams = "multipart/form-data"),
            (ProvisionParams = "application/json"),
        )
    ),
    responses((status = 200, description = "Provisioned (or already live from this key: nothing new).", body = ProvisionResponse)),
)]
pub async fn provision(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Params(p): Params<ProvisionParams>,
) -> Result<Json<ProvisionResponse>, ApiError> {
    let siteurl = non_empty(&p.siteurl).ok_or(ErrorCode::InvalidSiteurl)?;
    bounded(
        siteurl,
        state.bounds.max_url_length,
        ErrorCode::InvalidSiteurl,
        "siteurl",
    )?;
    let url = SiteUrl::parse(siteurl).map_err(|e| ApiError {
        code: ErrorCode::InvalidSiteurl,
        message: format!("The \"siteurl\" argument is not a site URL: {e}."),
    })?;
    let local_user = p
        .local_user()
        .ok_or(ErrorCode::InvalidLocalUser)?
        .to_string();
    crate::sandbox::intercept_site(&state, caller.key_id, url.identifier()).await?;
    // next_url is built from the caller's own URL, never from the one
    // another partner may have registered (SPEC §11).
    let base = url.base();
    let site = ProvisionSite::Url {
        identifier: url.identifier().clone(),
        url: url.as_str().to_string(),
    };
    run(&state, caller, site, Some(local_user), &p, Some(base)).await
}

/// `POST /rest/v1.3/jpphp/{blog_id}/partner-provision`: the same rules for a
/// site jpstart already knows by blog id. The Jetpack plugin sends
/// `user_login` rather than `local_user`; either is taken, neither required.
#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/{blog_id}/partner-provision",
    tag = "jpphp",
    security(("bearer" = [])),
    params(BlogIdPath),
    request_body(
        description = "Any of the four body formats; body parameters win over the query string.",
        content(
            (ProvisionParams = "application/x-www-form-urlencoded"),
            (ProvisionParams = "multipart/form-data"),
            (ProvisionParams = "application/json"),
        )
    ),
    responses((status = 200, description = "Provisioned (or already live from this key: nothing new).", body = ProvisionResponse)),
)]
pub async fn partner_provision(
    State(state): State<AppState>,
    Writer(caller): Writer,
    BlogIdPath { id, .. }: BlogIdPath,
    Params(p): Params<ProvisionParams>,
) -> Result<Json<ProvisionResponse>, ApiError> {
    let local_user = p.local_user().map(str::to_string);
    crate::sandbox::intercept(&state, caller.key_id, &SiteRef::BlogId(id)).await?;
    run(
        &state,
        caller,
        ProvisionSite::BlogId(id),
        local_user,
        &p,
        None,
    )
    .await
}

async fn run(
    state: &AppState,
    caller: Caller,
    site: ProvisionSite,
    local_user: Option<String>,
    p: &ProvisionParams,
    caller_base: Option<String>,
) -> Result<Json<ProvisionResponse>, ApiError> {
    // Stored free text is bounded (SPEC §11), before any unit of work.
    let max = state.bounds.max_field_length;
    if let Some(user) = &local_user {
        bounded(user, max, ErrorCode::InvalidLocalUser, "local_user")?;
    }
    if let Some(id) = p.tracking_id() {
        check_length(id, max)
            .map_err(|e| ApiError::with_arg(ErrorCode::InvalidPartnerTrackingId, e.max))?;
    }
    // Plan resolution, once, at the edge: the store and the rules get the
    // resolved product.
    let product = match non_empty(&p.plan) {
        None => None,
        Some(plan) => Some(
            ProductSlug::parse(plan)
                .ok()
                .and_then(|s| state.catalogue.resolve(&s))
                .ok_or_else(|| ApiError::with_arg(ErrorCode::InvalidPlan, plan))?,
        ),
    };
    // The link is stored with the provision (one commit) when the rules
    // issue one, and shown only then.
    let link_token = secrets::generate();
    let req = ProvisionRequest {
        key_id: caller.key_id,
        partner_id: caller.partner_id,
        site,
        local_user,
        product,
        force_register: p.force_register.get(),
        force_connect: p.force_connect.get(),
        partner_tracking_id: p.tracking_id().map(str::to_string),
        now: state.clock.now(),
        pending_ttl: Duration::from_millis(state.pending_ttl_ms.max(0).unsigned_abs()),
        auth_link_digest: secrets::digest(&link_token),
    };
    let outcome = state.store.provision(&req).await??;
    if let Some(a) = &outcome.activation {
        if a.created {
            tracing::info!(
                key_id = caller.key_id.get(),
                blog_id = %outcome.blog_id,
                activation_id = a.id.get(),
                pending = a.pending,
                superseded = ?a.superseded.map(ActivationId::get),
                "activation created"
            );
        }
    }
    let host = outcome.identifier.host().to_string();
    let (ssh, ftp) = super::credentials::at_provision(
        state,
        outcome.blog_id,
        caller.partner_id,
        &host,
        &p.ssh,
        &p.ftp,
    )
    .await;
    let next_url = if outcome.link_issued {
        authorize_url(&state.public_url, &link_token, outcome.blog_id)
    } else {
        site_admin_url(caller_base, &outcome)
    };
    let mut response = ProvisionResponse {
        success: true,
        auth_required: outcome.link_issued,
        next_url,
        access_token: None,
        ssh_set: ssh.as_ref().map(|r| r.0),
        ssh_error: ssh.map(|r| r.1),
        ftp_set: ftp.as_ref().map(|r| r.0),
        ftp_error: ftp.map(|r| r.1),
    };
    // Automatic account creation (issue 13): may connect the site and set
    // access_token; otherwise leaves the response as it is.
    let email = p.wpcom_user_email.as_deref();
    super::users::after_provision(state, &caller, &outcome, email, &mut response).await;
    Ok(Json(response))
}

/// Refuses a stored field longer than `max` characters with the code of
/// its parameter ([`check_length`]).
fn bounded(value: &str, max: usize, code: ErrorCode, name: &str) -> Result<(), ApiError> {
    check_length(value, max).map_err(|e| ApiError {
        code,
        message: format!(
            "The \"{name}\" argument is longer than {} characters.",
            e.max
        ),
    })
}

/// The authorization page's link. It always carries a query string (the
/// site's blog id, as upstream's authorize URLs name the site), so that the
/// recipe of redirect-after-authorization.md, appending
/// `&partner_redirect=URL`, gives a well-formed URL; the page reads only the
/// token and `partner_redirect`.
fn authorize_url(public_url: &str, link_token: &str, blog_id: BlogId) -> String {
    format!("{public_url}/authorize/{link_token}?blog_id={blog_id}")
}

/// Where a connected site's owner goes next: the site's Jetpack page, under
/// the caller's own URL, or (by blog id) the stored one if it still passes
/// today's checks (URLs stored by older releases may not), else the
/// identifier's host and path.
fn site_admin_url(caller_base: Option<String>, o: &ProvisionOutcome) -> String {
    let base = caller_base.unwrap_or_else(|| match SiteUrl::parse(&o.url) {
        Ok(u) if u.identifier() == &o.identifier => u.base(),
        _ => SiteUrl::base_of(&o.identifier),
    });
    format!("{base}/wp-admin/admin.php?page=jetpack")
}
