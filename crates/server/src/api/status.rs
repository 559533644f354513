//! `GET /rest/v1.4/jpphp/{site}/status`, the deprecated v1.3 shape, and
//! `/rest/v1.3/jpphp/{site}/upgrade-paths` (SPEC §5; upstream:
//! determining-provisioning-status-v1.4.md, upgrade-paths.md).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json};
use jpstart_types::wire::{
    BlogStatus, ProductStatusV13, ProductStatusV14, StatusV13, StatusV14, UpgradePaths,
};
use jpstart_types::{OrderedMap, PartnerId, SiteRef};

use crate::app::state::AppState;
use crate::auth::Caller;
use crate::domain::rules::{self, LiveActivation};
use crate::domain::{ApiError, ErrorCode};
use crate::rest::rejects::{errors_of, joined, Rejects};
use crate::rest::{operation, ApiVersion, Endpoint, Help, Rest, SitePath};
use crate::store::SiteState;

/// Both answer `invalid_blog` for a blog id no site has.
const REFUSALS: &[ErrorCode] = &[ErrorCode::InvalidBlog];

/// `status` (one route, two shapes) and `upgrade-paths`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    const AUTH: &str = "Bearer token (scope jetpack-partner)";
    vec![
        // 1.2 and 1.3 answer the deprecated shape, 1.4 and up the current
        // one (the handler reads the version).
        Endpoint {
            operations: vec![operation!(status), operation!(status_v13)],
            methods: |_| get(status),
            rest: Some(Rest {
                min: ApiVersion::V1_2,
                max: None,
                help: Help {
                    description: "The site's connection and live products, from the calling partner's point of view. Versions 1.2 and 1.3 answer the deprecated shape.",
                    versions: "1.2+ (1.4+: current shape)",
                    authentication: AUTH,
                    parameters: &[],
                    response: &[
                        ("blog", "{is_connected, has_backups_credentials}"),
                        ("products", "[{slug, is_provisioned_by_partner, is_provisioned_by_calling_partner, is_pending}]"),
                    ],
                },
                errors: errors_of(&status).with(REFUSALS),
            }),
        },
        Endpoint {
            operations: vec![operation!(upgrade_paths)],
            // The upstream doc's own example POSTs, so POST answers too.
            methods: |_| get(upgrade_paths).post(upgrade_paths),
            rest: Some(Rest {
                min: ApiVersion::V1_3,
                max: None,
                help: Help {
                    description: "Per product family, the slugs the calling key could provision to the site now.",
                    versions: "1.3+",
                    authentication: AUTH,
                    parameters: &[],
                    response: &[("{family}", "array of product slugs")],
                },
                errors: errors_of(&upgrade_paths).with(REFUSALS),
            }),
        },
    ]
}

async fn load(state: &AppState, site: &SiteRef) -> Result<Option<SiteState>, ApiError> {
    Ok(state.store.site(site, state.clock.now()).await?)
}

#[utoipa::path(
    get,
    path = "/rest/v1.4/jpphp/{site_or_blog_id}/status",
    tag = "jpphp",
    security(("bearer" = [])),
    params(SitePath),
    responses((status = 200, description = "The current shape (1.4 and up).", body = StatusV14)),
)]
pub async fn status(
    State(state): State<AppState>,
    version: Option<Extension<ApiVersion>>,
    CallerAndSite { caller, path, site }: CallerAndSite,
) -> Result<Response, ApiError> {
    crate::sandbox::intercept(&state, caller.key_id, &path.site).await?;
    let site = site.ok_or_else(|| ApiError::with_arg(ErrorCode::InvalidBlog, &path.segment))?;
    let mine = |a: &LiveActivation| a.partner_id == Some(caller.partner_id);
    let v14 = version.is_some_and(|Extension(v)| v >= ApiVersion::V1_4);
    if v14 {
        return Ok(Json(status_v14(&site, caller.partner_id)).into_response());
    }
    let plans = state.catalogue.plans_family();
    let in_plans = |a: &&LiveActivation| {
        state
            .catalogue
            .product(&a.product)
            .is_some_and(|p| p.family == plans)
    };
    let plan = site.live.iter().find(in_plans);
    Ok(Json(StatusV13 {
        plan: plan.map(|a| a.product.to_string()).unwrap_or_default(),
        is_partner_plan: plan.is_some_and(|a| a.key_id.is_some()),
        is_provisioned_by_calling_partner: plan.is_some_and(mine),
        is_connected: site.connected,
        has_pending_plan: plan.is_some_and(|a| a.is_pending()),
        has_backups_credentials: site.has_backup_credentials,
        products: site
            .live
            .iter()
            .filter(|a| !in_plans(a))
            .map(|a| ProductStatusV13 {
                product: a.product.to_string(),
                is_partner_product: a.key_id.is_some(),
                has_pending_product: a.is_pending(),
                is_provisioned_by_calling_partner: mine(a),
            })
            .collect(),
    })
    .into_response())
}

/// A status request's caller ([`Caller`]) and site, loaded in one read
/// ([`crate::store::Store::token_and_site`]): the hottest request costs one
/// round trip to the database. Answers exactly as `caller: Caller, path:
/// SitePath` would, in that order: authentication first.
pub struct CallerAndSite {
    caller: Caller,
    path: SitePath,
    site: Option<SiteState>,
}

/// Exactly what `Caller` and `SitePath` reject.
const CALLER_AND_SITE: [ErrorCode; Caller::ERRORS.len() + <SitePath as Rejects>::ERRORS.len()] =
    joined(Caller::ERRORS, <SitePath as Rejects>::ERRORS);

impl Rejects for CallerAndSite {
    const ERRORS: &'static [ErrorCode] = &CALLER_AND_SITE;
}

impl FromRequestParts<AppState> for CallerAndSite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = crate::auth::bearer(parts)?;
        let path = match SitePath::from_request_parts(parts, state).await {
            Ok(path) => path,
            Err(e) => {
                // No site to load: authenticate alone, then refuse the path.
                Caller::from_request_parts(parts, state).await?;
                return Err(e);
            }
        };
        let digest = crate::secrets::digest(token.expose());
        let (record, site) = state
            .store
            .token_and_site(&digest, &path.site, state.clock.now())
            .await?;
        let caller = crate::auth::admit(parts, state, &digest, record).await?;
        Ok(CallerAndSite { caller, path, site })
    }
}

/// The current (1.4) shape of a site's status as `partner` sees it; the
/// portal's site page shows the same.
pub fn status_v14(site: &SiteState, partner: PartnerId) -> StatusV14 {
    StatusV14 {
        blog: BlogStatus {
            is_connected: site.connected,
            has_backups_credentials: site.has_backup_credentials,
        },
        products: site
            .live
            .iter()
            .map(|a| ProductStatusV14 {
                slug: a.product.to_string(),
                is_provisioned_by_partner: a.key_id.is_some(),
                is_provisioned_by_calling_partner: a.partner_id == Some(partner),
                is_pending: a.is_pending(),
            })
            .collect(),
    }
}

/// The deprecated shape of [`status`], answered to versions 1.2 and 1.3: one
/// handler serves both, so this only carries the OpenAPI description.
#[utoipa::path(
    get,
    path = "/rest/v1.3/jpphp/{site_or_blog_id}/status",
    tag = "jpphp",
    security(("bearer" = [])),
    params(SitePath),
    responses((status = 200, description = "The deprecated shape (1.2 and 1.3).", body = StatusV13)),
)]
#[expect(dead_code, reason = "an OpenAPI operation only; `status` serves it")]
fn status_v13() {}

/// Computed by [`rules::upgrade_paths`], i.e. by the provision rules
/// themselves. A site unknown by identifier gets the paths of an empty site;
/// an unknown blog id is `invalid_blog`.
#[utoipa::path(
    get,
    path = "/rest/v1.3/jpphp/{site_or_blog_id}/upgrade-paths",
    tag = "jpphp",
    security(("bearer" = [])),
    params(SitePath),
    responses((status = 200, description = "Product family -> slugs that may be provisioned now.", body = std::collections::BTreeMap<String, Vec<String>>)),
)]
pub async fn upgrade_paths(
    State(state): State<AppState>,
    caller: Caller,
    path: SitePath,
) -> Result<Json<UpgradePaths>, ApiError> {
    crate::sandbox::intercept(&state, caller.key_id, &path.site).await?;
    let site = load(&state, &path.site).await?;
    if site.is_none() && matches!(path.site, SiteRef::BlogId(_)) {
        return Err(ApiError::with_arg(ErrorCode::InvalidBlog, &path.segment));
    }
    let live = site.map(|s| s.live).unwrap_or_default();
    // The same limit rule as provisioning (`rules::KeyUsage::may_add`): a
    // product whose limit is already filled (the key's own, or its
    // parent's by the whole family) is not offered.
    let usage = state
        .store
        .key_usage(caller.key_id, state.clock.now())
        .await?;
    Ok(Json(OrderedMap(rules::upgrade_paths(
        &state.catalogue,
        &live,
        caller.key_id,
        &usage,
    ))))
}
