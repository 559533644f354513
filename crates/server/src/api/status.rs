//! `GET /rest/v1.4/jpphp/{site}/status`, the deprecated v1.3 shape, and
//! `/rest/v1.3/jpphp/{site}/upgrade-paths` (SPEC §5; upstream:
//! determining-provisioning-status-v1.4.md, upgrade-paths.md).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jpstart_types::site::SiteRefError;
use jpstart_types::wire::{
    BlogStatus, ProductStatusV13, ProductStatusV14, StatusV13, StatusV14, UpgradePaths,
};
use jpstart_types::{OrderedMap, SiteRef};

use crate::app::AppState;
use crate::auth::Caller;
use crate::domain::rules::{self, KeyUsage, LiveActivation};
use crate::domain::{ApiError, ErrorCode};
use crate::rest::{ApiVersion, EndpointDoc, Segment};
use crate::store::SiteState;

const ERRORS: &[ErrorCode] = &[
    ErrorCode::PartnerKeyDisabled,
    ErrorCode::InvalidScope,
    ErrorCode::InvalidBlog,
    ErrorCode::InvalidSite,
    ErrorCode::AuthorizationRequired,
    ErrorCode::InvalidToken,
];

pub static DOC: EndpointDoc = EndpointDoc {
    method: "GET",
    path: "/rest/v1.4/jpphp/{site_or_blog_id}/status",
    description: "The site's connection and live products, from the calling partner's point of view. Versions 1.2 and 1.3 answer the deprecated shape.",
    versions: "1.2+ (1.4+: current shape)",
    authentication: "Bearer token (scope jetpack-partner)",
    parameters: &[],
    response: &[
        ("blog", "{is_connected, has_backups_credentials}"),
        ("products", "[{slug, is_provisioned_by_partner, is_provisioned_by_calling_partner, is_pending}]"),
    ],
    errors: ERRORS,
};

pub static UPGRADE_DOC: EndpointDoc = EndpointDoc {
    method: "GET",
    path: "/rest/v1.3/jpphp/{site_or_blog_id}/upgrade-paths",
    description: "Per product family, the slugs the calling key could provision to the site now.",
    versions: "1.3+",
    authentication: "Bearer token (scope jetpack-partner)",
    parameters: &[],
    response: &[("{family}", "array of product slugs")],
    errors: ERRORS,
};

/// Parses a `{site_or_blog_id}` path segment.
pub fn site_ref(segment: &str) -> Result<SiteRef, ApiError> {
    SiteRef::parse(segment).map_err(|e| match e {
        SiteRefError::InvalidBlogId(id) => ApiError::with_arg(ErrorCode::InvalidBlog, id),
        SiteRefError::Site(_) => ApiError::with_arg(ErrorCode::InvalidSite, segment),
    })
}

async fn load(state: &AppState, segment: &str) -> Result<(SiteRef, Option<SiteState>), ApiError> {
    let site = site_ref(segment)?;
    let found = state.store.site(&site, state.clock.now()).await?;
    Ok((site, found))
}

#[utoipa::path(
    get,
    path = "/rest/v1.4/jpphp/{site_or_blog_id}/status",
    tag = "jpphp",
    security(("bearer" = [])),
    params(("site_or_blog_id" = String, Path, description = "The blog id (digits) or the site identifier (`example.com::demo`).", example = "fuzz.example.com"),),
    responses((status = 200, description = "The current shape (1.4 and up).", body = StatusV14)),
)]
pub async fn status(
    State(state): State<AppState>,
    Segment(segment): Segment,
    version: Option<Extension<ApiVersion>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (_, site) = load(&state, &segment).await?;
    let site = site.ok_or_else(|| ApiError::with_arg(ErrorCode::InvalidBlog, &segment))?;
    let mine = |a: &LiveActivation| a.partner_id == Some(caller.partner_id);
    let v14 = version.is_some_and(|Extension(v)| v >= ApiVersion::V1_4);
    if v14 {
        return Ok(Json(StatusV14 {
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
                    is_provisioned_by_calling_partner: mine(a),
                    is_pending: a.is_pending(),
                })
                .collect(),
        })
        .into_response());
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

/// The deprecated shape of [`status`], answered to versions 1.2 and 1.3: one
/// handler serves both, so this only carries the OpenAPI description.
#[utoipa::path(
    get,
    path = "/rest/v1.3/jpphp/{site_or_blog_id}/status",
    tag = "jpphp",
    security(("bearer" = [])),
    params(("site_or_blog_id" = String, Path, description = "The blog id (digits) or the site identifier (`example.com::demo`).", example = "fuzz.example.com")),
    responses((status = 200, description = "The deprecated shape (1.2 and 1.3).", body = StatusV13)),
)]
#[expect(dead_code, reason = "an OpenAPI operation only; `status` serves it")]
pub(super) fn status_v13() {}

/// Computed by [`rules::upgrade_paths`], i.e. by the provision rules
/// themselves. A site unknown by identifier gets the paths of an empty site;
/// an unknown blog id is `invalid_blog`.
#[utoipa::path(
    get,
    path = "/rest/v1.3/jpphp/{site_or_blog_id}/upgrade-paths",
    tag = "jpphp",
    security(("bearer" = [])),
    params(("site_or_blog_id" = String, Path, description = "The blog id (digits) or the site identifier (`example.com::demo`).", example = "fuzz.example.com"),),
    responses((status = 200, description = "Product family -> slugs that may be provisioned now.", body = std::collections::BTreeMap<String, Vec<String>>)),
)]
pub async fn upgrade_paths(
    State(state): State<AppState>,
    Segment(segment): Segment,
    caller: Caller,
) -> Result<Json<UpgradePaths>, ApiError> {
    let (site_ref, site) = load(&state, &segment).await?;
    if site.is_none() && matches!(site_ref, SiteRef::BlogId(_)) {
        return Err(ApiError::with_arg(ErrorCode::InvalidBlog, &segment));
    }
    let live = site.map(|s| s.live).unwrap_or_default();
    // The same limit rule as provisioning (`rules::KeyUsage::may_add`): a
    // product whose limit the key's live activations already fill is not
    // offered.
    let usage = KeyUsage {
        is_sub_key: caller.is_sub_key,
        limits: state.store.key_limits(caller.key_id).await?,
        live: state
            .store
            .key_live_counts(caller.key_id, state.clock.now())
            .await?,
    };
    Ok(Json(OrderedMap(rules::upgrade_paths(
        &state.catalogue,
        &live,
        caller.key_id,
        &usage,
    ))))
}
