//! The request log (SPEC §9): `GET /wpcom/v2/jetpack-partners/{partner_id}/requests`
//! and `jpstart admin requests`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One page of a partner's request log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestsPage {
    /// Entries matching the filters, over every page.
    pub total: u64,
    pub requests: Vec<LoggedRequest>,
}

/// One logged request. Every secret in `params` and `response` is the
/// string `"[redacted]"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoggedRequest {
    pub id: u64,
    /// When the request arrived, by the server's clock (the test clock in
    /// the sandbox): RFC 3339 in UTC, to the millisecond.
    pub time: String,
    /// The key of the request's token, or the key its `client_id` names
    /// (token requests); `null` when it named none.
    pub key_id: Option<u64>,
    pub method: String,
    /// The path as sent (version included), without the query string.
    pub path: String,
    pub status: u16,
    /// The catalogued `error` of the response body, if any.
    pub error_code: Option<String>,
    /// Time from the request to the response head.
    pub latency_ms: u64,
    /// Query and body parameters, every value a string (as the endpoints
    /// read them); a body that was not kept is noted under `(body)`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: Map<String, Value>,
    /// The JSON response body; `null` when empty, a string noting why when
    /// it was not kept (not JSON, or over the size cap).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub response: Value,
}

/// One entry as `jpstart admin requests` prints it: the partner beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminLoggedRequest {
    /// `null`: the request named no key (no token, or an invalid one).
    pub partner_id: Option<u64>,
    #[serde(flatten)]
    pub request: LoggedRequest,
}
