//! `POST /rest/v1.3/jpphp/{site_or_blog_id}/partner-cancel` — the endpoint the
//! seed documents specify (SPEC §5; upstream: host-partner-documentation,
//! jetpack/jetpack-start-endpoints/plan-cancellation.md).

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use jpstart_types::params::{non_empty, CancelParams};
use jpstart_types::wire::{CancelResponse, CancelledActivation};
use jpstart_types::ProductSlug;

use crate::app::state::AppState;
use crate::domain::rules::CancelTarget;
use crate::domain::{ApiError, CancelRefusal, ErrorCode};
use crate::rest::rejects::errors_of;
use crate::rest::{operation, ApiVersion, Endpoint, Help, Params, Rest, SitePath};
use crate::store::{CancelRequest, CancelledRecord};
use crate::writer::Writer;

/// Answered by the handler itself: `invalid_plan` while parsing, and
/// `invalid_input` for a store failure, as upstream answers it.
const HANDLER: &[ErrorCode] = &[ErrorCode::InvalidPlan, ErrorCode::InvalidInput];

/// `partner-cancel`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![Endpoint {
        operations: vec![operation!(cancel)],
        methods: |_| post(cancel),
        rest: Some(Rest {
            min: ApiVersion::V1_3,
            max: None,
            help: Help {
                description: "Cancels what the calling key provisioned to a site. A retry is harmless: nothing left to cancel answers {\"success\":false} (with cancel-all: {\"success\":false,\"pending_activations\":[],\"activations\":[]}).",
                versions: "1.3+",
                authentication: "Bearer token (scope jetpack-partner)",
                parameters: &[
                    ("plan", "the product to cancel; optional for the jetpack-plans family, required for any other product"),
                    ("cancel-all", "bool: cancel every live activation of the calling key on the site"),
                ],
                response: &[
                    ("success", "whether something was cancelled"),
                    ("pending_activations", "with cancel-all (always, possibly empty): the pending activations cancelled"),
                    ("activations", "with cancel-all (always, possibly empty): the active activations cancelled"),
                ],
            },
            // `plan` is parsed here: `invalid_plan`.
            errors: errors_of(&cancel).with(HANDLER).with(CancelRefusal::CODES),
        }),
    }]
}

#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/{site_or_blog_id}/partner-cancel",
    tag = "jpphp",
    security(("bearer" = [])),
    params(SitePath),
    request_body(
        description = "Any of the four body formats; body parameters win over the query string.",
        content(
            (CancelParams = "application/x-www-form-urlencoded"),
            (CancelParams = "multipart/form-data"),
            (CancelParams = "application/json"),
        )
    ),
    responses((status = 200, description = "`success` is false when there was nothing to cancel; with `cancel-all` both arrays are always there (empty when nothing was cancelled), without it neither.", body = CancelResponse)),
)]
pub async fn cancel(
    State(state): State<AppState>,
    Writer(caller): Writer,
    SitePath { site, .. }: SitePath,
    Params(p): Params<CancelParams>,
) -> Result<Json<CancelResponse>, ApiError> {
    crate::sandbox::intercept(&state, caller.key_id, &site).await?;
    let all = p.cancel_all();
    // Resolved at the edge: the store and the rules never read the catalogue.
    let product = match non_empty(&p.plan) {
        None => None,
        Some(plan) => Some(
            ProductSlug::parse(plan)
                .ok()
                .filter(|s| state.catalogue.product(s).is_some())
                .ok_or_else(|| ApiError::with_arg(ErrorCode::InvalidPlan, plan))?,
        ),
    };
    let target = match product {
        _ if all => CancelTarget::All,
        None => CancelTarget::PlansFamily(state.catalogue.plans_slugs()),
        Some(slug) => CancelTarget::Product(slug),
    };
    let req = CancelRequest {
        key_id: caller.key_id,
        site,
        target,
        now: state.clock.now(),
    };
    let outcome = match state.store.cancel(&req).await {
        Ok(result) => result.map_err(ApiError::from)?,
        Err(e) => {
            // The transaction rolled back: nothing was cancelled.
            tracing::error!(error = %e, "cancellation failed");
            return Err(ErrorCode::InvalidInput.into());
        }
    };
    if outcome.cancelled.is_empty() {
        // Seed 003: the arrays come whenever cancel-all is set, so a client
        // reading them after a retried cancel-all finds them (empty).
        return Ok(Json(CancelResponse {
            success: false,
            pending_activations: all.then(Vec::new),
            activations: all.then(Vec::new),
        }));
    }
    for c in &outcome.cancelled {
        tracing::info!(key_id = caller.key_id.get(), blog_id = %c.blog_id, activation_id = c.id.get(), "activation cancelled");
    }
    let (pending, active): (Vec<_>, Vec<_>) = outcome.cancelled.iter().partition(|c| c.was_pending);
    let describe = |v: Vec<&CancelledRecord>| v.into_iter().map(describe).collect::<Vec<_>>();
    Ok(Json(CancelResponse {
        success: true,
        pending_activations: all.then(|| describe(pending)),
        activations: all.then(|| describe(active)),
    }))
}

fn describe(c: &CancelledRecord) -> CancelledActivation {
    CancelledActivation {
        activation_id: c.id.get().unsigned_abs(),
        product: c.product.to_string(),
        blog_id: c.blog_id.get(),
        site: c.identifier.to_string(),
        created: c.created_at.rfc3339(),
        partner_tracking_id: c.partner_tracking_id.clone(),
    }
}
