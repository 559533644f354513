//! Request metrics in the Prometheus text format (version 0.0.4), through
//! `prometheus-client` (its registry, families and text encoder).
//!
//! `prometheus-client` rather than `metrics` + `metrics-exporter-prometheus`:
//! three more crates to build against about fourteen, and no global recorder
//! (each [`Metrics`] is its own registry, so unit tests do not share one).
//!
//! Requests are labelled by route *template* (`/rest/jpphp/{site}/status`),
//! never by the raw path: a path carries site names and unknown paths are
//! unbounded. The template is recorded by [`record_route`], which runs inside
//! the router where the matched route is known, into a slot the outer
//! [`track`] middleware put in the request.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The label of requests that matched no route (404s, OPTIONS).
const UNMATCHED: &str = "unmatched";

/// Labels in this order on the wire.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProductLabels {
    product: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    live: Family<ProductLabels, Gauge>,
    /// Request-log entries dropped because its queue was full (SPEC §9).
    request_log_dropped: Counter,
    webhook_attempts: Family<OutcomeLabels, Counter>,
    webhook_queue: Gauge,
    webhook_oldest: Gauge,
    /// One scrape at a time: each replaces the whole live gauge family.
    scrape: Mutex<()>,
}

/// The process's request metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Latency = Family::new_with_constructor(|| Histogram::new(BUCKETS));
        let live = Family::<ProductLabels, Gauge>::default();
        let mut registry = Registry::default();
        // The encoder appends `_total` to a counter's name and a full stop
        // to each help text.
        registry.register(
            "jpstart_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "jpstart_http_request_duration_seconds",
            "Time from request to response head, by route template",
            latency.clone(),
        );
        registry.register(
            "jpstart_live_activations",
            "Live (pending or active) activations, by product",
            live.clone(),
        );
        let request_log_dropped = Counter::default();
        registry.register(
            "jpstart_request_log_dropped",
            "Request-log entries dropped because the log's queue was full",
            request_log_dropped.clone(),
        );
        let webhook_attempts = Family::<OutcomeLabels, Counter>::default();
        let webhook_queue = Gauge::default();
        let webhook_oldest = Gauge::default();
        registry.register(
            "jpstart_webhook_deliveries",
            "Webhook delivery attempts by this process, by outcome (delivered, retry, failed)",
            webhook_attempts.clone(),
        );
        registry.register(
            "jpstart_webhook_queue_depth",
            "Pending webhook deliveries in the database",
            webhook_queue.clone(),
        );
        registry.register(
            "jpstart_webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook delivery (0: none)",
            webhook_oldest.clone(),
        );
        Metrics(Arc::new(Inner {
            registry,
            requests,
            latency,
            live,
            request_log_dropped,
            webhook_attempts,
            webhook_queue,
            webhook_oldest,
            scrape: Mutex::new(()),
        }))
    }
}

/// Where [`record_route`] leaves the matched route for [`track`].
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<String>>);

impl Metrics {
    /// The counter the request log's middleware raises when it drops an
    /// entry ([`crate::request_log`]).
    pub fn request_log_dropped(&self) -> Counter {
        self.0.request_log_dropped.clone()
    }

    fn observe(&self, route: String, method: &'static str, status: u16, seconds: f64) {
        self.0
            .latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(seconds);
        self.0
            .requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    /// Counts one webhook attempt's outcome (`delivered`, `retry`, `failed`).
    pub fn webhook_outcome(&self, outcome: &'static str) {
        self.0
            .webhook_attempts
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// The outbox as read at scrape time: pending deliveries and the age of
    /// the oldest, in seconds.
    pub fn set_webhook_queue(&self, pending: i64, oldest_age_s: i64) {
        self.0.webhook_queue.set(pending);
        self.0.webhook_oldest.set(oldest_age_s);
    }

    /// The exposition text: request counts and latency, then the live
    /// activations the caller read from the store (product → count; a
    /// product absent from it has none and is not listed).
    pub fn render(&self, live_by_product: &[(String, i64)]) -> String {
        // A poisoned lock only means another scrape panicked; the families
        // are still usable.
        let _one = self.0.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.0.live.clear();
        for (product, n) in live_by_product {
            self.0
                .live
                .get_or_create(&ProductLabels {
                    product: product.clone(),
                })
                .set(*n);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.0.registry);
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

/// Outermost middleware: times every request and counts its final status.
pub async fn track(State(metrics): State<Metrics>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
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
        m.observe("/a".into(), "GET", 200, 0.003);
        m.observe("/a".into(), "GET", 200, 2.0);
        m.observe("/a".into(), "POST", 400, 0.0005);
        let text = m.render(&[("premium".into(), 3), ("odd\"slug".into(), 1)]);
        assert!(
            text.contains(
                "jpstart_http_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 2\n"
            ),
            "{text}"
        );
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
        assert!(
            text.contains("# TYPE jpstart_http_requests_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE jpstart_http_request_duration_seconds histogram\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE jpstart_live_activations gauge\n"),
            "{text}"
        );
        // The gauge is what the last scrape read, nothing older.
        let text = m.render(&[("premium".into(), 2)]);
        assert!(
            text.contains("jpstart_live_activations{product=\"premium\"} 2\n"),
            "{text}"
        );
        assert!(!text.contains("odd"), "{text}");
    }
}
