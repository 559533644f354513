//! `/portal/webhooks`: the partner's webhook endpoints (SPEC §10) with
//! their latest deliveries; registering one (the unit of work of the
//! endpoint, [`crate::api::webhooks::register`]: URL checks, the SSRF
//! guard, a secret shown once), deleting one, replaying a delivery. A
//! partner user may manage its partner's webhooks ([`Reader::check_manage`]).
//!
//! [`Reader::check_manage`]: crate::reader::Reader::check_manage

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jpstart_types::params::non_empty;
use jpstart_types::webhooks::EventType;

use super::{reader, refused};
use crate::api::webhooks::register;
use crate::app::state::AppState;
use crate::domain::{ApiError, ErrorCode};
use crate::portal::login::CsrfForm;
use crate::portal::{internal, render, see_other, Nav, PortalUser};
use crate::reporting::id_param;
use crate::rest::Params;

/// Deliveries shown per endpoint.
const LATEST: i64 = 10;

#[derive(askama::Template)]
#[template(path = "data/webhooks.html")]
struct WebhooksPage {
    title: String,
    nav: Nav,
    endpoints: Vec<EndpointView>,
    kinds: Vec<&'static str>,
    created: Option<Created>,
    error: Option<String>,
    url: String,
}

struct EndpointView {
    id: i64,
    url: String,
    events: String,
    deliveries: Vec<DeliveryView>,
}

struct DeliveryView {
    id: i64,
    kind: &'static str,
    status: &'static str,
    attempts: i64,
    last_status: String,
}

struct Created {
    id: i64,
    url: String,
    secret: String,
}

async fn show(
    state: &AppState,
    user: &PortalUser,
    status: StatusCode,
    created: Option<Created>,
    error: Option<String>,
    url: String,
) -> Response {
    let hooks = match state.store.webhooks(user.partner_id).await {
        Ok(h) => h,
        Err(e) => return internal(e),
    };
    let mut endpoints = Vec::new();
    for h in hooks {
        let deliveries = match state
            .store
            .webhook_deliveries(user.partner_id, h.id, LATEST, 0)
            .await
        {
            Ok(d) => d.unwrap_or_default(),
            Err(e) => return internal(e),
        };
        endpoints.push(EndpointView {
            id: h.id,
            url: h.url,
            events: h
                .events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            deliveries: deliveries
                .into_iter()
                .map(|d| DeliveryView {
                    id: d.id,
                    kind: d.kind.as_str(),
                    status: d.status.as_str(),
                    attempts: d.attempts,
                    last_status: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                })
                .collect(),
        });
    }
    render(
        status,
        &WebhooksPage {
            title: "Webhooks".into(),
            nav: user.nav("webhooks"),
            endpoints,
            kinds: EventType::ALL.iter().map(|e| e.as_str()).collect(),
            created,
            error,
            url,
        },
    )
}

/// `GET /portal/webhooks`.
pub async fn page(State(state): State<AppState>, user: PortalUser) -> Response {
    show(&state, &user, StatusCode::OK, None, None, String::new()).await
}

/// `POST /portal/webhooks` (`url`, `events` repeated): registers an
/// endpoint; the page shows its signing secret once.
pub async fn create(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Err(forged) = user.check_form(&state, &headers, field("csrf_token").as_deref()) {
        return forged.into_response();
    }
    let url = field("url").unwrap_or_default();
    let names: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let made = async {
        reader(&user).check_manage(user.partner_id)?;
        register(&state, user.partner_id, &url, &names).await
    }
    .await;
    match made {
        Ok(w) => {
            let created = Created {
                id: w.id,
                url: w.url,
                secret: w.secret,
            };
            show(
                &state,
                &user,
                StatusCode::OK,
                Some(created),
                None,
                String::new(),
            )
            .await
        }
        Err(e) if e.status() >= 500 => internal(e.message),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            show(&state, &user, status, None, Some(e.message), url).await
        }
    }
}

fn unknown() -> Response {
    refused(ApiError::with_arg(
        ErrorCode::Forbidden,
        "No such webhook endpoint of your partner.",
    ))
}

/// `POST /portal/webhooks/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Params<CsrfForm>, ApiError>,
) -> Response {
    let sent = form.ok().and_then(|Params(f)| f.csrf_token);
    if let Err(forged) = user.check_form(&state, &headers, non_empty(&sent)) {
        return forged.into_response();
    }
    let Ok(id) = id_param("webhook", &id) else {
        return unknown();
    };
    match state
        .store
        .delete_webhook(user.partner_id, id, state.clock.now())
        .await
    {
        Ok(true) => see_other("/portal/webhooks"),
        Ok(false) => unknown(),
        Err(e) => internal(e),
    }
}

/// `POST /portal/webhooks/{id}/deliveries/{delivery}/replay`.
pub async fn replay(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    Path((id, delivery)): Path<(String, String)>,
    form: Result<Params<CsrfForm>, ApiError>,
) -> Response {
    let sent = form.ok().and_then(|Params(f)| f.csrf_token);
    if let Err(forged) = user.check_form(&state, &headers, non_empty(&sent)) {
        return forged.into_response();
    }
    let (Ok(id), Ok(delivery)) = (id_param("webhook", &id), id_param("delivery", &delivery)) else {
        return unknown();
    };
    match state
        .store
        .replay_delivery(user.partner_id, id, delivery, state.clock.now())
        .await
    {
        Ok(Some(_)) => see_other("/portal/webhooks"),
        Ok(None) => unknown(),
        Err(e) => internal(e),
    }
}
