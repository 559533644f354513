//! The reporting endpoints (SPEC §8; upstream: host-partner-documentation,
//! `jetpack/reporting-endpoints/` — activations-list.md,
//! activations-summary.md, invoices-past.md, invoices-upcoming.md).
//!
//! Each handler authenticates with [`Reader`] (a key's token reads its own
//! key and its sub-keys; a partner user's every key of its partner), checks
//! reach with [`Reader::key_in_reach`] (any other partner's ids: 403
//! `forbidden`), and answers one call of [`crate::reporting`].

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::Json;
use jpstart_types::reporting::{ActivationsList, Invoice, SummaryPeriod};
use jpstart_types::{KeyId, PartnerId};

use crate::app::state::AppState;
use crate::domain::{ApiError, ErrorCode};
use crate::reader::Reader;
use crate::reporting::{self, id_param};
use crate::rest::{operation, Endpoint};
use crate::store::KeyRecord;

/// The four reporting endpoints.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![
        Endpoint::plain(operation!(activations), |_| get(activations)),
        Endpoint::plain(operation!(summary), |_| get(summary)),
        Endpoint::plain(operation!(invoices), |_| get(invoices)),
        Endpoint::plain(operation!(upcoming_invoice), |_| get(upcoming_invoice)),
    ]
}

fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The key of `/{partner_id}/key/{key_id}/...`, within the bearer's reach.
async fn key_of_path(
    state: &AppState,
    reader: &Reader,
    (partner, key): &(String, String),
) -> Result<KeyRecord, ApiError> {
    let partner = PartnerId::new(id_param("partner_id", partner)?);
    let key = KeyId::new(id_param("key_id", key)?);
    reader.key_in_reach(state, partner, key).await
}

/// `GET /wpcom/v2/jetpack-partners/{partner_id}/key/{key_id}/activations`.
#[utoipa::path(
    get,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/key/{key_id}/activations",
    tag = "reporting",
    security(("bearer" = [])),
    params(
        ("partner_id" = i64, Path, description = "The key's partner."),
        ("key_id" = i64, Path, description = "The key whose activations to list (the bearer's own key or one of its sub-keys; any key of the partner for a partner user)."),
        ("page" = Option<u32>, Query, description = "Page number, from 1 (default 1). A page past the end is empty."),
        ("per_page" = Option<u32>, Query, description = "Activations per page, 1 to 100 (default 20)."),
        ("plans[]" = Option<Vec<String>>, Query, description = "Only these product slugs (also `plans=a,b`)."),
        ("activated_after" = Option<String>, Query, description = "Only activations activated after this instant (ISO 8601 or UNIX seconds); one never activated never matches."),
        ("activated_before" = Option<String>, Query, description = "Only activations activated before this instant (ISO 8601 or UNIX seconds); one never activated never matches."),
    ),
    responses(
        (status = 200, description = "The key's activations in every state, newest first (creation time, then id, both descending), and how many match.", body = ActivationsList),
        (status = 400, description = "`rest_invalid_param` (a parameter cannot be read) or `invalid_plan` (an unknown slug in `plans[]`)."),
        (status = 403, description = "`forbidden`: another partner's ids or a key outside the bearer's reach; or the token's own refusals."),
    ),
)]
pub async fn activations(
    State(state): State<AppState>,
    reader: Reader,
    Path(path): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<ActivationsList>, ApiError> {
    // Reach first: another partner's ids are a 403 whatever the parameters.
    let key = key_of_path(&state, &reader, &path).await?;
    let params = reporting::list_params(&pairs(query.as_deref()), &state.catalogue)?;
    let list =
        reporting::activations_list(state.store.as_ref(), &state.catalogue, &key, &params).await?;
    Ok(Json(list))
}

/// `GET /wpcom/v2/jetpack-partners/activations?key_id=N&scale=day|month|year`.
#[utoipa::path(
    get,
    path = "/wpcom/v2/jetpack-partners/activations",
    tag = "reporting",
    security(("bearer" = [])),
    params(
        ("key_id" = Option<i64>, Query, description = "The key (default: the bearer's own key; required with a partner user's token)."),
        ("scale" = Option<String>, Query, description = "`day`, `month` (default) or `year`, in UTC."),
    ),
    responses(
        (status = 200, description = "One element per period, oldest first, without gaps from the period of the key's first activation to now's.", body = Vec<SummaryPeriod>),
        (status = 400, description = "`rest_invalid_param`: a scale or key_id that cannot be read, or no key_id with a partner user's token."),
        (status = 403, description = "`forbidden`: a key outside the bearer's reach; or the token's own refusals."),
    ),
)]
pub async fn summary(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<SummaryPeriod>>, ApiError> {
    let pairs = pairs(query.as_deref());
    let value = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let scale = reporting::scale_param(value("scale"))?;
    let key = match value("key_id") {
        Some(v) => KeyId::new(id_param("key_id", v)?),
        None => reader
            .key_id()
            .ok_or_else(|| ApiError::with_arg(ErrorCode::RestInvalidParam, "key_id (required)"))?,
    };
    let key = reader
        .key_in_reach(&state, reader.partner_id(), key)
        .await?;
    let now = state.clock.now();
    Ok(Json(
        reporting::activations_summary(state.store.as_ref(), &key, scale, now).await?,
    ))
}

/// `GET /wpcom/v2/jetpack-partners/{partner_id}/key/{key_id}/stripe/invoices`.
#[utoipa::path(
    get,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/key/{key_id}/stripe/invoices",
    tag = "reporting",
    security(("bearer" = [])),
    params(
        ("partner_id" = i64, Path, description = "The key's partner."),
        ("key_id" = i64, Path, description = "The key."),
    ),
    responses(
        (status = 200, description = "The key's invoices of past (closed) UTC calendar months, newest first, from the first month one of its activations was active in.", body = Vec<Invoice>),
        (status = 400, description = "`rest_invalid_param`: an id that is not a number."),
        (status = 403, description = "`forbidden`: another partner's ids or a key outside the bearer's reach; or the token's own refusals."),
    ),
)]
pub async fn invoices(
    State(state): State<AppState>,
    reader: Reader,
    Path(path): Path<(String, String)>,
) -> Result<Json<Vec<Invoice>>, ApiError> {
    let key = key_of_path(&state, &reader, &path).await?;
    let now = state.clock.now();
    Ok(Json(
        reporting::past_invoices(state.store.as_ref(), &state.catalogue, &key, now).await?,
    ))
}

/// `GET /wpcom/v2/jetpack-partners/{partner_id}/key/{key_id}/stripe/upcoming-invoice`.
#[utoipa::path(
    get,
    path = "/wpcom/v2/jetpack-partners/{partner_id}/key/{key_id}/stripe/upcoming-invoice",
    tag = "reporting",
    security(("bearer" = [])),
    params(
        ("partner_id" = i64, Path, description = "The key's partner."),
        ("key_id" = i64, Path, description = "The key."),
    ),
    responses(
        (status = 200, description = "The current UTC calendar month so far (`status` `upcoming`).", body = Invoice),
        (status = 400, description = "`rest_invalid_param`: an id that is not a number."),
        (status = 403, description = "`forbidden`: another partner's ids or a key outside the bearer's reach; or the token's own refusals."),
    ),
)]
pub async fn upcoming_invoice(
    State(state): State<AppState>,
    reader: Reader,
    Path(path): Path<(String, String)>,
) -> Result<Json<Invoice>, ApiError> {
    let key = key_of_path(&state, &reader, &path).await?;
    let now = state.clock.now();
    Ok(Json(
        reporting::upcoming_invoice(state.store.as_ref(), &state.catalogue, &key, now).await?,
    ))
}
