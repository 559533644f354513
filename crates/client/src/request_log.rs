//! The request log's call (SPEC §9): a partner's logged requests, newest
//! first (its request is also re-exported in [`crate::requests`]).

use jpstart_types::requests::RequestsPage;
use reqwest::Method;

use crate::error::Result;
use crate::request::ApiRequest;
use crate::Client;

/// Which entries to read; `None` leaves a filter out (the server's
/// defaults: page 1, 20 per page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestLogQuery {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    /// Only this key's requests (a sub-key may name only its own).
    pub key_id: Option<u64>,
    /// Only answers with this HTTP status.
    pub status: Option<u16>,
    /// Only requests whose path starts with this.
    pub path: Option<String>,
}

pub mod requests {
    use super::*;

    /// `GET /wpcom/v2/jetpack-partners/{partner_id}/requests`.
    pub fn request_log(partner_id: u64, q: &RequestLogQuery) -> ApiRequest {
        let partner = partner_id.to_string();
        let mut req = ApiRequest::new(
            Method::GET,
            &["wpcom", "v2", "jetpack-partners", &partner, "requests"],
        );
        let numbers = [
            ("page", q.page),
            ("per_page", q.per_page),
            ("key_id", q.key_id),
            ("status", q.status.map(u64::from)),
        ];
        for (name, value) in numbers {
            if let Some(v) = value {
                req = req.query(name, &v.to_string());
            }
        }
        if let Some(p) = &q.path {
            req = req.query("path", p);
        }
        req
    }
}

impl Client {
    /// A page of the partner's request log, secrets shown as `"[redacted]"`
    /// (a server started without the log answers 404 `request_log_off`).
    pub async fn request_log(&self, partner_id: u64, q: &RequestLogQuery) -> Result<RequestsPage> {
        self.execute(&requests::request_log(partner_id, q)).await
    }
}
