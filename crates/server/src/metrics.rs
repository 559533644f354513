//! Request metrics in the Prometheus text format (version 0.0.4).
//!
//! A small registry of our own rather than the `metrics` +
//! `metrics-exporter-prometheus` crates: three metric families with fixed
//! labels need a map and a mutex, not a recorder framework and its
//! dependency tree (a dozen more crates to build).
//!
//! Requests are labelled by route *template* (`/rest/jpphp/{site}/status`),
//! never by the raw path: a path carries site names and unknown paths are
//! unbounded. The template is recorded by [`record_route`], which runs inside
//! the router where the matched route is known, into a slot the outer
//! [`track`] middleware put in the request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The label of requests that matched no route (404s, OPTIONS).
const UNMATCHED: &str = "unmatched";

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Registry {
    /// (route, method, status) → requests answered.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latency.
    latency: BTreeMap<String, Histogram>,
}

/// The process's request metrics. Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Registry>>);

/// Where [`record_route`] leaves the matched route for [`track`].
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<String>>);

impl Metrics {
    fn observe(&self, route: String, method: String, status: u16, seconds: f64) {
        // A poisoned lock only means another request panicked mid-update;
        // the counters are still usable.
        let mut r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *r.requests
            .entry((route.clone(), method, status))
            .or_default() += 1;
        let h = r.latency.entry(route).or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
    }

    /// The exposition text: request counts and latency, then the live
    /// activations the caller read from the store (product → count).
    pub fn render(&self, live_by_product: &[(String, i64)]) -> String {
        let r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP jpstart_http_requests_total HTTP requests answered, by route template, method and status.\n");
        out.push_str("# TYPE jpstart_http_requests_total counter\n");
        for ((route, method, status), n) in &r.requests {
            let _ = writeln!(
                out,
                "jpstart_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        out.push_str("# HELP jpstart_http_request_duration_seconds Time from request to response head, by route template.\n");
        out.push_str("# TYPE jpstart_http_request_duration_seconds histogram\n");
        for (route, h) in &r.latency {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "jpstart_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "jpstart_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "jpstart_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "jpstart_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str(
            "# HELP jpstart_live_activations Live (pending or active) activations, by product.\n",
        );
        out.push_str("# TYPE jpstart_live_activations gauge\n");
        for (product, n) in live_by_product {
            let _ = writeln!(
                out,
                "jpstart_live_activations{{product=\"{}\"}} {n}",
                escape(product)
            );
        }
        out
    }
}

/// HTTP allows any token as a method; a label per made-up method would let
/// clients grow the registry without bound.
fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// Label values: backslash, double quote and newline escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Outermost middleware: times every request and counts its final status.
pub async fn track(State(metrics): State<Metrics>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method()).to_string();
    let slot = RouteSlot::default();
    req.extensions_mut().insert(slot.clone());
    let res = next.run(req).await;
    let route = slot
        .0
        .get()
        .cloned()
        .unwrap_or_else(|| UNMATCHED.to_string());
    metrics.observe(
        route,
        method,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

/// Route middleware (axum `route_layer`): tells [`track`] which route matched.
pub async fn record_route(req: Request, next: Next) -> Response {
    if let (Some(path), Some(slot)) = (
        req.extensions().get::<MatchedPath>(),
        req.extensions().get::<RouteSlot>(),
    ) {
        let _ = slot.0.set(path.as_str().to_string());
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_a_label() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
    }

    #[test]
    fn renders_counts_histogram_and_gauge() {
        let m = Metrics::default();
        m.observe("/a".into(), "GET".into(), 200, 0.003);
        m.observe("/a".into(), "GET".into(), 200, 2.0);
        m.observe("/a".into(), "POST".into(), 400, 0.0005);
        let text = m.render(&[("premium".into(), 3), ("odd\"slug".into(), 1)]);
        assert!(text.contains(
            "jpstart_http_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "jpstart_http_requests_total{route=\"/a\",method=\"POST\",status=\"400\"} 1\n"
        ));
        assert!(text.contains(
            "jpstart_http_request_duration_seconds_bucket{route=\"/a\",le=\"0.001\"} 1\n"
        ));
        assert!(text.contains(
            "jpstart_http_request_duration_seconds_bucket{route=\"/a\",le=\"0.005\"} 2\n"
        ));
        assert!(text.contains(
            "jpstart_http_request_duration_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"
        ));
        assert!(text.contains("jpstart_http_request_duration_seconds_count{route=\"/a\"} 3\n"));
        assert!(text.contains("jpstart_live_activations{product=\"premium\"} 3\n"));
        assert!(text.contains("jpstart_live_activations{product=\"odd\\\"slug\"} 1\n"));
    }
}
