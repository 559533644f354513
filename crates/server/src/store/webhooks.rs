//! Records of webhooks (SPEC §10): endpoints, the outbox of deliveries,
//! and the Monitor URLs.

use jpstart_types::webhooks::{DeliveryStatus, EventType};
use jpstart_types::{BlogId, PartnerId};

use crate::clock::Timestamp;

/// A registration; the secret comes sealed, bound to the endpoint id the
/// store assigns (`seal(id)`).
pub struct NewWebhook {
    pub partner_id: PartnerId,
    pub url: String,
    pub events: Vec<EventType>,
    pub now: Timestamp,
    /// At most this many live endpoints per partner.
    pub max_endpoints: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: i64,
    pub partner_id: PartnerId,
    pub url: String,
    pub events: Vec<EventType>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub kind: EventType,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub created_at: Timestamp,
}

/// A delivery claimed for one attempt, with what sending needs.
#[derive(Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub url: String,
    /// The endpoint's secret, sealed with the server key (context:
    /// [`secret_context`]).
    pub secret_sealed: Vec<u8>,
    pub event_id: String,
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub give_up_at: Timestamp,
    /// The claim: the attempt's result is recorded only while it holds.
    pub claimed_until: Timestamp,
}

impl std::fmt::Debug for ClaimedDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedDelivery")
            .field("id", &self.id)
            .field("endpoint_id", &self.endpoint_id)
            .field("event_id", &self.event_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The associated data a webhook secret is sealed under, so that a sealed
/// secret cannot be moved to another endpoint's row.
pub fn secret_context(endpoint_id: i64) -> Vec<u8> {
    format!("webhook-secret:{endpoint_id}").into_bytes()
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// HTTP status of the answer, if one came.
    pub status: Option<i64>,
    pub latency_ms: i64,
    /// Why it did not count as delivered (never the body or the secret).
    pub error: Option<String>,
    pub next: AttemptNext,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptNext {
    Delivered,
    RetryAt(Timestamp),
    Failed,
}

/// The outbox at a glance (metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookQueue {
    pub pending: i64,
    pub oldest_pending: Option<Timestamp>,
}

/// A partner's Monitor URL for a site it holds, and the quiet period an
/// earlier answer asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorTarget {
    pub partner_id: PartnerId,
    pub url: String,
    pub quiet_until: Option<Timestamp>,
}

/// A site as the downtime notification names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSite {
    pub blog_id: BlogId,
    pub url: String,
    pub targets: Vec<MonitorTarget>,
}
