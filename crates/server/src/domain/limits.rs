//! Activation limits (SPEC §5, §11): which limit applies to a key for a
//! product, and whether its live activations leave room for one more.
//!
//! The store counts a key's live activations of the product under the key's
//! row lock (so that concurrent provisions by one key cannot both take the
//! last slot); the comparison is made here, by provisioning and by the
//! upgrade paths alike.

/// A sub-key's limit for a product it was given no limit for: it may
/// provision only the products it has a limit above 0 for. Also the value
/// `partner-keys/new` stores for a product whose `allowed_{slug}_plans` is
/// absent.
pub const SUB_KEY_DEFAULT_LIMIT: i64 = 0;

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
