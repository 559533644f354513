//! Webhook endpoints of a partner (SPEC §10): register, list, delete, the
//! delivery log and replay, under `/wpcom/v2/jetpack-partners/{partner_id}`.
//! Managing them takes a partner user or a top-level key
//! ([`Reader::check_manage`]).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::routing::{delete, get, post};
use axum::Json;
use jpstart_types::webhooks::{
    Delivery, DeliveryList, Webhook, WebhookCreated, WebhookDeleted, WebhookList,
};
use jpstart_types::PartnerId;
use serde_json::Value;

use crate::app::state::AppState;
use crate::domain::webhooks::{check_url, parse_events, MAX_ENDPOINTS};
use crate::domain::{ApiError, ErrorCode};
use crate::reader::Reader;
use crate::rest::{operation, Endpoint};
use crate::store::{secret_context, DeliveryRecord, NewWebhook, WebhookRecord};
use crate::webhooks::{guard, sign};

/// Deliveries per page of the log, at most.
const MAX_PER_PAGE: i64 = 100;

/// `webhooks`, `webhooks/{id}`, `.../deliveries`, `.../replay`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![
        Endpoint {
            operations: vec![operation!(list_webhooks), operation!(create_webhook)],
            methods: |_| get(list_webhooks).post(create_webhook),
            rest: None,
        },
        Endpoint::plain(operation!(delete_webhook), |_| delete(delete_webhook)),
        Endpoint::plain(operation!(deliveries), |_| get(deliveries)),
        Endpoint::plain(operation!(replay), |_| post(replay)),
    ]
}

/// A path's partner id; anything but digits is nobody's.
pub fn partner_in_path(segment: &str) -> Result<PartnerId, ApiError> {
    segment
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(PartnerId::new)
        .ok_or_else(|| {
            ApiError::with_arg(
                ErrorCode::Forbidden,
                format!("This token does not belong to partner {segment}."),
            )
        })
}

fn id_in_path(segment: &str, what: &str) -> Result<i64, ApiError> {
    segment
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| unknown(what, segment))
}

fn unknown(what: &str, id: impl std::fmt::Display) -> ApiError {
    ApiError::with_arg(ErrorCode::UnknownWebhook, format!("No {what} {id}."))
}

fn listed(w: WebhookRecord) -> Webhook {
    Webhook {
        id: w.id,
        url: w.url,
        events: w.events,
    }
}

pub fn delivery(d: DeliveryRecord) -> Delivery {
    Delivery {
        id: d.id,
        event_id: d.event_id,
        kind: d.kind,
        status: d.status,
        attempts: d.attempts,
        last_status: d.last_status,
        last_latency_ms: d.last_latency_ms,
    }
}

/// `url` and `events` from a JSON object (`events` an array or a
/// comma-separated string) or a form / query string (`events[]`,
/// `events[N]` or `events`, repeated or comma-separated).
pub fn registration(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, Vec<String>), ApiError> {
    let mut url = None;
    let mut events = Vec::new();
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    if is_json {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::with_arg(ErrorCode::InvalidBody, format!("invalid JSON: {e}"))
        })?;
        let Value::Object(obj) = value else {
            return Err(ApiError::with_arg(
                ErrorCode::InvalidBody,
                "the JSON body is not an object",
            ));
        };
        if let Some(Value::String(u)) = obj.get("url") {
            url = Some(u.clone());
        }
        match obj.get("events").or_else(|| obj.get("events[]")) {
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(s) => events.push(s.clone()),
                        other => events.push(other.to_string()),
                    }
                }
            }
            Some(Value::String(s)) => events.push(s.clone()),
            _ => {}
        }
    } else {
        pairs.extend(form_urlencoded::parse(body).into_owned());
    }
    for (k, v) in pairs {
        if k == "url" {
            url = url.or(Some(v));
        } else if k == "events" || (k.starts_with("events[") && k.ends_with(']')) {
            events.push(v);
        }
    }
    Ok((url.unwrap_or_default(), events))
}

/// `POST /wpcom/v2/jetpack-partners/{partner_id}/webhooks`: registers an
/// endpoint; the answer shows its signing secret this once.
#[utoipa::path(
    post,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/webhooks",
    tag = "webhooks",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path, description = "The partner's id.")),
    request_body(description = "`url` (http or https, a public host unless the server runs with --sandbox or --webhook-allow-private) and `events[]` (absent: every type); a form, a query string or a JSON object.", content_type = "application/json"),
    responses(
        (status = 200, description = "The endpoint, with its secret shown this once.", body = WebhookCreated),
        (status = 400, description = "invalid_webhook_url, webhook_url_not_allowed, invalid_webhook_event, too_many_webhooks", body = jpstart_types::wire::ErrorBody),
        (status = 403, description = "forbidden: another partner, or a sub-key", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn create_webhook(
    State(state): State<AppState>,
    reader: Reader,
    Path(partner): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookCreated>, ApiError> {
    let partner = partner_in_path(&partner)?;
    reader.check_manage(partner)?;
    let (url, names) = registration(query.as_deref(), &headers, &body)?;
    register(&state, partner, &url, &names).await.map(Json)
}

/// Registers an endpoint of `partner` (the caller checked it may): the
/// URL's form, the events, the SSRF guard, the limit; the answer holds the
/// secret, to be shown this once. The API and the portal both register here.
pub async fn register(
    state: &AppState,
    partner: PartnerId,
    url: &str,
    names: &[String],
) -> Result<WebhookCreated, ApiError> {
    let url =
        check_url(url).map_err(|why| ApiError::with_arg(ErrorCode::InvalidWebhookUrl, why))?;
    let events = parse_events(names)
        .map_err(|name| ApiError::with_arg(ErrorCode::InvalidWebhookEvent, name))?;
    guard::check_reachable(&url, state.webhooks.allow_private).await?;
    let secret = sign::new_secret();
    let key = state.secret_key.clone();
    let sealed_secret = secret.clone();
    let seal = move |id: i64| key.seal(sealed_secret.as_bytes(), &secret_context(id));
    let new = NewWebhook {
        partner_id: partner,
        url: url.to_string(),
        events,
        now: state.clock.now(),
        max_endpoints: MAX_ENDPOINTS,
    };
    let created = state
        .store
        .create_webhook(&new, &seal)
        .await?
        .ok_or_else(|| ApiError::with_arg(ErrorCode::TooManyWebhooks, MAX_ENDPOINTS))?;
    tracing::info!(
        partner_id = partner.get(),
        webhook_id = created.id,
        "webhook endpoint registered"
    );
    Ok(WebhookCreated {
        id: created.id,
        url: created.url,
        events: created.events,
        secret,
    })
}

/// `GET /wpcom/v2/jetpack-partners/{partner_id}/webhooks`: the partner's
/// endpoints, oldest first, without their secrets.
#[utoipa::path(
    get,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/webhooks",
    tag = "webhooks",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path, description = "The partner's id.")),
    responses(
        (status = 200, description = "The endpoints.", body = WebhookList),
        (status = 403, description = "forbidden", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn list_webhooks(
    State(state): State<AppState>,
    reader: Reader,
    Path(partner): Path<String>,
) -> Result<Json<WebhookList>, ApiError> {
    let partner = partner_in_path(&partner)?;
    reader.check_manage(partner)?;
    let webhooks = state.store.webhooks(partner).await?;
    Ok(Json(WebhookList {
        webhooks: webhooks.into_iter().map(listed).collect(),
    }))
}

/// `DELETE /wpcom/v2/jetpack-partners/{partner_id}/webhooks/{webhook_id}`:
/// nothing more is sent to it (its pending deliveries are given up).
#[utoipa::path(
    delete,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/webhooks/{webhook_id}",
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("partner_id" = i64, Path, description = "The partner's id."),
        ("webhook_id" = i64, Path, description = "The endpoint's id."),
    ),
    responses(
        (status = 200, description = "Deleted.", body = WebhookDeleted),
        (status = 403, description = "forbidden", body = jpstart_types::wire::ErrorBody),
        (status = 404, description = "unknown_webhook", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn delete_webhook(
    State(state): State<AppState>,
    reader: Reader,
    Path((partner, id)): Path<(String, String)>,
) -> Result<Json<WebhookDeleted>, ApiError> {
    let partner = partner_in_path(&partner)?;
    reader.check_manage(partner)?;
    let id = id_in_path(&id, "webhook")?;
    if !state
        .store
        .delete_webhook(partner, id, state.clock.now())
        .await?
    {
        return Err(unknown("webhook", id));
    }
    Ok(Json(WebhookDeleted { id, deleted: true }))
}

/// `page` (from 1) and `per_page` (default and at most 100).
fn paging(query: Option<&str>) -> (i64, i64) {
    let mut page = 1;
    let mut per_page = MAX_PER_PAGE;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let n = v.trim().parse::<i64>().ok().filter(|n| *n > 0);
        match (&*k, n) {
            ("page", Some(n)) => page = n.min(1_000_000),
            ("per_page", Some(n)) => per_page = n.min(MAX_PER_PAGE),
            _ => {}
        }
    }
    (per_page, (page - 1) * per_page)
}

/// `GET .../webhooks/{webhook_id}/deliveries`: the endpoint's delivery log,
/// newest first (`page`, `per_page` up to 100).
#[utoipa::path(
    get,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/webhooks/{webhook_id}/deliveries",
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("partner_id" = i64, Path, description = "The partner's id."),
        ("webhook_id" = i64, Path, description = "The endpoint's id."),
        ("page" = Option<i64>, Query, description = "Page, from 1."),
        ("per_page" = Option<i64>, Query, description = "Deliveries per page (default and at most 100)."),
    ),
    responses(
        (status = 200, description = "The deliveries, newest first.", body = DeliveryList),
        (status = 403, description = "forbidden", body = jpstart_types::wire::ErrorBody),
        (status = 404, description = "unknown_webhook", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    reader: Reader,
    Path((partner, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<DeliveryList>, ApiError> {
    let partner = partner_in_path(&partner)?;
    reader.check_manage(partner)?;
    let id = id_in_path(&id, "webhook")?;
    let (limit, offset) = paging(query.as_deref());
    let list = state
        .store
        .webhook_deliveries(partner, id, limit, offset)
        .await?
        .ok_or_else(|| unknown("webhook", id))?;
    Ok(Json(DeliveryList {
        deliveries: list.into_iter().map(delivery).collect(),
    }))
}

/// `POST .../webhooks/{webhook_id}/deliveries/{delivery_id}/replay`: sends
/// the delivery's event again (same body and `id`, a fresh signature), due
/// at once with a fresh retry window, whatever its status.
#[utoipa::path(
    post,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("partner_id" = i64, Path, description = "The partner's id."),
        ("webhook_id" = i64, Path, description = "The endpoint's id."),
        ("delivery_id" = i64, Path, description = "The delivery's id."),
    ),
    responses(
        (status = 200, description = "The delivery, pending again.", body = Delivery),
        (status = 403, description = "forbidden", body = jpstart_types::wire::ErrorBody),
        (status = 404, description = "unknown_webhook", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn replay(
    State(state): State<AppState>,
    reader: Reader,
    Path((partner, id, delivery_id)): Path<(String, String, String)>,
) -> Result<Json<Delivery>, ApiError> {
    let partner = partner_in_path(&partner)?;
    reader.check_manage(partner)?;
    let id = id_in_path(&id, "webhook")?;
    let delivery_id = id_in_path(&delivery_id, "delivery")?;
    replay_now(&state, partner, id, delivery_id).await.map(Json)
}

/// Makes a delivery of `partner`'s endpoint due now and wakes the
/// dispatcher (the API's and the portal's replay).
pub async fn replay_now(
    state: &AppState,
    partner: PartnerId,
    endpoint: i64,
    delivery_id: i64,
) -> Result<Delivery, ApiError> {
    let d = state
        .store
        .replay_delivery(partner, endpoint, delivery_id, state.clock.now())
        .await?
        .ok_or_else(|| unknown("delivery", delivery_id))?;
    state.webhooks.wakeup.notify_one();
    Ok(delivery(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_in_every_body_format() {
        let json =
            HeaderMap::from_iter([(header::CONTENT_TYPE, "application/json".parse().unwrap())]);
        let none = HeaderMap::new();
        let (url, ev) = registration(
            None,
            &json,
            br#"{"url":"https://h.example/x","events":["site.connected","activation.active"]}"#,
        )
        .unwrap();
        assert_eq!(url, "https://h.example/x");
        assert_eq!(ev, ["site.connected", "activation.active"]);
        let (url, ev) = registration(
            None,
            &none,
            b"url=https%3A%2F%2Fh.example%2F&events%5B%5D=activation.pending&events%5B%5D=site.connected",
        )
        .unwrap();
        assert_eq!(url, "https://h.example/");
        assert_eq!(ev, ["activation.pending", "site.connected"]);
        let (url, ev) =
            registration(Some("url=https://q.example/&events=a,b"), &none, b"").unwrap();
        assert_eq!(url, "https://q.example/");
        assert_eq!(ev, ["a,b"]);
        assert!(registration(None, &json, b"[1]").is_err());
    }

    #[test]
    fn paths_and_pages() {
        assert!(partner_in_path("12").is_ok());
        for bad in ["", "x", "-1", "0", "1.5"] {
            assert_eq!(partner_in_path(bad).unwrap_err().code, ErrorCode::Forbidden);
        }
        assert_eq!(paging(None), (100, 0));
        assert_eq!(paging(Some("page=3&per_page=10")), (10, 20));
        assert_eq!(paging(Some("per_page=1000&page=x")), (100, 0));
    }
}
