//! `/portal/login` and `/portal/logout`.
//!
//! Sign-in is throttled per e-mail address and per client address (IPv6:
//! per /64) with [`KeyedLimiter`](crate::throttle::KeyedLimiter)s: every
//! attempt counts, and a throttled one is refused (429 page, `Retry-After`)
//! before any password is hashed, so guessing stops at the budget and a
//! flood of attempts cannot keep the server hashing. A wrong password, an
//! unknown address and a disabled user answer alike (the same page and
//! status, and about the same time: an unknown address is checked against
//! a decoy hash).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jpstart_types::params::non_empty;
use jpstart_types::SecretString;
use serde::Deserialize;

use super::session::{self, safe_next, PortalUser};
use super::{forged, internal, message, render, see_other};
use crate::api::authorize::same_origin;
use crate::app::state::AppState;
use crate::clock::Timestamp;
use crate::domain::partner_users::{decoy_hash, verify_password, MAX_PASSWORD};
use crate::domain::ApiError;
use crate::rest::Params;
use crate::secrets;
use crate::throttle::{address_bucket, Throttled};

/// The sign-in page.
#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    title: String,
    error: Option<String>,
    email: String,
    csrf: String,
    next: Option<String>,
}

/// The sign-in form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    email: Option<String>,
    password: Option<SecretString>,
    csrf_token: Option<String>,
    next: Option<String>,
}

/// A form whose only field is the anti-forgery token.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    pub csrf_token: Option<String>,
}

const WRONG: &str = "Wrong e-mail address or password.";

/// `GET /portal/login[?next=PATH]`: the form (a signed-in user goes on).
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Params<LoginForm>, ApiError>,
) -> Response {
    let next = params
        .ok()
        .and_then(|Params(p)| p.next)
        .filter(|n| safe_next(n).is_some());
    match PortalUser::from_headers(&state, &headers).await {
        Ok(Some(_)) => return see_other(next.as_deref().unwrap_or("/portal/")),
        Ok(None) => {}
        Err(e) => return internal(e),
    }
    login_form(&state, &headers, StatusCode::OK, None, String::new(), next)
}

/// The form, with its cookie (kept if the browser has a good one).
fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
    email: String,
    next: Option<String>,
) -> Response {
    let value = session::cookie(headers, session::LOGIN_COOKIE)
        .filter(|v| session::well_formed(v))
        .map_or_else(secrets::generate, str::to_string);
    let (cookie, csrf) = session::login_cookie(state, &value);
    let page = LoginPage {
        title: "Sign in to the partner portal".into(),
        error: error.map(str::to_string),
        email,
        csrf,
        next,
    };
    let mut res = render(status, &page);
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

/// `POST /portal/login`: signs in (see the module docs).
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    form: Result<Params<LoginForm>, ApiError>,
) -> Response {
    let Ok(Params(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            "The form could not be read",
            "Open the sign-in page again and sign in there.",
            Some("/portal/login"),
        );
    };
    if !same_origin(&headers, &state.public_url)
        || !session::login_token_ok(&state, &headers, form.csrf_token.as_deref())
    {
        tracing::warn!("portal sign-in without its form's token or from another origin refused");
        return forged();
    }
    let email = form.email.as_deref().unwrap_or_default().trim().to_string();
    let key: String = email.to_lowercase().chars().take(254).collect();
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    if let Err(t) = throttle(&state, &key, peer) {
        tracing::info!("portal sign-in throttled");
        return too_many(t);
    }
    let next = form.next.filter(|n| safe_next(n).is_some());
    let login = match state.store.partner_user_login(&key).await {
        Ok(login) => login,
        Err(e) => return internal(e),
    };
    let password = form
        .password
        .map(|p| p.expose().to_string())
        .unwrap_or_default();
    let (hash, user) = match login {
        Some(l) => (l.password_hash, Some(l.user)),
        None => (decoy_hash().to_string(), None),
    };
    let matches = password.len() <= MAX_PASSWORD
        && tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
    let Some(user) = user.filter(|u| matches && !u.disabled) else {
        tracing::info!("portal sign-in refused");
        return login_form(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some(WRONG),
            email,
            next,
        );
    };
    let token = secrets::generate();
    let now = state.clock.now();
    let ttl_ms = i64::try_from(state.portal.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let expires = Timestamp::from_millis(now.as_millis().saturating_add(ttl_ms));
    if let Err(e) = state
        .store
        .insert_session(&secrets::digest(&token), user.id, now, expires)
        .await
    {
        return internal(e);
    }
    tracing::info!(user_id = user.id, partner_id = %user.partner_id, "portal sign-in");
    let mut res = see_other(next.as_deref().unwrap_or("/portal/"));
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::session_cookie(&state, &token, state.portal.session_ttl.as_secs()),
    );
    h.append(header::SET_COOKIE, session::clear_login_cookie(&state));
    res
}

/// Counts the attempt against the address and the e-mail; both are
/// counted even when one refuses.
fn throttle(
    state: &AppState,
    email_key: &str,
    peer: Option<std::net::IpAddr>,
) -> Result<(), Throttled> {
    let p = &state.portal;
    let by_address = peer.map_or(Ok(()), |ip| p.login_per_address.check(&address_bucket(ip)));
    let by_email = p.login_per_email.check(&email_key.to_string());
    match (by_address, by_email) {
        (Err(a), Err(e)) => Err(a.max(e)),
        (Err(t), _) | (_, Err(t)) => Err(t),
        _ => Ok(()),
    }
}

/// 429 with `Retry-After`, as a page.
fn too_many(t: Throttled) -> Response {
    let secs = t.retry_after_secs();
    let mut res = message(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-in attempts",
        &format!("Too many sign-in attempts for this address. Try again in {secs} seconds."),
        Some("/portal/login"),
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// `POST /portal/logout`: revokes the session (on every server at once)
/// and deletes its cookie.
pub async fn logout(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    form: Result<Params<CsrfForm>, ApiError>,
) -> Response {
    let sent = form.ok().and_then(|Params(f)| f.csrf_token);
    if let Err(refused) = user.check_form(&state, &headers, non_empty(&sent)) {
        return refused.into_response();
    }
    if let Err(e) = state
        .store
        .revoke_session(user.session_digest(), state.clock.now())
        .await
    {
        return internal(e);
    }
    tracing::info!(user_id = user.user_id, "portal sign-out");
    let mut res = see_other("/portal/login");
    res.headers_mut()
        .append(header::SET_COOKIE, session::session_cookie(&state, "", 0));
    res
}
