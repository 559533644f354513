//! `GET /wpcom/v2/jetpack-partners/{partner_id}/requests` (SPEC §9): a
//! partner's request log, paged like the activations list, newest first.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Json;
use jpstart_types::requests::RequestsPage;
use jpstart_types::wire::ErrorBody;
use jpstart_types::{KeyId, PartnerId};
use serde::Deserialize;

use crate::app::state::AppState;
use crate::domain::{ApiError, ErrorCode};
use crate::reader::Reader;
use crate::rest::{operation, Endpoint, Params};
use crate::store::RequestLogFilter;

/// Entries per page by default, and at most.
const PER_PAGE: i64 = 20;
const MAX_PER_PAGE: i64 = 100;

/// The list's endpoint.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![Endpoint::plain(operation!(requests), |_| get(requests))]
}

/// The list's parameters, as sent (numbers are parsed by the handler, so
/// that a bad one is its documented error).
#[derive(Debug, Default, Deserialize)]
pub struct RequestsQuery {
    page: Option<String>,
    per_page: Option<String>,
    key_id: Option<String>,
    status: Option<String>,
    path: Option<String>,
}

/// `GET /wpcom/v2/jetpack-partners/{partner_id}/requests`: a partner user
/// or a top-level key reads all of its partner's requests, a sub-key only
/// its own; another partner's id is 403 `forbidden`.
#[utoipa::path(
    get,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/requests",
    tag = "reporting",
    security(("bearer" = [])),
    params(
        ("partner_id" = u64, Path, description = "The partner whose requests to list (the token's own)."),
        ("page" = Option<u64>, Query, description = "Page, from 1 (default 1)."),
        ("per_page" = Option<u64>, Query, description = "Entries per page, default 20; more than 100 reads 100."),
        ("key_id" = Option<u64>, Query, description = "Only this key's requests (a sub-key: only its own id)."),
        ("status" = Option<u16>, Query, description = "Only answers with this HTTP status."),
        ("path" = Option<String>, Query, description = "Only requests whose path starts with this (e.g. `/rest/v1.3/jpphp/provision`)."),
    ),
    responses(
        (status = 200, description = "Newest first; every secret shown as \"[redacted]\".", body = RequestsPage),
        (status = 400, description = "`invalid_request_filter`: a parameter is not a whole number in its range.", body = ErrorBody),
        (status = 403, description = "`authorization_required`, `invalid_token`, `invalid_scope`, or `forbidden` (another partner, or a sub-key asking for another key).", body = ErrorBody),
        (status = 404, description = "`request_log_off`: the server records no requests (started without --request-log or --sandbox).", body = ErrorBody),
    ),
)]
pub async fn requests(
    State(state): State<AppState>,
    reader: Reader,
    Path(partner_id): Path<String>,
    Params(q): Params<RequestsQuery>,
) -> Result<Json<RequestsPage>, ApiError> {
    let partner = number(Some(&partner_id), "partner_id", 1, i64::MAX)?
        .map(PartnerId::new)
        .ok_or_else(|| bad("partner_id must be a whole number"))?;
    reader.check_partner(partner)?;
    if state.request_log.is_none() {
        return Err(ErrorCode::RequestLogOff.into());
    }
    let page = number(q.page.as_deref(), "page", 1, i64::MAX)?.unwrap_or(1);
    let per_page = number(q.per_page.as_deref(), "per_page", 1, i64::MAX)?
        .unwrap_or(PER_PAGE)
        .min(MAX_PER_PAGE);
    let asked = number(q.key_id.as_deref(), "key_id", 1, i64::MAX)?.map(KeyId::new);
    let status =
        number(q.status.as_deref(), "status", 100, 599)?.and_then(|s| u16::try_from(s).ok());
    let key = if reader.is_sub_key() {
        // Only its own requests: asking for another key is out of reach.
        if let Some(k) = asked {
            reader.key_in_reach(&state, partner, k).await?;
        }
        reader.key_id()
    } else {
        asked
    };
    let filter = RequestLogFilter {
        partner: Some(partner),
        key,
        status,
        path_prefix: q.path.filter(|p| !p.is_empty()),
        offset: (page - 1).saturating_mul(per_page),
        limit: per_page,
    };
    let (total, records) = state.store.requests(&filter).await?;
    Ok(Json(RequestsPage {
        total,
        requests: records.iter().map(crate::request_log::shown).collect(),
    }))
}

fn bad(why: &str) -> ApiError {
    ApiError::with_arg(ErrorCode::InvalidRequestFilter, why)
}

/// A whole number from `min` to `max`, or `None` when not sent (or empty).
fn number(v: Option<&str>, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match v.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ if max == i64::MAX => Err(bad(&format!("{name} must be a whole number from {min}"))),
        _ => Err(bad(&format!(
            "{name} must be a whole number from {min} to {max}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let n = |v: Option<&str>| number(v, "page", 1, 10).map_err(|e| e.message);
        assert_eq!(n(None), Ok(None));
        assert_eq!(n(Some(" ")), Ok(None));
        assert_eq!(n(Some("3")), Ok(Some(3)));
        assert_eq!(
            n(Some("0")),
            Err("page must be a whole number from 1 to 10".into())
        );
        assert!(n(Some("x")).is_err());
        assert!(number(Some("99999999999999999999"), "page", 1, i64::MAX).is_err());
    }
}
