//! Application state: what every handler can reach. It names no endpoint,
//! so endpoints can import it without an import circle through the router.

use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;

use crate::crypto::SecretKey;
use crate::domain::Catalogue;
use crate::store::Store;
use crate::throttle::{KeyedLimiter, RateSpec};

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
    /// What one key can make the database hold (SPEC §11).
    pub bounds: crate::config::Bounds,
    /// Write requests per key ([`crate::writer::Writer`]); per process.
    pub write_limit: KeyedLimiter<jpstart_types::KeyId>,
    pub metrics: crate::metrics::Metrics,
    /// Longest a request may take from its headers to its response.
    pub request_timeout: std::time::Duration,
    /// Serve `GET /bench/hello` (see [`crate::api::bench`]).
    pub bench_routes: bool,
    /// Sandbox mode (SPEC §9).
    pub sandbox: bool,
    /// The request log's queue when requests are recorded (SPEC §9).
    pub request_log: Option<crate::request_log::RequestLog>,
    /// The magic-link limiter and the mail sender's wake-up.
    pub mail: crate::mail::MailState,
    /// The SSRF guard's setting, the dispatcher's wake-up (SPEC §10).
    pub webhooks: crate::webhooks::WebhookState,
    /// Portal sessions and sign-in limits.
    pub portal: crate::portal::PortalState,
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

/// The token endpoint's failure budgets (SPEC §11): only a wrong secret
/// uses them up, so guessing cannot lock the owner of a key out.
pub struct TokenLimits {
    /// Wrong secrets per client id.
    pub per_client: KeyedLimiter<String>,
    /// Wrong secrets per client address (IPv6: per /64).
    pub per_address: KeyedLimiter<IpAddr>,
}

impl TokenLimits {
    /// Limits from the configured rates (`RateSpec::Off` disables one).
    pub fn new(per_client: RateSpec, per_address: RateSpec) -> Self {
        TokenLimits {
            per_client: KeyedLimiter::new(per_client),
            per_address: KeyedLimiter::new(per_address),
        }
    }
}
