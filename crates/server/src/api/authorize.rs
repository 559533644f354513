//! The authorization page: where the `next_url` of a pending provision sends
//! the site owner (SPEC §5, provision). The owner sees the site and what
//! waits for approval, and approves with one button: a plain HTML form, no
//! JavaScript.
//!
//! A link is a one-time secret (64 random letters and digits, stored only as
//! a SHA-256 digest) valid as long as the pending activation it was issued
//! for. It approves for the partner that requested it (SPEC §11): approving
//! spends it through [`Store::use_auth_link`], which in one transaction
//! connects the site, activates the pending activations of that partner
//! (every key of it, and no other partner's), and marks that partner's
//! links of the site used. An unknown link is answered 404, a used or
//! expired one 410, both as HTML pages, and neither changes anything.
//!
//! A forged approval is refused (403 page, nothing changed): the form
//! carries an anti-forgery token, an HMAC of the link's digest under the
//! server key ([`form_token`]; nothing stored), and a POST with an
//! `Origin` (or, without one, a `Referer`) of another origin is refused
//! ([`same_origin`]).
//!
//! `partner_redirect` (a query parameter of the page, carried through the
//! form) is followed with a 303 only when it starts with a prefix the link's
//! partner has allow-listed (`jpstart admin partner allow-redirect`); see
//! [`redirect_allowed`]. Otherwise the owner is sent (303) to the site's
//! `wp-admin/`, where upstream's SSO redirect takes them; only if the site
//! cannot be read back does a success page stand in.
//!
//! Links are not under `/rest`: they are for browsers, not API clients.
//!
//! [`Store::use_auth_link`]: crate::store::Store::use_auth_link

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jpstart_types::params::{non_empty, AuthorizeParams};
use jpstart_types::{BlogId, SiteRef, SiteUrl};

use crate::app::state::AppState;
use crate::clock::Timestamp;
use crate::domain::lifecycle;
use crate::domain::ApiError;
use crate::domain::LinkRefusal;
use crate::portal::html::render_with;
use crate::rest::{operation, Endpoint, Params};
use crate::secrets;
use crate::store::{AuthLink, ConnectOutcome, StoreError};

/// The page (outside `/rest`): shown by GET, approved by POST.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![Endpoint {
        operations: vec![operation!(show), operation!(approve)],
        methods: |_| get(show).post(approve),
        rest: None,
    }]
}

/// `GET /authorize/{token}`: the site, what is pending, and the Approve form.
#[utoipa::path(
    get,
    path = "/authorize/{token}",
    tag = "authorize",
    params(
        ("token" = String, Path, description = "The one-time link token from a pending provision's `next_url`."),
        ("partner_redirect" = Option<String>, Query, description = "Where to send the owner after approval; honoured only under a prefix the partner allow-listed."),
        ("blog_id" = Option<String>, Query, description = "Set in `next_url` so that `&partner_redirect=` can be appended; informational, the token alone names the site."),
    ),
    responses(
        (status = 200, description = "The page: the site, what waits, and the Approve form.", content_type = "text/html"),
        (status = 404, description = "Unknown link (HTML page).", content_type = "text/html"),
        (status = 410, description = "Used or expired link (HTML page).", content_type = "text/html"),
        (status = 500, description = "The store failed; nothing changed (HTML page).", content_type = "text/html"),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    params: Result<Params<AuthorizeParams>, ApiError>,
) -> Response {
    // A token that does not even decode is no link of ours.
    let Ok(Path(token)) = token else {
        return Page::unknown().into_response();
    };
    let now = state.clock.now();
    let link = match valid_link(&state, &token, now).await {
        Ok(link) => link,
        Err(page) => return page.into_response(),
    };
    let site = match state.store.site(&SiteRef::BlogId(link.blog_id), now).await {
        Ok(Some(site)) => site,
        Ok(None) => return Page::unknown().into_response(),
        Err(e) => return Page::internal(e).into_response(),
    };
    let redirect = params
        .ok()
        .and_then(|Params(p)| non_empty(&p.partner_redirect).map(str::to_string));
    // What approving activates: this link's partner's only.
    let pending = site
        .live
        .iter()
        .filter(|a| a.is_pending() && a.partner_id == Some(link.partner_id))
        .map(|a| a.product.as_str().to_string())
        .collect();
    let taken_back = match &redirect {
        Some(url) if redirect_allowed(url, &partner_prefixes(&state, &link).await) => {
            Some(url.clone())
        }
        _ => None,
    };
    Page::Show(ShowPage {
        title: format!("Connect {} to Jetpack", site.identifier),
        site: site.identifier.as_str().to_string(),
        url: site.url.clone(),
        pending,
        form_token: link_digest(&token).map(|d| form_token(&state, &d)),
        redirect,
        taken_back,
    })
    .into_response()
}

/// `POST /authorize/{token}`: approves (see the module docs).
#[utoipa::path(
    post,
    path = "/authorize/{token}",
    tag = "authorize",
    params(("token" = String, Path, description = "The one-time link token from a pending provision's `next_url`.")),
    request_body(content = AuthorizeParams, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Approved, but the site could not be read back: a page saying it is connected (HTML).", content_type = "text/html"),
        (status = 303, description = "Approved: sent to the allow-listed `partner_redirect`, else to the site's `wp-admin/`."),
        (status = 400, description = "The form could not be read (HTML page).", content_type = "text/html"),
        (status = 403, description = "Not sent by the page's own form: no or a wrong anti-forgery token, or another origin; nothing changed (HTML page).", content_type = "text/html"),
        (status = 404, description = "Unknown link (HTML page).", content_type = "text/html"),
        (status = 410, description = "Used or expired link (HTML page).", content_type = "text/html"),
        (status = 500, description = "The store failed; nothing changed (HTML page).", content_type = "text/html"),
    ),
)]
pub async fn approve(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    params: Result<Params<AuthorizeParams>, ApiError>,
) -> Response {
    let Ok(Path(token)) = token else {
        return Page::unknown().into_response();
    };
    let now = state.clock.now();
    let Some(digest) = link_digest(&token) else {
        return Page::unknown().into_response();
    };
    let Ok(Params(params)) = params else {
        return Page::refusal(
            StatusCode::BAD_REQUEST,
            "The form could not be read",
            "Open the link you were given again and press Approve.",
        )
        .into_response();
    };
    if let Err(page) = genuine(&state, &headers, &digest, &params, &token, now).await {
        return page.into_response();
    }
    let (link, out) = match state.store.use_auth_link(&digest, now).await {
        Ok(Ok(used)) => used,
        // Refused: say why (no change was made).
        Ok(Err(refusal)) => return Page::refused(refusal).into_response(),
        Err(e) => return Page::internal(e).into_response(),
    };
    let redirect = non_empty(&params.partner_redirect).map(str::to_string);
    let target = match &redirect {
        Some(url) if redirect_allowed(url, &partner_prefixes(&state, &link).await) => {
            HeaderValue::from_str(url).ok()
        }
        _ => None,
    };
    let to_partner = target.is_some();
    let target = match target {
        Some(t) => Some(t),
        None => site_admin(&state, out.blog_id, now).await,
    };
    tracing::info!(
        blog_id = %out.blog_id,
        activated = out.activated.len(),
        redirect_requested = redirect.is_some(),
        to_partner,
        redirected = target.is_some(),
        "site approved on the authorization page"
    );
    if let Some(location) = target {
        let mut res = StatusCode::SEE_OTHER.into_response();
        res.headers_mut().insert(header::LOCATION, location);
        protect(&mut res);
        return res;
    }
    connected_page(&state, &out, now).await
}

/// The page after an approval when there is nowhere to send the owner (the
/// site could not be read back): the site, and the names of what became
/// active. The approval is committed, so a failure here only shortens it.
async fn connected_page(state: &AppState, out: &ConnectOutcome, now: Timestamp) -> Response {
    let activated = match state.store.site(&SiteRef::BlogId(out.blog_id), now).await {
        Ok(Some(site)) => site
            .live
            .iter()
            .filter(|a| out.activated.contains(&a.id))
            .map(|a| a.product.as_str().to_string())
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::error!(error = %e, "store failure after approval");
            Vec::new()
        }
    };
    Page::Done(DonePage {
        title: format!("{} is connected", out.identifier),
        identifier: out.identifier.as_str().to_string(),
        activated,
    })
    .into_response()
}

/// The site's `wp-admin/`, from its stored URL (or, for a URL that no
/// longer passes today's checks, its identifier), as the Location of the
/// 303 after approval; `None` when the site cannot be read back.
async fn site_admin(state: &AppState, blog_id: BlogId, now: Timestamp) -> Option<HeaderValue> {
    let site = match state.store.site(&SiteRef::BlogId(blog_id), now).await {
        Ok(site) => site?,
        Err(e) => {
            tracing::error!(error = %e, "store failure after approval");
            return None;
        }
    };
    let base = match SiteUrl::parse(&site.url) {
        Ok(u) if u.identifier() == &site.identifier => u.base(),
        _ => SiteUrl::base_of(&site.identifier),
    };
    HeaderValue::from_str(&uri_escape(&format!("{base}/wp-admin/"))).ok()
}

/// Percent-encodes every byte a URI may not hold as is (RFC 3986 §2: neither
/// reserved nor unreserved), so that a stored site URL with, say, a quote in
/// its path is still a valid `Location`; `%` stays, as the URL may already
/// be encoded.
fn uri_escape(url: &str) -> String {
    const KEEP: &[u8] = b"-._~:/?#[]@!$&'()*+,;=%";
    let mut out = String::with_capacity(url.len());
    for b in url.bytes() {
        if b.is_ascii_alphanumeric() || KEEP.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The anti-forgery token of a link's form: bound to the link, made with
/// the server key, so no other page can make one and nothing is stored.
fn form_token(state: &AppState, digest: &[u8]) -> String {
    state.secret_key.mac(FORM_CONTEXT, digest)
}

const FORM_CONTEXT: &[u8] = b"authorize-form";

/// Whether an approval was sent by the link's own page: from no other
/// origin, with the form's token. A refused one is answered as its page,
/// unknown or spent links as such (404, 410) rather than 403.
async fn genuine(
    state: &AppState,
    headers: &HeaderMap,
    digest: &[u8],
    params: &AuthorizeParams,
    token: &str,
    now: Timestamp,
) -> Result<(), Page> {
    if !same_origin(headers, &state.public_url) {
        tracing::warn!("approval from another origin refused");
        return Err(Page::forged());
    }
    let sent = non_empty(&params.form_token).unwrap_or_default();
    if !state.secret_key.verify_mac(FORM_CONTEXT, digest, sent) {
        valid_link(state, token, now).await?;
        tracing::warn!("approval without the form's token refused");
        return Err(Page::forged());
    }
    Ok(())
}

/// Whether a POST comes from our own pages, by `Origin` or, without one,
/// `Referer`; with neither (not a browser's form) the token alone decides.
/// Ours: the origin of the public URL, or the host the request was sent to
/// (which a browser sets itself). An opaque origin (`null`) is not ours.
pub fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let sent = match (headers.get(header::ORIGIN), headers.get(header::REFERER)) {
        (Some(origin), _) => origin,
        (None, Some(referer)) => referer,
        (None, None) => return true,
    };
    let Some(theirs) = sent.to_str().ok().and_then(origin_of) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    origin_of(public_url).as_ref() == Some(&theirs)
        || host.is_some_and(|h| h.eq_ignore_ascii_case(&theirs.1))
}

/// The scheme and authority of an http(s) URL, lowercased.
fn origin_of(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    (!authority.is_empty()).then(|| (scheme, authority.to_ascii_lowercase()))
}

/// Whether `url` may be redirected to, given a partner's allow-listed
/// prefixes: it starts with one of them, is an http(s) URL without spaces or
/// control characters, and — when the prefix ends inside the host part, as
/// `https://panel.example.com` does — continues at a host boundary (`/`,
/// `?`, `#` or nothing), so that `https://panel.example.com.evil.org` or
/// `https://panel.example.com@evil.org` is not admitted.
pub fn redirect_allowed(url: &str, prefixes: &[String]) -> bool {
    let well_formed = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    well_formed
        && prefixes.iter().any(|p| {
            !p.is_empty()
                && url
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| at_boundary(p, rest))
        })
}

fn at_boundary(prefix: &str, rest: &str) -> bool {
    let host_complete = prefix
        .split_once("://")
        .is_some_and(|(_, after)| after.contains(['/', '?', '#']));
    host_complete || rest.is_empty() || rest.starts_with(['/', '?', '#'])
}

async fn partner_prefixes(state: &AppState, link: &AuthLink) -> Vec<String> {
    state
        .store
        .partner_redirects(link.partner_id)
        .await
        .unwrap_or_else(|e| {
            // No allow-list read means no redirect; the approval stands.
            tracing::error!(error = %e, "store failure reading redirect prefixes");
            Vec::new()
        })
}

/// The digest of a well-formed link token; `None` for one we cannot have
/// issued (no database lookup needed).
fn link_digest(token: &str) -> Option<Vec<u8>> {
    (token.len() == secrets::SECRET_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| secrets::digest(token))
}

/// The link behind a token if it can still be used
/// ([`lifecycle::link_validity`]), or the refusal page.
async fn valid_link(state: &AppState, token: &str, now: Timestamp) -> Result<AuthLink, Page> {
    let digest = link_digest(token).ok_or_else(Page::unknown)?;
    let link = state
        .store
        .auth_link(&digest)
        .await
        .map_err(Page::internal)?
        .ok_or_else(Page::unknown)?;
    lifecycle::link_validity(&link, now).map_err(Page::refused)?;
    Ok(link)
}

/// The page's answers, each an askama template under `portal/templates/`
/// (every value escaped there), on the portal's stylesheet.
enum Page {
    Show(ShowPage),
    Done(DonePage),
    Message(StatusCode, MessagePage),
}

/// The site, what waits for approval, and the Approve form.
#[derive(askama::Template)]
#[template(path = "authorize.html")]
struct ShowPage {
    title: String,
    site: String,
    url: String,
    /// Product slugs.
    pending: Vec<String>,
    form_token: Option<String>,
    /// The `partner_redirect` carried through the form.
    redirect: Option<String>,
    /// The same when it is allow-listed, to say where the owner goes next.
    taken_back: Option<String>,
}

/// After an approval with nowhere to send the owner.
#[derive(askama::Template)]
#[template(path = "authorize_done.html")]
struct DonePage {
    title: String,
    identifier: String,
    activated: Vec<String>,
}

/// A refusal or failure: one sentence.
#[derive(askama::Template)]
#[template(path = "authorize_message.html")]
struct MessagePage {
    title: String,
    text: String,
}

impl Page {
    fn refusal(status: StatusCode, title: &str, text: &str) -> Self {
        Page::Message(
            status,
            MessagePage {
                title: title.to_string(),
                text: text.to_string(),
            },
        )
    }

    /// The page of a link that cannot be used.
    fn refused(why: LinkRefusal) -> Self {
        match why {
            LinkRefusal::Unknown => Page::unknown(),
            LinkRefusal::Used => Page::refusal(
                StatusCode::GONE,
                "This link has already been used",
                "The site was approved with it. Ask your hosting provider for a new link if you need one.",
            ),
            LinkRefusal::Expired => Page::refusal(
                StatusCode::GONE,
                "This link has expired",
                "What it was issued for was not approved in time. Ask your hosting provider to provision again.",
            ),
        }
    }

    fn forged() -> Self {
        Page::refusal(
            StatusCode::FORBIDDEN,
            "This approval was not sent from its page",
            "Nothing was changed. Open the link you were given and press Approve there.",
        )
    }

    fn unknown() -> Self {
        Page::refusal(
            StatusCode::NOT_FOUND,
            "Unknown link",
            "This authorization link is not valid. Check that you opened the whole link you were given.",
        )
    }

    fn internal(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure on the authorization page");
        Page::refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Nothing was changed. Please try again in a moment.",
        )
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        match self {
            Page::Show(p) => render_with(StatusCode::OK, &p, protect),
            Page::Done(p) => render_with(StatusCode::OK, &p, protect),
            Page::Message(status, p) => render_with(status, &p, protect),
        }
    }
}

/// Headers of every answer of the page: the link is a secret (no caching,
/// no Referer to any other origin, such as wherever the owner goes next),
/// and the Approve button must not be framed by another site (clickjacking).
fn protect(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        // Same-origin, not no-referrer: with no-referrer a browser sends
        // `Origin: null` even for the page's own form, and the origin check
        // could not tell it from a forged one.
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // No form-action directive: it would also block the 303 to the partner.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
}

/// Escapes text for HTML (the templates' escaper, for strings built outside
/// a template).
pub use crate::portal::html::esc;

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
