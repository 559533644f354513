//! Application state and the route table.

use std::ops::Deref;
use std::sync::Arc;

use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::api;
use crate::crypto::SecretKey;
use crate::domain::{ApiError, Catalogue, ErrorCode};
use crate::rest::conventions::conventions;
use crate::rest::routes::not_found;
use crate::store::Store;
use crate::{metrics, ops};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    /// The one source of "now" for rules and records.
    pub clock: crate::clock::Clock,
    pub catalogue: Catalogue,
    /// Base of the links the API hands out, without a trailing slash.
    pub public_url: String,
    pub pending_ttl_ms: i64,
    /// Seals stored backup credentials.
    pub secret_key: SecretKey,
    pub token_limits: crate::oauth::TokenLimits,
    pub metrics: crate::metrics::Metrics,
    /// Longest a request may take from its headers to its response.
    pub request_timeout: std::time::Duration,
    /// Serve `GET /bench/hello` (see [`crate::bench`]).
    pub bench_routes: bool,
    /// The magic-link limiter and the mail sender's wake-up.
    pub mail: crate::mail::MailState,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The whole HTTP application: routes inside the conventions layer.
pub fn router(state: AppState) -> Router {
    let token = post(crate::oauth::token).layer(middleware::from_fn_with_state(
        state.token_limits.per_address.clone(),
        crate::throttle::per_peer,
    ));
    let mut routes = api::routes()
        .merge(api::authorize::routes())
        .route("/oauth2/token", token)
        .route("/openapi.json", get(api::openapi::openapi_json))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics));
    if state.bench_routes {
        routes = routes.route(crate::bench::HELLO_PATH, get(crate::bench::hello));
    }
    let routes = routes
        .route_layer(middleware::from_fn(metrics::record_route))
        .fallback(|| async { not_found() })
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state.clone());
    // The conventions rewrite the path before routing, so they wrap the
    // router from outside; they also shape the deadline's 408 (envelope,
    // CORS). Metrics wrap everything, to time and count every answer.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(
            state.request_timeout,
            ops::deadline,
        ))
        .layer(middleware::from_fn(conventions))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(
            // Spans carry the path only: a query string may hold secrets.
            TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
                let path = loggable_path(req.uri().path());
                tracing::info_span!("request", method = %req.method(), path = %path)
            }),
        )
}

/// A handler that panicked: logged, and answered as any internal error
/// (500 `internal_error`) rather than with a dropped connection. Its
/// transaction was never committed, so nothing changed.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let why = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %why, "handler panicked");
    ApiError::new(ErrorCode::InternalError).into_response()
}

/// The path as logged: an authorization link's token is a secret (whoever
/// holds it can approve the site), so it is cut off.
fn loggable_path(path: &str) -> &str {
    match path.find("/authorize/") {
        Some(i) => &path[..i + "/authorize/".len()],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::{loggable_path, panicked};

    #[tokio::test]
    async fn a_panic_is_an_internal_error() {
        let res = panicked(Box::new("index out of bounds"));
        assert_eq!(res.status(), 500);
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&body),
            r#"{"error":"internal_error","message":"An internal error occurred. It has been logged.","error_code":"internal_error","error_message":"An internal error occurred. It has been logged."}"#
        );
    }

    #[test]
    fn link_tokens_are_not_logged() {
        assert_eq!(loggable_path("/authorize/abc123"), "/authorize/");
        assert_eq!(
            loggable_path("/rest/v1.3/jpphp/provision"),
            "/rest/v1.3/jpphp/provision"
        );
    }
}
