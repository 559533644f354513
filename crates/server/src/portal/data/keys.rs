//! `/portal/keys`: every key and sub-key of the partner with its limits
//! and live counts; creating a sub-key (the unit of work of
//! `partner-keys/new`, [`crate::api::keys::create_sub_key`]), disabling and
//! enabling a key, rotating a key's secret.
//!
//! A new secret (of a new sub-key or a rotation) is shown once, on the
//! page answering the POST: never in a URL (so not in a redirect, a
//! history entry or an access log), never logged, and never again
//! (only its SHA-256 digest is stored). Disable and enable answer with a
//! 303 back to the list (POST-redirect-GET). Every form carries the
//! session's anti-forgery token, checked before anything is read.
//!
//! Rotating revokes every token of the key in the same transaction
//! (docs/COMPATIBILITY.md: a rotation follows a leak, and a token got
//! with a leaked secret is as leaked as the secret).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jpstart_types::params::non_empty;
use jpstart_types::{KeyId, ProductSlug};
use serde::Deserialize;

use super::{key_label, reader, refused};
use crate::api::keys::create_sub_key;
use crate::app::state::AppState;
use crate::domain::limits::SUB_KEY_DEFAULT_LIMIT;
use crate::domain::{lifecycle, ApiError};
use crate::portal::login::CsrfForm;
use crate::portal::{internal, render, see_other, Nav, PortalUser};
use crate::reporting::id_param;
use crate::rest::Params;
use crate::secrets;
use crate::store::KeyRecord;

#[derive(askama::Template)]
#[template(path = "data/keys.html")]
struct KeysPage {
    title: String,
    nav: Nav,
    keys: Vec<KeyView>,
    /// Product slugs of the limit columns and fields, in catalogue order.
    products: Vec<String>,
    /// The keys a sub-key may be created under (no sub-key's).
    parents: Vec<(i64, String)>,
    /// A secret shown this once.
    secret: Option<NewSecret>,
    error: Option<String>,
    name: String,
}

struct KeyView {
    id: i64,
    label: String,
    status: &'static str,
    disabled: bool,
    /// Per product of `products`: `live / limit`.
    usage: Vec<String>,
}

struct NewSecret {
    heading: String,
    client_id: i64,
    secret: String,
}

/// The products a key can be limited on: all but the baseline.
fn limited_products(state: &AppState) -> Vec<ProductSlug> {
    state
        .catalogue
        .products()
        .iter()
        .filter(|p| !p.baseline)
        .map(|p| p.slug.clone())
        .collect()
}

async fn view(
    state: &AppState,
    k: &KeyRecord,
    products: &[ProductSlug],
) -> Result<KeyView, ApiError> {
    let limits = state.store.key_limits(k.id).await?;
    let live = state.store.key_live_counts(k.id, state.clock.now()).await?;
    let find =
        |v: &[(ProductSlug, i64)], p: &ProductSlug| v.iter().find(|(s, _)| s == p).map(|(_, n)| *n);
    let usage = products
        .iter()
        .map(|p| {
            let limit = match (find(&limits, p), k.parent_key_id) {
                (Some(n), _) => n.to_string(),
                // A partner's own key without a limit is unlimited; a
                // sub-key without one may not provision the product.
                (None, None) => "∞".to_string(),
                (None, Some(_)) => SUB_KEY_DEFAULT_LIMIT.to_string(),
            };
            format!("{} / {limit}", find(&live, p).unwrap_or(0))
        })
        .collect();
    let status = if k.disabled {
        "disabled"
    } else if lifecycle::key_disabled(k.disabled, k.parent_disabled) {
        "disabled with its parent"
    } else {
        "enabled"
    };
    Ok(KeyView {
        id: k.id.get(),
        label: key_label(k),
        status,
        disabled: k.disabled,
        usage,
    })
}

/// The page, with a secret to show once or an error.
async fn show(
    state: &AppState,
    user: &PortalUser,
    status: StatusCode,
    secret: Option<NewSecret>,
    error: Option<String>,
    name: String,
) -> Response {
    let products = limited_products(state);
    let keys = match state.store.keys(Some(user.partner_id)).await {
        Ok(k) => k,
        Err(e) => return internal(e),
    };
    let mut views = Vec::new();
    for k in &keys {
        match view(state, k, &products).await {
            Ok(v) => views.push(v),
            Err(e) => return refused(e),
        }
    }
    let parents = keys
        .iter()
        .filter(|k| k.parent_key_id.is_none())
        .map(|k| (k.id.get(), key_label(k)))
        .collect();
    render(
        status,
        &KeysPage {
            title: "Keys".into(),
            nav: user.nav("keys"),
            keys: views,
            products: products.iter().map(ToString::to_string).collect(),
            parents,
            secret,
            error,
            name,
        },
    )
}

/// `GET /portal/keys`.
pub async fn page(State(state): State<AppState>, user: PortalUser) -> Response {
    show(&state, &user, StatusCode::OK, None, None, String::new()).await
}

/// The sub-key form: its parent, name and `allowed_{slug}_plans` limits.
#[derive(Debug, Default, Deserialize)]
pub struct NewKeyForm {
    csrf_token: Option<String>,
    parent: Option<String>,
    name: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

/// `POST /portal/keys`: creates a sub-key; the page shows its secret once.
pub async fn create(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    form: Result<Params<NewKeyForm>, ApiError>,
) -> Response {
    let form = form.map(|Params(f)| f).unwrap_or_default();
    if let Err(refused) = user.check_form(&state, &headers, non_empty(&form.csrf_token)) {
        return refused.into_response();
    }
    let name = form.name.clone().unwrap_or_default();
    let created = async {
        let parent = KeyId::new(id_param(
            "parent",
            non_empty(&form.parent).unwrap_or_default(),
        )?);
        let parent = reader(&user)
            .key_in_reach(&state, user.partner_id, parent)
            .await?;
        lifecycle::may_create_keys(parent.parent_key_id.is_some())?;
        create_sub_key(&state, parent.id, form.name.as_deref(), form.rest.iter()).await
    }
    .await;
    match created {
        Ok(k) => {
            let secret = NewSecret {
                heading: format!("Sub-key #{} {} created.", k.id, k.name),
                client_id: k.id.get(),
                secret: k.secret,
            };
            show(
                &state,
                &user,
                StatusCode::OK,
                Some(secret),
                None,
                String::new(),
            )
            .await
        }
        Err(e) if e.status() >= 500 => internal(e.message),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            show(&state, &user, status, None, Some(e.message), name).await
        }
    }
}

/// The key of `/portal/keys/{key}/...` after the form's check, in reach.
async fn key_of_form(
    state: &AppState,
    user: &PortalUser,
    headers: &HeaderMap,
    form: Result<Params<CsrfForm>, ApiError>,
    key: &str,
) -> Result<KeyRecord, Response> {
    let sent = form.ok().and_then(|Params(f)| f.csrf_token);
    user.check_form(state, headers, non_empty(&sent))
        .map_err(IntoResponse::into_response)?;
    let id = id_param("key", key).map_err(refused)?;
    reader(user)
        .key_in_reach(state, user.partner_id, KeyId::new(id))
        .await
        .map_err(refused)
}

async fn set_disabled(
    state: AppState,
    user: PortalUser,
    headers: HeaderMap,
    form: Result<Params<CsrfForm>, ApiError>,
    key: String,
    disabled: bool,
) -> Response {
    let key = match key_of_form(&state, &user, &headers, form, &key).await {
        Ok(k) => k,
        Err(res) => return res,
    };
    if let Err(e) = state.store.set_key_disabled(key.id, disabled).await {
        return internal(e);
    }
    tracing::info!(
        user_id = user.user_id,
        key_id = key.id.get(),
        disabled,
        "key disabled or enabled in the portal"
    );
    see_other("/portal/keys")
}

/// `POST /portal/keys/{key}/disable`.
pub async fn disable(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    Path(key): Path<String>,
    form: Result<Params<CsrfForm>, ApiError>,
) -> Response {
    set_disabled(state, user, headers, form, key, true).await
}

/// `POST /portal/keys/{key}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    Path(key): Path<String>,
    form: Result<Params<CsrfForm>, ApiError>,
) -> Response {
    set_disabled(state, user, headers, form, key, false).await
}

/// `POST /portal/keys/{key}/rotate`: a new secret, shown once; the old
/// one and every token of the key stop working at once.
pub async fn rotate(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    Path(key): Path<String>,
    form: Result<Params<CsrfForm>, ApiError>,
) -> Response {
    let key = match key_of_form(&state, &user, &headers, form, &key).await {
        Ok(k) => k,
        Err(res) => return res,
    };
    let secret = secrets::generate();
    let rotated = state
        .store
        .rotate_key_secret(key.id, &secrets::digest(&secret), state.clock.now())
        .await;
    let revoked = match rotated {
        Ok(Some(r)) => r.revoked_tokens,
        Ok(None) => {
            return refused(ApiError::with_arg(
                crate::domain::ErrorCode::Forbidden,
                "No such key.",
            ))
        }
        Err(e) => return internal(e),
    };
    tracing::info!(
        user_id = user.user_id,
        key_id = key.id.get(),
        revoked_tokens = revoked,
        "key secret rotated in the portal"
    );
    let shown = NewSecret {
        heading: format!(
            "Key #{} has a new secret. The old one no longer works, and its {revoked} token(s) were revoked.",
            key.id
        ),
        client_id: key.id.get(),
        secret,
    };
    show(
        &state,
        &user,
        StatusCode::OK,
        Some(shown),
        None,
        String::new(),
    )
    .await
}
