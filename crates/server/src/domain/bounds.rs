//! Bounded growth (SPEC §11, issue 12 finding 8): what one key can make the
//! database hold. The rules are pure; the store applies them under the
//! key's lock ([`tokens_to_evict`]) and the handlers at the edge
//! ([`check_length`]). The write rate per key is a throttle, not a rule of
//! the books: [`crate::writer`].

use std::time::Duration;

use crate::clock::Timestamp;

/// Defaults of the configurable bounds (SPEC §11; docs/OPERATIONS.md).
pub const DEFAULT_TOKENS_PER_KEY: u32 = 100;
/// Ids and user names: a WordPress login is at most 60 characters, an
/// e-mail address 254; tracking ids are a partner's own order numbers.
pub const DEFAULT_MAX_FIELD_LENGTH: usize = 255;
/// URLs: what browsers and most proxies reliably carry.
pub const DEFAULT_MAX_URL_LENGTH: usize = 2048;
/// How stale a token's "last used" time may get before a request updates it.
pub const DEFAULT_TOKEN_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// A live token of a key, as the issuing transaction loads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveToken {
    pub digest: Vec<u8>,
    pub created_at: Timestamp,
    /// Last recorded use (at most [`DEFAULT_TOKEN_TOUCH_INTERVAL`]-ish stale,
    /// see [`needs_touch`]); `None`: never used.
    pub last_used_at: Option<Timestamp>,
}

impl LiveToken {
    /// When the token was last known to be wanted: its last use, or its
    /// issue for a token never used.
    fn recency(&self) -> Timestamp {
        self.last_used_at
            .map_or(self.created_at, |u| u.max(self.created_at))
    }
}

/// Whether `cap` limits a key's live tokens (0: no cap). Without one the
/// key's live tokens need not even be read: they may be many.
pub fn caps_tokens(cap: u32) -> bool {
    cap != 0
}

/// The tokens to revoke so that, with the one about to be issued, the key
/// holds at most `cap` live tokens: the least recently used first (ties: the
/// older issue, then the digest, so that every server picks the same).
/// `cap` 0 means no cap.
pub fn tokens_to_evict(live: &[LiveToken], cap: u32) -> Vec<Vec<u8>> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    if cap == 0 || live.len() < cap {
        return Vec::new();
    }
    let mut order: Vec<&LiveToken> = live.iter().collect();
    order.sort_by(|a, b| {
        (a.recency(), a.created_at, &a.digest).cmp(&(b.recency(), b.created_at, &b.digest))
    });
    order
        .into_iter()
        .take(live.len() + 1 - cap)
        .map(|t| t.digest.clone())
        .collect()
}

/// Whether a request with the token should record its use now. Writing on
/// every request would turn every read into a write (on SQLite, through the
/// one writer connection); recording at most once per `interval` costs one
/// write per token per interval and leaves "last used" at most `interval`
/// stale, which only matters for a key that issues more than its cap of
/// tokens within one interval (docs/SECURITY.md).
pub fn needs_touch(last_used_at: Option<Timestamp>, now: Timestamp, interval: Duration) -> bool {
    match last_used_at {
        None => true,
        Some(t) => t.saturating_add(interval) <= now && t < now,
    }
}

/// A free-text field longer than its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong {
    pub max: usize,
}

/// Checks a stored free-text field against its bound, counted in characters.
pub fn check_length(value: &str, max: usize) -> Result<(), TooLong> {
    if value.chars().count() > max {
        Err(TooLong { max })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: u8, created: i64, used: Option<i64>) -> LiveToken {
        LiveToken {
            digest: vec![id],
            created_at: Timestamp::from_millis(created),
            last_used_at: used.map(Timestamp::from_millis),
        }
    }

    #[test]
    fn under_the_cap_nothing_is_evicted() {
        let live = [t(1, 10, None), t(2, 20, None)];
        assert!(tokens_to_evict(&live, 3).is_empty());
        assert!(tokens_to_evict(&live, 0).is_empty(), "0 = no cap");
        assert!(tokens_to_evict(&[], 1).is_empty());
    }

    #[test]
    fn at_the_cap_the_least_recently_used_goes() {
        // Token 1 is the oldest but was used last; 2 and 3 never were.
        let live = [t(1, 10, Some(100)), t(2, 20, None), t(3, 30, Some(40))];
        assert_eq!(tokens_to_evict(&live, 3), vec![vec![2]]);
        assert_eq!(tokens_to_evict(&live, 2), vec![vec![2], vec![3]]);
        assert_eq!(tokens_to_evict(&live, 1), vec![vec![2], vec![3], vec![1]]);
    }

    #[test]
    fn over_the_cap_after_lowering_it_enough_go_to_fit() {
        let live: Vec<_> = (0..10).map(|i| t(i, i64::from(i), None)).collect();
        let gone = tokens_to_evict(&live, 4);
        assert_eq!(gone, (0..7).map(|i| vec![i]).collect::<Vec<_>>());
    }

    #[test]
    fn ties_are_broken_the_same_way_everywhere() {
        let live = [t(2, 10, None), t(1, 10, None)];
        assert_eq!(tokens_to_evict(&live, 2), vec![vec![1]]);
    }

    #[test]
    fn a_use_is_recorded_at_most_once_per_interval() {
        let minute = Duration::from_secs(60);
        let at = Timestamp::from_millis;
        assert!(needs_touch(None, at(5), minute));
        assert!(!needs_touch(Some(at(0)), at(59_999), minute));
        assert!(needs_touch(Some(at(0)), at(60_000), minute));
        // Interval zero: every request in a later millisecond.
        assert!(needs_touch(Some(at(0)), at(1), Duration::ZERO));
        assert!(!needs_touch(Some(at(1)), at(1), Duration::ZERO));
    }

    #[test]
    fn lengths_count_characters() {
        assert_eq!(check_length("ééé", 3), Ok(()));
        assert_eq!(check_length("éééé", 3), Err(TooLong { max: 3 }));
        assert_eq!(check_length("", 0), Ok(()));
    }
}
