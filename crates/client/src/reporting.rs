//! The reporting calls (SPEC §8; upstream: host-partner-documentation,
//! `jetpack/reporting-endpoints/`): a key's activations, their summary per
//! period, and its invoices. Authenticated like every call: a key's own
//! token reads its key and sub-keys (a partner user's token every key of
//! its partner). Their requests are also in [`requests`].

use jpstart_types::reporting::{ActivationsList, Invoice, SummaryPeriod};
use reqwest::Method;

use crate::error::Result;
use crate::request::ApiRequest;
use crate::Client;

/// The activations list's filters and page (`None`: the server's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivationsQuery {
    /// From 1.
    pub page: Option<u32>,
    /// 1 to 100 (default 20).
    pub per_page: Option<u32>,
    /// Product slugs (`plans[]`).
    pub plans: Vec<String>,
    /// ISO 8601 or UNIX seconds.
    pub activated_after: Option<String>,
    pub activated_before: Option<String>,
}

pub mod requests {
    use super::*;

    fn key_route(partner_id: u64, key_id: u64, tail: &[&str]) -> ApiRequest {
        let (p, k) = (partner_id.to_string(), key_id.to_string());
        let mut segments = vec![
            "wpcom",
            "v2",
            "jetpack-partners",
            p.as_str(),
            "key",
            k.as_str(),
        ];
        segments.extend_from_slice(tail);
        ApiRequest::new(Method::GET, &segments)
    }

    /// `GET /wpcom/v2/jetpack-partners/{partner_id}/key/{key_id}/activations`.
    pub fn activations(partner_id: u64, key_id: u64, q: &ActivationsQuery) -> ApiRequest {
        let mut req = key_route(partner_id, key_id, &["activations"]);
        if let Some(p) = q.page {
            req = req.query("page", &p.to_string());
        }
        if let Some(p) = q.per_page {
            req = req.query("per_page", &p.to_string());
        }
        for plan in &q.plans {
            req = req.query("plans[]", plan);
        }
        if let Some(t) = &q.activated_after {
            req = req.query("activated_after", t);
        }
        if let Some(t) = &q.activated_before {
            req = req.query("activated_before", t);
        }
        req
    }

    /// `GET /wpcom/v2/jetpack-partners/activations?key_id=N&scale=S`
    /// (no key: the token's own; no scale: `month`).
    pub fn summary(key_id: Option<u64>, scale: Option<&str>) -> ApiRequest {
        let mut req = ApiRequest::new(
            Method::GET,
            &["wpcom", "v2", "jetpack-partners", "activations"],
        );
        if let Some(k) = key_id {
            req = req.query("key_id", &k.to_string());
        }
        if let Some(s) = scale {
            req = req.query("scale", s);
        }
        req
    }

    /// `GET .../key/{key_id}/stripe/invoices`.
    pub fn invoices(partner_id: u64, key_id: u64) -> ApiRequest {
        key_route(partner_id, key_id, &["stripe", "invoices"])
    }

    /// `GET .../key/{key_id}/stripe/upcoming-invoice`.
    pub fn upcoming_invoice(partner_id: u64, key_id: u64) -> ApiRequest {
        key_route(partner_id, key_id, &["stripe", "upcoming-invoice"])
    }
}

impl Client {
    /// One page of a key's activations, newest first, and how many match.
    pub async fn activations(
        &self,
        partner_id: u64,
        key_id: u64,
        query: &ActivationsQuery,
    ) -> Result<ActivationsList> {
        self.execute(&requests::activations(partner_id, key_id, query))
            .await
    }

    /// A key's activations per day, month or year, oldest first, no gaps.
    pub async fn activations_summary(
        &self,
        key_id: Option<u64>,
        scale: Option<&str>,
    ) -> Result<Vec<SummaryPeriod>> {
        self.execute(&requests::summary(key_id, scale)).await
    }

    /// A key's invoices of past months, newest first.
    pub async fn invoices(&self, partner_id: u64, key_id: u64) -> Result<Vec<Invoice>> {
        self.execute(&requests::invoices(partner_id, key_id)).await
    }

    /// The current month's invoice so far.
    pub async fn upcoming_invoice(&self, partner_id: u64, key_id: u64) -> Result<Invoice> {
        self.execute(&requests::upcoming_invoice(partner_id, key_id))
            .await
    }
}
