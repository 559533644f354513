//! Webhooks (SPEC §10): the dispatcher every server runs, the signature,
//! and the SSRF guard's resolver.
//!
//! Requests never send a webhook: the store writes the event and its
//! deliveries in the transaction of the state change
//! (`store/sql/webhooks.rs`). [`dispatcher::run`] claims due deliveries
//! (a lease, so that several servers never send one at once and a claim
//! that died with its server is taken again), POSTs each through
//! [`guard::http_client`], and records the outcome: delivered on a 2xx
//! within the timeout, otherwise retried with exponential backoff
//! ([`crate::domain::webhooks::next_attempt`]) until the retry window of
//! the event has passed, then failed.

pub mod dispatcher;
pub mod guard;
pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::domain::webhooks::{DEFAULT_RETRY_BASE, DEFAULT_TIMEOUT};

/// Webhook settings from the command line.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The first retry's wait (`--webhook-retry-base`), doubling up to 1 h.
    pub retry_base: Duration,
    /// A 2xx must come within this time (10 s; `--webhook-timeout`,
    /// hidden, for tests).
    pub timeout: Duration,
    /// Let URLs reach private addresses (`--webhook-allow-private`; the
    /// sandbox implies it).
    pub allow_private: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            retry_base: DEFAULT_RETRY_BASE,
            timeout: DEFAULT_TIMEOUT,
            allow_private: false,
        }
    }
}

impl WebhookConfig {
    /// How long a claim is left to its server: room for the whole attempt
    /// and recording it, after which another server may take it.
    pub fn lease(&self) -> Duration {
        (self.timeout * 3).max(Duration::from_secs(1))
    }
}

/// What handlers need.
#[derive(Clone)]
pub struct WebhookState {
    /// Private addresses allowed (`--webhook-allow-private` or `--sandbox`).
    pub allow_private: bool,
    /// Wakes the dispatcher (a replay is due at once).
    pub wakeup: Arc<Notify>,
    /// The guarded client, for the Monitor notification.
    pub http: reqwest::Client,
}

impl WebhookState {
    pub fn new(config: &WebhookConfig, sandbox: bool) -> Result<Self, String> {
        let allow_private = config.allow_private || sandbox;
        Ok(WebhookState {
            allow_private,
            wakeup: Arc::new(Notify::new()),
            http: guard::http_client(allow_private, config.timeout)?,
        })
    }
}
