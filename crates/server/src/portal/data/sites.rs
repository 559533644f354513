//! `/portal/sites/{site}` (a blog id or the site's identifier): the site's
//! status as the v1.4 status endpoint answers the partner, every
//! activation the partner's keys made on it, and their event history.
//!
//! Only a site the partner has activations on is shown; any other — of
//! another partner, or unknown — is the same 404, so that a user cannot
//! learn which sites exist.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use jpstart_types::wire::StatusV14;
use jpstart_types::SiteRef;

use super::{refused, when};
use crate::api::status::status_v14;
use crate::app::state::AppState;
use crate::domain::ApiError;
use crate::portal::{message, render, Nav, PortalUser};
use crate::store::ActivationFilter;

#[derive(askama::Template)]
#[template(path = "data/site.html")]
struct SitePage {
    title: String,
    nav: Nav,
    blog_id: u64,
    url: String,
    status: StatusV14,
    activations: Vec<ActivationView>,
    events: Vec<EventView>,
}

struct ActivationView {
    id: i64,
    product: String,
    state: String,
    key_id: String,
    created: String,
    activated: String,
    ended: String,
    tracking: String,
}

struct EventView {
    at: String,
    activation_id: i64,
    product: String,
    from: String,
    to: String,
    actor: String,
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "No such site",
        "None of your keys has an activation on this site.",
        Some("/portal/activations"),
    )
}

/// `GET /portal/sites/{site}`.
pub async fn page(
    State(state): State<AppState>,
    user: PortalUser,
    Path(segment): Path<String>,
) -> Response {
    let Ok(site) = SiteRef::parse(&segment) else {
        return not_found();
    };
    match build(&state, &user, &site).await {
        Ok(Some(page)) => render(StatusCode::OK, &page),
        Ok(None) => not_found(),
        Err(e) => refused(e),
    }
}

async fn build(
    state: &AppState,
    user: &PortalUser,
    site: &SiteRef,
) -> Result<Option<SitePage>, ApiError> {
    let mine = state
        .store
        .activations(&ActivationFilter {
            site: Some(site.clone()),
            partner_id: Some(user.partner_id),
            key_id: None,
        })
        .await?;
    if mine.is_empty() {
        return Ok(None);
    }
    let Some(found) = state.store.site(site, state.clock.now()).await? else {
        return Ok(None);
    };
    let events = state
        .store
        .site_events(found.blog_id, user.partner_id)
        .await?;
    let activations = mine
        .iter()
        .rev()
        .map(|a| ActivationView {
            id: a.id.get(),
            product: a.product.to_string(),
            state: a.state.as_str().to_string(),
            key_id: a.key_id.map(|k| format!("#{k}")).unwrap_or_default(),
            created: when(Some(a.created_at)),
            activated: when(a.activated_at),
            ended: when(a.ended_at),
            tracking: a.partner_tracking_id.clone().unwrap_or_default(),
        })
        .collect();
    Ok(Some(SitePage {
        title: format!("Site {}", found.identifier),
        nav: user.nav("activations"),
        blog_id: found.blog_id.get(),
        url: found.url.clone(),
        status: status_v14(&found, user.partner_id),
        activations,
        events: events
            .into_iter()
            .map(|e| EventView {
                at: when(Some(e.at)),
                activation_id: e.activation_id.get(),
                product: e.product.to_string(),
                from: e.from_state.unwrap_or_default(),
                to: e.to_state,
                actor: e.actor,
            })
            .collect(),
    }))
}
