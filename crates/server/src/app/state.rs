//! Application state: what every handler can reach. It names no endpoint,
//! so endpoints can import it without an import circle through the router.

use std::ops::Deref;
use std::sync::Arc;

use axum::response::Response;

use crate::crypto::SecretKey;
use crate::domain::Catalogue;
use crate::store::Store;
use crate::throttle::{KeyedLimiter, PeerThrottle, RateSpec, Throttled};

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
    /// The most sub-keys a partner may have (SPEC §11).
    pub max_sub_keys: u32,
    /// Seals stored backup credentials.
    pub secret_key: SecretKey,
    pub token_limits: TokenLimits,
    pub metrics: crate::metrics::Metrics,
    /// Longest a request may take from its headers to its response.
    pub request_timeout: std::time::Duration,
    /// Serve `GET /bench/hello` (see [`crate::api::bench`]).
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

/// The token endpoint's abuse limits: guessing secrets costs a request each,
/// and every success writes a token row.
pub struct TokenLimits {
    /// Checked once the client id is read, before the secret is hashed.
    pub per_client: KeyedLimiter<String>,
    /// Checked first, by the [`crate::throttle::per_peer`] middleware.
    pub per_address: PeerThrottle,
}

impl TokenLimits {
    /// Limits from the configured rates (`RateSpec::Off` disables one);
    /// `reject` writes the answer to a throttled address (the token
    /// endpoint's own error shape, [`crate::api::oauth::too_many_requests`]).
    pub fn new(
        per_client: RateSpec,
        per_address: RateSpec,
        reject: fn(Throttled) -> Response,
    ) -> Self {
        TokenLimits {
            per_client: KeyedLimiter::new(per_client),
            per_address: PeerThrottle {
                limiter: Arc::new(KeyedLimiter::new(per_address)),
                reject,
            },
        }
    }
}
