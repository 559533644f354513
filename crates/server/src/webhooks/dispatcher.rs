//! The dispatcher: claims due deliveries and sends them (see the module
//! docs of [`super`]).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, Semaphore};

use super::guard::literal_ip;
use super::sign::{signature, HEADER};
use super::WebhookConfig;
use crate::clock::Clock;
use crate::crypto::SecretKey;
use crate::domain::webhooks::{forbidden_address, next_attempt};
use crate::metrics::Metrics;
use crate::store::{secret_context, Attempt, AttemptNext, ClaimedDelivery, Store};

/// How often the outbox is looked at (a due delivery is attempted within
/// about a second).
const POLL: Duration = Duration::from_millis(500);
/// Attempts in flight per server.
const CONCURRENCY: usize = 32;
/// How much of an answer is read (and dropped).
const MAX_ANSWER: usize = 64 * 1024;

/// What the dispatcher works with.
pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    pub key: SecretKey,
    pub config: WebhookConfig,
    pub http: reqwest::Client,
    pub metrics: Metrics,
    pub wakeup: Arc<Notify>,
}

/// The background dispatcher; stops when dropped.
pub struct Running(tokio::task::JoinHandle<()>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts [`run`] in the background.
pub fn start(d: Dispatcher) -> Running {
    Running(tokio::spawn(run(Arc::new(d))))
}

/// Claims and sends until aborted.
pub async fn run(d: Arc<Dispatcher>) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    loop {
        let free = slots.available_permits();
        let mut full = false;
        if free > 0 {
            let now = d.clock.now();
            let lease = now.saturating_add(d.config.lease());
            let limit = i64::try_from(free).unwrap_or(1);
            match d.store.claim_deliveries(now, lease, limit).await {
                Ok(batch) => {
                    full = batch.len() == free;
                    for delivery in batch {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let d = d.clone();
                        tokio::spawn(async move {
                            attempt(&d, &delivery).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot claim webhook deliveries"),
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = d.wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One attempt of one delivery, and its record.
async fn attempt(d: &Dispatcher, delivery: &ClaimedDelivery) {
    let started = Instant::now();
    let result = send(d, delivery).await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let now = d.clock.now();
    let (status, error) = match result {
        Ok(status) if (200..300).contains(&status) => (Some(status), None),
        Ok(status) => (Some(status), Some(format!("answered {status}"))),
        Err(why) => (None, Some(why)),
    };
    let next = if error.is_none() {
        AttemptNext::Delivered
    } else {
        match next_attempt(
            now.as_millis(),
            delivery.give_up_at.as_millis(),
            d.config.retry_base,
            delivery.attempts,
        ) {
            Some(at) => AttemptNext::RetryAt(crate::clock::Timestamp::from_millis(at)),
            None => AttemptNext::Failed,
        }
    };
    let outcome = match next {
        AttemptNext::Delivered => "delivered",
        AttemptNext::RetryAt(_) => "retry",
        AttemptNext::Failed => "failed",
    };
    d.metrics.webhook_outcome(outcome);
    tracing::info!(
        delivery_id = delivery.id,
        endpoint_id = delivery.endpoint_id,
        event_id = %delivery.event_id,
        attempts = delivery.attempts,
        status = ?status,
        latency_ms,
        outcome,
        error = error.as_deref().unwrap_or(""),
        "webhook attempt"
    );
    let record = Attempt {
        status,
        latency_ms,
        error,
        next,
    };
    match d.store.record_attempt(delivery, &record, now).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            delivery_id = delivery.id,
            "the claim ran out before the attempt was recorded; it is tried again"
        ),
        // The claim runs out and the delivery is tried again.
        Err(e) => {
            tracing::warn!(delivery_id = delivery.id, error = %e, "cannot record a webhook attempt")
        }
    }
}

/// POSTs the body; `Ok(status)` when an answer came within the timeout.
async fn send(d: &Dispatcher, delivery: &ClaimedDelivery) -> Result<i64, String> {
    let url = reqwest::Url::parse(&delivery.url).map_err(|e| format!("bad URL: {e}"))?;
    if !d.config.allow_private {
        // A literal address is never resolved, so the resolver cannot
        // check it.
        if let Some(why) = literal_ip(&url).and_then(forbidden_address) {
            return Err(format!("the URL's address is {why}"));
        }
    }
    let secret = d
        .key
        .open(
            &delivery.secret_sealed,
            &secret_context(delivery.endpoint_id),
        )
        .map_err(|_| "the endpoint's secret cannot be opened".to_string())?;
    let secret = String::from_utf8(secret).map_err(|_| "the endpoint's secret is not text")?;
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0);
    let mut res = d
        .http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(HEADER, signature(&secret, t, &delivery.body))
        .body(delivery.body.clone())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = i64::from(res.status().as_u16());
    // The answer is read (so the connection can be reused), up to a cap.
    let mut read = 0;
    while let Some(chunk) = res.chunk().await.map_err(|e| describe(&e))? {
        read += chunk.len();
        if read > MAX_ANSWER {
            break;
        }
    }
    Ok(status)
}

/// A transport error without the URL (it may carry the partner's own
/// token in its query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}
