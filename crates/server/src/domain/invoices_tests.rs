use proptest::prelude::*;

use super::*;

const DAY: i64 = 86_400_000;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_iso8601(text).unwrap()
}

fn month(y: i64, m: u32) -> Month {
    Month::new(y, m).unwrap()
}

fn slug(s: &str) -> ProductSlug {
    ProductSlug::parse(s).unwrap()
}

fn prices() -> Prices {
    Prices::from_catalogue(&Catalogue::builtin())
}

fn entry(blog: u64, product: &str, activated: Option<&str>, ended: Option<&str>) -> HistoryEntry {
    let activated_at = activated.map(at);
    let ended_at = ended.map(at);
    let state = match (activated_at, ended_at) {
        (Some(_), None) => ActivationState::Active,
        (Some(_), Some(_)) => ActivationState::Cancelled,
        (None, None) => ActivationState::Pending,
        (None, Some(_)) => ActivationState::Expired,
    };
    HistoryEntry {
        blog_id: BlogId::new(blog).unwrap(),
        product: slug(product),
        state,
        created_at: activated_at.unwrap_or(at("2026-01-01")),
        activated_at,
        ended_at,
        expires_at: None,
    }
}

#[test]
fn a_month_bills_what_was_active_in_it() {
    let h = vec![
        entry(1, "premium", Some("2026-01-10"), None),
        entry(2, "premium", Some("2026-01-20"), Some("2026-02-01")),
        entry(3, "jetpack-scan", Some("2026-02-01"), Some("2026-02-02")),
        // Never activated: never billed.
        entry(4, "premium", None, None),
        entry(5, "premium", None, Some("2026-02-15")),
    ];
    let jan = invoice(&h, &prices(), month(2026, 1), Billing::Billed, None);
    assert_eq!(jan.lines.len(), 1);
    assert_eq!(
        (jan.lines[0].quantity, jan.lines[0].unit_amount, jan.total),
        (2, 900, 1800)
    );
    let feb = invoice(&h, &prices(), month(2026, 2), Billing::Billed, None);
    let got: Vec<_> = feb
        .lines
        .iter()
        .map(|l| (l.product.to_string(), l.product_id, l.quantity, l.amount))
        .collect();
    // Catalogue order: premium (plans) before scan; site 2 ended at the
    // first instant of February.
    assert_eq!(
        got,
        [
            ("premium".to_string(), 2000, 1, 900),
            ("jetpack-scan".to_string(), 2106, 1, 400)
        ]
    );
    assert_eq!(feb.total, 1300);
    assert_eq!(feb.currency, "usd");
    let test = invoice(&h, &prices(), month(2026, 2), Billing::Test, None);
    assert_eq!((test.total, test.lines[0].quantity), (0, 1));
}

#[test]
fn the_upcoming_invoice_is_the_month_so_far() {
    let h = vec![
        entry(1, "premium", Some("2026-03-01"), None),
        entry(2, "premium", Some("2026-03-20"), None),
    ];
    let now = at("2026-03-10T12:00:00Z");
    let up = invoice(&h, &prices(), month(2026, 3), Billing::Billed, Some(now));
    assert_eq!(up.total, 900);
}

#[test]
fn cancel_and_reprovision_in_a_month_bills_once() {
    let h = vec![
        entry(1, "premium", Some("2026-05-02"), Some("2026-05-03")),
        entry(1, "premium", Some("2026-05-20"), None),
    ];
    let may = invoice(&h, &prices(), month(2026, 5), Billing::Billed, None);
    assert_eq!((may.lines[0].quantity, may.total), (1, 900));
}

#[test]
fn a_product_gone_from_the_catalogue_is_billed_at_zero_last() {
    let h = vec![
        entry(1, "gone-product", Some("2026-05-02"), None),
        entry(1, "premium", Some("2026-05-02"), None),
    ];
    let may = invoice(&h, &prices(), month(2026, 5), Billing::Billed, None);
    let got: Vec<_> = may
        .lines
        .iter()
        .map(|l| (l.product.to_string(), l.product_id, l.amount))
        .collect();
    assert_eq!(
        got,
        [
            ("premium".to_string(), 2000, 900),
            ("gone-product".to_string(), 0, 0)
        ]
    );
}

const PRODUCTS: [&str; 3] = ["premium", "jetpack-scan", "professional"];

/// Histories over January–June 2026: a few sites and products, each entry
/// activated (or not) and ended (or not) at arbitrary instants.
fn history() -> impl Strategy<Value = Vec<HistoryEntry>> {
    let base = at("2026-01-01").as_millis();
    let one = (
        1u64..5,
        0usize..PRODUCTS.len(),
        0i64..180 * DAY,
        proptest::option::of(0i64..90 * DAY),
        any::<bool>(),
    )
        .prop_map(move |(blog, p, start, length, activated)| {
            let created = Timestamp::from_millis(base + start);
            let activated_at = activated.then_some(created);
            let ended_at = length.map(|l| Timestamp::from_millis(base + start + l));
            let state = match (activated, ended_at) {
                (true, None) => ActivationState::Active,
                (true, Some(_)) => ActivationState::Cancelled,
                (false, None) => ActivationState::Pending,
                (false, Some(_)) => ActivationState::Expired,
            };
            HistoryEntry {
                blog_id: BlogId::new(blog).unwrap(),
                product: slug(PRODUCTS[p]),
                state,
                created_at: created,
                activated_at,
                ended_at,
                expires_at: None,
            }
        });
    proptest::collection::vec(one, 0..12)
}

fn every_month(h: &[HistoryEntry], billing: Billing) -> Vec<Invoice> {
    let mut m = month(2025, 12);
    let mut out = Vec::new();
    while m <= month(2026, 10) {
        out.push(invoice(h, &prices(), m, billing, None));
        m = m.next();
    }
    out
}

proptest! {
    /// Lines sum to the total exactly, each line is quantity × unit, and
    /// the one-pass computation agrees with the month-by-month one.
    #[test]
    fn lines_sum_to_the_total(h in history()) {
        let months = every_month(&h, Billing::Billed);
        for inv in &months {
            prop_assert_eq!(inv.total, inv.lines.iter().map(|l| l.amount).sum::<u64>());
            for l in &inv.lines {
                prop_assert!(l.quantity > 0);
                prop_assert_eq!(l.amount, l.quantity * l.unit_amount);
            }
        }
        let together = invoices(&h, &prices(), month(2025, 12), month(2026, 10), Billing::Billed);
        prop_assert_eq!(together, months);
    }

    /// A test key's invoices are all 0, with the same quantities.
    #[test]
    fn a_test_key_is_always_zero(h in history()) {
        let billed = every_month(&h, Billing::Billed);
        for (t, b) in every_month(&h, Billing::Test).iter().zip(&billed) {
            prop_assert_eq!(t.total, 0);
            prop_assert!(t.lines.iter().all(|l| l.amount == 0 && l.unit_amount == 0));
            let q = |i: &Invoice| i.lines.iter().map(|l| l.quantity).collect::<Vec<_>>();
            prop_assert_eq!(q(t), q(b));
        }
    }

    /// Splitting any activation at any month boundary inside its active
    /// interval (ended there, the same site and product active again from
    /// there) changes no month's invoice.
    #[test]
    fn splitting_at_a_month_boundary_changes_nothing(h in history(), pick in any::<proptest::sample::Index>(), nth in 0usize..6) {
        let before = every_month(&h, Billing::Billed);
        let candidates: Vec<usize> = (0..h.len()).filter(|&i| h[i].active_interval().is_some()).collect();
        prop_assume!(!candidates.is_empty());
        let i = candidates[pick.index(candidates.len())];
        let (a, end) = h[i].active_interval().unwrap();
        let boundary = (0..=nth).fold(Month::containing(a), |m, _| m.next()).start();
        prop_assume!(end.is_none_or(|e| e > boundary));
        let mut split = h.clone();
        let mut tail = split[i].clone();
        split[i].state = ActivationState::Cancelled;
        split[i].ended_at = Some(boundary);
        tail.created_at = boundary;
        tail.activated_at = Some(boundary);
        split.push(tail);
        prop_assert_eq!(every_month(&split, Billing::Billed), before);
    }

    /// Cancelling and provisioning the same product on the same site again
    /// within one month bills it once that month, whatever else the
    /// history holds.
    #[test]
    fn cancel_and_reprovision_bills_once(h in history(), blog in 1u64..5, day in 0i64..27, gap in 1i64..DAY) {
        let m = month(2026, 3);
        let first = Timestamp::from_millis(m.start().as_millis() + day * DAY);
        let cancel = Timestamp::from_millis(first.as_millis() + gap);
        let again = Timestamp::from_millis(cancel.as_millis() + gap);
        let mut with = h.clone();
        let mk = |activated: Timestamp, ended: Option<Timestamp>| HistoryEntry {
            blog_id: BlogId::new(blog).unwrap(),
            product: slug("premium"),
            state: if ended.is_some() { ActivationState::Cancelled } else { ActivationState::Active },
            created_at: activated,
            activated_at: Some(activated),
            ended_at: ended,
            expires_at: None,
        };
        with.push(mk(first, Some(cancel)));
        let once = invoice(&with, &prices(), m, Billing::Billed, None);
        with.push(mk(again, None));
        let twice = invoice(&with, &prices(), m, Billing::Billed, None);
        prop_assert_eq!(once, twice);
    }

    /// A pending activation that was never activated is on no invoice.
    #[test]
    fn never_activated_is_never_billed(h in history()) {
        let activated: Vec<HistoryEntry> = h.iter().filter(|e| e.activated_at.is_some()).cloned().collect();
        prop_assert_eq!(every_month(&h, Billing::Billed), every_month(&activated, Billing::Billed));
    }
}
