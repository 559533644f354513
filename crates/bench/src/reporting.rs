//! The reporting scenario (SPEC §8, issue 14): the activations list of one
//! key, `GET /wpcom/v2/jetpack-partners/{partner}/key/{key}/activations`,
//! against a key holding 10k and then 1M activations, each size on a fresh
//! SQLite database seeded in a few big statements ([`seed::seed`]).
//!
//! One keep-alive connection, closed loop: this measures the latency of
//! one request, which is what an index-backed query keeps flat as the key
//! grows (the page walks `activations_key_created` backwards; `total`
//! counts the key's entries of the same index). Two pages: the first, and
//! page 500 (rows 9 981–10 000, the last page at 10k).

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::load::{self, new_histogram};
use crate::seed::{self, Backend, STATUS_PREFIX};
use crate::server::{self, Server};

/// `--reporting SIZES`: the reporting scenario alone.
pub async fn only(
    args: &crate::Args,
    settings: &crate::Settings,
    sizes: &[String],
) -> std::process::ExitCode {
    let sizes: Result<Vec<u64>, String> = sizes.iter().map(|s| crate::parse_count(s)).collect();
    let dir = tempfile::Builder::new()
        .prefix("jpstart-bench-")
        .tempdir_in(args.dir.clone().unwrap_or_else(std::env::temp_dir));
    let result = match (sizes, dir) {
        (Ok(sizes), Ok(dir)) => {
            run(
                &args.jpstart,
                dir.path(),
                &sizes,
                settings.warmup,
                settings.duration,
            )
            .await
        }
        (Err(e), _) => Err(e),
        (_, Err(e)) => Err(format!("cannot make a temporary directory: {e}")),
    };
    match result {
        Ok(text) => {
            println!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("jpstart-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The pages measured at each size.
const PAGES: [u32; 2] = [1, 500];

/// One size's figures.
struct SizeResult {
    size: u64,
    seed_time: Duration,
    /// Per page of [`PAGES`]: requests, p50 and p99 in µs.
    pages: Vec<(u64, u64, u64)>,
}

/// Runs the scenario at each size and returns its markdown section.
pub async fn run(
    bin: &Path,
    dir: &Path,
    sizes: &[u64],
    warmup: Duration,
    duration: Duration,
) -> Result<String, String> {
    let mut results = Vec::new();
    for &size in sizes {
        results.push(one_size(bin, dir, size, warmup, duration).await?);
    }
    Ok(markdown(&results, duration))
}

async fn one_size(
    bin: &Path,
    dir: &Path,
    size: u64,
    warmup: Duration,
    duration: Duration,
) -> Result<SizeResult, String> {
    let url = format!(
        "sqlite://{}",
        dir.join(format!("reporting-{size}.db")).display()
    );
    let made = server::admin(bin, &url, &["partner", "create", "--name", "Report"]).await?;
    let (Some(partner), Some(key), Some(secret)) = (
        made["partner_id"].as_u64(),
        made["key_id"].as_i64(),
        made["client_secret"].as_str(),
    ) else {
        return Err(format!("partner create printed {made}"));
    };
    eprintln!("jpstart-bench: reporting: seeding {size} activations of one key");
    let t = Instant::now();
    seed::seed(Backend::Sqlite, &url, key, STATUS_PREFIX, size)
        .await
        .map_err(|e| format!("seeding: {e}"))?;
    let seed_time = t.elapsed();
    let srv = Server::start(bin, &url, &dir.join(format!("server-reporting-{size}.log"))).await?;
    let result = async {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &key.to_string())
            .append_pair("client_secret", secret)
            .append_pair("scope", "jetpack-partner")
            .finish();
        let (status, body) =
            load::once(srv.addr, Method::POST, "/oauth2/token", Some(form)).await?;
        let token: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("token ({status}): {e}"))?;
        let bearer = format!(
            "Bearer {}",
            token["access_token"].as_str().unwrap_or_default()
        );
        let mut pages = Vec::new();
        for page in PAGES {
            let path = format!(
                "/wpcom/v2/jetpack-partners/{partner}/key/{key}/activations?page={page}&per_page=20"
            );
            eprintln!("jpstart-bench: reporting {size}: page {page}");
            pages.push(measure(&srv, &bearer, &path, size, warmup, duration).await?);
        }
        Ok::<_, String>(pages)
    }
    .await;
    let pages = match result {
        Ok(p) => p,
        Err(e) => return Err(format!("{e}\nserver log:\n{}", srv.log_tail())),
    };
    srv.stop().await;
    Ok(SizeResult {
        size,
        seed_time,
        pages,
    })
}

/// Requests, p50 and p99 (µs) of `path` on one connection.
async fn measure(
    srv: &Server,
    bearer: &str,
    path: &str,
    size: u64,
    warmup: Duration,
    duration: Duration,
) -> Result<(u64, u64, u64), String> {
    let stream = TcpStream::connect(srv.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let mut hist = new_histogram();
    let start = Instant::now();
    let (from, to) = (start + warmup, start + warmup + duration);
    let want_total = format!("{{\"total\":{size},");
    while Instant::now() < to {
        let req = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(HOST, srv.addr.to_string())
            .header(AUTHORIZATION, bearer)
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let t = Instant::now();
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = res.status();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{path}: {e}"))?
            .to_bytes();
        let done = Instant::now();
        if !status.is_success() || !body.starts_with(want_total.as_bytes()) {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
            return Err(format!("{path}: {status} {text}"));
        }
        if done >= from {
            let us = u64::try_from((done - t).as_micros()).unwrap_or(u64::MAX);
            hist.saturating_record(us.max(1));
        }
        sender
            .ready()
            .await
            .map_err(|e| format!("{path}: the server closed the connection: {e}"))?;
    }
    Ok((
        hist.len(),
        hist.value_at_quantile(0.50),
        hist.value_at_quantile(0.99),
    ))
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn markdown(results: &[SizeResult], duration: Duration) -> String {
    let mut out = String::from(
        "### Reporting: the activations list at 10k and 1M activations of one key\n\n\
         One connection, closed loop, `per_page=20`; SQLite, each size on a fresh database.\n\n\
         | activations of the key | seed | page | requests | p50 ms | p99 ms |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in results {
        for (page, (n, p50, p99)) in PAGES.iter().zip(&r.pages) {
            out += &format!(
                "| {} | {:.1} s | {page} | {n} | {} | {} |\n",
                r.size,
                r.seed_time.as_secs_f64(),
                ms(*p50),
                ms(*p99)
            );
        }
    }
    if let (Some(small), Some(large)) = (results.first(), results.last()) {
        for (i, page) in PAGES.iter().enumerate() {
            if let (Some(a), Some(b)) = (small.pages.get(i), large.pages.get(i)) {
                out += &format!(
                    "\nPage {page}: p50 at {} ÷ p50 at {} = **{:.2}**",
                    large.size,
                    small.size,
                    b.1 as f64 / a.1.max(1) as f64
                );
            }
        }
        out += &format!(" (window {:.0} s per row).\n", duration.as_secs_f64());
    }
    out
}
