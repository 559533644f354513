//! `/portal/requests`: the partner's request log (SPEC §9), newest first,
//! filtered by key, status and path, paged; every secret in it already
//! `[redacted]` by the log's writer ([`crate::request_log`]).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{chosen_key, key_options, last, pairs, query_string, refused, KeyOption};
use crate::app::state::AppState;
use crate::domain::{ApiError, ErrorCode};
use crate::portal::{message, render, Nav, PortalUser};
use crate::store::RequestLogFilter;

const PER_PAGE: i64 = 50;

#[derive(askama::Template)]
#[template(path = "data/requests.html")]
struct RequestsPage {
    title: String,
    nav: Nav,
    keys: Vec<KeyOption>,
    status: String,
    path: String,
    rows: Vec<Row>,
    total: u64,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
}

struct Row {
    time: String,
    key: String,
    method: String,
    path: String,
    status: u16,
    error: String,
    latency_ms: u64,
    params: String,
    response: String,
}

fn bad(what: &str) -> ApiError {
    ApiError::with_arg(ErrorCode::RestInvalidParam, what)
}

/// `GET /portal/requests[?key=N][&status=S][&path=P][&page=N]`.
pub async fn page(
    State(state): State<AppState>,
    user: PortalUser,
    RawQuery(query): RawQuery,
) -> Response {
    if state.request_log.is_none() {
        return message(
            StatusCode::NOT_FOUND,
            "No request log",
            "This server records no requests (it runs without --request-log).",
            Some("/portal/"),
        );
    }
    match build(&state, &user, query.as_deref()).await {
        Ok(p) => render(StatusCode::OK, &p),
        Err(e) => refused(e),
    }
}

async fn build(
    state: &AppState,
    user: &PortalUser,
    query: Option<&str>,
) -> Result<RequestsPage, ApiError> {
    let pairs = pairs(query);
    let key = chosen_key(state, user, last(&pairs, "key")).await?;
    let status = last(&pairs, "status")
        .map(|s| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|n| (100..=599).contains(n))
                .ok_or_else(|| bad("status (an HTTP status, 100 to 599)"))
        })
        .transpose()?;
    let page = last(&pairs, "page")
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad("page (a whole number from 1)"))
        })
        .transpose()?
        .unwrap_or(1);
    let path = last(&pairs, "path").map(str::to_string);
    let filter = RequestLogFilter {
        partner: Some(user.partner_id),
        key: key.as_ref().map(|k| k.id),
        status,
        path_prefix: path.clone(),
        offset: (page - 1).saturating_mul(PER_PAGE),
        limit: PER_PAGE,
    };
    let (total, records) = state.store.requests(&filter).await?;
    let keys = state.store.keys(Some(user.partner_id)).await?;
    let key_text = key.as_ref().map(|k| k.id.to_string());
    let status_text = status.map(|s| s.to_string());
    let link = |p: i64| {
        let page = p.to_string();
        let mut q: Vec<(&str, &str)> = Vec::new();
        if let Some(k) = &key_text {
            q.push(("key", k));
        }
        if let Some(s) = &status_text {
            q.push(("status", s));
        }
        if let Some(p) = &path {
            q.push(("path", p));
        }
        q.push(("page", &page));
        format!("/portal/requests{}", query_string(q))
    };
    let shown = u64::try_from(page.saturating_mul(PER_PAGE)).unwrap_or(u64::MAX);
    Ok(RequestsPage {
        title: "Request log".into(),
        nav: user.nav("requests"),
        keys: key_options(&keys, key.as_ref().map(|k| k.id)),
        status: status_text.clone().unwrap_or_default(),
        path: path.clone().unwrap_or_default(),
        rows: records
            .iter()
            .map(crate::request_log::shown)
            .map(|r| Row {
                time: r.time,
                key: r.key_id.map(|k| format!("#{k}")).unwrap_or_default(),
                method: r.method,
                path: r.path,
                status: r.status,
                error: r.error_code.unwrap_or_default(),
                latency_ms: r.latency_ms,
                params: serde_json::Value::Object(r.params).to_string(),
                response: r.response.to_string(),
            })
            .collect(),
        total,
        page,
        prev: (page > 1).then(|| link(page - 1)),
        next: (total > shown).then(|| link(page + 1)),
    })
}
