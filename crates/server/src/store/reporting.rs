//! Values going in and out of the [`Store`](super::Store) for reporting
//! (SPEC §8): the activations list's query and page. A key's history for
//! invoices and the summary is [`crate::domain::invoices::HistoryEntry`].

use jpstart_types::{ActivationId, BlogId, KeyId, ProductSlug};

use crate::clock::Timestamp;
use crate::domain::ActivationState;

/// One page of a key's activations (`GET .../key/{key_id}/activations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationQuery {
    pub key_id: KeyId,
    /// Only these products (empty: every product).
    pub products: Vec<ProductSlug>,
    /// Only activations activated strictly after / before these instants;
    /// one never activated matches neither.
    pub activated_after: Option<Timestamp>,
    pub activated_before: Option<Timestamp>,
    /// At most this many rows (the handler bounds it).
    pub limit: u32,
    /// Rows skipped, newest first.
    pub offset: u64,
}

/// What [`ActivationQuery`] finds: its rows and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationPage {
    pub total: u64,
    /// Newest first: creation time, then id, both descending.
    pub rows: Vec<ReportedActivation>,
}

/// One activation of the list with its site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedActivation {
    pub id: ActivationId,
    pub key_id: KeyId,
    pub blog_id: BlogId,
    pub product: ProductSlug,
    pub state: ActivationState,
    pub created_at: Timestamp,
    pub activated_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub site_url: String,
    pub site_created_at: Timestamp,
    /// The partner's name for the site's user (`local_user` of provision).
    pub local_user: Option<String>,
    /// The WordPress.com account connected to the site, if jpstart made one.
    pub wpcom_user_id: Option<i64>,
}
