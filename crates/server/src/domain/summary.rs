//! The activations summary (SPEC §8, `GET /wpcom/v2/jetpack-partners/activations`)
//! as a pure function of a key's history and "now".
//!
//! - Periods (day, month or year, UTC) run without gaps from the one of the
//!   key's first activation to the one of now, oldest first; a key without
//!   activations has none.
//! - `new`: activations created (provisioned, pending or not) in the period.
//! - `total`: activations live — active, or pending and not yet expired,
//!   the predicate the provision limits count with — at the end of the
//!   period (its last instant; for the current period, now).

use super::calendar::Scale;
use super::invoices::HistoryEntry;
use crate::clock::Timestamp;

/// One period of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryPoint {
    pub start: Timestamp,
    /// `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    pub label: String,
    pub new: u64,
    pub total: u64,
}

/// See the module docs.
pub fn summary(history: &[HistoryEntry], scale: Scale, now: Timestamp) -> Vec<SummaryPoint> {
    let mut starts: Vec<Timestamp> = history.iter().map(|e| e.created_at).collect();
    starts.sort_unstable();
    let Some(&first) = starts.first() else {
        return Vec::new();
    };
    let last = starts.last().map_or(now, |&l| l.max(now));
    let mut ends: Vec<Timestamp> = history.iter().filter_map(|e| e.live_interval().1).collect();
    ends.sort_unstable();
    // Live at instant t: started at or before t, not ended at or before t.
    let live_at = |t: Timestamp| {
        let started = starts.partition_point(|&s| s <= t);
        let ended = ends.partition_point(|&e| e <= t);
        (started - ended.min(started)) as u64
    };
    let mut out = Vec::new();
    let mut period = scale.floor(first);
    while period <= last {
        let next = scale.next(period);
        let new = starts.partition_point(|&s| s < next) - starts.partition_point(|&s| s < period);
        let end = Timestamp::from_millis(next.as_millis() - 1).min(now.max(period));
        out.push(SummaryPoint {
            start: period,
            label: scale.label(period),
            new: new as u64,
            total: live_at(end),
        });
        period = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use jpstart_types::{BlogId, ProductSlug};
    use proptest::prelude::*;

    use super::*;
    use crate::domain::ActivationState;

    const DAY: i64 = 86_400_000;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_iso8601(text).unwrap()
    }

    fn entry(
        state: ActivationState,
        created: Timestamp,
        ended: Option<Timestamp>,
        expires: Option<Timestamp>,
    ) -> HistoryEntry {
        HistoryEntry {
            blog_id: BlogId::new(1).unwrap(),
            product: ProductSlug::parse("premium").unwrap(),
            state,
            created_at: created,
            activated_at: (state != ActivationState::Pending).then_some(created),
            ended_at: ended,
            expires_at: expires,
        }
    }

    #[test]
    fn months_without_gaps() {
        let h = vec![
            entry(ActivationState::Active, at("2026-01-15"), None, None),
            entry(
                ActivationState::Cancelled,
                at("2026-01-20"),
                Some(at("2026-03-01")),
                None,
            ),
            // Pending, expires in April: live until then.
            entry(
                ActivationState::Pending,
                at("2026-03-10"),
                None,
                Some(at("2026-04-10")),
            ),
        ];
        let got: Vec<_> = summary(&h, Scale::Month, at("2026-05-02"))
            .into_iter()
            .map(|p| (p.label, p.new, p.total))
            .collect();
        let want = [
            ("2026-01", 2, 2),
            ("2026-02", 0, 2),
            ("2026-03", 1, 2),
            ("2026-04", 0, 1),
            ("2026-05", 0, 1),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(l, n, t)| (l.to_string(), *n, *t))
            .collect();
        assert_eq!(got, want);
        assert!(summary(&[], Scale::Day, at("2026-05-02")).is_empty());
        let years = summary(&h, Scale::Year, at("2027-02-01"));
        assert_eq!(years.len(), 2);
        assert_eq!((years[0].new, years[1].new, years[1].total), (3, 0, 1));
    }

    fn history() -> impl Strategy<Value = Vec<HistoryEntry>> {
        let base = at("2026-01-01").as_millis();
        let one = (
            0i64..60 * DAY,
            proptest::option::of(0i64..30 * DAY),
            0usize..3,
        )
            .prop_map(move |(start, length, kind)| {
                let created = Timestamp::from_millis(base + start);
                let end = length.map(|l| Timestamp::from_millis(base + start + l));
                match (kind, end) {
                    (0, _) | (_, None) => entry(ActivationState::Active, created, None, None),
                    (1, e) => entry(ActivationState::Cancelled, created, e, None),
                    (_, e) => entry(ActivationState::Pending, created, None, e),
                }
            });
        proptest::collection::vec(one, 0..20)
    }

    proptest! {
        /// No gaps; every activation is new in exactly one period; each
        /// total is what a direct count at the period's end gives.
        #[test]
        fn periods_agree_with_a_direct_count(h in history(), later in 0i64..90 * DAY) {
            let now = Timestamp::from_millis(at("2026-01-01").as_millis() + later);
            for scale in [Scale::Day, Scale::Month, Scale::Year] {
                let points = summary(&h, scale, now);
                for pair in points.windows(2) {
                    prop_assert_eq!(scale.next(pair[0].start), pair[1].start);
                }
                prop_assert_eq!(points.iter().map(|p| p.new).sum::<u64>(), h.len() as u64);
                for p in &points {
                    let end = Timestamp::from_millis(scale.next(p.start).as_millis() - 1).min(now.max(p.start));
                    let direct = h.iter().filter(|e| {
                        let (s, e) = e.live_interval();
                        s <= end && e.is_none_or(|e| e > end)
                    }).count() as u64;
                    prop_assert_eq!(p.total, direct);
                }
            }
        }
    }
}
