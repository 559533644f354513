//! Values going in and out of the [`Store`](super::Store).

use jpstart_types::{BlogId, ProductSlug, SiteIdentifier, SiteRef};

use crate::domain::rules::{ActivationId, KeyId, LiveActivation, PartnerId};

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub partner_id: PartnerId,
    pub parent_key_id: Option<KeyId>,
    pub name: String,
    pub secret_digest: Vec<u8>,
    pub test: bool,
    pub limits: Vec<(ProductSlug, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: KeyId,
    pub partner_id: PartnerId,
    pub parent_key_id: Option<KeyId>,
    pub name: String,
    pub secret_digest: Vec<u8>,
    pub disabled: bool,
    pub test: bool,
}

/// What a token lookup yields: the key it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub key_id: KeyId,
    pub partner_id: PartnerId,
    pub parent_key_id: Option<KeyId>,
    pub scope: String,
    pub disabled: bool,
    pub test: bool,
}

/// A provision request after parsing.
#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    pub key_id: KeyId,
    /// Set for a sub-key: only products with a limit may be provisioned.
    pub restricted: bool,
    pub site: ProvisionSite,
    pub local_user: Option<String>,
    /// `None`: register (and possibly connect) the site, provision nothing.
    pub product: Option<ProductSlug>,
    pub force_register: bool,
    pub force_connect: bool,
    pub partner_tracking_id: Option<String>,
    pub now: i64,
    /// How long a pending activation waits for the owner, in milliseconds.
    pub pending_ttl_ms: i64,
    /// Stored in the same transaction when the site ends up not connected,
    /// so that the provision and its link commit (and sync) together.
    pub auth_link: Option<NewAuthLink>,
}

/// An authorization link to store: the digest of its one-time token.
#[derive(Debug, Clone)]
pub struct NewAuthLink {
    pub digest: Vec<u8>,
    pub expires_at: i64,
}

/// Which site a provision is for.
#[derive(Debug, Clone)]
pub enum ProvisionSite {
    /// By URL (`/jpphp/provision`): registered on first use.
    Url {
        identifier: SiteIdentifier,
        url: String,
    },
    /// By blog id (`/{blog_id}/partner-provision`): must exist.
    BlogId(BlogId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionOutcome {
    pub blog_id: BlogId,
    pub identifier: SiteIdentifier,
    pub url: String,
    pub connected: bool,
    /// The activation now live for the product (new or already there).
    pub activation: Option<ProvisionedActivation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedActivation {
    pub id: ActivationId,
    pub pending: bool,
    /// False when the same product was already live from this key.
    pub created: bool,
    pub superseded: Option<ActivationId>,
}

#[derive(Debug, Clone)]
pub struct CancelRequest {
    pub key_id: KeyId,
    pub site: SiteRef,
    /// `None`: the plans family.
    pub product: Option<ProductSlug>,
    pub all: bool,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOutcome {
    /// What was cancelled (empty: nothing to cancel).
    pub cancelled: Vec<CancelledRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelledRecord {
    pub id: ActivationId,
    pub blog_id: BlogId,
    pub identifier: SiteIdentifier,
    pub product: ProductSlug,
    pub was_pending: bool,
    pub created_at: i64,
    pub partner_tracking_id: Option<String>,
}

/// A site as the status endpoints see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteState {
    pub blog_id: BlogId,
    pub identifier: SiteIdentifier,
    pub url: String,
    pub connected: bool,
    pub has_backup_credentials: bool,
    pub live: Vec<LiveActivation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOutcome {
    pub blog_id: BlogId,
    pub identifier: SiteIdentifier,
    pub url: String,
    /// Activations that went from pending to active.
    pub activated: Vec<ActivationId>,
    pub was_connected: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ActivationFilter {
    pub site: Option<SiteRef>,
    pub partner_id: Option<PartnerId>,
    pub key_id: Option<KeyId>,
}

/// One activation with everything the admin tools show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationRecord {
    pub id: ActivationId,
    pub blog_id: BlogId,
    pub identifier: SiteIdentifier,
    pub product: ProductSlug,
    pub state: String,
    pub key_id: Option<KeyId>,
    pub partner_id: Option<PartnerId>,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub partner_tracking_id: Option<String>,
}

/// A link of the authorization page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthLink {
    pub blog_id: BlogId,
    pub key_id: KeyId,
    pub partner_id: PartnerId,
    pub expires_at: i64,
    pub used: bool,
}
