//! `/portal/requests`: the signed-in user's partner's request log (SPEC
//! §9), newest first, paged, filtered by key, status and path with a GET
//! form. The entries are read with the API's store call and shown as the
//! API shows them ([`crate::request_log::shown`]): every secret was
//! redacted before it was stored, so nothing here can show one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use jpstart_types::requests::LoggedRequest;
use jpstart_types::KeyId;
use serde::Deserialize;

use super::{internal, render, Nav, PortalUser};
use crate::app::state::AppState;
use crate::domain::ApiError;
use crate::rest::Params;
use crate::store::RequestLogFilter;

/// The page's route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/portal/requests", get(list))
}

/// Entries per page.
const PER_PAGE: i64 = 20;

#[derive(askama::Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    title: String,
    nav: Nav,
    /// The server records no requests: a note instead of the table.
    off: bool,
    error: Option<String>,
    /// The filters as sent (kept in the form).
    key: String,
    status: String,
    path: String,
    total: u64,
    page: i64,
    pages: i64,
    rows: Vec<Row>,
    /// Links to the neighbouring pages, filters kept.
    prev: Option<String>,
    next: Option<String>,
}

struct Row {
    id: u64,
    time: String,
    key: String,
    method: String,
    path: String,
    status: u16,
    error_code: String,
    latency_ms: u64,
    params: String,
    response: String,
}

impl From<LoggedRequest> for Row {
    fn from(r: LoggedRequest) -> Self {
        let pretty = |v: &serde_json::Value| {
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        };
        Row {
            id: r.id,
            time: r.time,
            key: r.key_id.map(|k| k.to_string()).unwrap_or_default(),
            method: r.method,
            path: r.path,
            status: r.status,
            error_code: r.error_code.unwrap_or_default(),
            latency_ms: r.latency_ms,
            params: pretty(&serde_json::Value::Object(r.params)),
            response: pretty(&r.response),
        }
    }
}

/// The filter form (every field a string, so that a bad one is a message
/// on the page rather than a refusal of the request).
#[derive(Debug, Default, Deserialize)]
pub struct RequestsForm {
    key: Option<String>,
    status: Option<String>,
    path: Option<String>,
    page: Option<String>,
}

/// What the form asks for, checked.
struct Asked {
    key: Option<KeyId>,
    status: Option<u16>,
    path: Option<String>,
    page: i64,
}

fn whole(v: Option<&str>, name: &str, min: i64, max: i64) -> Result<Option<i64>, String> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    v.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .map(Some)
        .ok_or_else(|| format!("The {name} must be a whole number from {min} to {max}."))
}

fn asked(form: &RequestsForm) -> Result<Asked, String> {
    let key = whole(form.key.as_deref(), "key", 1, i64::MAX)?.map(KeyId::new);
    let status =
        whole(form.status.as_deref(), "status", 100, 599)?.and_then(|s| u16::try_from(s).ok());
    let page = whole(form.page.as_deref(), "page", 1, 1_000_000)?.unwrap_or(1);
    let path = form
        .path
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    Ok(Asked {
        key,
        status,
        path,
        page,
    })
}

/// The query string of page `page` with the form's filters.
fn page_link(form: &RequestsForm, page: i64) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("key", &form.key),
        ("status", &form.status),
        ("path", &form.path),
    ] {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            q.append_pair(name, v);
        }
    }
    q.append_pair("page", &page.to_string());
    format!("/portal/requests?{}", q.finish())
}

/// `GET /portal/requests[?key=&status=&path=&page=]`.
pub async fn list(
    State(state): State<AppState>,
    user: PortalUser,
    form: Result<Params<RequestsForm>, ApiError>,
) -> Response {
    let form = form.map(|Params(f)| f).unwrap_or_default();
    let mut page = RequestsPage {
        title: "Request log".into(),
        nav: user.nav("requests"),
        off: state.request_log.is_none(),
        error: None,
        key: form.key.clone().unwrap_or_default(),
        status: form.status.clone().unwrap_or_default(),
        path: form.path.clone().unwrap_or_default(),
        total: 0,
        page: 1,
        pages: 1,
        rows: Vec::new(),
        prev: None,
        next: None,
    };
    if page.off {
        return render(StatusCode::OK, &page);
    }
    let asked = match asked(&form) {
        Ok(a) => a,
        Err(why) => {
            page.error = Some(why);
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    // The partner is the session's, whatever the form names: a key of
    // another partner matches nothing.
    let filter = RequestLogFilter {
        partner: Some(user.partner_id),
        key: asked.key,
        status: asked.status,
        path_prefix: asked.path,
        offset: (asked.page - 1).saturating_mul(PER_PAGE),
        limit: PER_PAGE,
    };
    let (total, records) = match state.store.requests(&filter).await {
        Ok(found) => found,
        Err(e) => return internal(e),
    };
    let pages = i64::try_from(total.div_ceil(PER_PAGE.unsigned_abs()))
        .unwrap_or(i64::MAX)
        .max(1);
    page.total = total;
    page.page = asked.page;
    page.pages = pages;
    page.rows = records
        .iter()
        .map(|r| Row::from(crate::request_log::shown(r)))
        .collect();
    page.prev = (asked.page > 1).then(|| page_link(&form, (asked.page - 1).min(pages)));
    page.next = (asked.page < pages).then(|| page_link(&form, asked.page + 1));
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_and_kept_in_links() {
        let form = RequestsForm {
            key: Some(" 7 ".into()),
            status: Some("400".into()),
            path: Some("/rest/v1.3/jpphp/provision".into()),
            page: None,
        };
        let a = asked(&form).unwrap();
        assert_eq!(a.key, Some(KeyId::new(7)));
        assert_eq!(a.status, Some(400));
        assert_eq!(a.page, 1);
        assert_eq!(
            page_link(&form, 2),
            "/portal/requests?key=7&status=400&path=%2Frest%2Fv1.3%2Fjpphp%2Fprovision&page=2"
        );
        for bad in ["x", "99", "600", "-1"] {
            let f = RequestsForm {
                status: Some(bad.into()),
                ..RequestsForm::default()
            };
            assert!(asked(&f).is_err(), "{bad}");
        }
    }
}
