//! Webhooks (SPEC §10): endpoint registration, event bodies, the delivery
//! log, and the upstream Monitor downtime webhook
//! (`jetpack/monitor-downtime-notifications-webhook.md`).

use serde::{Deserialize, Serialize};

use crate::site_object::SiteObject;

macro_rules! event_types {
    ($($variant:ident => $text:literal,)*) => {
        /// The closed set of event types.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum EventType {
            $(#[serde(rename = $text)] $variant,)*
        }

        impl EventType {
            /// Every type, in documentation order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<EventType> {
                match text { $($text => Some(EventType::$variant),)* _ => None }
            }
        }
    };
}

event_types! {
    ActivationPending => "activation.pending",
    ActivationActive => "activation.active",
    ActivationCancelled => "activation.cancelled",
    ActivationSuperseded => "activation.superseded",
    ActivationExpired => "activation.expired",
    SiteConnected => "site.connected",
    SiteDisconnected => "site.disconnected",
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /wpcom/v2/jetpack-partners/{partner_id}/webhooks`: the endpoint,
/// with its signing secret shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookCreated {
    pub id: i64,
    pub url: String,
    pub events: Vec<EventType>,
    /// `whsec_...`: the HMAC key of `Jpstart-Signature`.
    pub secret: String,
}

impl std::fmt::Debug for WebhookCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookCreated")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// A registered endpoint, as listed (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<EventType>,
}

/// `GET /wpcom/v2/jetpack-partners/{partner_id}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// `DELETE .../webhooks/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDeleted {
    pub id: i64,
    pub deleted: bool,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        match text {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: i64,
    /// The event's `evt_...` id (the receiver deduplicates by it).
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// HTTP status of the last answer; `null` before the first or when
    /// there was none (refused connection, timeout).
    pub last_status: Option<i64>,
    pub last_latency_ms: Option<i64>,
}

/// `GET .../webhooks/{id}/deliveries`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
}

/// The body of every webhook POST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// `evt_...`, unique per event and partner.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// UNIX seconds on the server's clock (the test clock in the sandbox).
    pub created: i64,
    pub data: EventData,
}

/// An activation event carries the reporting site object; a site event
/// the site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per event and serialised at once; boxing would only add an allocation"
)]
pub enum EventData {
    Activation(SiteObject),
    Site(EventSite),
}

/// The `data` of `site.connected` and `site.disconnected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventSite {
    pub wpcom_blog_id: i64,
    /// The site identifier (`example.com::demo`).
    pub site: String,
    pub site_url: String,
    pub is_connected: bool,
}

/// `POST /wpcom/v2/jetpack-partners/{partner_id}/monitor-webhook`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonitorWebhook {
    pub url: String,
}

/// The payload upstream's Monitor POSTs (its field order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonitorPayload {
    /// UNIX time of the last check.
    pub ts: i64,
    pub url: String,
    /// The highest HTTP status of the check; 0 for a timeout.
    pub code: i64,
    /// Who the host of the site is thought to be.
    pub host: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `POST /sandbox/sites/{site}/downtime`: what happened for each Monitor
/// URL of the partners holding the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DowntimeReport {
    pub notifications: Vec<DowntimeNotification>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DowntimeNotification {
    pub partner_id: i64,
    /// `sent` (the receiver answered), `suppressed` (an earlier answer
    /// asked for quiet until `suppressed_until`) or `failed`.
    pub outcome: String,
    /// HTTP status of the answer, when one came.
    pub status: Option<i64>,
    /// The ISO 8601 time until which notifications for the site are
    /// suppressed, when the receiver asked for it.
    pub suppressed_until: Option<String>,
}
