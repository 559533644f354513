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
    let routes = api::routes()
        .merge(api::authorize::routes())
        .route("/oauth2/token", post(crate::oauth::token))
        .route("/openapi.json", get(api::openapi::openapi_json))
        .fallback(|| async { not_found() })
        .with_state(state);
    // The conventions rewrite the path before routing, so they wrap the
    // router from outside.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(conventions))
        .layer(
            // Spans carry the path only: a query string may hold secrets.
            TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
                let path = loggable_path(req.uri().path());
                tracing::info_span!("request", method = %req.method(), path = %path)
            }),
        )
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
    use super::loggable_path;

    #[test]
    fn link_tokens_are_not_logged() {
        assert_eq!(loggable_path("/authorize/abc123"), "/authorize/");
        assert_eq!(
            loggable_path("/rest/v1.3/jpphp/provision"),
            "/rest/v1.3/jpphp/provision"
        );
    }
}
