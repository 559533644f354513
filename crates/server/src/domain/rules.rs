//! The product rules of provisioning and the cancel targets (SPEC §5), as
//! pure functions over a site's live activations. [`super::provision`] and
//! the upgrade-paths endpoint ask [`product_rules`] alike, so the two
//! cannot disagree.

use jpstart_types::ProductSlug;
/// The row ids live in `jpstart-types`; re-exported where they used to be.
pub use jpstart_types::{ActivationId, KeyId, PartnerId};

use super::catalogue::{Catalogue, ResolvedProduct};
use super::limits;
use super::refusal::{CancelRefusal, ProvisionRefusal};
use super::state::ActivationState;
use crate::clock::Timestamp;

/// A live (pending or active) activation on one site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveActivation {
    pub id: ActivationId,
    pub product: ProductSlug,
    /// The family name recorded with the activation.
    pub family: String,
    /// `None` for a product the operator granted outside the partner API.
    pub key_id: Option<KeyId>,
    pub partner_id: Option<PartnerId>,
    /// Pending or active.
    pub state: ActivationState,
    pub created_at: Timestamp,
    pub partner_tracking_id: Option<String>,
}

impl LiveActivation {
    pub fn is_pending(&self) -> bool {
        self.state == ActivationState::Pending
    }
}

/// What the product rules allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductDecision {
    /// The caller already has this product live here: succeed, create nothing.
    AlreadyLive { activation_id: ActivationId },
    /// Create an activation, superseding a lower tier of the caller's.
    Create { supersede: Option<ActivationId> },
}

/// Applies the product rules in the order SPEC §5 lists them.
pub fn product_rules(
    live: &[LiveActivation],
    caller: KeyId,
    product: &ResolvedProduct,
) -> Result<ProductDecision, ProvisionRefusal> {
    // 1 and 2: the same product is live.
    if let Some(same) = live.iter().find(|a| a.product == product.slug) {
        return if same.key_id == Some(caller) {
            Ok(ProductDecision::AlreadyLive {
                activation_id: same.id,
            })
        } else {
            Err(ProvisionRefusal::OwnedByAnotherPartner(
                product.slug.clone(),
            ))
        };
    }
    let same_family = live.iter().find_map(|a| {
        product
            .family_tiers
            .iter()
            .find(|(slug, _)| *slug == a.product)
            .map(|(_, tier)| (a, *tier))
    });
    // 3: a higher tier of the same family is live.
    if let Some((_, tier)) = same_family {
        if tier > product.tier {
            return Err(ProvisionRefusal::Downgrade);
        }
    }
    // 4: a live product of another family includes this one or a higher tier.
    if let Some(holder) = live
        .iter()
        .find(|a| product.covered_by.contains(&a.product))
    {
        return Err(ProvisionRefusal::AlreadyIncluded {
            product: product.slug.clone(),
            holder: holder.product.clone(),
        });
    }
    // 5: a lower tier of the same family is live: an upgrade, if it is ours.
    match same_family {
        Some((a, _)) if a.key_id == Some(caller) => Ok(ProductDecision::Create {
            supersede: Some(a.id),
        }),
        Some((a, _)) => Err(ProvisionRefusal::OwnedByAnotherPartner(a.product.clone())),
        None => Ok(ProductDecision::Create { supersede: None }),
    }
}

/// What a partner-cancel request names, resolved against the catalogue at
/// the edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelTarget {
    /// No `plan`: the caller's live product of the plans family (its slugs).
    PlansFamily(Vec<ProductSlug>),
    /// `plan=slug`: the caller's live activation of that product.
    Product(ProductSlug),
    /// `cancel-all`: every live activation of the caller on the site.
    All,
}

/// Which live activations a cancellation ends (empty: nothing to cancel).
pub fn cancel_targets(
    live: &[LiveActivation],
    caller: KeyId,
    target: &CancelTarget,
) -> Result<Vec<ActivationId>, CancelRefusal> {
    let found = match target {
        CancelTarget::All => {
            return Ok(live
                .iter()
                .filter(|a| a.key_id == Some(caller))
                .map(|a| a.id)
                .collect());
        }
        CancelTarget::PlansFamily(slugs) => live.iter().find(|a| slugs.contains(&a.product)),
        CancelTarget::Product(slug) => live.iter().find(|a| a.product == *slug),
    };
    match found {
        None => Ok(Vec::new()),
        Some(a) if a.key_id.is_none() => Err(CancelRefusal::NotPartnerProvisioned),
        Some(a) if a.key_id != Some(caller) => Err(CancelRefusal::OtherKey),
        Some(a) => Ok(vec![a.id]),
    }
}

/// A key's limits and the live counts they are checked against, per
/// product, as the store reads them (see [`limits`]).
#[derive(Clone, Debug, Default)]
pub struct KeyUsage {
    pub is_sub_key: bool,
    pub limits: Vec<(ProductSlug, i64)>,
    /// A sub-key's own live activations; for a partner's own key, its own
    /// and all its sub-keys'.
    pub live: Vec<(ProductSlug, i64)>,
    /// For a sub-key: its parent's limits, against the live activations of
    /// the parent and all its sub-keys.
    pub parent: Option<ParentUsage>,
}

/// The parent's side of a sub-key's [`KeyUsage`].
#[derive(Clone, Debug, Default)]
pub struct ParentUsage {
    pub limits: Vec<(ProductSlug, i64)>,
    pub live: Vec<(ProductSlug, i64)>,
}

impl KeyUsage {
    /// The limit rule of provisioning ([`limits::may_add`]) for one product:
    /// the key's own limit and its parent's both leave room.
    pub fn may_add(&self, slug: &ProductSlug) -> bool {
        let find = |v: &[(ProductSlug, i64)]| v.iter().find(|(s, _)| s == slug).map(|(_, n)| *n);
        let own = limits::may_add(
            find(&self.limits),
            self.is_sub_key,
            find(&self.live).unwrap_or(0),
        );
        own && self
            .parent
            .as_ref()
            .is_none_or(|p| limits::may_add(find(&p.limits), false, find(&p.live).unwrap_or(0)))
    }
}

/// Family → the slugs the caller could provision to the site now: every
/// non-baseline product for which [`product_rules`] would create an
/// activation and the key's limit leaves room.
pub fn upgrade_paths(
    cat: &Catalogue,
    live: &[LiveActivation],
    caller: KeyId,
    usage: &KeyUsage,
) -> Vec<(String, Vec<String>)> {
    cat.families()
        .iter()
        .enumerate()
        .map(|(fi, family)| {
            let slugs = cat
                .products()
                .iter()
                .filter(|p| p.family == fi && !p.baseline && usage.may_add(&p.slug))
                .filter(|p| {
                    cat.resolve(&p.slug).is_some_and(|r| {
                        matches!(
                            product_rules(live, caller, &r),
                            Ok(ProductDecision::Create { .. })
                        )
                    })
                })
                .map(|p| p.slug.to_string())
                .collect();
            (family.clone(), slugs)
        })
        .collect()
}

#[cfg(test)]
#[path = "rules_tests.rs"]
pub(crate) mod tests;
