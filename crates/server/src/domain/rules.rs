//! Provisioning and cancellation rules (SPEC §5), as pure functions over a
//! site's live activations. The store loads the live activations inside its
//! transaction, asks these functions what to do, and applies the answer; the
//! upgrade-paths endpoint asks the same function for every product, so the
//! two cannot disagree.

use jpstart_types::ProductSlug;

use super::catalogue::{Catalogue, Product};
use super::errors::{ApiError, ErrorCode};

/// Database ids.
pub type KeyId = i64;
pub type PartnerId = i64;
pub type ActivationId = i64;

/// A live (pending or active) activation on one site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveActivation {
    pub id: ActivationId,
    pub product: ProductSlug,
    /// `None` for a product the operator granted outside the partner API.
    pub key_id: Option<KeyId>,
    pub partner_id: Option<PartnerId>,
    pub pending: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub partner_tracking_id: Option<String>,
}

/// What a provision request does, once the rules allow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProvisionDecision {
    /// The caller already has this product live here: succeed, create nothing.
    AlreadyLive { activation_id: ActivationId },
    /// Create an activation, superseding a lower tier of the caller's.
    Create { supersede: Option<ActivationId> },
}

/// Applies the provision rules in the order SPEC §5 lists them.
pub fn decide_provision(
    cat: &Catalogue,
    live: &[LiveActivation],
    caller: KeyId,
    product: &Product,
) -> Result<ProvisionDecision, ApiError> {
    let family_of = |a: &LiveActivation| cat.product(&a.product);
    // 1 and 2: the same product is live.
    if let Some(same) = live.iter().find(|a| a.product == product.slug) {
        return if same.key_id == Some(caller) {
            Ok(ProvisionDecision::AlreadyLive {
                activation_id: same.id,
            })
        } else {
            Err(ApiError::with_arg(
                ErrorCode::ProductOwnedByAnotherPartner,
                &product.slug,
            ))
        };
    }
    let same_family = live
        .iter()
        .filter_map(|a| family_of(a).map(|p| (a, p)))
        .find(|(_, p)| p.family == product.family);
    // 3: a higher tier of the same family is live.
    if let Some((_, p)) = same_family {
        if p.tier > product.tier {
            return Err(ApiError::new(ErrorCode::PlanDowngradeDisallowed));
        }
    }
    // 4: a live product of another family includes this one or a higher tier.
    for a in live {
        let Some(holder) = family_of(a) else { continue };
        if holder.family == product.family {
            continue;
        }
        let covered = cat
            .included(holder)
            .iter()
            .any(|inc| inc.family == product.family && inc.tier >= product.tier);
        if covered {
            return Err(ApiError::with_args(
                ErrorCode::ProductAlreadyIncluded,
                &[&product.slug, &holder.slug],
            ));
        }
    }
    // 5: a lower tier of the same family is live: an upgrade, if it is ours.
    match same_family {
        Some((a, _)) if a.key_id == Some(caller) => Ok(ProvisionDecision::Create {
            supersede: Some(a.id),
        }),
        Some((_, p)) => Err(ApiError::with_arg(
            ErrorCode::ProductOwnedByAnotherPartner,
            &p.slug,
        )),
        None => Ok(ProvisionDecision::Create { supersede: None }),
    }
}

/// What a partner-cancel request names.
#[derive(Clone, Copy, Debug)]
pub enum CancelTarget<'a> {
    /// No `plan`: the caller's live product of the plans family.
    PlansFamily,
    /// `plan=slug`: the caller's live activation of that product.
    Product(&'a Product),
    /// `cancel-all`: every live activation of the caller on the site.
    All,
}

/// Which live activations a cancellation ends (empty: nothing to cancel).
pub fn decide_cancel(
    cat: &Catalogue,
    live: &[LiveActivation],
    caller: KeyId,
    target: CancelTarget<'_>,
) -> Result<Vec<ActivationId>, ApiError> {
    let found = match target {
        CancelTarget::All => {
            return Ok(live
                .iter()
                .filter(|a| a.key_id == Some(caller))
                .map(|a| a.id)
                .collect());
        }
        CancelTarget::PlansFamily => live.iter().find(|a| {
            cat.product(&a.product)
                .is_some_and(|p| p.family == cat.plans_family())
        }),
        CancelTarget::Product(p) => live.iter().find(|a| a.product == p.slug),
    };
    match found {
        None => Ok(Vec::new()),
        Some(a) if a.key_id.is_none() => Err(ApiError::new(ErrorCode::NotJpsPlan)),
        Some(a) if a.key_id != Some(caller) => Err(ApiError::new(ErrorCode::IncorrectPartnerKey)),
        Some(a) => Ok(vec![a.id]),
    }
}

/// Family → the slugs the caller could provision to the site now: every
/// non-baseline product for which [`decide_provision`] would create an
/// activation. `may_provision` filters out products the caller's key may not
/// provision at all (a limit of 0).
pub fn upgrade_paths(
    cat: &Catalogue,
    live: &[LiveActivation],
    caller: KeyId,
    may_provision: impl Fn(&Product) -> bool,
) -> Vec<(String, Vec<String>)> {
    cat.families()
        .iter()
        .enumerate()
        .map(|(fi, family)| {
            let slugs = cat
                .products()
                .iter()
                .filter(|p| p.family == fi && !p.baseline && may_provision(p))
                .filter(|p| {
                    matches!(
                        decide_provision(cat, live, caller, p),
                        Ok(ProvisionDecision::Create { .. })
                    )
                })
                .map(|p| p.slug.to_string())
                .collect();
            (family.clone(), slugs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: KeyId = 1;
    const OTHER: KeyId = 2;

    fn live(id: i64, slug: &str, key: Option<KeyId>) -> LiveActivation {
        LiveActivation {
            id,
            product: ProductSlug::parse(slug).unwrap(),
            key_id: key,
            partner_id: key,
            pending: false,
            created_at: 0,
            partner_tracking_id: None,
        }
    }

    fn decide(site: &[LiveActivation], slug: &str) -> Result<ProvisionDecision, ErrorCode> {
        let cat = Catalogue::builtin();
        decide_provision(&cat, site, ME, cat.find(slug).unwrap()).map_err(|e| e.code)
    }

    #[test]
    fn provision_rules_in_order() {
        use ProvisionDecision::*;
        assert_eq!(decide(&[], "premium"), Ok(Create { supersede: None }));
        assert_eq!(
            decide(&[live(7, "premium", Some(ME))], "premium"),
            Ok(AlreadyLive { activation_id: 7 })
        );
        assert_eq!(
            decide(&[live(7, "premium", Some(OTHER))], "premium"),
            Err(ErrorCode::ProductOwnedByAnotherPartner)
        );
        assert_eq!(
            decide(&[live(7, "professional", Some(ME))], "premium"),
            Err(ErrorCode::PlanDowngradeDisallowed)
        );
        assert_eq!(
            decide(&[live(7, "professional", Some(OTHER))], "premium"),
            Err(ErrorCode::PlanDowngradeDisallowed)
        );
        assert_eq!(
            decide(&[live(7, "premium", Some(ME))], "jetpack-scan"),
            Err(ErrorCode::ProductAlreadyIncluded)
        );
        assert_eq!(
            decide(&[live(7, "premium", Some(ME))], "jetpack-backup-daily"),
            Err(ErrorCode::ProductAlreadyIncluded)
        );
        assert_eq!(
            decide(&[live(7, "premium", Some(ME))], "jetpack-backup-realtime"),
            Ok(Create { supersede: None })
        );
        assert_eq!(
            decide(&[live(7, "professional", Some(ME))], "jetpack-backup-daily"),
            Err(ErrorCode::ProductAlreadyIncluded)
        );
        assert_eq!(
            decide(&[live(7, "premium", Some(ME))], "professional"),
            Ok(Create { supersede: Some(7) })
        );
        assert_eq!(
            decide(&[live(7, "personal", Some(OTHER))], "premium"),
            Err(ErrorCode::ProductOwnedByAnotherPartner)
        );
        assert_eq!(
            decide(&[live(7, "jetpack-scan", Some(ME))], "premium"),
            Ok(Create { supersede: None })
        );
    }

    #[test]
    fn cancel_rules() {
        let cat = Catalogue::builtin();
        let site = [
            live(1, "premium", Some(ME)),
            live(2, "jetpack-backup-realtime", Some(OTHER)),
            live(3, "jetpack-scan", None),
        ];
        let c = |t| decide_cancel(&cat, &site, ME, t).map_err(|e| e.code);
        assert_eq!(c(CancelTarget::PlansFamily), Ok(vec![1]));
        assert_eq!(
            c(CancelTarget::Product(
                cat.find("jetpack-backup-realtime").unwrap()
            )),
            Err(ErrorCode::IncorrectPartnerKey)
        );
        assert_eq!(
            c(CancelTarget::Product(cat.find("jetpack-scan").unwrap())),
            Err(ErrorCode::NotJpsPlan)
        );
        assert_eq!(
            c(CancelTarget::Product(
                cat.find("jetpack-anti-spam").unwrap()
            )),
            Ok(vec![])
        );
        assert_eq!(c(CancelTarget::All), Ok(vec![1]));
        // `plan` names one product: another tier of the live one is not it
        // (docs/COMPATIBILITY.md, "Cancellation and status").
        assert_eq!(
            c(CancelTarget::Product(cat.find("professional").unwrap())),
            Ok(vec![])
        );
        assert_eq!(
            decide_cancel(&cat, &[], ME, CancelTarget::All).unwrap(),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn upgrade_paths_of_the_issue() {
        let cat = Catalogue::builtin();
        let get = |site: &[LiveActivation], fam: &str| {
            upgrade_paths(&cat, site, ME, |_| true)
                .into_iter()
                .find(|(f, _)| f == fam)
                .unwrap()
                .1
        };
        assert_eq!(
            get(&[], "jetpack-plans"),
            ["personal", "premium", "professional"]
        );
        assert_eq!(
            get(&[], "jetpack-backup"),
            ["jetpack-backup-daily", "jetpack-backup-realtime"]
        );
        let premium = [live(1, "premium", Some(ME))];
        assert_eq!(get(&premium, "jetpack-plans"), ["professional"]);
        assert_eq!(get(&premium, "jetpack-backup"), ["jetpack-backup-realtime"]);
        assert!(get(&premium, "jetpack-scan").is_empty());
        assert!(get(&premium, "jetpack-anti-spam").is_empty());
    }
}
