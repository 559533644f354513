//! The portal's data pages (SPEC §8): what a partner user reads and
//! manages about its partner, server-rendered without JavaScript.
//!
//! # Layout
//! - [`overview`]: `/portal/`, the chart of activations ([`chart`]: the
//!   summary's periods as inline SVG geometry).
//! - [`activations`]: `/portal/activations` (filters, paging) and its CSV.
//! - [`invoices`]: `/portal/invoices`, past and upcoming per key, and CSV.
//! - [`keys`]: `/portal/keys`: keys and sub-keys with limits and live
//!   counts; create a sub-key, disable/enable, rotate a secret.
//! - [`sites`]: `/portal/sites/{site}`: status, activations, events.
//! - [`export`]: the CSV writer (formula injection guarded).
//!
//! # Reach
//! Every page reads as a partner user's token would
//! ([`Reader::User`]): any key of the user's partner, through
//! [`Reader::key_in_reach`]; another partner's key is the same 403 page
//! as a key that does not exist, and a site the partner has no activation
//! on is the same 404 as an unknown one. The store queries name the
//! partner as well, so a page cannot list another partner's rows.

pub mod activations;
pub mod chart;
pub mod export;
pub mod invoices;
pub mod keys;
pub mod overview;
pub mod sites;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use jpstart_types::KeyId;

use super::{internal, message, PortalUser};
use crate::app::state::AppState;
use crate::clock::Timestamp;
use crate::domain::calendar::datetime;
use crate::domain::{ApiError, ErrorCode};
use crate::reader::Reader;
use crate::reporting::id_param;
use crate::store::KeyRecord;

/// The data pages' routes (the overview's `/portal` is in
/// [`super::routes`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal/activations", get(activations::page))
        .route("/portal/activations.csv", get(activations::csv))
        .route("/portal/invoices", get(invoices::page))
        .route("/portal/invoices.csv", get(invoices::csv))
        .route("/portal/keys", get(keys::page).post(keys::create))
        .route("/portal/keys/{key}/disable", post(keys::disable))
        .route("/portal/keys/{key}/enable", post(keys::enable))
        .route("/portal/keys/{key}/rotate", post(keys::rotate))
        .route("/portal/sites/{site}", get(sites::page))
}

/// The query string's pairs; an empty value is no value (an empty form
/// field filters nothing).
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The last value of `name` among `pairs`.
pub fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The user as the reach rules know it.
pub fn reader(user: &PortalUser) -> Reader {
    Reader::User {
        user_id: user.user_id,
        partner_id: user.partner_id,
    }
}

/// The page answering a refusal: 403 (another partner's, or no such key),
/// 400 (a parameter that cannot be read, its message naming it), 500.
pub fn refused(e: ApiError) -> Response {
    match e.code {
        ErrorCode::Forbidden => message(
            StatusCode::FORBIDDEN,
            "Not within your reach",
            &e.message,
            Some("/portal/"),
        ),
        ErrorCode::InternalError => internal(e.message),
        _ if e.status() >= 500 => internal(e.message),
        _ => message(
            StatusCode::BAD_REQUEST,
            "That cannot be shown",
            &e.message,
            Some("/portal/"),
        ),
    }
}

/// The key the `key` parameter names, within the user's reach; `None`
/// (every key of the partner) when it is absent or `all`.
pub async fn chosen_key(
    state: &AppState,
    user: &PortalUser,
    value: Option<&str>,
) -> Result<Option<KeyRecord>, ApiError> {
    let Some(v) = value.filter(|v| *v != "all") else {
        return Ok(None);
    };
    let id = KeyId::new(id_param("key", v)?);
    let key = reader(user)
        .key_in_reach(state, user.partner_id, id)
        .await?;
    Ok(Some(key))
}

/// One entry of a key selector.
pub struct KeyOption {
    pub id: i64,
    pub label: String,
    pub selected: bool,
}

/// How a key is named on the pages: its id, name, and what it is.
pub fn key_label(k: &KeyRecord) -> String {
    let mut label = format!("#{} {}", k.id, k.name);
    if let Some(parent) = k.parent_key_id {
        label += &format!(" (sub-key of #{parent})");
    }
    if k.test {
        label += " (test)";
    }
    label
}

/// The partner's keys as selector entries, `chosen` selected.
pub fn key_options(keys: &[KeyRecord], chosen: Option<KeyId>) -> Vec<KeyOption> {
    keys.iter()
        .map(|k| KeyOption {
            id: k.id.get(),
            label: key_label(k),
            selected: Some(k.id) == chosen,
        })
        .collect()
}

/// A datetime as the pages and exports write it (`YYYY-MM-DD HH:MM:SS`,
/// UTC, as the reporting endpoints), or empty.
pub fn when(t: Option<Timestamp>) -> String {
    t.map(datetime).unwrap_or_default()
}

/// `?a=b&...` of `pairs` (empty when there are none).
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    let q = s.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}

#[cfg(test)]
mod tests {
    use jpstart_types::PartnerId;

    use super::*;

    #[test]
    fn empty_fields_filter_nothing() {
        let p = pairs(Some(
            "key=&plans=premium&plans=free&activated_after=+&page=2",
        ));
        assert_eq!(
            p,
            [
                ("plans".to_string(), "premium".to_string()),
                ("plans".to_string(), "free".to_string()),
                ("page".to_string(), "2".to_string())
            ]
        );
        assert_eq!(last(&p, "plans"), Some("free"));
        assert_eq!(last(&p, "key"), None);
        assert_eq!(query_string([]), "");
        assert_eq!(query_string([("a", "x y"), ("b", "&")]), "?a=x+y&b=%26");
    }

    #[test]
    fn keys_are_named_with_what_they_are() {
        let k = KeyRecord {
            id: KeyId::new(3),
            partner_id: PartnerId::new(1),
            parent_key_id: Some(KeyId::new(1)),
            name: "Reseller".into(),
            secret_digest: Vec::new(),
            disabled: false,
            parent_disabled: false,
            test: true,
        };
        assert_eq!(key_label(&k), "#3 Reseller (sub-key of #1) (test)");
        let opts = key_options(&[k], Some(KeyId::new(3)));
        assert!(opts[0].selected);
    }
}
