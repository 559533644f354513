//! The whole HTTP application: the endpoints of [`crate::api`] inside the
//! conventions, deadline, metrics and trace layers.

use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use super::state::AppState;
use crate::api;
use crate::domain::{ApiError, ErrorCode};
use crate::metrics;
use crate::request_log::{self, redact};
use crate::rest::conventions::conventions;
use crate::rest::deadline::deadline;
use crate::rest::routes::not_found;

/// The whole HTTP application: routes inside the conventions layer.
pub fn router(state: AppState) -> Router {
    let mut routes = api::routes(&state).merge(crate::portal::routes());
    if state.bench_routes {
        routes = routes.route(api::bench::HELLO_PATH, get(api::bench::hello));
    }
    let routes = routes
        .route_layer(middleware::from_fn(metrics::record_route))
        .fallback(|| async { not_found() })
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state.clone());
    // The conventions rewrite the path before routing, so they wrap the
    // router from outside; they also shape the deadline's 408 (envelope,
    // CORS). Metrics wrap everything, to time and count every answer.
    let mut app = Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(
            state.request_timeout,
            deadline,
        ))
        .layer(middleware::from_fn(conventions));
    // Outside the conventions: the log keeps what the client sent and got.
    if let Some(log) = state.request_log.clone() {
        app = app.layer(middleware::from_fn_with_state(log, request_log::record));
    }
    app.layer(middleware::from_fn_with_state(
        state.metrics.clone(),
        metrics::track,
    ))
    .layer(
        // Spans carry the path only: a query string may hold secrets.
        TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
            let path = redact::log_path(req.uri().path());
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

#[cfg(test)]
mod tests {
    use super::panicked;

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
}
