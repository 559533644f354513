//! The load generator: N persistent HTTP/1.1 keep-alive connections to
//! 127.0.0.1, each sending its next request as soon as the previous answer
//! has been read (closed loop), for a fixed measured window after a warm-up.
//! Per-request latency goes into an HDR histogram per connection; the
//! histograms are merged at the end.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::seed::{CANCEL_PREFIX, SEED_SUFFIX, STATUS_PREFIX};

/// What a scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GET /bench/hello`: the HTTP-stack floor.
    Hello,
    /// `POST /oauth2/token`.
    Token,
    /// `GET /rest/v1.4/jpphp/{site}/status` of a random seeded site.
    Status,
    /// `POST /rest/v1.3/jpphp/provision` of a new site.
    Provision,
    /// `POST /rest/v1.3/jpphp/{site}/partner-cancel` of a seeded activation.
    Cancel,
    /// 80% status, 15% provision, 5% cancel.
    Mixed,
}

impl Kind {
    /// Every scenario, in the order of the matrix; hello first: the floor of
    /// the others.
    pub const ALL: [Kind; 6] = [
        Kind::Hello,
        Kind::Token,
        Kind::Status,
        Kind::Provision,
        Kind::Cancel,
        Kind::Mixed,
    ];

    /// The `--scenarios` name.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::Token => "token",
            Kind::Status => "status",
            Kind::Provision => "provision",
            Kind::Cancel => "cancel",
            Kind::Mixed => "mixed",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Hello => "hello (floor)",
            Kind::Token => "token issue",
            Kind::Status => "status v1.4",
            Kind::Provision => "provision",
            Kind::Cancel => "cancel",
            Kind::Mixed => "mixed 80/15/5",
        }
    }
}

/// The data requests are built from; one per server, shared by scenarios.
pub struct Plan {
    pub addr: SocketAddr,
    /// `Bearer TOKEN`.
    pub bearer: String,
    /// The urlencoded body of a token request.
    pub token_form: String,
    /// Seeded sites with a live activation: `s1 ..= sN`.
    pub status_sites: u64,
    /// Seeded activations to cancel: `c1 ..= cN`, each cancelled once.
    pub cancel_sites: u64,
    pub cancel_next: AtomicU64,
    /// Numbers new provisioned sites so that each request registers one.
    pub provision_next: AtomicU64,
}

struct Req {
    method: Method,
    path: String,
    body: Option<String>,
    auth: bool,
    /// A substring the answer must contain: the request did its work.
    expect: &'static str,
}

impl Plan {
    fn request(&self, kind: Kind, rng: &mut Rng) -> Option<Req> {
        match kind {
            Kind::Hello => Some(Req {
                method: Method::GET,
                path: "/bench/hello".into(),
                body: None,
                auth: false,
                expect: "\"hello\"",
            }),
            Kind::Token => Some(Req {
                method: Method::POST,
                path: "/oauth2/token".into(),
                body: Some(self.token_form.clone()),
                auth: false,
                expect: "\"access_token\"",
            }),
            Kind::Status => {
                let i = 1 + rng.next() % self.status_sites.max(1);
                Some(Req {
                    method: Method::GET,
                    path: format!("/rest/v1.4/jpphp/{STATUS_PREFIX}{i}{SEED_SUFFIX}/status"),
                    body: None,
                    auth: true,
                    expect: "\"is_provisioned_by_calling_partner\":true",
                })
            }
            Kind::Provision => {
                let n = self.provision_next.fetch_add(1, Ordering::Relaxed);
                let url = format!("https://p{n}.provision.bench/");
                let body: String = form_urlencoded::Serializer::new(String::new())
                    .append_pair("siteurl", &url)
                    .append_pair("local_user", "admin")
                    .append_pair("plan", "premium")
                    .finish();
                Some(Req {
                    method: Method::POST,
                    path: "/rest/v1.3/jpphp/provision".into(),
                    body: Some(body),
                    auth: true,
                    expect: "\"success\":true",
                })
            }
            Kind::Cancel => {
                let i = 1 + self.cancel_next.fetch_add(1, Ordering::Relaxed);
                (i <= self.cancel_sites).then(|| Req {
                    method: Method::POST,
                    path: format!(
                        "/rest/v1.3/jpphp/{CANCEL_PREFIX}{i}{SEED_SUFFIX}/partner-cancel"
                    ),
                    body: Some(String::new()),
                    auth: true,
                    // Without cancel-all the answer lists nothing; it is
                    // `success: false` when nothing was cancelled.
                    expect: "\"success\":true",
                })
            }
            Kind::Mixed => {
                let roll = rng.next() % 100;
                let pick = if roll < 80 {
                    Kind::Status
                } else if roll < 95 {
                    Kind::Provision
                } else {
                    Kind::Cancel
                };
                // An exhausted cancel pool must not end a mixed run.
                self.request(pick, rng)
                    .or_else(|| self.request(Kind::Status, rng))
            }
        }
    }
}

/// What one scenario run measured on the client side.
pub struct LoadResult {
    /// Requests completed (successfully) inside the measured window.
    pub ok: u64,
    /// Requests sent, warm-up included (what a request log should record).
    pub sent: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Latency of successful requests, in microseconds.
    pub hist: Histogram<u64>,
    pub window: Duration,
    /// The cancel pool ran out before the window ended.
    pub exhausted: bool,
}

impl LoadResult {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }
}

/// The measured window, with hooks run at its start and end (server CPU
/// and memory snapshots) by the caller via [`run`]'s `at_start`/`at_end`.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    to: Instant,
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Runs `kind` on `conns` connections: `warmup`, then `duration` measured.
/// `at_start` runs when the measured window opens, `at_end` when it closes.
pub async fn run<S, E>(
    plan: Arc<Plan>,
    kind: Kind,
    conns: usize,
    warmup: Duration,
    duration: Duration,
    at_start: S,
    at_end: E,
) -> LoadResult
where
    S: FnOnce() + Send + 'static,
    E: FnOnce() + Send + 'static,
{
    let now = Instant::now();
    let window = Window {
        from: now + warmup,
        to: now + warmup + duration,
    };
    let marks = tokio::spawn(async move {
        tokio::time::sleep_until(window.from.into()).await;
        at_start();
        tokio::time::sleep_until(window.to.into()).await;
        at_end();
    });
    let tasks: Vec<_> = (0..conns)
        .map(|i| tokio::spawn(connection(plan.clone(), kind, window, i as u64)))
        .collect();
    let mut total = LoadResult {
        ok: 0,
        sent: 0,
        errors: 0,
        first_error: None,
        hist: new_histogram(),
        window: duration,
        exhausted: false,
    };
    for t in tasks {
        let r = match t.await {
            Ok(r) => r,
            Err(e) => ConnResult::failed(format!("connection task: {e}")),
        };
        total.ok += r.ok;
        total.sent += r.sent;
        total.errors += r.errors;
        total.exhausted |= r.exhausted;
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
        if let Err(e) = total.hist.add(&r.hist) {
            total.first_error.get_or_insert(format!("histogram: {e}"));
        }
    }
    let _ = marks.await;
    total
}

struct ConnResult {
    ok: u64,
    sent: u64,
    errors: u64,
    first_error: Option<String>,
    hist: Histogram<u64>,
    exhausted: bool,
}

impl ConnResult {
    fn empty() -> Self {
        ConnResult {
            ok: 0,
            sent: 0,
            errors: 0,
            first_error: None,
            hist: new_histogram(),
            exhausted: false,
        }
    }

    fn failed(msg: String) -> Self {
        ConnResult {
            errors: 1,
            first_error: Some(msg),
            ..ConnResult::empty()
        }
    }
}

async fn connection(plan: Arc<Plan>, kind: Kind, window: Window, seed: u64) -> ConnResult {
    let stream = match TcpStream::connect(plan.addr).await {
        Ok(s) => s,
        Err(e) => return ConnResult::failed(format!("connect: {e}")),
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await {
            Ok(x) => x,
            Err(e) => return ConnResult::failed(format!("handshake: {e}")),
        };
    tokio::spawn(conn);
    let mut out = ConnResult::empty();
    let mut rng = Rng::new(seed);
    let host = plan.addr.to_string();
    while Instant::now() < window.to {
        let Some(r) = plan.request(kind, &mut rng) else {
            out.exhausted = true;
            break;
        };
        let mut b = Request::builder()
            .method(r.method)
            .uri(&r.path)
            .header(HOST, &host);
        if r.auth {
            b = b.header(AUTHORIZATION, &plan.bearer);
        }
        if r.body.is_some() {
            b = b.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let req = match b.body(Full::new(Bytes::from(r.body.unwrap_or_default()))) {
            Ok(req) => req,
            Err(e) => return ConnResult::failed(format!("request: {e}")),
        };
        let started = Instant::now();
        out.sent += 1;
        let (outcome, transport_ok) = match sender.send_request(req).await {
            Ok(res) => {
                let status = res.status();
                match res.into_body().collect().await {
                    Ok(body) => {
                        let body = body.to_bytes();
                        if status.is_success() && contains(&body, r.expect.as_bytes()) {
                            (Ok(()), true)
                        } else {
                            let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
                            let e = format!("{} {}: {status} {text}", kind.name(), r.path);
                            (Err(e), true)
                        }
                    }
                    Err(e) => (Err(format!("reading body: {e}")), false),
                }
            }
            Err(e) => (Err(format!("send: {e}")), false),
        };
        let done = Instant::now();
        match outcome {
            Ok(()) if done >= window.from && done <= window.to => {
                out.ok += 1;
                let us = u64::try_from((done - started).as_micros()).unwrap_or(u64::MAX);
                out.hist.saturating_record(us.max(1));
            }
            Ok(()) => {}
            // Errors during warm-up count too: they mean a broken setup.
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(e);
            }
        }
        if !transport_ok || sender.ready().await.is_err() {
            out.errors += 1;
            out.first_error
                .get_or_insert_with(|| "connection closed by the server".into());
            break;
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// xorshift64*: the request mix needs speed, not quality.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// One request on a fresh connection (setup, not measured): status and body.
pub async fn once(
    addr: SocketAddr,
    method: Method,
    path: &str,
    form: Option<String>,
) -> Result<(u16, String), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string());
    if form.is_some() {
        b = b.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let req = b
        .body(Full::new(Bytes::from(form.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    let status = res.status().as_u16();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{path}: {e}"))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
