//! Provision throughput with a webhook endpoint registered against none,
//! in one run on one server (issue 16): the outbox writes an event and a
//! delivery in every provision's transaction and the dispatcher sends them
//! to a local receiver answering 200, so the difference is what webhooks
//! cost. The endpoint-less window runs before and after (the database grows
//! in between), and the comparison is with their mean.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::load::Kind;
use crate::report::Row;
use crate::run::{measure, plan, progress};
use crate::server::{self, Server};
use crate::{Args, Settings};

/// The three windows, and what the receiver got.
pub struct WebhookRow {
    pub conns: usize,
    pub none_before: Row,
    pub with_hook: Row,
    pub none_after: Row,
    /// Provisions sent while the endpoint existed (warm-up included): each
    /// makes one `activation.pending` event for it.
    pub events: u64,
    /// How long after the endpoint's window the receiver had a delivery
    /// of every one of `events`; `None`: not within `waited`.
    pub caught_up: Option<Duration>,
    pub waited: Duration,
    /// Deliveries the receiver had when the wait ended.
    pub delivered_by_then: u64,
    /// Deliveries the receiver got, by the end of the comparison.
    pub delivered: u64,
}

impl WebhookRow {
    /// The report's section.
    pub fn markdown(&self, o: &mut String) {
        let w = self;
        let _ = writeln!(
            o,
            "#### Webhooks (SQLite, {} connections)\n\nProvision of new sites on one server: no endpoint, then one endpoint wanting `activation.pending` (each provision writes an event and a delivery in its transaction; the dispatcher sends them to a local receiver answering 200), then no endpoint again. × none compares with the mean of the two windows without. The outbox must not halve provision throughput.\n",
            w.conns
        );
        let _ = writeln!(
            o,
            "| window | provision req/s | × none | p50 ms | p99 ms | server CPU µs/req | × none | errors |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|");
        let mean = |f: fn(&Row) -> Option<f64>| {
            Some((f(&w.none_before)? + f(&w.none_after)?) / 2.0).filter(|m| *m > 0.0)
        };
        let rate = mean(|r| Some(r.rate));
        let cpu = mean(|r| r.cpu_us_per_req);
        for (name, r) in [
            ("no endpoint", &w.none_before),
            ("one endpoint", &w.with_hook),
            ("no endpoint again", &w.none_after),
        ] {
            let _ = writeln!(
                o,
                "| {name} | {:.0} | {} | {} | {} | {} | {} | {} |",
                r.rate,
                times(Some(r.rate), rate),
                ms(r.p50_us),
                ms(r.p99_us),
                r.cpu_us_per_req
                    .map_or("–".to_string(), |c| format!("{c:.0}")),
                times(r.cpu_us_per_req, cpu),
                r.errors
            );
        }
        let sending = match w.caught_up {
            Some(d) => format!(
                "the receiver had a delivery of each of the {} events made while the endpoint existed {:.1} s after its window closed",
                w.events,
                d.as_secs_f64()
            ),
            None => format!(
                "{} of the {} events made while the endpoint existed had reached the receiver {:.1} s after its window closed: the dispatcher sends more slowly than provisions make events, so the window does not include the cost of sending them all",
                w.delivered_by_then,
                w.events,
                w.waited.as_secs_f64()
            ),
        };
        let _ = writeln!(
            o,
            "\nWith an endpoint: **×{:.2}** of the throughput without; {sending}. By the end the receiver got {} deliveries (what was still queued when the endpoint was deleted is given up).\n",
            w.ratio(),
            w.delivered,
        );
    }

    /// Any window with errors or none completed, or no delivery at all (the
    /// comparison would not measure sending).
    pub fn failed(&self) -> bool {
        [&self.none_before, &self.with_hook, &self.none_after]
            .into_iter()
            .any(Row::failed)
            || self.delivered == 0
    }

    /// With an endpoint, as a share of the mean without.
    pub fn ratio(&self) -> f64 {
        let none = (self.none_before.rate + self.none_after.rate) / 2.0;
        if none > 0.0 {
            self.with_hook.rate / none
        } else {
            0.0
        }
    }
}

/// A receiver on 127.0.0.1 that answers every request 200 and counts them.
async fn receiver() -> Result<(SocketAddr, Arc<AtomicU64>), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("receiver: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    seen.fetch_add(1, Ordering::Relaxed);
                    async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("ok")))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, count))
}

/// One authenticated request; status and body.
pub(crate) async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    bearer: &str,
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
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string())
        .header(AUTHORIZATION, bearer)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
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

/// Registers an endpoint for `activation.pending` at the receiver; its
/// path, for the deletion.
async fn register(
    addr: SocketAddr,
    bearer: &str,
    partner: i64,
    receiver: SocketAddr,
) -> Result<String, String> {
    let hooks = format!("/wpcom/v2/jetpack-partners/{partner}/webhooks");
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("url", &format!("http://{receiver}/hook"))
        .append_pair("events[]", "activation.pending")
        .finish();
    let (status, body) = call(addr, Method::POST, &hooks, bearer, Some(form)).await?;
    if status != 200 {
        return Err(format!("registering the webhook answered {status}: {body}"));
    }
    let id = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_i64())
        .ok_or_else(|| format!("webhook answer without an id: {body}"))?;
    Ok(format!("{hooks}/{id}"))
}

/// Waits up to `limit` for `events` deliveries: how long it took, or
/// `None` when they did not all arrive in time.
async fn drain(delivered: &AtomicU64, events: u64, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if delivered.load(Ordering::Relaxed) >= events {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the three windows on a fresh SQLite database.
pub async fn compare(args: &Args, settings: &Settings, dir: &Path) -> Result<WebhookRow, String> {
    let url = format!("sqlite://{}", dir.join("webhooks.db").display());
    let creds = server::create_partner(&args.jpstart, &url).await?;
    let log = dir.join("server-webhooks.log");
    let srv = Server::start_with(&args.jpstart, &url, &log, &["--webhook-allow-private"]).await?;
    let result = async {
        let plan = plan(&srv, &creds, 1, 0).await?;
        let conns = settings.connections[0];
        let (rx_addr, delivered) = receiver().await?;
        progress(&format!("webhooks: provision × {conns}, no endpoint"));
        let none_before = measure(&srv, &plan, Kind::Provision, conns, settings).await;
        let item = register(srv.addr, &plan.bearer, creds.partner_id, rx_addr).await?;
        progress(&format!("webhooks: provision × {conns}, one endpoint"));
        let first = plan.provision_next.load(Ordering::Relaxed);
        let with_hook = measure(&srv, &plan, Kind::Provision, conns, settings).await;
        let events = plan
            .provision_next
            .load(Ordering::Relaxed)
            .saturating_sub(first);
        // The backlog is part of the cost: give the dispatcher a window's
        // length to send it before the endpoint goes.
        let waited = settings.duration;
        let caught_up = drain(&delivered, events, waited).await;
        let delivered_by_then = delivered.load(Ordering::Relaxed);
        let (status, body) = call(srv.addr, Method::DELETE, &item, &plan.bearer, None).await?;
        if status != 200 {
            return Err(format!("deleting the webhook answered {status}: {body}"));
        }
        progress(&format!("webhooks: provision × {conns}, no endpoint again"));
        let none_after = measure(&srv, &plan, Kind::Provision, conns, settings).await;
        // What was queued while the endpoint existed and not yet sent was
        // given up at its deletion; let in-flight attempts land.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok::<_, String>(WebhookRow {
            conns,
            none_before,
            with_hook,
            none_after,
            events,
            caught_up,
            waited,
            delivered_by_then,
            delivered: delivered.load(Ordering::Relaxed),
        })
    }
    .await;
    let row = match result {
        Ok(r) => r,
        Err(e) => return Err(format!("{e}\nserver log:\n{}", srv.log_tail())),
    };
    srv.stop().await;
    Ok(row)
}

fn times(v: Option<f64>, base: Option<f64>) -> String {
    match (v, base) {
        (Some(v), Some(b)) if b > 0.0 => format!("{:.2}×", v / b),
        _ => "–".to_string(),
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_row;

    fn row(rate: f64, cpu: f64) -> Row {
        Row {
            cpu_us_per_req: Some(cpu),
            ..sample_row(Kind::Provision, 16, rate, 20.0)
        }
    }

    #[test]
    fn ratios_to_the_mean_without_and_what_fails() {
        let mut w = WebhookRow {
            conns: 16,
            none_before: row(400.0, 1000.0),
            with_hook: row(300.0, 1500.0),
            none_after: row(600.0, 1000.0),
            events: 2100,
            caught_up: None,
            waited: Duration::from_secs(6),
            delivered_by_then: 1500,
            delivered: 2000,
        };
        assert!((w.ratio() - 0.6).abs() < 1e-9);
        assert!(!w.failed());
        let mut o = String::new();
        w.markdown(&mut o);
        assert!(o.contains("| one endpoint | 300 | 0.60× |"), "{o}");
        assert!(o.contains("| 1500 | 1.50× | 0 |"), "{o}");
        assert!(
            o.contains("1500 of the 2100 events made while the endpoint existed had reached the receiver 6.0 s after"),
            "{o}"
        );
        assert!(
            o.contains("By the end the receiver got 2000 deliveries"),
            "{o}"
        );
        w.caught_up = Some(Duration::from_millis(1500));
        let mut o = String::new();
        w.markdown(&mut o);
        assert!(
            o.contains("each of the 2100 events made while the endpoint existed 1.5 s after"),
            "{o}"
        );
        w.delivered = 0;
        assert!(w.failed());
        w.delivered = 1;
        w.none_after.errors = 2;
        assert!(w.failed());
    }
}
