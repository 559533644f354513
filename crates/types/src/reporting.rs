//! The reporting endpoints' bodies (SPEC §8; upstream:
//! host-partner-documentation, `jetpack/reporting-endpoints/`). Datetimes
//! are `YYYY-MM-DD HH:MM:SS` in UTC, or `null`; amounts are integer cents.

use serde::{Deserialize, Serialize};

/// `GET /wpcom/v2/jetpack-partners/{partner_id}/key/{key_id}/activations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivationsList {
    /// Activations matching the filters, on every page.
    pub total: u64,
    /// This page, newest first (creation time, then id, both descending).
    pub activations: Vec<SiteObject>,
}

/// One activation, with every field of upstream's "site object" and
/// `product_slug` and `state` beside them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteObject {
    /// The activation's id.
    pub id: i64,
    /// The key that provisioned it.
    pub jetpack_partner_key_id: i64,
    pub wpcom_blog_id: u64,
    /// The WordPress.com account jpstart connected to the site (0: none).
    pub wpcom_user_id: i64,
    /// The partner's name for the site's user (`local_user` of provision).
    pub external_user_id: Option<String>,
    /// The product's numeric id in the catalogue.
    pub product_id: u64,
    pub created_on: String,
    /// `null` while it was never activated (pending, or expired).
    pub activated_on: Option<String>,
    /// When it ended (cancelled, superseded by an upgrade, or expired).
    pub cancelled_on: Option<String>,
    /// Always `null`: jpstart has no disputes.
    pub disputed_on: Option<String>,
    /// When the site was first registered.
    pub site_registered: String,
    pub site_url: String,
    /// The site's address without scheme (jpstart stores no title).
    pub site_name: String,
    /// Always `null`: jpstart stores no icon.
    pub site_icon: Option<String>,
    /// Always equal to `product_id`, as upstream says.
    pub current_product_id: u64,
    pub product_slug: String,
    /// `pending`, `active`, `cancelled`, `superseded` or `expired`.
    pub state: String,
}

/// One period of `GET /wpcom/v2/jetpack-partners/activations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryPeriod {
    /// `YYYY-MM-DD`, `YYYY-MM` or `YYYY` (UTC).
    pub date: String,
    /// Activations provisioned in the period.
    pub new: u64,
    /// Activations live (active, or pending and not expired) at the end of
    /// the period (for the current one: now).
    pub total: u64,
}

/// A key's invoice for a calendar month (UTC):
/// `GET .../key/{key_id}/stripe/invoices` (each element) and
/// `.../stripe/upcoming-invoice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invoice {
    /// `in_{key_id}_{YYYY}{MM}`.
    pub id: String,
    /// The month's first instant.
    pub period_start: String,
    /// The next month's first instant (the period ends before it).
    pub period_end: String,
    /// Lowercase ISO 4217, from the catalogue.
    pub currency: String,
    /// One per product billed, in catalogue order.
    pub lines: Vec<InvoiceLine>,
    /// The sum of the lines' amounts, exactly (cents).
    pub total: u64,
    /// `closed` (a past month) or `upcoming` (the current month so far).
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceLine {
    pub product_slug: String,
    pub product_id: u64,
    /// Distinct sites the product was active on at any moment of the month.
    pub quantity: u64,
    /// The product's monthly price in cents (0 for a test key).
    pub unit_amount: u64,
    /// `quantity × unit_amount`.
    pub amount: u64,
}
