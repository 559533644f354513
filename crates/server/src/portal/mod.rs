//! The partner portal (SPEC §8): server-rendered HTML under `/portal/`
//! that works without JavaScript, for the partner users of
//! `jpstart admin user`, and the OAuth authorization endpoint
//! (`/oauth2/authorize`) through which their apps get reporting tokens.
//!
//! # Layout
//! - [`html`]: rendering askama templates (`templates/`, compile-time
//!   checked, every `{{ value }}` escaped), the protective headers of every
//!   page, and the one stylesheet (`static/portal.css`, served at
//!   `/portal/style.css`; the authorization page inlines it).
//! - [`session`]: sessions in the database (a cookie holding a random
//!   token; only its SHA-256 digest is stored), the [`PortalUser`]
//!   extractor, anti-forgery tokens.
//! - [`login`]: sign-in (throttled per e-mail and per address) and sign-out.
//! - [`pages`]: the overview and the portal's reporting token.
//! - [`apps`]: OAuth apps, registered by a user, their secret shown once.
//! - [`requests`], [`webhooks`]: the request log; webhook endpoints, their
//!   deliveries and replay, the Monitor URL.
//! - [`authorize`]: `GET`/`POST /oauth2/authorize`, the approve page and
//!   the authorization code (the token side is `api/oauth_code.rs`).
//!
//! # Writing a page (the API of this module)
//! ```ignore
//! #[derive(askama::Template)]
//! #[template(path = "activations.html")] // {% extends "layout.html" %}
//! struct ActivationsPage { title: String, nav: Nav, rows: Vec<Row> }
//!
//! async fn activations(State(state): State<AppState>, user: PortalUser) -> Response {
//!     render(StatusCode::OK, &ActivationsPage { title: "Activations".into(), nav: user.nav("activations"), rows })
//! }
//!
//! async fn create(State(state): State<AppState>, user: PortalUser, headers: HeaderMap,
//!                 Params(form): Params<MyForm>) -> Response {
//!     if let Err(refused) = user.check_form(&state, &headers, form.csrf_token.as_deref()) {
//!         return refused.into_response(); // 403 page, nothing changed
//!     }
//!     ...
//!     see_other("/portal/activations")
//! }
//! ```
//! - [`PortalUser`] as an argument: no valid session → 303 to
//!   `/portal/login?next=<this page>` (back here after signing in); it
//!   carries `user_id`, `partner_id`, `email`, `name` and `csrf`.
//! - Every form has `<input type="hidden" name="csrf_token" value="{{ nav.csrf }}">`
//!   and its handler calls [`PortalUser::check_form`] first.
//! - Templates extend `layout.html` (menu, sign-out) and have `title` and
//!   `nav` fields; add the page to [`NAV`] to put it in the menu. Pages
//!   without a session extend `base.html`.
//! - [`render`] answers a template with the headers of [`html::protect`];
//!   [`see_other`] a 303 after a POST; [`message`] a one-sentence page.
//! - Routes: add them to [`routes`] (without a trailing slash: the
//!   conventions layer trims it from every request).

pub mod apps;
pub mod authorize;
pub mod html;
pub mod login;
pub mod pages;
pub mod requests;
pub mod session;
pub mod webhooks;

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub use html::{render, see_other};
pub use session::{Nav, PortalUser};

use crate::app::state::AppState;
use crate::throttle::{KeyedLimiter, RateSpec};

/// The portal's menu: (key, label, path). A page passes its key to
/// [`PortalUser::nav`] to be marked current.
pub const NAV: &[(&str, &str, &str)] = &[
    ("overview", "Overview", "/portal/"),
    ("apps", "OAuth apps", "/portal/apps"),
    ("requests", "Request log", "/portal/requests"),
    ("webhooks", "Webhooks", "/portal/webhooks"),
];

/// Every route of the portal and of `/oauth2/authorize`.
pub fn routes() -> Router<AppState> {
    Router::new()
        // The conventions layer trims trailing slashes: `/portal/` too.
        .route("/portal", get(pages::overview))
        .route(html::STYLESHEET_PATH, get(html::stylesheet))
        .route("/portal/login", get(login::show).post(login::submit))
        .route("/portal/logout", post(login::logout))
        .route("/portal/token", post(pages::new_token))
        .route("/portal/apps", get(apps::list).post(apps::register))
        .merge(requests::routes())
        .merge(webhooks::routes())
        .route(
            "/oauth2/authorize",
            get(authorize::show).post(authorize::decide),
        )
}

/// The portal's settings (`jpstart serve --portal-*`).
#[derive(Clone, Debug)]
pub struct PortalConfig {
    /// How long a session lasts after sign-in.
    pub session_ttl: Duration,
    /// Sign-in attempts per e-mail address.
    pub login_per_email: RateSpec,
    /// Sign-in attempts per client address (IPv6: per /64).
    pub login_per_address: RateSpec,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            session_ttl: Duration::from_secs(12 * 3600),
            login_per_email: RateSpec::Rate {
                count: 5,
                period: Duration::from_secs(60),
                burst: 10,
            },
            login_per_address: RateSpec::Rate {
                count: 30,
                period: Duration::from_secs(60),
                burst: 60,
            },
        }
    }
}

/// What the portal's handlers reach through [`AppState`].
pub struct PortalState {
    pub session_ttl: Duration,
    /// Cookies get `Secure`: served over TLS, or the public URL is https.
    pub secure_cookies: bool,
    pub login_per_email: KeyedLimiter<String>,
    pub login_per_address: KeyedLimiter<IpAddr>,
}

impl PortalState {
    pub fn new(config: &PortalConfig, secure_cookies: bool) -> Self {
        PortalState {
            session_ttl: config.session_ttl,
            secure_cookies,
            login_per_email: KeyedLimiter::new(config.login_per_email),
            login_per_address: KeyedLimiter::new(config.login_per_address),
        }
    }
}

/// A page with one sentence (no session needed): refusals and failures.
#[derive(askama::Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub title: String,
    pub text: String,
    /// A link back (a path of ours).
    pub back: Option<String>,
}

/// [`MessagePage`] rendered with `status`.
pub fn message(status: StatusCode, title: &str, text: &str, back: Option<&str>) -> Response {
    render(
        status,
        &MessagePage {
            title: title.to_string(),
            text: text.to_string(),
            back: back.map(str::to_string),
        },
    )
}

/// The 500 page of a store failure (logged; nothing changed).
pub fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "store failure in the portal");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Nothing was changed. Please try again in a moment.",
        None,
    )
}

/// The 403 page of a form that was not sent by our own page.
pub fn forged() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "This form was not sent from its page",
        "Nothing was changed. Reload the page and try again.",
        Some("/portal/"),
    )
}
