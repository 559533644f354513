//! The background half of the request log: turns raw entries into stored
//! rows (parameters parsed as the endpoints parse them, secrets redacted,
//! the key found), inserts them in batches, and prunes old rows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use jpstart_types::{KeyId, PartnerId};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{redact, Identity, Raw, RESPONSE_CAP};
use crate::clock::{Clock, Timestamp};
use crate::store::{NewLoggedRequest, Store};

/// Entries per insert transaction at most.
const BATCH: usize = 500;
/// How long a batch waits for more entries once it has one.
const LINGER: Duration = Duration::from_millis(200);
/// How often (real time) the writer looks whether pruning is due.
const TICK: Duration = Duration::from_secs(1);
/// Pruning is due this long (clock time) after the last one: a test clock
/// moved forward prunes at the next tick.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Known keys remembered at most (keys are never deleted).
const KEY_CACHE: usize = 10_000;
/// The key of parameters that could not be kept.
const BODY_NOTE: &str = "(body)";

pub(super) async fn run(
    mut rx: mpsc::Receiver<Raw>,
    store: Arc<dyn Store>,
    clock: Clock,
    retention: Duration,
) {
    let mut keys = Keys::default();
    let mut buf = Vec::with_capacity(BATCH);
    let mut next_prune = Timestamp::EPOCH;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut buf, BATCH) => {
                if n == 0 {
                    break;
                }
                let open = linger(&mut rx, &mut buf).await;
                flush(store.as_ref(), &mut keys, &mut buf).await;
                if !open {
                    break;
                }
            }
            _ = tick.tick() => {
                let now = clock.now();
                if now >= next_prune {
                    next_prune = now.saturating_add(PRUNE_EVERY);
                    prune(store.as_ref(), now, retention).await;
                }
            }
        }
    }
}

/// Gathers more entries until the batch is full or [`LINGER`] is over;
/// `false` when the queue is closed (the server is stopping).
async fn linger(rx: &mut mpsc::Receiver<Raw>, buf: &mut Vec<Raw>) -> bool {
    let deadline = Instant::now() + LINGER;
    while buf.len() < BATCH {
        let room = BATCH - buf.len();
        match tokio::time::timeout_at(deadline, rx.recv_many(buf, room)).await {
            Ok(0) => return false,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    true
}

async fn flush(store: &dyn Store, keys: &mut Keys, buf: &mut Vec<Raw>) {
    let mut rows = Vec::with_capacity(buf.len());
    for raw in buf.drain(..) {
        rows.push(entry(raw, store, keys).await);
    }
    if let Err(e) = store.insert_requests(&rows).await {
        tracing::warn!(error = %e, entries = rows.len(), "request log: a batch could not be stored");
    }
}

async fn prune(store: &dyn Store, now: Timestamp, retention: Duration) {
    let ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let before = Timestamp::from_millis(now.as_millis().saturating_sub(ms));
    match store.prune_requests(before).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(pruned = n, "request log pruned"),
        Err(e) => tracing::warn!(error = %e, "request log: pruning failed"),
    }
}

/// The stored row of a raw entry.
async fn entry(raw: Raw, store: &dyn Store, keys: &mut Keys) -> NewLoggedRequest {
    let mut params = params(&raw).await;
    let identity = match raw.identity {
        Some(id) => Some(id),
        None if raw.path.trim_end_matches('/') == "/oauth2/token" => {
            let client_id = params.get("client_id").and_then(Value::as_str);
            keys.named_by(store, client_id).await
        }
        None => None,
    };
    let mut params_value = Value::Object(std::mem::take(&mut params));
    redact::value(&mut params_value);
    let (error_code, response) = response(&raw);
    NewLoggedRequest {
        time: raw.time,
        partner_id: identity.map(|i| i.partner_id),
        key_id: identity.and_then(|i| i.key_id),
        method: raw.method,
        path: redact::text(&raw.path).into_owned(),
        status: raw.status,
        error_code,
        latency_ms: raw.latency_ms,
        params: params_value.to_string(),
        response: response.to_string(),
    }
}

/// Query and body parameters as the endpoints read them
/// ([`crate::rest::params::collect`]), unredacted; a body that was cut at
/// the cap or does not parse is noted, not kept.
async fn params(raw: &Raw) -> Map<String, Value> {
    let query_only = || {
        let q = raw.query.as_deref().unwrap_or("");
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect::<Map<_, _>>()
    };
    let body = &raw.request;
    if body.truncated() {
        let mut map = query_only();
        let note = format!("[not kept: {} bytes, over the cap]", body.seen);
        map.insert(BODY_NOTE.into(), Value::String(note));
        return map;
    }
    let uri = match &raw.query {
        Some(q) => format!("/?{q}"),
        None => "/".to_string(),
    };
    let mut req = Request::builder().uri(uri);
    if let Some(ct) = &raw.content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let Ok(req) = req.body(Body::from(body.bytes.clone())) else {
        return query_only();
    };
    match crate::rest::params::collect(req).await {
        Ok(map) => map,
        Err(_) => {
            let mut map = query_only();
            let note = format!("[not kept: {} bytes that do not parse]", body.seen);
            map.insert(BODY_NOTE.into(), Value::String(note));
            map
        }
    }
}

/// The catalogued `error` of the body, if any, and the body as stored.
fn response(raw: &Raw) -> (Option<String>, Value) {
    let body = &raw.response;
    if is_request_log_read(&raw.path) {
        // Each read would otherwise store the entries it read again.
        return (
            None,
            Value::String("[not kept: a read of the request log]".into()),
        );
    }
    if body.truncated() {
        let note = format!(
            "[not kept: {} bytes, over the {RESPONSE_CAP}-byte cap]",
            body.seen
        );
        return (None, Value::String(note));
    }
    if body.bytes.is_empty() {
        return (None, Value::Null);
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&body.bytes) else {
        let note = format!("[not kept: {} bytes, not JSON]", body.seen);
        return (None, Value::String(note));
    };
    let code = error_code(&v);
    redact::value(&mut v);
    (code, v)
}

/// `error` of an error body, also inside an `http_envelope`.
fn error_code(v: &Value) -> Option<String> {
    let enveloped = v.get("headers").is_some() && v.get("code").is_some_and(Value::is_number);
    let body = if enveloped { v.get("body")? } else { v };
    let code = body.get("error")?.as_str()?;
    (!code.is_empty()).then(|| super::capped(code, 100))
}

fn is_request_log_read(path: &str) -> bool {
    path.starts_with("/wpcom/") && path.trim_end_matches('/').ends_with("/requests")
}

/// The keys token requests name, remembered once found.
#[derive(Default)]
struct Keys(HashMap<i64, PartnerId>);

impl Keys {
    /// The key a `client_id` names, if it exists (key ids are client ids).
    async fn named_by(&mut self, store: &dyn Store, client_id: Option<&str>) -> Option<Identity> {
        let id = client_id?.trim().parse::<i64>().ok().filter(|id| *id > 0)?;
        let identity = |partner_id| Identity {
            key_id: Some(KeyId::new(id)),
            partner_id,
        };
        if let Some(p) = self.0.get(&id) {
            return Some(identity(*p));
        }
        let key = store.key(KeyId::new(id)).await.ok().flatten()?;
        if self.0.len() >= KEY_CACHE {
            self.0.clear();
        }
        self.0.insert(id, key.partner_id);
        Some(identity(key.partner_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_codes() {
        assert_eq!(
            error_code(&json!({"error": "invalid_blog", "message": "m"})).as_deref(),
            Some("invalid_blog")
        );
        assert_eq!(
            error_code(&json!({"code": 400, "headers": [], "body": {"error": "invalid_plan"}}))
                .as_deref(),
            Some("invalid_plan")
        );
        assert_eq!(error_code(&json!({"success": true})), None);
        assert_eq!(error_code(&json!({"error": ""})), None);
        assert_eq!(error_code(&json!([1])), None);
    }

    #[test]
    fn request_log_reads() {
        assert!(is_request_log_read("/wpcom/v2/jetpack-partners/1/requests"));
        assert!(!is_request_log_read("/rest/v1.3/jpphp/requests"));
    }
}
