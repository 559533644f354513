//! `POST /rest/v1.3/jpphp/provision` and `/{blog_id}/partner-provision`
//! (SPEC §5; upstream: host-partner-documentation,
//! jetpack/jetpack-start-endpoints/plan-provisioning.md).

use axum::extract::State;
use axum::Json;
use jpstart_types::params::{non_empty, ProvisionParams};
use jpstart_types::wire::ProvisionResponse;
use jpstart_types::{BlogId, ProductSlug, SiteIdentifier};

use crate::app::AppState;
use crate::auth::Caller;
use crate::domain::{ApiError, ErrorCode};
use crate::rest::{EndpointDoc, Params, Segment};
use crate::secrets;
use crate::store::{NewAuthLink, ProvisionOutcome, ProvisionRequest, ProvisionSite};

const ERRORS: &[ErrorCode] = &[
    ErrorCode::InvalidSiteurl,
    ErrorCode::InvalidLocalUser,
    ErrorCode::InvalidPlan,
    ErrorCode::PlanDowngradeDisallowed,
    ErrorCode::ProductAlreadyIncluded,
    ErrorCode::ProductOwnedByAnotherPartner,
    ErrorCode::ActivationLimitReached,
    ErrorCode::InvalidBlog,
    ErrorCode::AuthorizationRequired,
    ErrorCode::InvalidToken,
    ErrorCode::PartnerKeyDisabled,
    ErrorCode::InvalidScope,
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
        "the authorization page (pending) or the site's Jetpack admin page",
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

pub static DOC: EndpointDoc = EndpointDoc {
    method: "POST",
    path: "/rest/v1.3/jpphp/provision",
    description:
        "Provisions a product to a site given by its URL, registering the site on first use.",
    versions: "1.3+",
    authentication: "Bearer token (scope jetpack-partner)",
    parameters: PARAMS,
    response: RESPONSE,
    errors: ERRORS,
};

/// As [`ERRORS`] less the `siteurl`/`local_user` ones (neither is required
/// here), and a path segment that is no site at all.
const PARTNER_ERRORS: &[ErrorCode] = &[
    ErrorCode::InvalidPlan,
    ErrorCode::PlanDowngradeDisallowed,
    ErrorCode::ProductAlreadyIncluded,
    ErrorCode::ProductOwnedByAnotherPartner,
    ErrorCode::ActivationLimitReached,
    ErrorCode::InvalidBlog,
    ErrorCode::InvalidSite,
    ErrorCode::AuthorizationRequired,
    ErrorCode::InvalidToken,
    ErrorCode::PartnerKeyDisabled,
    ErrorCode::InvalidScope,
];

pub static PARTNER_DOC: EndpointDoc = EndpointDoc {
    method: "POST",
    path: "/rest/v1.3/jpphp/{blog_id}/partner-provision",
    description: "Provisions a product to an already registered site (used by `wp jetpack partner_provision`; JSON body).",
    versions: "1.3+",
    authentication: "Bearer token (scope jetpack-partner)",
    parameters: PARAMS,
    response: RESPONSE,
    errors: PARTNER_ERRORS,
};

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
    caller: Caller,
    Params(p): Params<ProvisionParams>,
) -> Result<Json<ProvisionResponse>, ApiError> {
    let siteurl = non_empty(&p.siteurl).ok_or(ErrorCode::InvalidSiteurl)?;
    let identifier = SiteIdentifier::from_url(siteurl).map_err(|e| ApiError {
        code: ErrorCode::InvalidSiteurl,
        message: format!("The \"siteurl\" argument is not a site URL: {e}."),
    })?;
    let local_user = p
        .local_user()
        .ok_or(ErrorCode::InvalidLocalUser)?
        .to_string();
    let site = ProvisionSite::Url {
        identifier,
        url: siteurl.to_string(),
    };
    run(&state, caller, site, Some(local_user), &p).await
}

/// `POST /rest/v1.3/jpphp/{blog_id}/partner-provision`: the same rules for a
/// site jpstart already knows by blog id. The Jetpack plugin sends
/// `user_login` rather than `local_user`; either is taken, neither required.
#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/{blog_id}/partner-provision",
    tag = "jpphp",
    security(("bearer" = [])),
    params(("blog_id" = String, Path, description = "The blog id (digits) of a site jpstart registered.", example = "1"),),
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
    Segment(blog_id): Segment,
    caller: Caller,
    Params(p): Params<ProvisionParams>,
) -> Result<Json<ProvisionResponse>, ApiError> {
    let id = BlogId::parse(&blog_id)
        .map_err(|_| ApiError::with_arg(ErrorCode::InvalidBlog, &blog_id))?;
    let local_user = p.local_user().map(str::to_string);
    run(&state, caller, ProvisionSite::BlogId(id), local_user, &p).await
}

async fn run(
    state: &AppState,
    caller: Caller,
    site: ProvisionSite,
    local_user: Option<String>,
    p: &ProvisionParams,
) -> Result<Json<ProvisionResponse>, ApiError> {
    let product = match non_empty(&p.plan) {
        None => None,
        Some(plan) => {
            let known = ProductSlug::parse(plan)
                .ok()
                .filter(|s| state.catalogue.product(s).is_some());
            Some(known.ok_or_else(|| ApiError::with_arg(ErrorCode::InvalidPlan, plan))?)
        }
    };
    let now = state.clock.now().as_millis();
    // The link is stored with the provision (one commit) and shown only if
    // the site ends up waiting for its owner.
    let link_token = secrets::generate();
    let req = ProvisionRequest {
        key_id: caller.key_id,
        restricted: caller.is_sub_key,
        site,
        local_user,
        product,
        force_register: p.force_register.get(),
        force_connect: p.force_connect.get(),
        partner_tracking_id: p.tracking_id().map(str::to_string),
        now,
        pending_ttl_ms: state.pending_ttl_ms,
        auth_link: Some(NewAuthLink {
            digest: secrets::digest(&link_token),
            expires_at: now.saturating_add(state.pending_ttl_ms),
        }),
    };
    let outcome = state.store.provision(&req, &state.catalogue).await??;
    if let Some(a) = &outcome.activation {
        if a.created {
            tracing::info!(
                key_id = caller.key_id,
                blog_id = %outcome.blog_id,
                activation_id = a.id,
                pending = a.pending,
                superseded = ?a.superseded,
                "activation created"
            );
        }
    }
    let host = outcome.identifier.host().to_string();
    let (ssh, ftp) =
        super::credentials::at_provision(state, outcome.blog_id, &host, &p.ssh, &p.ftp).await;
    let next_url = if outcome.connected {
        site_admin_url(&outcome)
    } else {
        format!("{}/authorize/{link_token}", state.public_url)
    };
    let mut response = ProvisionResponse {
        success: true,
        auth_required: !outcome.connected,
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

/// Where a connected site's owner goes next: the site's Jetpack page.
fn site_admin_url(o: &ProvisionOutcome) -> String {
    let base = o.url.trim().trim_end_matches('/');
    let base = if base.contains("://") {
        base.to_string()
    } else {
        format!("https://{base}")
    };
    format!("{base}/wp-admin/admin.php?page=jetpack")
}
