//! The request log's rows (SPEC §9): what the background writer inserts
//! and what the endpoint and `jpstart admin requests` read.

use jpstart_types::{KeyId, PartnerId};

use crate::clock::Timestamp;

/// One request as stored: parameters and response are JSON text, already
/// redacted ([`crate::request_log::redact`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoggedRequest {
    pub time: Timestamp,
    pub partner_id: Option<PartnerId>,
    pub key_id: Option<KeyId>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub error_code: Option<String>,
    pub latency_ms: i64,
    pub params: String,
    pub response: String,
}

/// A stored request with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequestRecord {
    pub id: i64,
    pub entry: NewLoggedRequest,
}

/// Which requests to read, newest first (time, then id, descending).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestLogFilter {
    pub partner: Option<PartnerId>,
    pub key: Option<KeyId>,
    pub status: Option<u16>,
    /// Requests whose path starts with this.
    pub path_prefix: Option<String>,
    pub offset: i64,
    pub limit: i64,
}
