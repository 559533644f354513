//! A webhook receiver on loopback for the webhook tests: a real HTTP server
//! (axum) that records every request, answers as told, verifies nothing
//! itself, and notices when two requests for one event overlap in time.
//! The HMAC check is here too, written from SHA-256 by hand (RFC 2104), so
//! that it shares no code with the server's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How the receiver answers one request.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 `ok`.
    Ok,
    Status(u16),
    /// Waits this long, then 200 (longer than the server's timeout: a timeout).
    Hang(Duration),
    /// 200 with this body (the Monitor receiver's `ok` / ISO 8601 time).
    Body(String),
    /// Waits, then 200: a slow receiver, to widen the window of overlaps.
    Slow(Duration),
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub body: String,
    pub signature: Option<String>,
    pub content_type: Option<String>,
    /// The JSON body (`Value::Null` if it is not JSON).
    pub json: Value,
    pub at: Instant,
}

impl Hit {
    pub fn event_id(&self) -> String {
        self.json["id"].as_str().unwrap_or_default().to_string()
    }

    pub fn kind(&self) -> String {
        self.json["type"].as_str().unwrap_or_default().to_string()
    }
}

#[derive(Default)]
struct Inner {
    hits: Mutex<Vec<Hit>>,
    /// Answers to give, in order; then `default`.
    script: Mutex<VecDeque<Answer>>,
    default: Mutex<Option<Answer>>,
    in_flight: Mutex<HashMap<String, usize>>,
    overlaps: Mutex<Vec<String>>,
}

/// A running receiver; stops with the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(receive).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            inner,
        }
    }

    /// Answers for the next requests, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.script.lock().unwrap().extend(answers);
    }

    /// The answer once the script is used up (default: [`Answer::Ok`]).
    pub fn always(&self, answer: Answer) {
        *self.inner.default.lock().unwrap() = Some(answer);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.inner.hits.lock().unwrap().clone()
    }

    /// Event ids two requests of which were in flight at once.
    pub fn overlaps(&self) -> Vec<String> {
        self.inner.overlaps.lock().unwrap().clone()
    }

    /// Waits until `done(hits)`; panics after `within`.
    pub async fn wait_until(&self, within: Duration, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits();
            if done(&hits) {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver did not get what was expected within {within:?}; it got {:#?}",
                hits.iter()
                    .map(|h| (h.kind(), h.event_id()))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).to_string();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let hit = Hit {
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        body: text,
        signature: header("jpstart-signature"),
        content_type: header("content-type"),
        at: Instant::now(),
    };
    let id = hit.event_id();
    inner.hits.lock().unwrap().push(hit);
    {
        let mut flying = inner.in_flight.lock().unwrap();
        let n = flying.entry(id.clone()).or_default();
        *n += 1;
        if *n > 1 {
            inner.overlaps.lock().unwrap().push(id.clone());
        }
    }
    let answer = inner
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| inner.default.lock().unwrap().clone())
        .unwrap_or(Answer::Ok);
    let res = match answer {
        Answer::Ok => (StatusCode::OK, "ok".to_string()).into_response(),
        Answer::Status(s) => (StatusCode::from_u16(s).unwrap(), "no").into_response(),
        Answer::Hang(d) | Answer::Slow(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "ok".to_string()).into_response()
        }
        Answer::Body(b) => (StatusCode::OK, b).into_response(),
    };
    if let Some(n) = inner.in_flight.lock().unwrap().get_mut(&id) {
        *n -= 1;
    }
    res
}

/// HMAC-SHA256 (RFC 2104) from the SHA-256 function alone.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = if key.len() > BLOCK {
        Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(BLOCK, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Checks `Jpstart-Signature: t=UNIX,v1=HEX` as a partner would: HEX is
/// the HMAC of `"{t}.{body}"` under the whole secret, and `t` is within
/// five minutes of the receiver's wall clock. Returns `t`.
pub fn verify_signature(secret: &str, header: &str, body: &str) -> i64 {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v.to_string()),
            _ => {}
        }
    }
    let t = t.unwrap_or_else(|| panic!("no t in {header:?}"));
    let v1 = v1.unwrap_or_else(|| panic!("no v1 in {header:?}"));
    let want: String = hmac_sha256(secret.as_bytes(), format!("{t}.{body}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, want, "signature of {body}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - t).abs() < 300, "t={t} is not the wall clock ({now})");
    t
}

#[test]
fn hmac_known_answers() {
    // RFC 4231, test cases 1 and 2.
    let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(hmac_sha256(&[0x0b; 20], b"Hi There")),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
    assert_eq!(
        hex(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}
