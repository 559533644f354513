//! Reporting (SPEC §8) between the HTTP handlers and the store: the
//! reporting endpoints' parameters parsed at the edge, and each report as
//! one call — load from the store, compute with [`crate::domain::invoices`]
//! / [`crate::domain::summary`], answer the wire type. The API handlers
//! ([`crate::api`]'s `reporting`) and the portal's pages both call these,
//! after the caller's reach is checked ([`crate::reader::Reader`]).

use jpstart_types::reporting::{
    ActivationsList, Invoice as WireInvoice, InvoiceLine as WireLine, SiteObject, SummaryPeriod,
};
use jpstart_types::ProductSlug;

use crate::clock::Timestamp;
use crate::domain::calendar::{datetime, Month, Scale};
use crate::domain::invoices::{self, Billing, Invoice, Prices};
use crate::domain::{summary, ApiError, Catalogue, ErrorCode};
use crate::store::{ActivationQuery, KeyRecord, ReportedActivation, Store};

/// `per_page` when none is given, and the most it may be.
pub const DEFAULT_PER_PAGE: u32 = 20;
pub const MAX_PER_PAGE: u32 = 100;

/// The activations list's parameters, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// From 1.
    pub page: u32,
    /// 1..=100.
    pub per_page: u32,
    pub plans: Vec<ProductSlug>,
    pub activated_after: Option<Timestamp>,
    pub activated_before: Option<Timestamp>,
}

impl Default for ListParams {
    fn default() -> Self {
        ListParams {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            plans: Vec::new(),
            activated_after: None,
            activated_before: None,
        }
    }
}

fn invalid(what: impl std::fmt::Display) -> ApiError {
    ApiError::with_arg(ErrorCode::RestInvalidParam, what)
}

/// A whole number of at most `max`, at least `min`.
fn number(name: &str, value: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| invalid(format!("{name} (a whole number from {min} to {max})")))
}

/// An ISO 8601 datetime or UNIX seconds.
pub fn parse_time(name: &str, value: &str) -> Result<Timestamp, ApiError> {
    let v = value.trim();
    let digits = v.strip_prefix('-').unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse::<i64>()
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .map(Timestamp::from_millis)
            .ok_or_else(|| invalid(format!("{name} (UNIX seconds out of range)")));
    }
    Timestamp::parse_iso8601(v)
        .ok_or_else(|| invalid(format!("{name} (an ISO 8601 datetime or UNIX seconds)")))
}

/// `plans[]=a&plans[]=b`, `plans[0]=a`, `plans=a,b`: every form PHP and
/// JavaScript clients send an array in.
fn is_plans_key(key: &str) -> bool {
    key == "plans"
        || key
            .strip_prefix("plans[")
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|inner| inner.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads the list's parameters from the query string's pairs; unknown
/// parameters are ignored (SPEC §2). A plan the catalogue does not know is
/// `invalid_plan`.
pub fn list_params(
    pairs: &[(String, String)],
    catalogue: &Catalogue,
) -> Result<ListParams, ApiError> {
    let mut p = ListParams::default();
    for (key, value) in pairs {
        match key.as_str() {
            "page" => p.page = number("page", value, 1, u32::MAX)?,
            "per_page" => p.per_page = number("per_page", value, 1, MAX_PER_PAGE)?,
            "activated_after" => p.activated_after = Some(parse_time(key, value)?),
            "activated_before" => p.activated_before = Some(parse_time(key, value)?),
            k if is_plans_key(k) => {
                for slug in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let product = catalogue
                        .find(slug)
                        .ok_or_else(|| ApiError::with_arg(ErrorCode::InvalidPlan, slug))?;
                    if !p.plans.contains(&product.slug) {
                        p.plans.push(product.slug.clone());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(p)
}

/// The summary's `scale` (default `month`).
pub fn scale_param(value: Option<&str>) -> Result<Scale, ApiError> {
    match value {
        None => Ok(Scale::Month),
        Some(v) => Scale::parse(v.trim()).ok_or_else(|| invalid("scale (day, month or year)")),
    }
}

/// A path or query id: a positive whole number.
pub fn id_param(name: &str, value: &str) -> Result<i64, ApiError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| invalid(format!("{name} (a positive whole number)")))
}

/// One page of a key's activations (`GET .../key/{key_id}/activations`).
pub async fn activations_list(
    store: &dyn Store,
    catalogue: &Catalogue,
    key: &KeyRecord,
    params: &ListParams,
) -> Result<ActivationsList, ApiError> {
    let offset = u64::from(params.page - 1) * u64::from(params.per_page);
    let page = store
        .report_activations(&ActivationQuery {
            key_id: key.id,
            products: params.plans.clone(),
            activated_after: params.activated_after,
            activated_before: params.activated_before,
            limit: params.per_page,
            offset,
        })
        .await?;
    Ok(ActivationsList {
        total: page.total,
        activations: page
            .rows
            .iter()
            .map(|r| site_object(catalogue, r))
            .collect(),
    })
}

/// The wire form of one listed activation.
pub fn site_object(catalogue: &Catalogue, r: &ReportedActivation) -> SiteObject {
    let product_id = catalogue.product(&r.product).map_or(0, |p| p.id);
    let name = r
        .site_url
        .split_once("://")
        .map_or(r.site_url.as_str(), |(_, rest)| rest)
        .trim_end_matches('/');
    SiteObject {
        id: r.id.get(),
        jetpack_partner_key_id: r.key_id.get(),
        wpcom_blog_id: r.blog_id.get(),
        wpcom_user_id: r.wpcom_user_id.unwrap_or(0),
        external_user_id: r.local_user.clone(),
        product_id,
        created_on: datetime(r.created_at),
        activated_on: r.activated_at.map(datetime),
        cancelled_on: r.ended_at.map(datetime),
        disputed_on: None,
        site_registered: datetime(r.site_created_at),
        site_url: r.site_url.clone(),
        site_name: name.to_string(),
        site_icon: None,
        current_product_id: product_id,
        product_slug: r.product.to_string(),
        state: r.state.to_string(),
    }
}

/// A key's activations per period (`GET /wpcom/v2/jetpack-partners/activations`).
pub async fn activations_summary(
    store: &dyn Store,
    key: &KeyRecord,
    scale: Scale,
    now: Timestamp,
) -> Result<Vec<SummaryPeriod>, ApiError> {
    let history = store.key_history(key.id).await?;
    Ok(summary::summary(&history, scale, now)
        .into_iter()
        .map(|p| SummaryPeriod {
            date: p.label,
            new: p.new,
            total: p.total,
        })
        .collect())
}

/// A key's invoices of past (closed) months, newest first: from the first
/// month any of its activations was active in to the month before now's.
pub async fn past_invoices(
    store: &dyn Store,
    catalogue: &Catalogue,
    key: &KeyRecord,
    now: Timestamp,
) -> Result<Vec<WireInvoice>, ApiError> {
    let history = store.key_history(key.id).await?;
    let last = Month::containing(now).prev();
    let Some(first) = invoices::first_billed_month(&history).filter(|f| *f <= last) else {
        return Ok(Vec::new());
    };
    let prices = Prices::from_catalogue(catalogue);
    let billing = Billing::of_test_flag(key.test);
    let mut all = invoices::invoices(&history, &prices, first, last, billing);
    all.reverse();
    Ok(all
        .iter()
        .map(|i| wire_invoice(key, i, InvoiceStatus::Closed))
        .collect())
}

/// The current month's invoice so far.
pub async fn upcoming_invoice(
    store: &dyn Store,
    catalogue: &Catalogue,
    key: &KeyRecord,
    now: Timestamp,
) -> Result<WireInvoice, ApiError> {
    let history = store.key_history(key.id).await?;
    let prices = Prices::from_catalogue(catalogue);
    let billing = Billing::of_test_flag(key.test);
    let inv = invoices::invoice(
        &history,
        &prices,
        Month::containing(now),
        billing,
        Some(now),
    );
    Ok(wire_invoice(key, &inv, InvoiceStatus::Upcoming))
}

/// Whether an invoice's month is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    Closed,
    Upcoming,
}

/// The wire form of a key's invoice.
pub fn wire_invoice(key: &KeyRecord, inv: &Invoice, status: InvoiceStatus) -> WireInvoice {
    WireInvoice {
        id: format!(
            "in_{}_{:04}{:02}",
            key.id,
            inv.month.year(),
            inv.month.month()
        ),
        period_start: datetime(inv.month.start()),
        period_end: datetime(inv.month.end()),
        currency: inv.currency.clone(),
        lines: inv
            .lines
            .iter()
            .map(|l| WireLine {
                product_slug: l.product.to_string(),
                product_id: l.product_id,
                quantity: l.quantity,
                unit_amount: l.unit_amount,
                amount: l.amount,
            })
            .collect(),
        total: inv.total,
        status: match status {
            InvoiceStatus::Closed => "closed",
            InvoiceStatus::Upcoming => "upcoming",
        }
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn code(q: &str) -> Result<ListParams, &'static str> {
        list_params(&pairs(q), &Catalogue::builtin()).map_err(|e| e.code.code())
    }

    #[test]
    fn list_parameters() {
        assert_eq!(code(""), Ok(ListParams::default()));
        let p = code(
            "page=3&per_page=100&plans[]=premium&plans%5B%5D=jetpack-scan&plans[0]=premium&x=1",
        )
        .unwrap();
        assert_eq!((p.page, p.per_page), (3, 100));
        let plans: Vec<String> = p.plans.iter().map(ToString::to_string).collect();
        assert_eq!(plans, ["premium", "jetpack-scan"]);
        assert_eq!(code("plans=free,personal").unwrap().plans.len(), 2);
        for bad in [
            "page=0",
            "page=x",
            "per_page=0",
            "per_page=101",
            "per_page=-1",
        ] {
            assert_eq!(code(bad), Err("rest_invalid_param"), "{bad}");
        }
        assert_eq!(code("plans[]=gold"), Err("invalid_plan"));
        let p = code("activated_after=1767225600&activated_before=2026-02-01T00:00:00Z").unwrap();
        assert_eq!(p.activated_after, Timestamp::parse_iso8601("2026-01-01"));
        assert_eq!(p.activated_before, Timestamp::parse_iso8601("2026-02-01"));
        assert_eq!(code("activated_after=soon"), Err("rest_invalid_param"));
        assert_eq!(
            code("activated_after=99999999999999999"),
            Err("rest_invalid_param")
        );
    }

    #[test]
    fn other_parameters() {
        assert_eq!(scale_param(None).unwrap(), Scale::Month);
        assert_eq!(scale_param(Some("day")).unwrap(), Scale::Day);
        assert!(scale_param(Some("week")).is_err());
        assert_eq!(id_param("key_id", "12").unwrap(), 12);
        for bad in ["0", "-1", "x", ""] {
            assert!(id_param("key_id", bad).is_err(), "{bad}");
        }
    }
}
