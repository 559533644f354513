//! Values going in and out of the [`Store`](super::Store).

use std::time::Duration;

use jpstart_types::{ActivationId, BlogId, KeyId, PartnerId, ProductSlug, SiteIdentifier, SiteRef};

use crate::clock::Timestamp;
use crate::domain::rules::{CancelTarget, LiveActivation};
use crate::domain::{ActivationState, ResolvedProduct};

pub use crate::domain::lifecycle::AuthLink;

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
    /// Set on the key itself.
    pub disabled: bool,
    /// Its parent is disabled, which disables it too
    /// ([`crate::domain::lifecycle::key_disabled`]).
    pub parent_disabled: bool,
    pub test: bool,
}

/// A sub-key to create under `parent` (`partner-keys/new`): its partner
/// and test flag come from the parent, read under the parent's lock.
#[derive(Debug, Clone)]
pub struct NewSubKey {
    pub parent: KeyId,
    pub name: String,
    pub secret_digest: Vec<u8>,
    pub limits: Vec<(ProductSlug, i64)>,
    /// The most sub-keys the parent's partner may have (SPEC §11).
    pub max_sub_keys: u32,
}

/// What a token lookup yields: the key it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub key_id: KeyId,
    pub partner_id: PartnerId,
    pub parent_key_id: Option<KeyId>,
    pub scope: String,
    pub disabled: bool,
    /// The key's parent is disabled.
    pub parent_disabled: bool,
    pub test: bool,
    /// The token's last recorded use (`None`: never), see
    /// [`crate::domain::bounds::needs_touch`].
    pub last_used_at: Option<Timestamp>,
}

/// A provision request after parsing.
#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    /// Whether it is a sub-key (and of which key) is read by the store
    /// under its locks: the limits that apply follow from it.
    pub key_id: KeyId,
    /// The key's partner (the holder rule counts every key of it).
    pub partner_id: PartnerId,
    pub site: ProvisionSite,
    pub local_user: Option<String>,
    /// `None`: register (and possibly connect) the site, provision nothing.
    pub product: Option<ResolvedProduct>,
    pub force_register: bool,
    pub force_connect: bool,
    pub partner_tracking_id: Option<String>,
    pub now: Timestamp,
    /// How long a pending activation waits for the owner.
    pub pending_ttl: Duration,
    /// The digest of the one-time token of the authorization link, stored
    /// in the same transaction when the rules issue a link (the site ends
    /// up not connected), so that the provision and its link commit
    /// together.
    pub auth_link_digest: Vec<u8>,
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
    /// Whether the authorization link was stored (the site waits for its
    /// owner): the one place the handler learns it should hand it out.
    pub link_issued: bool,
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
    pub target: CancelTarget,
    pub now: Timestamp,
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
    pub created_at: Timestamp,
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
    pub state: ActivationState,
    pub key_id: Option<KeyId>,
    pub partner_id: Option<PartnerId>,
    pub created_at: Timestamp,
    pub activated_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub partner_tracking_id: Option<String>,
}
