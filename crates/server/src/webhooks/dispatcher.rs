//! The dispatcher: claims due deliveries and sends them (see the module
//! docs of [`super`]).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, Notify, Semaphore};

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
const CONCURRENCY: usize = 64;
/// The shortest time between two claims (each is a commit).
const CLAIM_GAP: Duration = Duration::from_millis(100);
/// How long outcomes are gathered before they are written.
const RECORD_GAP: Duration = Duration::from_millis(50);
/// Outcomes written in one transaction, at most.
const RECORD_BATCH: usize = 256;
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
    /// Opened endpoint secrets by endpoint id (an id is never reused, a
    /// secret never changes), so that a busy endpoint's deliveries do not
    /// each open it again.
    pub secrets: std::sync::Mutex<std::collections::HashMap<i64, Arc<str>>>,
}

/// Opened secrets kept at most (then the cache starts afresh).
const MAX_CACHED_SECRETS: usize = 10_000;

impl Dispatcher {
    fn secret(&self, delivery: &ClaimedDelivery) -> Result<Arc<str>, String> {
        let mut cache = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = cache.get(&delivery.endpoint_id) {
            return Ok(s.clone());
        }
        let opened = self
            .key
            .open(
                &delivery.secret_sealed,
                &secret_context(delivery.endpoint_id),
            )
            .map_err(|_| "the endpoint's secret cannot be opened".to_string())?;
        let text: Arc<str> = String::from_utf8(opened)
            .map_err(|_| "the endpoint's secret is not text".to_string())?
            .into();
        if cache.len() >= MAX_CACHED_SECRETS {
            cache.clear();
        }
        cache.insert(delivery.endpoint_id, text.clone());
        Ok(text)
    }
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
///
/// Attempts run concurrently (at most [`CONCURRENCY`]); their outcomes go to
/// one recorder, which writes whatever has piled up in one transaction, and
/// claims are made a batch at a time: on SQLite's single writer every
/// commit counts, and the dispatcher should not take turns from requests.
pub async fn run(d: Arc<Dispatcher>) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let freed = Arc::new(Notify::new());
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let _recorder = Running(tokio::spawn(record(d.clone(), done_rx)));
    let mut last_claim: Option<Instant> = None;
    loop {
        let free = slots.available_permits();
        let gap = last_claim.map_or(CLAIM_GAP, |t| t.elapsed());
        // A quarter of the slots free (or all), and not more often than
        // every CLAIM_GAP: each claim is a commit.
        let mut wait = POLL;
        if (free >= CONCURRENCY / 4 || free == CONCURRENCY) && gap >= CLAIM_GAP {
            last_claim = Some(Instant::now());
            let now = d.clock.now();
            let lease = now.saturating_add(d.config.lease());
            let limit = i64::try_from(free).unwrap_or(1);
            match d.store.claim_deliveries(now, lease, limit).await {
                Ok(batch) => {
                    if batch.len() == free {
                        // More may be due: claim again as soon as slots free up.
                        wait = CLAIM_GAP;
                    }
                    for delivery in batch {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let (d, done, freed) = (d.clone(), done_tx.clone(), freed.clone());
                        tokio::spawn(async move {
                            let outcome = attempt(&d, &delivery).await;
                            let _ = done.send((delivery, outcome));
                            drop(permit);
                            freed.notify_one();
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot claim webhook deliveries"),
            }
        } else if gap < CLAIM_GAP {
            wait = CLAIM_GAP - gap;
        }
        tokio::select! {
            _ = d.wakeup.notified() => {}
            _ = freed.notified(), if wait == CLAIM_GAP => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Writes attempts' outcomes, as many at once as have come in.
async fn record(d: Arc<Dispatcher>, mut done: mpsc::UnboundedReceiver<(ClaimedDelivery, Attempt)>) {
    while let Some(first) = done.recv().await {
        let mut batch = vec![first];
        // Outcomes that come in meanwhile share the commit.
        tokio::time::sleep(RECORD_GAP).await;
        while batch.len() < RECORD_BATCH {
            match done.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        match d.store.record_attempts(&batch, d.clock.now()).await {
            Ok(recorded) => {
                for ((delivery, _), ok) in batch.iter().zip(recorded) {
                    if !ok {
                        tracing::warn!(
                            delivery_id = delivery.id,
                            "the claim ran out before the attempt was recorded; it is tried again"
                        );
                    }
                }
            }
            // The claims run out and the deliveries are tried again.
            Err(e) => tracing::warn!(error = %e, n = batch.len(), "cannot record webhook attempts"),
        }
    }
}

/// One attempt of one delivery, and what it came to.
async fn attempt(d: &Dispatcher, delivery: &ClaimedDelivery) -> Attempt {
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
    // Successes at debug level: one line per delivery would cost the
    // busiest servers more than the delivery.
    if next == AttemptNext::Delivered {
        tracing::debug!(
            delivery_id = delivery.id,
            event_id = %delivery.event_id,
            attempts = delivery.attempts,
            latency_ms,
            "webhook delivered"
        );
    } else {
        tracing::info!(
            delivery_id = delivery.id,
            endpoint_id = delivery.endpoint_id,
            event_id = %delivery.event_id,
            attempts = delivery.attempts,
            status = ?status,
            latency_ms,
            outcome,
            error = error.as_deref().unwrap_or(""),
            "webhook attempt failed"
        );
    }
    Attempt {
        status,
        latency_ms,
        error,
        next,
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
    let secret = d.secret(delivery)?;
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
