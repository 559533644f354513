//! Values going in and out of the [`Store`](super::Store) for the portal's
//! data pages (SPEC §8, issue 14): the activations table's query (a
//! partner's every key or one, with a state filter beside the list
//! endpoint's), a site's event history, and a key's secret rotation.

use jpstart_types::{ActivationId, KeyId, PartnerId, ProductSlug};

use crate::clock::Timestamp;
use crate::domain::ActivationState;

/// One page of the portal's activations table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalActivationQuery {
    /// Only this partner's keys' activations, always: the query itself
    /// cannot reach another partner's rows.
    pub partner_id: PartnerId,
    /// Only this key's own activations (`None`: every key of the partner).
    pub key_id: Option<KeyId>,
    /// Only these products (empty: every product).
    pub products: Vec<ProductSlug>,
    /// Only these states (empty: every state).
    pub states: Vec<ActivationState>,
    /// Activated strictly after / before; one never activated matches
    /// neither (as the list endpoint).
    pub activated_after: Option<Timestamp>,
    pub activated_before: Option<Timestamp>,
    pub limit: u32,
    pub offset: u64,
}

/// One state change of an activation (the append-only `events` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationEvent {
    pub activation_id: ActivationId,
    pub product: ProductSlug,
    pub key_id: Option<KeyId>,
    /// `None` for the creation.
    pub from_state: Option<String>,
    pub to_state: String,
    pub at: Timestamp,
    pub actor: String,
}

/// What [`rotate_key_secret`](super::Store::rotate_key_secret) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    /// Tokens of the key revoked with the old secret.
    pub revoked_tokens: u64,
}
