//! Invoices (SPEC §8), as a pure function of a key's activation history,
//! the catalogue's prices and a UTC calendar month.
//!
//! The rules, in one place:
//! - An activation is **active** from its `activated_at` to its `ended_at`
//!   (half-open: `[activated, ended)`; no end while it is `active`). A
//!   pending activation that was never activated was never active: it is
//!   never billed, whatever happens to it later (expired, cancelled).
//! - It is **billed for a month** when its active interval meets the month
//!   at any moment: `activated < month end` and `ended > month start`. One
//!   that ends at the first instant of a month is not billed for that
//!   month; one activated at the first instant is.
//! - A line's **quantity** is the number of distinct `(site, product)`
//!   pairs billed for the month: a product cancelled and provisioned again
//!   on the same site within a month (or an activation split at any point,
//!   e.g. re-recorded at a month boundary) is one billable unit, billed
//!   once. An upgrade is a different product: both tiers are billed for the
//!   month of the upgrade.
//! - One line per product with a quantity, in catalogue order (products no
//!   longer in the catalogue last, by slug, with id 0 and price 0);
//!   `amount = quantity × unit_amount`; `total` is the sum of the lines,
//!   exactly, in integer cents. A **test key**'s lines keep their
//!   quantities with a unit amount of 0, so its invoices are all 0.
//! - The **upcoming** invoice is the current month so far: the same rule
//!   over `[month start, now]`.

use std::collections::{BTreeMap, HashSet};

use jpstart_types::{BlogId, ProductSlug};

use super::calendar::Month;
use super::{ActivationState, Catalogue};
use crate::clock::Timestamp;

/// One activation of a key as billing and the summary read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub blog_id: BlogId,
    pub product: ProductSlug,
    pub state: ActivationState,
    pub created_at: Timestamp,
    pub activated_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// When a pending activation stops waiting (`None`: never).
    pub expires_at: Option<Timestamp>,
}

impl HistoryEntry {
    /// `[activated, ended)`, `None` for the end while active; `None` when
    /// it was never active (or only for no time at all).
    pub fn active_interval(&self) -> Option<(Timestamp, Option<Timestamp>)> {
        let start = self.activated_at?;
        let end = match self.state {
            ActivationState::Active => None,
            // Pending with an activation time cannot happen; read as ended.
            _ => Some(self.ended_at.unwrap_or(start)),
        };
        match end {
            Some(e) if e <= start => None,
            e => Some((start, e)),
        }
    }

    /// `[created, end)` of being live (pending or active), as the provision
    /// limits count it: a pending one stops at its expiry.
    pub fn live_interval(&self) -> (Timestamp, Option<Timestamp>) {
        let start = self.created_at;
        let end = match self.state {
            ActivationState::Active => None,
            ActivationState::Pending => self.expires_at,
            _ => Some(self.ended_at.unwrap_or(start)),
        };
        (start, end.map(|e| e.max(start)))
    }

    /// Whether it was active at some instant of `[from, to)`.
    fn active_within(&self, from: Timestamp, to: Timestamp) -> bool {
        self.active_interval()
            .is_some_and(|(a, e)| a < to && e.is_none_or(|e| e > from))
    }
}

/// The prices an invoice is computed with: each product's id, monthly price
/// (cents) and place in catalogue order, and the one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prices {
    pub currency: String,
    /// In catalogue order.
    pub products: Vec<PricedProduct>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedProduct {
    pub slug: ProductSlug,
    pub id: u64,
    pub price: u64,
}

impl Prices {
    pub fn from_catalogue(catalogue: &Catalogue) -> Prices {
        Prices {
            currency: catalogue.currency().to_string(),
            products: catalogue
                .products()
                .iter()
                .map(|p| PricedProduct {
                    slug: p.slug.clone(),
                    id: p.id,
                    price: p.price,
                })
                .collect(),
        }
    }

    /// Catalogue position (unknown products after every known one).
    fn rank(&self, slug: &ProductSlug) -> usize {
        self.products
            .iter()
            .position(|p| p.slug == *slug)
            .unwrap_or(self.products.len())
    }

    fn find(&self, slug: &ProductSlug) -> Option<&PricedProduct> {
        self.products.iter().find(|p| p.slug == *slug)
    }
}

/// Whether the key is billed (a test key never is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    Billed,
    Test,
}

impl Billing {
    pub fn of_test_flag(test: bool) -> Billing {
        if test {
            Billing::Test
        } else {
            Billing::Billed
        }
    }
}

/// A key's invoice for one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub month: Month,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    /// The sum of the lines' amounts, in cents.
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub product: ProductSlug,
    /// 0 for a product no longer in the catalogue.
    pub product_id: u64,
    /// Distinct sites billed for the product this month.
    pub quantity: u64,
    /// Monthly price in cents (0 for a test key).
    pub unit_amount: u64,
    pub amount: u64,
}

/// The invoice of `month` (see the module docs). With `until`, only
/// `[month start, until]` counts (the upcoming invoice: the month so far).
pub fn invoice(
    history: &[HistoryEntry],
    prices: &Prices,
    month: Month,
    billing: Billing,
    until: Option<Timestamp>,
) -> Invoice {
    let to = match until {
        Some(t) => month
            .end()
            .min(Timestamp::from_millis(t.as_millis().saturating_add(1))),
        None => month.end(),
    };
    let mut sites: BTreeMap<(usize, ProductSlug), HashSet<BlogId>> = BTreeMap::new();
    for e in history
        .iter()
        .filter(|e| e.active_within(month.start(), to))
    {
        sites
            .entry((prices.rank(&e.product), e.product.clone()))
            .or_default()
            .insert(e.blog_id);
    }
    lines_of(month, prices, billing, sites)
}

/// The invoices of every month from `from` to `to` (both included), oldest
/// first; the same as [`invoice`] for each, in one pass over the history.
pub fn invoices(
    history: &[HistoryEntry],
    prices: &Prices,
    from: Month,
    to: Month,
    billing: Billing,
) -> Vec<Invoice> {
    let mut months = Vec::new();
    let mut m = from;
    while m <= to {
        months.push(m);
        m = m.next();
    }
    let mut sites: Vec<BTreeMap<(usize, ProductSlug), HashSet<BlogId>>> =
        vec![BTreeMap::new(); months.len()];
    for e in history {
        let Some((a, end)) = e.active_interval() else {
            continue;
        };
        // The first month whose end is after the activation.
        let first = months.partition_point(|m| m.end() <= a);
        for (i, m) in months.iter().enumerate().skip(first) {
            if end.is_some_and(|e| e <= m.start()) {
                break;
            }
            sites[i]
                .entry((prices.rank(&e.product), e.product.clone()))
                .or_default()
                .insert(e.blog_id);
        }
    }
    months
        .into_iter()
        .zip(sites)
        .map(|(m, s)| lines_of(m, prices, billing, s))
        .collect()
}

/// The first month any activation of the history was active in.
pub fn first_billed_month(history: &[HistoryEntry]) -> Option<Month> {
    history
        .iter()
        .filter_map(|e| e.active_interval())
        .map(|(a, _)| a)
        .min()
        .map(Month::containing)
}

fn lines_of(
    month: Month,
    prices: &Prices,
    billing: Billing,
    sites: BTreeMap<(usize, ProductSlug), HashSet<BlogId>>,
) -> Invoice {
    let lines: Vec<InvoiceLine> = sites
        .into_iter()
        .map(|((_, product), blogs)| {
            let priced = prices.find(&product);
            let unit_amount = match billing {
                Billing::Billed => priced.map_or(0, |p| p.price),
                Billing::Test => 0,
            };
            let quantity = blogs.len() as u64;
            InvoiceLine {
                product_id: priced.map_or(0, |p| p.id),
                quantity,
                unit_amount,
                amount: quantity.saturating_mul(unit_amount),
                product,
            }
        })
        .collect();
    let total = lines
        .iter()
        .fold(0u64, |sum, l| sum.saturating_add(l.amount));
    Invoice {
        month,
        currency: prices.currency.clone(),
        lines,
        total,
    }
}

#[cfg(test)]
#[path = "invoices_tests.rs"]
mod tests;
