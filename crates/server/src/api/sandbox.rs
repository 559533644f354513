//! The sandbox's own routes (SPEC §9), outside `/rest`: `GET /sandbox` (the
//! magic sites, generated from the error catalogue by
//! [`crate::domain::sandbox::listing`]), `GET|POST /sandbox/clock` (the
//! test clock kept in the database, as `jpstart admin clock`), and
//! `GET /sandbox/mail` (the outbox). Each page answers JSON to
//! `?format=json` or an `Accept` asking for JSON, HTML otherwise.
//!
//! Without `--sandbox` every one of them answers 404 `not_a_sandbox` (a
//! catalogued error, so that it is not taken for a mistyped path). The magic sites
//! themselves are applied by [`crate::sandbox::intercept`].
//!
//! `/sandbox/mail` needs no token and shows the mail bodies, one-time login
//! links included: that is what a sandbox is for (a test reads the link it
//! caused), and why these routes exist only in one (docs/SANDBOX.md).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, MethodRouter};
use axum::Json;
use jpstart_types::admin::MailShown;
use jpstart_types::sandbox::{ClockParams, PageParams, SandboxMail, SandboxSites};
use jpstart_types::wire::ClockState;

use crate::app::state::AppState;
use crate::auth::Caller;
use crate::clock::{ClockError, TestClock};
use crate::domain::sandbox::{listing, ClockMove, ENDPOINTS};
use crate::domain::{ApiError, ErrorCode};
use crate::rest::{operation, Endpoint, Params};
use crate::sandbox::html;
use crate::store::MailFilter;

/// `/sandbox`, `/sandbox/clock`, `/sandbox/mail`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![
        Endpoint::plain(operation!(sandbox_sites), |s| {
            only_in_sandbox(s, get(sandbox_sites))
        }),
        Endpoint {
            operations: vec![operation!(sandbox_clock), operation!(move_sandbox_clock)],
            methods: |s| only_in_sandbox(s, get(sandbox_clock).post(move_sandbox_clock)),
            rest: None,
        },
        Endpoint::plain(operation!(sandbox_mail), |s| {
            only_in_sandbox(s, get(sandbox_mail))
        }),
    ]
}

/// `methods` in a sandbox; elsewhere 404 for every method, before any
/// token is looked at.
fn only_in_sandbox(state: &AppState, methods: MethodRouter<AppState>) -> MethodRouter<AppState> {
    if state.sandbox {
        methods
    } else {
        // A catalogued error, so that it is not taken for a mistyped path.
        any(|| async { ApiError::new(ErrorCode::NotASandbox) })
    }
}

/// `GET /sandbox`: every magic site and what it answers.
#[utoipa::path(
    get,
    path = "/sandbox",
    tag = "sandbox",
    params(("format" = Option<String>, Query, description = "`json` or `html`; default: JSON when Accept asks for it, else HTML")),
    responses(
        (status = 200, description = "The magic sites: {\"endpoints\":[...],\"sites\":[{\"site\",\"kind\",\"does\",\"status\",\"code\",\"message\"}]} as JSON, or (for a browser) an HTML page.", content_type = "application/json"),
        (status = 404, description = "`not_a_sandbox`: the server was started without --sandbox.", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn sandbox_sites(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(p): Params<PageParams>,
) -> Result<Response, ApiError> {
    let sites = listing();
    if wants_json(&p, &headers) {
        let endpoints = ENDPOINTS.iter().map(|e| e.to_string()).collect();
        return Ok(Json(SandboxSites { endpoints, sites }).into_response());
    }
    let clock = test_clock(&state).refresh().await?;
    Ok(html_page(html::sites_page(&sites, &clock)))
}

/// `GET /sandbox/clock`: where the sandbox's clock stands.
#[utoipa::path(
    get,
    path = "/sandbox/clock",
    tag = "sandbox",
    responses(
        (status = 200, description = "The clock, as `jpstart admin clock show` prints it.", body = ClockState),
        (status = 404, description = "`not_a_sandbox`: the server was started without --sandbox.", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn sandbox_clock(State(state): State<AppState>) -> Result<Json<ClockState>, ApiError> {
    Ok(Json(test_clock(&state).refresh().await?))
}

/// `POST /sandbox/clock`: moves the clock of the whole sandbox (every
/// server on its database) forward, by `advance` or to `now`; never back.
#[utoipa::path(
    post,
    path = "/sandbox/clock",
    tag = "sandbox",
    security(("bearer" = [])),
    request_body(
        description = "`advance=15d` (a duration) or `now=2027-01-01T00:00:00Z`; any of the four body formats, or the query string.",
        content(
            (ClockParams = "application/x-www-form-urlencoded"),
            (ClockParams = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "The clock after the move.", body = ClockState),
        (status = 400, description = "`invalid_clock` (neither, both, unreadable, too far) or `clock_backwards` (before the clock's now; nothing moved)."),
        (status = 403, description = "No or an invalid partner token."),
        (status = 404, description = "`not_a_sandbox`: the server was started without --sandbox.", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn move_sandbox_clock(
    State(state): State<AppState>,
    caller: Caller,
    Params(p): Params<ClockParams>,
) -> Result<Json<ClockState>, ApiError> {
    let step = ClockMove::parse(&p)?;
    let tc = test_clock(&state);
    let moved = match step {
        ClockMove::Advance(by) => tc.advance(by).await,
        ClockMove::To(at) => tc.set(at).await,
    };
    let clock = moved.map_err(|e| match e {
        ClockError::Store(e) => ApiError::from(e),
        ClockError::Backwards { asked, now } => {
            ApiError::with_args(ErrorCode::ClockBackwards, &[&asked, &now])
        }
        too_far @ ClockError::TooFar => {
            ApiError::with_arg(ErrorCode::InvalidClock, format!("{too_far}."))
        }
    })?;
    tracing::info!(key_id = caller.key_id.get(), now = %clock.now, offset_s = clock.offset_s, "sandbox clock moved");
    Ok(Json(clock))
}

/// `GET /sandbox/mail`: the outbox, oldest first, bodies and links included.
#[utoipa::path(
    get,
    path = "/sandbox/mail",
    tag = "sandbox",
    params(
        ("format" = Option<String>, Query, description = "`json` or `html`; default: JSON when Accept asks for it, else HTML"),
        ("to" = Option<String>, Query, description = "only mail to this address (any case)"),
    ),
    responses(
        (status = 200, description = "{\"mail\":[...]} (each as `jpstart admin mail` prints it) as JSON, or (for a browser) an HTML page. The bodies hold one-time login links.", content_type = "application/json"),
        (status = 404, description = "`not_a_sandbox`: the server was started without --sandbox.", body = jpstart_types::wire::ErrorBody),
    ),
)]
pub async fn sandbox_mail(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(p): Params<PageParams>,
) -> Result<Response, ApiError> {
    let filter = MailFilter {
        to: p.to.as_deref().map(|t| t.trim().to_string()),
    };
    let mail: Vec<MailShown> = state
        .store
        .outbox(&filter)
        .await?
        .into_iter()
        .map(MailShown::from)
        .collect();
    let mut res = if wants_json(&p, &headers) {
        Json(SandboxMail { mail }).into_response()
    } else {
        html_page(html::mail_page(&mail))
    };
    // One-time links: not for a shared cache.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The clock the sandbox runs on: this server's, kept in the database.
fn test_clock(state: &AppState) -> TestClock {
    TestClock::new(state.store.clone(), state.clock.clone())
}

/// `?format=json`, or (no format) an `Accept` naming JSON and not HTML.
fn wants_json(p: &PageParams, headers: &HeaderMap) -> bool {
    match p.format.as_deref().map(str::trim) {
        Some(f) if f.eq_ignore_ascii_case("json") => true,
        Some(f) if f.eq_ignore_ascii_case("html") => false,
        _ => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase();
            accept.contains("json") && !accept.contains("text/html")
        }
    }
}

fn html_page(body: String) -> Response {
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    res
}
