//! `/portal/webhooks`: the webhook endpoints of the signed-in user's
//! partner (SPEC §10) — list, register (the `whsec_...` secret shown on
//! the answer to the POST and never again), delete, each endpoint's
//! delivery log with replay — and the partner's Monitor URL.
//!
//! Registering, replaying and setting the Monitor URL go through the very
//! functions the API's handlers call ([`api::webhooks::register`],
//! [`api::webhooks::replay_now`], [`api::monitor::set_monitor_url`]), so
//! the SSRF guard and the catalogued errors are the API's. Every store
//! call names the session's partner: another partner's endpoint id is
//! "no such endpoint" (404), with nothing shown or changed.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use jpstart_types::params::non_empty;
use jpstart_types::webhooks::EventType;
use serde::Deserialize;

use super::login::CsrfForm;
use super::{internal, message, render, see_other, Nav, PortalUser};
use crate::api;
use crate::app::state::AppState;
use crate::domain::ApiError;
use crate::rest::Params;
use crate::store::{DeliveryRecord, WebhookRecord};

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal/webhooks", get(list).post(register))
        .route("/portal/webhooks/monitor", post(set_monitor))
        .route("/portal/webhooks/{id}", get(endpoint))
        .route("/portal/webhooks/{id}/delete", post(delete))
        .route(
            "/portal/webhooks/{id}/deliveries/{delivery}/replay",
            post(replay),
        )
}

/// Deliveries shown on an endpoint's page (the newest).
const DELIVERIES_SHOWN: i64 = 100;

#[derive(askama::Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    title: String,
    nav: Nav,
    endpoints: Vec<EndpointRow>,
    /// Just registered: the endpoint and its secret, this once.
    created: Option<Created>,
    error: Option<String>,
    notice: Option<String>,
    /// The registration form's values (kept after a refusal).
    url: String,
    events: Vec<EventBox>,
    monitor_url: String,
}

struct EndpointRow {
    id: i64,
    url: String,
    events: String,
    created: String,
}

struct Created {
    id: i64,
    url: String,
    events: String,
    secret: String,
}

/// One checkbox of the registration form.
struct EventBox {
    name: &'static str,
    checked: bool,
}

fn event_list(events: &[EventType]) -> String {
    if EventType::ALL.iter().all(|e| events.contains(e)) {
        return "every event".into();
    }
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<WebhookRecord> for EndpointRow {
    fn from(w: WebhookRecord) -> Self {
        EndpointRow {
            id: w.id,
            url: w.url,
            events: event_list(&w.events),
            created: w.created_at.rfc3339(),
        }
    }
}

/// What the list page shows besides the endpoints.
#[derive(Default)]
struct Shown {
    created: Option<Created>,
    error: Option<String>,
    notice: Option<String>,
    url: String,
    checked: Vec<String>,
    monitor_url: String,
}

async fn list_page(
    state: &AppState,
    user: &PortalUser,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let endpoints = match state.store.webhooks(user.partner_id).await {
        Ok(list) => list.into_iter().map(EndpointRow::from).collect(),
        Err(e) => return internal(e),
    };
    let events = EventType::ALL
        .iter()
        .map(|e| EventBox {
            name: e.as_str(),
            checked: shown.checked.iter().any(|c| c == e.as_str()),
        })
        .collect();
    render(
        status,
        &WebhooksPage {
            title: "Webhooks".into(),
            nav: user.nav("webhooks"),
            endpoints,
            created: shown.created,
            error: shown.error,
            notice: shown.notice,
            url: shown.url,
            events,
            monitor_url: shown.monitor_url,
        },
    )
}

/// `?monitor=set` after the Monitor URL form.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    monitor: Option<String>,
}

/// `GET /portal/webhooks`.
pub async fn list(
    State(state): State<AppState>,
    user: PortalUser,
    query: Result<Params<ListQuery>, ApiError>,
) -> Response {
    let saved = query
        .ok()
        .and_then(|Params(q)| q.monitor)
        .is_some_and(|m| m == "set");
    let shown = Shown {
        notice: saved.then(|| "The Monitor URL is saved.".to_string()),
        ..Shown::default()
    };
    list_page(&state, &user, StatusCode::OK, shown).await
}

/// The anti-forgery token of a URL-encoded form body.
fn csrf_of(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == super::session::CSRF_FIELD)
        .map(|(_, v)| v.into_owned())
}

/// An API refusal as the page's error line.
fn refusal(e: &ApiError) -> (StatusCode, String) {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, format!("{} ({})", e.message, e.code.code()))
}

/// `POST /portal/webhooks`: registers an endpoint (`url`, `events`
/// checkboxes: none checked is every event, as in the API); the answer
/// shows its secret this once.
pub async fn register(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sent = csrf_of(&body);
    if let Err(refused) = user.check_form(&state, &headers, non_empty(&sent)) {
        return refused.into_response();
    }
    let registered = match api::webhooks::registration(None, &headers, &body) {
        Ok((url, names)) => {
            let done = api::webhooks::register(&state, user.partner_id, &url, &names).await;
            done.map_err(|e| (e, url, names))
        }
        Err(e) => Err((e, String::new(), Vec::new())),
    };
    match registered {
        Ok(created) => {
            tracing::info!(
                user_id = user.user_id,
                "webhook endpoint registered in the portal"
            );
            let shown = Shown {
                created: Some(Created {
                    id: created.id,
                    url: created.url,
                    events: event_list(&created.events),
                    secret: created.secret,
                }),
                ..Shown::default()
            };
            list_page(&state, &user, StatusCode::OK, shown).await
        }
        Err((e, url, checked)) => {
            let (status, why) = refusal(&e);
            let shown = Shown {
                error: Some(why),
                url,
                checked,
                ..Shown::default()
            };
            list_page(&state, &user, status, shown).await
        }
    }
}

/// The Monitor URL form.
#[derive(Debug, Default, Deserialize)]
pub struct MonitorForm {
    csrf_token: Option<String>,
    url: Option<String>,
}

/// `POST /portal/webhooks/monitor`: sets the partner's Monitor URL.
pub async fn set_monitor(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    form: Result<Params<MonitorForm>, ApiError>,
) -> Response {
    let form = form.map(|Params(f)| f).unwrap_or_default();
    if let Err(refused) = user.check_form(&state, &headers, non_empty(&form.csrf_token)) {
        return refused.into_response();
    }
    let url = form.url.unwrap_or_default();
    match api::monitor::set_monitor_url(&state, user.partner_id, &url).await {
        Ok(_) => see_other("/portal/webhooks?monitor=set"),
        Err(e) => {
            let (status, why) = refusal(&e);
            let shown = Shown {
                error: Some(why),
                monitor_url: url,
                ..Shown::default()
            };
            list_page(&state, &user, status, shown).await
        }
    }
}

/// An id in a portal path; anything but a positive number is nobody's.
fn id_of(segment: &str) -> Option<i64> {
    segment.parse::<i64>().ok().filter(|n| *n > 0)
}

/// The 404 of an endpoint (or delivery) the partner does not have.
fn no_such(what: &str) -> Response {
    message(
        StatusCode::NOT_FOUND,
        &format!("No such {what}"),
        &format!("Your partner has no such {what}. Nothing was changed."),
        Some("/portal/webhooks"),
    )
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
    if let Err(refused) = user.check_form(&state, &headers, non_empty(&sent)) {
        return refused.into_response();
    }
    let Some(id) = id_of(&id) else {
        return no_such("endpoint");
    };
    let now = state.clock.now();
    match state.store.delete_webhook(user.partner_id, id, now).await {
        Ok(true) => {
            tracing::info!(
                user_id = user.user_id,
                webhook_id = id,
                "webhook endpoint deleted in the portal"
            );
            see_other("/portal/webhooks")
        }
        Ok(false) => no_such("endpoint"),
        Err(e) => internal(e),
    }
}

#[derive(askama::Template)]
#[template(path = "webhook.html")]
struct EndpointPage {
    title: String,
    nav: Nav,
    endpoint: EndpointRow,
    deliveries: Vec<DeliveryRow>,
}

struct DeliveryRow {
    id: i64,
    event_id: String,
    kind: &'static str,
    status: &'static str,
    attempts: i64,
    last_status: String,
    latency: String,
    created: String,
}

impl From<DeliveryRecord> for DeliveryRow {
    fn from(d: DeliveryRecord) -> Self {
        DeliveryRow {
            id: d.id,
            event_id: d.event_id,
            kind: d.kind.as_str(),
            status: d.status.as_str(),
            attempts: d.attempts,
            last_status: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
            latency: d
                .last_latency_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_default(),
            created: d.created_at.rfc3339(),
        }
    }
}

/// `GET /portal/webhooks/{id}`: the endpoint's delivery log, newest first.
pub async fn endpoint(
    State(state): State<AppState>,
    user: PortalUser,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = id_of(&id) else {
        return no_such("endpoint");
    };
    let found = match state.store.webhooks(user.partner_id).await {
        Ok(list) => list.into_iter().find(|w| w.id == id),
        Err(e) => return internal(e),
    };
    let Some(found) = found else {
        return no_such("endpoint");
    };
    let deliveries = state
        .store
        .webhook_deliveries(user.partner_id, id, DELIVERIES_SHOWN, 0)
        .await;
    let deliveries = match deliveries {
        Ok(Some(list)) => list.into_iter().map(DeliveryRow::from).collect(),
        Ok(None) => return no_such("endpoint"),
        Err(e) => return internal(e),
    };
    render(
        StatusCode::OK,
        &EndpointPage {
            title: format!("Webhook endpoint {id}"),
            nav: user.nav("webhooks"),
            endpoint: EndpointRow::from(found),
            deliveries,
        },
    )
}

/// `POST /portal/webhooks/{id}/deliveries/{delivery}/replay`: sends the
/// delivery's event again (the API's replay).
pub async fn replay(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    Path((id, delivery)): Path<(String, String)>,
    form: Result<Params<CsrfForm>, ApiError>,
) -> Response {
    let sent = form.ok().and_then(|Params(f)| f.csrf_token);
    if let Err(refused) = user.check_form(&state, &headers, non_empty(&sent)) {
        return refused.into_response();
    }
    let (Some(id), Some(delivery)) = (id_of(&id), id_of(&delivery)) else {
        return no_such("delivery");
    };
    match api::webhooks::replay_now(&state, user.partner_id, id, delivery).await {
        Ok(_) => {
            tracing::info!(
                user_id = user.user_id,
                webhook_id = id,
                delivery_id = delivery,
                "delivery replayed in the portal"
            );
            see_other(&format!("/portal/webhooks/{id}"))
        }
        Err(e) if e.status() == 404 => no_such("delivery"),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lists_and_ids() {
        assert_eq!(event_list(EventType::ALL), "every event");
        assert_eq!(
            event_list(&[EventType::SiteConnected, EventType::ActivationActive]),
            "site.connected, activation.active"
        );
        assert_eq!(id_of("12"), Some(12));
        for bad in ["", "0", "-3", "x", "1.5"] {
            assert_eq!(id_of(bad), None);
        }
        assert_eq!(
            csrf_of(b"url=x&csrf_token=abc&events=a").as_deref(),
            Some("abc")
        );
    }
}
