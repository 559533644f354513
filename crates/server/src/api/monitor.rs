//! The upstream Monitor downtime webhook
//! (`jetpack/monitor-downtime-notifications-webhook.md`, SPEC §10): a
//! partner's Monitor URL, and in the sandbox a downtime notification on
//! demand, sent as upstream's Monitor sends it and answered as upstream
//! says receivers answer (`ok`, or an ISO 8601 time until which further
//! notifications for the site are suppressed).

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Json;
use jpstart_types::webhooks::{
    DowntimeNotification, DowntimeReport, MonitorPayload, MonitorWebhook,
};
use jpstart_types::SiteRef;
use serde::Deserialize;

use super::webhooks::partner_in_path;
use crate::app::state::AppState;
use crate::clock::Timestamp;
use crate::domain::webhooks::{check_url, monitor_quiet_until};
use crate::domain::{ApiError, ErrorCode};
use crate::reader::Reader;
use crate::rest::{operation, Endpoint, Params};
use crate::store::MonitorTarget;
use crate::webhooks::guard;

/// `monitor-webhook`, and the sandbox's `sites/{site}/downtime`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![
        Endpoint::plain(operation!(set_monitor_webhook), |_| {
            post(set_monitor_webhook)
        }),
        Endpoint::plain(operation!(downtime), |_| post(downtime)),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct UrlParams {
    pub url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DowntimeParams {
    pub code: Option<String>,
}

/// `POST /wpcom/v2/jetpack-partners/{partner_id}/monitor-webhook`: sets
/// (or replaces) the partner's Monitor URL, under the webhooks' SSRF rules.
#[utoipa::path(
    post,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/monitor-webhook",
    tag = "webhooks",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path, description = "The partner's id.")),
    request_body(description = "`url`: where Monitor POSTs downtime notifications.", content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The Monitor URL now set.", body = MonitorWebhook),
        (status = 400, description = "invalid_webhook_url, webhook_url_not_allowed", body = jpstart_types::wire::ErrorBody),
        (status = 403, description = "forbidden", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn set_monitor_webhook(
    State(state): State<AppState>,
    reader: Reader,
    Path(partner): Path<String>,
    Params(p): Params<UrlParams>,
) -> Result<Json<MonitorWebhook>, ApiError> {
    let partner = partner_in_path(&partner)?;
    reader.check_manage(partner)?;
    set_monitor_url(&state, partner, p.url.as_deref().unwrap_or(""))
        .await
        .map(Json)
}

/// Sets `partner`'s Monitor URL under the webhooks' rules (the API's and
/// the portal's form).
pub async fn set_monitor_url(
    state: &AppState,
    partner: jpstart_types::PartnerId,
    url: &str,
) -> Result<MonitorWebhook, ApiError> {
    let url =
        check_url(url).map_err(|why| ApiError::with_arg(ErrorCode::InvalidWebhookUrl, why))?;
    guard::check_reachable(&url, state.webhooks.allow_private).await?;
    state
        .store
        .set_monitor_url(partner, url.as_str(), state.clock.now())
        .await?;
    Ok(MonitorWebhook {
        url: url.to_string(),
    })
}

/// `POST /sandbox/sites/{site}/downtime` (sandbox only; any partner
/// token): sends upstream's payload with `code` (default 503) to the
/// Monitor URL of every partner holding a live activation on the site,
/// unless an earlier answer asked for quiet until a time still to come.
#[utoipa::path(
    post,
    path = "/sandbox/sites/{site}/downtime",
    tag = "sandbox",
    security(("bearer" = [])),
    params(
        ("site" = String, Path, description = "A blog id or a site identifier."),
        ("code" = Option<i64>, Query, description = "The HTTP status the check saw (0: a timeout); default 503."),
    ),
    responses(
        (status = 200, description = "What each partner's Monitor URL was sent and answered.", body = DowntimeReport),
        (status = 400, description = "no_monitor_webhook, invalid_body", body = jpstart_types::wire::ErrorBody),
        (status = 404, description = "unknown_blog; or, outside the sandbox, no such route", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn downtime(
    State(state): State<AppState>,
    _reader: Reader,
    Path(site): Path<String>,
    Params(p): Params<DowntimeParams>,
) -> Result<Json<DowntimeReport>, ApiError> {
    if !state.sandbox {
        return Err(ApiError::new(ErrorCode::UnknownBlog));
    }
    let code = match p.code.as_deref().map(str::trim) {
        None | Some("") => 503,
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|c| (0..=999).contains(c))
            .ok_or_else(|| {
                ApiError::with_arg(
                    ErrorCode::InvalidBody,
                    "code is not an HTTP status (0 to 999)",
                )
            })?,
    };
    let now = state.clock.now();
    let site_ref = SiteRef::parse(&site).map_err(|_| ApiError::new(ErrorCode::UnknownBlog))?;
    let found = state
        .store
        .monitor_site(&site_ref, now)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownBlog))?;
    if found.targets.is_empty() {
        return Err(ApiError::with_arg(ErrorCode::NoMonitorWebhook, site));
    }
    let mut notifications = Vec::new();
    for target in &found.targets {
        let payload = MonitorPayload {
            ts: now.as_secs(),
            url: super::users::site_url(&found.url),
            code,
            host: host_slug(&state, target).await,
            kind: "http".into(),
        };
        notifications.push(notify(&state, target, &payload, found.blog_id, now).await);
    }
    Ok(Json(DowntimeReport { notifications }))
}

/// Who Monitor thinks hosts the site: the partner's name as a slug.
async fn host_slug(state: &AppState, target: &MonitorTarget) -> String {
    let name = match state.store.user_creation_allowed(target.partner_id).await {
        Ok(Some((name, _))) => name,
        _ => String::new(),
    };
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = slug.trim_matches('-').to_string();
    if slug.is_empty() {
        format!("partner-{}", target.partner_id)
    } else {
        slug
    }
}

async fn notify(
    state: &AppState,
    target: &MonitorTarget,
    payload: &MonitorPayload,
    blog: jpstart_types::BlogId,
    now: Timestamp,
) -> DowntimeNotification {
    let mut out = DowntimeNotification {
        partner_id: target.partner_id.get(),
        outcome: "suppressed".into(),
        status: None,
        suppressed_until: None,
    };
    if let Some(until) = target.quiet_until.filter(|u| *u > now) {
        out.suppressed_until = Some(until.rfc3339());
        return out;
    }
    // Upstream's Monitor is PHP: its JSON escapes forward slashes
    // (`http:\/\/example.com`). Only strings hold a `/` here.
    let body = serde_json::to_string(payload)
        .unwrap_or_default()
        .replace('/', "\\/");
    let sent = state
        .webhooks
        .http
        .post(&target.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let res = match sent {
        Ok(res) => res,
        Err(e) => {
            tracing::warn!(partner_id = target.partner_id.get(), error = %e.without_url(), "Monitor notification not delivered");
            out.outcome = "failed".into();
            return out;
        }
    };
    let status = res.status();
    out.status = Some(i64::from(status.as_u16()));
    let text = res.text().await.unwrap_or_default();
    if !status.is_success() {
        out.outcome = "failed".into();
        return out;
    }
    out.outcome = "sent".into();
    let until = monitor_quiet_until(&text).and_then(Timestamp::parse_iso8601);
    if let Some(until) = until {
        if let Err(e) = state
            .store
            .set_monitor_quiet(target.partner_id, blog, until)
            .await
        {
            tracing::warn!(error = %e, "cannot record a Monitor quiet period");
        }
        out.suppressed_until = Some(until.rfc3339());
    }
    out
}
