//! Endpoints for the operator's infrastructure, outside `/rest` and without
//! authentication (a load balancer or Prometheus has no token): liveness,
//! readiness and metrics. See docs/OPERATIONS.md.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use jpstart_types::wire::Health;

use crate::app::state::AppState;
use crate::domain::ApiError;
use crate::rest::{operation, Endpoint};

/// `healthz`, `readyz`, `metrics`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![
        Endpoint::plain(operation!(healthz), |_| get(healthz)),
        Endpoint::plain(operation!(readyz), |_| get(readyz)),
        Endpoint::plain(operation!(metrics), |_| get(metrics)),
    ]
}

fn health(status: &str) -> Json<Health> {
    Json(Health {
        status: status.into(),
    })
}

/// `GET /healthz`: the process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses((status = 200, description = "The process is up.", body = Health)),
)]
pub async fn healthz() -> Json<Health> {
    health("ok")
}

/// A readiness probe must answer before the prober gives up, not after the
/// pool's own 30-second acquire timeout.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /readyz`: the database answers within [`READY_TIMEOUT`]; 503
/// otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    responses(
        (status = 200, description = "The database answers.", body = Health),
        (status = 503, description = "The database does not answer.", body = Health),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let error = match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => return health("ok").into_response(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!(
            "no answer within {}",
            humantime::format_duration(READY_TIMEOUT)
        ),
    };
    tracing::warn!(%error, "readiness check: database unreachable");
    (StatusCode::SERVICE_UNAVAILABLE, health("unavailable")).into_response()
}

/// `GET /metrics`: Prometheus text format; live activations are counted in
/// the database at scrape time.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses((status = 200, description = "Prometheus text exposition format.", content_type = "text/plain")),
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let now = state.clock.now();
    if let Ok(q) = state.store.webhook_queue().await {
        let age = q
            .oldest_pending
            .map_or(0, |t| (now.as_secs() - t.as_secs()).max(0));
        state.metrics.set_webhook_queue(q.pending, age);
    }
    match state.store.live_by_product(now).await {
        Ok(live) => (
            [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
            state.metrics.render(&live),
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
