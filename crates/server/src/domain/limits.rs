//! Activation limits (SPEC §5, §11): which limit applies to a key for a
//! product, whether live activations leave room for one more, and how a
//! sub-key's limits relate to its parent's.
//!
//! A key's limit is a budget for the key and all its sub-keys: a partner's
//! own key is checked against the live activations of itself and its
//! sub-keys; a sub-key against its own limit (its own live activations) and
//! against its parent's (the whole family's). The store counts under the
//! parent's row lock, then the sub-key's (so that concurrent provisions by
//! any key of the family cannot both take the last slot); the comparison is
//! made here, by provisioning and by the upgrade paths alike.

use jpstart_types::ProductSlug;

/// A sub-key's limit for a product it was given no limit for: it may
/// provision only the products it has a limit above 0 for. Also the value
/// `partner-keys/new` stores for a product whose `allowed_{slug}_plans` is
/// absent.
pub const SUB_KEY_DEFAULT_LIMIT: i64 = 0;

/// The largest limit a key may be given: far above any real partner, far
/// below what could overflow a count.
pub const MAX_LIMIT: i64 = 1_000_000;

/// Whether `n` is a limit a key may be given (0 to [`MAX_LIMIT`]).
pub fn in_bound(n: i64) -> bool {
    (0..=MAX_LIMIT).contains(&n)
}

/// A sub-key limit above its parent's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AboveParent {
    pub product: ProductSlug,
    pub asked: i64,
    pub parent_max: i64,
}

/// A sub-key's limits may not exceed its parent's. `parent`: the parent's
/// stored limits; a product it has none for is unlimited for the parent (a
/// partner's own key), so any limit within the bound fits.
pub fn cap_by_parent(
    asked: &[(ProductSlug, i64)],
    parent: &[(ProductSlug, i64)],
) -> Result<(), AboveParent> {
    for (product, n) in asked {
        let Some((_, max)) = parent.iter().find(|(p, _)| p == product) else {
            continue;
        };
        if n > max {
            return Err(AboveParent {
                product: product.clone(),
                asked: *n,
                parent_max: *max,
            });
        }
    }
    Ok(())
}

/// The limit that applies to a key for one product: the stored one if any;
/// otherwise none for a top-level key and [`SUB_KEY_DEFAULT_LIMIT`] for a
/// sub-key. `None`: unlimited (nothing needs counting).
pub fn applicable(stored: Option<i64>, is_sub_key: bool) -> Option<i64> {
    match (stored, is_sub_key) {
        (Some(n), _) => Some(n),
        (None, true) => Some(SUB_KEY_DEFAULT_LIMIT),
        (None, false) => None,
    }
}

/// The limits a provision of one product is checked against, before they
/// are counted: a sub-key's own (always one, [`applicable`]) and the
/// family's, i.e. the head key's (the parent's, or a top-level key's own).
/// The store locks exactly the rows of the limits that apply, so that
/// provisions no limit applies to never wait on a key's lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplicableLimits {
    pub own: Option<i64>,
    pub family: Option<i64>,
}

/// `own_stored`: the key's stored limit for the product; `head_stored`: the
/// head key's (for a top-level key, the same).
pub fn for_provision(
    is_sub_key: bool,
    own_stored: Option<i64>,
    head_stored: Option<i64>,
) -> ApplicableLimits {
    if is_sub_key {
        ApplicableLimits {
            own: applicable(own_stored, true),
            family: applicable(head_stored, false),
        }
    } else {
        ApplicableLimits {
            own: None,
            family: applicable(own_stored, false),
        }
    }
}

/// A limit and how much of it live activations use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitUse {
    pub max: i64,
    pub live: i64,
}

impl LimitUse {
    /// Whether one more live activation fits.
    pub fn has_room(self) -> bool {
        self.live < self.max
    }
}

/// Whether a key may take one more live activation of a product, given its
/// stored limit (if any) and its live count of that product.
pub fn may_add(stored: Option<i64>, is_sub_key: bool, live: i64) -> bool {
    applicable(stored, is_sub_key).is_none_or(|max| LimitUse { max, live }.has_room())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_limits_that_apply_are_locked_and_counted() {
        let none = ApplicableLimits {
            own: None,
            family: None,
        };
        // A partner's own key without a limit for the product: nothing.
        assert_eq!(for_provision(false, None, None), none);
        assert_eq!(
            for_provision(false, Some(3), Some(3)).family,
            Some(3),
            "a top-level key's limit is the family's"
        );
        // A sub-key always has its own limit (0 when none was given); the
        // family's applies only when the parent has one for the product.
        let sub = for_provision(true, None, None);
        assert_eq!((sub.own, sub.family), (Some(SUB_KEY_DEFAULT_LIMIT), None));
        let sub = for_provision(true, Some(2), Some(5));
        assert_eq!((sub.own, sub.family), (Some(2), Some(5)));
    }

    fn slug(s: &str) -> ProductSlug {
        ProductSlug::parse(s).unwrap()
    }

    #[test]
    fn sub_key_limits_are_capped_by_the_parents() {
        let parent = [(slug("premium"), 1)];
        assert_eq!(
            cap_by_parent(&[(slug("premium"), 1000)], &parent),
            Err(AboveParent {
                product: slug("premium"),
                asked: 1000,
                parent_max: 1
            })
        );
        assert!(cap_by_parent(&[(slug("premium"), 1)], &parent).is_ok());
        // Unlimited for the parent: any limit fits.
        assert!(cap_by_parent(&[(slug("jetpack-scan"), MAX_LIMIT)], &parent).is_ok());
        assert!(in_bound(0) && in_bound(MAX_LIMIT));
        assert!(!in_bound(MAX_LIMIT + 1) && !in_bound(-1) && !in_bound(i64::MAX));
    }

    #[test]
    fn limit_reached_or_not() {
        assert!(LimitUse { max: 2, live: 1 }.has_room());
        assert!(!LimitUse { max: 2, live: 2 }.has_room());
        assert!(!LimitUse { max: 0, live: 0 }.has_room());
        assert!(may_add(Some(3), false, 2));
        assert!(!may_add(Some(3), true, 3));
    }

    #[test]
    fn top_level_key_without_limit_is_unlimited() {
        assert_eq!(applicable(None, false), None);
        assert!(may_add(None, false, 1_000_000));
    }

    #[test]
    fn sub_key_without_limit_may_not_provision() {
        assert_eq!(applicable(None, true), Some(0));
        assert!(!may_add(None, true, 0));
        assert_eq!(applicable(Some(5), true), Some(5));
    }
}
