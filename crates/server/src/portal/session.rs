//! Portal sessions and anti-forgery tokens.
//!
//! A session is a cookie holding 64 random letters and digits; the database
//! keeps only its SHA-256 digest, with its user, expiry and revocation, so
//! any server on the database serves it and signing out (or the operator
//! disabling the user) ends it on the very next request everywhere. The
//! cookie is `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the
//! server is reached over TLS or its public URL is https.
//!
//! Every form carries an anti-forgery token: an HMAC under the server key
//! ([`crate::crypto::SecretKey::mac`]) of the session's digest, so nothing
//! more is stored and no other page can make one. The sign-in form, before
//! any session, binds its token to a random value in a short-lived cookie
//! of its own (`jpstart_login`). POSTs also check `Origin` (or `Referer`)
//! as the authorization page does ([`same_origin`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::Response;
use jpstart_types::PartnerId;

use super::{internal, see_other, NAV};
use crate::api::authorize::same_origin;
use crate::app::state::AppState;
use crate::secrets;

/// The session cookie.
pub const SESSION_COOKIE: &str = "jpstart_session";
/// The sign-in form's own cookie (the value its token is bound to).
pub const LOGIN_COOKIE: &str = "jpstart_login";
/// The name of the anti-forgery field of every form.
pub const CSRF_FIELD: &str = "csrf_token";

const CSRF_CONTEXT: &[u8] = b"portal-csrf";
const LOGIN_CONTEXT: &[u8] = b"portal-login";
/// How long the sign-in form's cookie lives (seconds).
const LOGIN_COOKIE_AGE: u64 = 3600;

/// The signed-in partner user of a portal request. As an argument of a
/// handler: without a valid session the request is answered with a 303 to
/// `/portal/login?next=<this page>` (after signing in the user comes back).
#[derive(Clone)]
pub struct PortalUser {
    pub user_id: i64,
    pub partner_id: PartnerId,
    pub email: String,
    pub name: String,
    /// The anti-forgery token for this session's forms (`csrf_token`).
    pub csrf: String,
    session_digest: Vec<u8>,
}

impl std::fmt::Debug for PortalUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalUser")
            .field("user_id", &self.user_id)
            .field("partner_id", &self.partner_id)
            .finish_non_exhaustive()
    }
}

impl PortalUser {
    /// The user of the request's session cookie, if it names a valid one.
    pub async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Option<PortalUser>, crate::store::StoreError> {
        let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| well_formed(t)) else {
            return Ok(None);
        };
        let digest = secrets::digest(token);
        let Some(record) = state.store.session(&digest, state.clock.now()).await? else {
            return Ok(None);
        };
        Ok(Some(PortalUser {
            user_id: record.user.id,
            partner_id: record.user.partner_id,
            email: record.user.email,
            name: record.user.name,
            csrf: state.secret_key.mac(CSRF_CONTEXT, &digest),
            session_digest: digest,
        }))
    }

    /// The layout's menu and sign-out form, `current` naming this page's
    /// [`NAV`] entry.
    pub fn nav(&self, current: &'static str) -> Nav {
        Nav {
            email: self.email.clone(),
            csrf: self.csrf.clone(),
            current,
        }
    }

    /// Whether a form was sent by one of this session's pages: from no
    /// other origin, with the session's anti-forgery token. Otherwise
    /// [`Forged`], the 403 page to answer with (nothing may change).
    pub fn check_form(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        sent: Option<&str>,
    ) -> Result<(), Forged> {
        let token_ok = state.secret_key.verify_mac(
            CSRF_CONTEXT,
            &self.session_digest,
            sent.unwrap_or_default(),
        );
        if same_origin(headers, &state.public_url) && token_ok {
            Ok(())
        } else {
            tracing::warn!(
                user_id = self.user_id,
                "portal form without its anti-forgery token or from another origin refused"
            );
            Err(Forged)
        }
    }

    /// The session's digest (to revoke it at sign-out).
    pub(super) fn session_digest(&self) -> &[u8] {
        &self.session_digest
    }
}

/// A form refused by [`PortalUser::check_form`]; answers the 403 page.
#[derive(Debug, Clone, Copy)]
pub struct Forged;

impl axum::response::IntoResponse for Forged {
    fn into_response(self) -> Response {
        super::forged()
    }
}

impl FromRequestParts<AppState> for PortalUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match PortalUser::from_headers(state, &parts.headers).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(to_login(parts)),
            Err(e) => Err(internal(e)),
        }
    }
}

/// The 303 to the sign-in page; a GET comes back to where it was.
fn to_login(parts: &Parts) -> Response {
    if parts.method != Method::GET {
        return see_other("/portal/login");
    }
    let here = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/portal/");
    let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    see_other(&format!("/portal/login?next={next}"))
}

/// What `layout.html` needs: the user, the current page, the sign-out
/// form's token.
#[derive(Clone, Debug)]
pub struct Nav {
    pub email: String,
    pub csrf: String,
    pub current: &'static str,
}

/// One entry of the menu.
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

impl Nav {
    pub fn items(&self) -> Vec<NavItem> {
        NAV.iter()
            .map(|(key, label, href)| NavItem {
                label,
                href,
                current: *key == self.current,
            })
            .collect()
    }
}

/// A local path to go to after signing in: absolute on our host (`/...`,
/// not `//host` nor `/\host`, which browsers read as another host), without
/// white space or control characters. Anything else is no target.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2000
        && !next.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(next)
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A session cookie (`token`) for `max_age` seconds; 0 deletes it.
pub fn session_cookie(state: &AppState, token: &str, max_age: u64) -> HeaderValue {
    set_cookie(state, SESSION_COOKIE, token, max_age)
}

/// The sign-in form's cookie, and the token the form carries for it.
pub fn login_cookie(state: &AppState, value: &str) -> (HeaderValue, String) {
    (
        set_cookie(state, LOGIN_COOKIE, value, LOGIN_COOKIE_AGE),
        state.secret_key.mac(LOGIN_CONTEXT, value.as_bytes()),
    )
}

/// Deletes the sign-in form's cookie.
pub fn clear_login_cookie(state: &AppState) -> HeaderValue {
    set_cookie(state, LOGIN_COOKIE, "", 0)
}

/// Whether a sign-in POST carries the token of its form's cookie.
pub fn login_token_ok(state: &AppState, headers: &HeaderMap, sent: Option<&str>) -> bool {
    let Some(value) = cookie(headers, LOGIN_COOKIE).filter(|v| well_formed(v)) else {
        return false;
    };
    state
        .secret_key
        .verify_mac(LOGIN_CONTEXT, value.as_bytes(), sent.unwrap_or_default())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.portal.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    // Our own names and values are letters, digits and `_`.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("jpstart=; Max-Age=0"))
}

/// A value we could have made (64 letters and digits): anything else is
/// refused without a lookup.
pub fn well_formed(token: &str) -> bool {
    token.len() == secrets::SECRET_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_our_host() {
        assert_eq!(safe_next("/portal/apps"), Some("/portal/apps"));
        assert_eq!(
            safe_next("/oauth2/authorize?client_id=1&x=%20"),
            Some("/oauth2/authorize?client_id=1&x=%20")
        );
        for bad in [
            "",
            "portal",
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "/a b",
            "/a\nb",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; jpstart_session=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "jpstart_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "jpstart"), None);
    }
}
