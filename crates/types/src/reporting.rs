//! The reporting endpoints' bodies (SPEC §8; upstream:
//! host-partner-documentation, `jetpack/reporting-endpoints/`). Datetimes
//! are `YYYY-MM-DD HH:MM:SS` in UTC, or `null`; amounts are integer cents.

use serde::{Deserialize, Serialize};

pub use crate::site_object::SiteObject;

/// `GET /wpcom/v2/jetpack-partners/{partner_id}/key/{key_id}/activations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivationsList {
    /// Activations matching the filters, on every page.
    pub total: u64,
    /// This page, newest first (creation time, then id, both descending).
    pub activations: Vec<SiteObject>,
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

/// What `jpstart admin seed-demo` prints: the partners and keys it made
/// (with their secrets, shown this once) and what it provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoSeeded {
    /// The year of activity: first and last instant (RFC 3339).
    pub from: String,
    pub to: String,
    pub partners: Vec<DemoPartner>,
    pub sites: u64,
    pub activations: u64,
    /// Activations per state at the end.
    pub states: std::collections::BTreeMap<String, u64>,
    /// Operations the rules refused (a limit reached, say), skipped.
    pub refused: u64,
    pub elapsed_ms: u64,
    /// A user of the first partner, to sign in to the portal with (its
    /// generated password shown this once).
    pub partner_user: crate::partner_users::PartnerUserCreated,
    /// Where to sign in.
    pub portal: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoPartner {
    pub partner_id: u64,
    pub name: String,
    pub keys: Vec<DemoKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoKey {
    pub key_id: u64,
    pub name: String,
    pub parent_key_id: Option<u64>,
    pub test: bool,
    pub client_id: String,
    pub client_secret: String,
}
