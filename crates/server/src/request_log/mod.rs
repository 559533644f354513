//! The request log (SPEC §9): every request under `/rest`, `/wpcom` and
//! `/oauth2`, with its parameters and response, secrets redacted, per key.
//!
//! Off the request's path: the middleware ([`record`]) only copies the
//! bodies as they stream by ([`capture`]), notes the time and hands a raw
//! entry to a bounded queue (`try_send`: a full queue drops the entry and
//! counts it in `jpstart_request_log_dropped_total`). A background task
//! ([`writer`]) parses the parameters, redacts ([`redact`]), finds the key
//! and inserts in batches, one transaction each; it also prunes entries
//! older than the retention, by the injected clock.
//!
//! The key comes from the extractors: [`Caller`](crate::auth::Caller) and
//! [`Reader`](crate::reader::Reader) note the key of the token they looked
//! up in the request's [`KeySlot`] ([`note_key`]). A token request is
//! logged under the key its `client_id` names (when that key exists).

mod capture;
pub mod redact;
mod writer;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, request::Parts};
use axum::middleware::Next;
use axum::response::Response;
use jpstart_types::{KeyId, PartnerId};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;

use crate::clock::{Clock, Timestamp};
use crate::store::{LoggedRequestRecord, Store};
use capture::{Captured, RequestTee, ResponseTee};
use jpstart_types::requests::LoggedRequest;

/// How long entries are kept by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Entries waiting for the writer at most, by default.
pub const DEFAULT_QUEUE: usize = 1024;
/// The most of a request body kept for its parameters: the largest body an
/// endpoint accepts ([`crate::rest::params::MAX_BODY`]).
const REQUEST_CAP: usize = crate::rest::params::MAX_BODY;
/// The most of a response body kept; a longer one is stored as a note.
const RESPONSE_CAP: usize = 64 * 1024;
/// Longest method and content type kept (any token is a method).
const SHORT_CAP: usize = 100;
/// Longest path kept.
const PATH_CAP: usize = 2048;

/// The request log's settings (`--request-log-retention`, the hidden
/// `--request-log-queue`).
#[derive(Clone, Debug)]
pub struct RequestLogConfig {
    pub retention: Duration,
    pub queue: usize,
}

impl Default for RequestLogConfig {
    fn default() -> Self {
        RequestLogConfig {
            retention: DEFAULT_RETENTION,
            queue: DEFAULT_QUEUE,
        }
    }
}

/// The middleware's handle on the queue. Cheap to clone.
#[derive(Clone)]
pub struct RequestLog(Arc<Shared>);

struct Shared {
    tx: mpsc::Sender<Raw>,
    clock: Clock,
    dropped: Counter,
}

/// Who a request was made by, as the extractors found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub key_id: Option<KeyId>,
    pub partner_id: PartnerId,
}

/// Where the extractors note the request's key (see [`note_key`]).
#[derive(Clone, Default)]
pub struct KeySlot(Arc<OnceLock<Identity>>);

/// Notes the key a request's token belongs to, for the request log; a
/// no-op when the log is off (no slot in the request).
pub fn note_key(parts: &Parts, key_id: Option<KeyId>, partner_id: PartnerId) {
    if let Some(slot) = parts.extensions.get::<KeySlot>() {
        let _ = slot.0.set(Identity { key_id, partner_id });
    }
}

/// One request as the middleware saw it, before parsing and redaction.
struct Raw {
    time: Timestamp,
    method: String,
    /// The path as sent (version included), without the query.
    path: String,
    query: Option<String>,
    content_type: Option<String>,
    request: Captured,
    status: u16,
    latency_ms: i64,
    identity: Option<Identity>,
    response: Captured,
}

/// Starts the writer; the handle is what [`record`] takes.
pub fn start(
    config: &RequestLogConfig,
    store: Arc<dyn Store>,
    clock: Clock,
    dropped: Counter,
) -> (RequestLog, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(config.queue.max(1));
    let task = tokio::spawn(writer::run(rx, store, clock.clone(), config.retention));
    let log = RequestLog(Arc::new(Shared { tx, clock, dropped }));
    (log, task)
}

/// Whether requests to this path are logged.
fn logged(path: &str) -> bool {
    ["/rest", "/wpcom", "/oauth2"].iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

fn capped(s: &str, cap: usize) -> String {
    match s.char_indices().nth(cap) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// The middleware (outside the conventions layer: it sees the path, the
/// status and the body as the client does).
pub async fn record(State(log): State<RequestLog>, mut req: Request, next: Next) -> Response {
    if !logged(req.uri().path()) {
        return next.run(req).await;
    }
    let started = Instant::now();
    let time = log.0.clock.now();
    let method = capped(req.method().as_str(), SHORT_CAP);
    let path = capped(req.uri().path(), PATH_CAP);
    let query = req.uri().query().map(str::to_string);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| capped(v, SHORT_CAP));
    let slot = KeySlot::default();
    req.extensions_mut().insert(slot.clone());
    let copy = Arc::new(Mutex::new(Captured::new(REQUEST_CAP)));
    let req = req.map(|b| Body::new(RequestTee::new(b, copy.clone())));
    let res = next.run(req).await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let status = res.status().as_u16();
    res.map(move |body| {
        Body::new(ResponseTee::new(body, RESPONSE_CAP, move |response| {
            let request = std::mem::take(&mut *copy.lock().unwrap_or_else(|p| p.into_inner()));
            let raw = Raw {
                time,
                method,
                path,
                query,
                content_type,
                request,
                status,
                latency_ms,
                identity: slot.0.get().copied(),
                response,
            };
            if log.0.tx.try_send(raw).is_err() {
                // Full (or the writer is gone at shutdown): never wait.
                log.0.dropped.inc();
            }
        }))
    })
}

/// A stored entry as the endpoint and `jpstart admin requests` show it.
pub fn shown(r: &LoggedRequestRecord) -> LoggedRequest {
    let e = &r.entry;
    let params = match serde_json::from_str(&e.params) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let at =
        std::time::UNIX_EPOCH + Duration::from_millis(e.time.as_millis().max(0).unsigned_abs());
    LoggedRequest {
        id: u64::try_from(r.id).unwrap_or(0),
        time: humantime::format_rfc3339_millis(at).to_string(),
        key_id: e.key_id.and_then(|k| u64::try_from(k.get()).ok()),
        method: e.method.clone(),
        path: e.path.clone(),
        status: e.status,
        error_code: e.error_code.clone(),
        latency_ms: u64::try_from(e.latency_ms).unwrap_or(0),
        params,
        response: serde_json::from_str(&e.response).unwrap_or(serde_json::Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_paths() {
        for p in [
            "/rest/v1.3/jpphp/provision",
            "/oauth2/token",
            "/wpcom/v2/x",
            "/rest",
        ] {
            assert!(logged(p), "{p}");
        }
        for p in [
            "/restx",
            "/metrics",
            "/authorize/abc",
            "/healthz",
            "/sandbox",
            "/",
        ] {
            assert!(!logged(p), "{p}");
        }
    }

    #[test]
    fn capped_cuts_at_a_character() {
        assert_eq!(capped("héllo", 2), "hé");
        assert_eq!(capped("ab", 5), "ab");
    }
}
