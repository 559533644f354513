//! Application state and the route table.

use std::ops::Deref;
use std::sync::Arc;

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::api;
use crate::crypto::SecretKey;
use crate::domain::Catalogue;
use crate::rest::conventions::conventions;
use crate::rest::routes::not_found;
use crate::store::Store;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub catalogue: Catalogue,
    /// Base of the links the API hands out, without a trailing slash.
    pub public_url: String,
    pub pending_ttl_ms: i64,
    /// Seals stored backup credentials.
    pub secret_key: SecretKey,
    /// Serve `GET /bench/hello` (see [`crate::bench`]).
    pub bench_routes: bool,
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
    let mut routes = api::routes().route("/oauth2/token", post(crate::oauth::token));
    if state.bench_routes {
        routes = routes.route(crate::bench::HELLO_PATH, get(crate::bench::hello));
    }
    let routes = routes.fallback(|| async { not_found() }).with_state(state);
    // The conventions rewrite the path before routing, so they wrap the
    // router from outside.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(conventions))
        .layer(
            // Spans carry the path only: a query string may hold secrets.
            TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
}
