//! Webhooks (SPEC §10): endpoints, the transactional outbox, claims, and
//! the Monitor URLs.
//!
//! The outbox is filled by [`on_activation_event`] and [`on_site_event`],
//! called in the transaction of the state change they describe (the first
//! from the event-log append, [`super::rows::event`]): when the partner has
//! endpoints that want the event, one `webhook_events` row (the exact body
//! that is signed and sent) and one `webhook_deliveries` row per endpoint.
//! Without matching endpoints the cost is one indexed read.
//!
//! Claims: a delivery is due when pending, its `next_attempt_at` has come
//! and no live claim holds it. Claiming sets `claimed_until` (the lease) in
//! one statement; on PostgreSQL its rows are picked `FOR UPDATE SKIP
//! LOCKED`, so several servers claim disjoint sets; SQLite has one writer.
//! A server that dies mid-attempt leaves its claim to run out, and the
//! delivery is claimed again: at least once.

use jpstart_types::site_object::{datetime, product_id, SiteObject};
use jpstart_types::webhooks::{DeliveryStatus, Event, EventData, EventSite, EventType};
use jpstart_types::{ActivationId, PartnerId};

use super::exec::{query, Exec, Pool, Row};
use super::{live_at, SqlStore};
use crate::clock::Timestamp;
use crate::domain::webhooks::{events_from_text, events_text, RETRY_WINDOW};
use crate::domain::ActivationState;
use crate::store::webhooks::*;
use crate::store::{Backend, StoreError};

/// The event type of an activation entering `to`.
fn activation_type(to: ActivationState) -> EventType {
    match to {
        ActivationState::Pending => EventType::ActivationPending,
        ActivationState::Active => EventType::ActivationActive,
        ActivationState::Cancelled => EventType::ActivationCancelled,
        ActivationState::Superseded => EventType::ActivationSuperseded,
        ActivationState::Expired => EventType::ActivationExpired,
    }
}

/// Endpoints (id, partner) among `rows` (the endpoint's id in column `id`,
/// `partner_id`, `events`) that want `kind`.
fn wanting(rows: &[Row], kind: EventType, id: &str) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut out = Vec::new();
    for r in rows {
        let events: String = r.try_get("events")?;
        if events_from_text(&events).contains(&kind) {
            out.push((r.try_get(id)?, r.try_get("partner_id")?));
        }
    }
    Ok(out)
}

/// Queues `activation`'s change to `to` for its partner's endpoints.
pub(super) async fn on_activation_event(
    tx: &mut impl Exec,
    activation: ActivationId,
    to: ActivationState,
    at: Timestamp,
) -> Result<(), StoreError> {
    let kind = activation_type(to);
    // One statement: the endpoints that may want it, each row with the
    // activation as the site object shows it (none: no endpoint, the cost
    // of a partner without webhooks).
    let rows = query(
        "SELECT w.id AS endpoint_id, w.partner_id, w.events, a.id, a.key_id, a.blog_id, a.product, \
         a.state, a.created_at, a.activated_at, a.ended_at, s.url, s.local_user, \
         s.created_at AS site_created, \
         (SELECT MIN(t.user_id) FROM wpcom_user_tokens t WHERE t.blog_id = a.blog_id) AS wpcom_user_id \
         FROM activations a JOIN keys k ON k.id = a.key_id \
         JOIN webhook_endpoints w ON w.partner_id = k.partner_id AND w.deleted_at IS NULL \
         JOIN sites s ON s.blog_id = a.blog_id WHERE a.id = $1",
    )
    .bind(activation.get())
    .fetch_all(&mut *tx)
    .await?;
    let targets = wanting(&rows, kind, "endpoint_id")?;
    let Some(first) = rows.first().filter(|_| !targets.is_empty()) else {
        return Ok(());
    };
    let data = EventData::Activation(Box::new(site_object(first)?));
    enqueue(tx, kind, &data, &targets, at).await
}

/// Queues a site's connection change for the endpoints of every partner
/// holding a live activation on it and of the partner that made it.
pub(super) async fn on_site_event(
    tx: &mut impl Exec,
    blog_id: i64,
    kind: EventType,
    acting: Option<PartnerId>,
    at: Timestamp,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT w.id, w.partner_id, w.events FROM webhook_endpoints w WHERE w.deleted_at IS NULL \
         AND (w.partner_id = $2 OR w.partner_id IN (SELECT k.partner_id FROM activations a \
         JOIN keys k ON k.id = a.key_id WHERE a.blog_id = $1 AND {}))",
        live_at("$3")
    );
    let rows = query(&sql)
        .bind(blog_id)
        .bind(acting.map(PartnerId::get))
        .bind(at.as_millis())
        .fetch_all(&mut *tx)
        .await?;
    let targets = wanting(&rows, kind, "id")?;
    if targets.is_empty() {
        return Ok(());
    }
    let site = query("SELECT identifier, url, connected FROM sites WHERE blog_id = $1")
        .bind(blog_id)
        .fetch_one(&mut *tx)
        .await?;
    let data = EventData::Site(EventSite {
        wpcom_blog_id: blog_id,
        site: site.try_get("identifier")?,
        site_url: site.try_get("url")?,
        is_connected: site.try_get::<i64, _>("connected")? != 0,
    });
    enqueue(tx, kind, &data, &targets, at).await
}

/// The reporting site object from a row of [`on_activation_event`].
fn site_object(r: &Row) -> Result<SiteObject, StoreError> {
    let when = |column: &str| -> Result<Option<String>, StoreError> {
        Ok(r.try_get::<Option<i64>, _>(column)?.map(datetime))
    };
    let product: String = r.try_get("product")?;
    let pid = product_id(&product);
    Ok(SiteObject {
        id: r.try_get("id")?,
        jetpack_partner_key_id: r.try_get("key_id")?,
        wpcom_blog_id: r.try_get("blog_id")?,
        wpcom_user_id: r.try_get("wpcom_user_id")?,
        external_user_id: r.try_get("local_user")?,
        product_id: pid,
        created_on: datetime(r.try_get("created_at")?),
        activated_on: when("activated_at")?,
        // Every end (cancelled, superseded, expired): billing stops there.
        cancelled_on: when("ended_at")?,
        disputed_on: None,
        site_registered: when("site_created")?,
        site_url: r.try_get("url")?,
        site_name: None,
        site_icon: None,
        current_product_id: pid,
        product_slug: product,
        state: r.try_get("state")?,
    })
}

/// One event per partner, one delivery per endpoint, due at once.
async fn enqueue(
    tx: &mut impl Exec,
    kind: EventType,
    data: &EventData,
    targets: &[(i64, i64)],
    at: Timestamp,
) -> Result<(), StoreError> {
    let mut partners: Vec<i64> = targets.iter().map(|(_, p)| *p).collect();
    partners.sort_unstable();
    partners.dedup();
    let give_up = at.saturating_add(RETRY_WINDOW);
    for partner in partners {
        let random = crate::secrets::generate();
        let event = Event {
            id: format!("evt_{}", random.get(..24).unwrap_or(&random)),
            kind,
            created: at.as_secs(),
            data: data.clone(),
        };
        let body = serde_json::to_string(&event)
            .map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?;
        let event_row: i64 = query(
            "INSERT INTO webhook_events (public_id, partner_id, type, body, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(event.id.as_str())
        .bind(partner)
        .bind(kind.as_str())
        .bind(body)
        .bind(at.as_millis())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for (endpoint, _) in targets.iter().filter(|(_, p)| *p == partner) {
            query(
                "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, next_attempt_at, give_up_at, created_at) \
                 VALUES ($1, $2, 'pending', $3, $4, $3)",
            )
            .bind(*endpoint)
            .bind(event_row)
            .bind(at.as_millis())
            .bind(give_up.as_millis())
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

fn webhook_from_row(r: &Row) -> Result<WebhookRecord, StoreError> {
    Ok(WebhookRecord {
        id: r.try_get("id")?,
        partner_id: PartnerId::new(r.try_get("partner_id")?),
        url: r.try_get("url")?,
        events: events_from_text(&r.try_get::<String, _>("events")?),
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
    })
}

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, ev.public_id, ev.type, d.status, d.attempts, \
     d.last_status, d.last_latency_ms, d.created_at";

fn delivery_from_row(r: &Row) -> Result<DeliveryRecord, StoreError> {
    let kind: String = r.try_get("type")?;
    let status: String = r.try_get("status")?;
    Ok(DeliveryRecord {
        id: r.try_get("id")?,
        endpoint_id: r.try_get("endpoint_id")?,
        event_id: r.try_get("public_id")?,
        kind: EventType::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("event type {kind:?}")))?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery status {status:?}")))?,
        attempts: r.try_get("attempts")?,
        last_status: r.try_get("last_status")?,
        last_latency_ms: r.try_get("last_latency_ms")?,
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
    })
}

impl SqlStore {
    pub(super) async fn create_webhook_impl(
        &self,
        w: &NewWebhook,
        seal: &(dyn Fn(i64) -> Vec<u8> + Send + Sync),
    ) -> Result<Option<WebhookRecord>, StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                // The partner row serialises registrations, so the cap is exact.
                let lock = format!(
                    "SELECT id FROM partners WHERE id = $1{}",
                    self.backend.for_update()
                );
                query(&lock)
                    .bind(w.partner_id.get())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("partner {}", w.partner_id)))?;
                let live: i64 = query(
                    "SELECT COUNT(*) AS n FROM webhook_endpoints WHERE partner_id = $1 AND deleted_at IS NULL",
                )
                .bind(w.partner_id.get())
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                if live >= w.max_endpoints {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let row = query(
                    "INSERT INTO webhook_endpoints (partner_id, url, events, secret_sealed, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id, partner_id, url, events, created_at",
                )
                .bind(w.partner_id.get())
                .bind(w.url.as_str())
                .bind(events_text(&w.events))
                .bind(Vec::<u8>::new())
                .bind(w.now.as_millis())
                .fetch_one(&mut *tx)
                .await?;
                let record = webhook_from_row(&row)?;
                query("UPDATE webhook_endpoints SET secret_sealed = $2 WHERE id = $1")
                    .bind(record.id)
                    .bind(seal(record.id))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(Some(record))
            }
            .await
        )
    }

    pub(super) async fn webhooks_impl(
        &self,
        partner: PartnerId,
    ) -> Result<Vec<WebhookRecord>, StoreError> {
        let rows = query(
            "SELECT id, partner_id, url, events, created_at FROM webhook_endpoints \
             WHERE partner_id = $1 AND deleted_at IS NULL ORDER BY id",
        )
        .bind(partner.get())
        .fetch_all(&mut Pool(self.read()))
        .await?;
        rows.iter().map(webhook_from_row).collect()
    }

    pub(super) async fn delete_webhook_impl(
        &self,
        partner: PartnerId,
        id: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                let gone = query(
                    "UPDATE webhook_endpoints SET deleted_at = $3 \
                     WHERE id = $1 AND partner_id = $2 AND deleted_at IS NULL",
                )
                .bind(id)
                .bind(partner.get())
                .bind(now.as_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if gone {
                    // Nothing more is sent to a deleted endpoint.
                    query(
                        "UPDATE webhook_deliveries SET status = 'failed', finished_at = $2, \
                         last_error = 'endpoint deleted' WHERE endpoint_id = $1 AND status = 'pending'",
                    )
                    .bind(id)
                    .bind(now.as_millis())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok::<_, StoreError>(gone)
            }
            .await
        )
    }

    /// `None`: no live endpoint of the partner has this id.
    pub(super) async fn deliveries_impl(
        &self,
        partner: PartnerId,
        endpoint: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Option<Vec<DeliveryRecord>>, StoreError> {
        if !self.endpoint_of(partner, endpoint).await? {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id \
             WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2 OFFSET $3"
        );
        let rows = query(&sql)
            .bind(endpoint)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut Pool(self.read()))
            .await?;
        rows.iter()
            .map(delivery_from_row)
            .collect::<Result<_, _>>()
            .map(Some)
    }

    async fn endpoint_of(&self, partner: PartnerId, endpoint: i64) -> Result<bool, StoreError> {
        Ok(query(
            "SELECT id FROM webhook_endpoints WHERE id = $1 AND partner_id = $2 AND deleted_at IS NULL",
        )
        .bind(endpoint)
        .bind(partner.get())
        .fetch_optional(&mut Pool(self.read()))
        .await?
        .is_some())
    }

    /// Due again at once, with a fresh retry window; an attempt in flight
    /// keeps its claim, so the replay never runs beside it.
    pub(super) async fn replay_impl(
        &self,
        partner: PartnerId,
        endpoint: i64,
        delivery: i64,
        now: Timestamp,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        if !self.endpoint_of(partner, endpoint).await? {
            return Ok(None);
        }
        let changed = query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, give_up_at = $4, \
             finished_at = NULL WHERE id = $1 AND endpoint_id = $2",
        )
        .bind(delivery)
        .bind(endpoint)
        .bind(now.as_millis())
        .bind(now.saturating_add(RETRY_WINDOW).as_millis())
        .execute(&mut Pool(&self.pools.write))
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id \
             WHERE d.id = $1"
        );
        let row = query(&sql)
            .bind(delivery)
            .fetch_one(&mut Pool(&self.pools.write))
            .await?;
        delivery_from_row(&row).map(Some)
    }

    pub(super) async fn claim_deliveries_impl(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let claim = format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, claimed_until = $2 WHERE id IN \
             (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1) \
             ORDER BY next_attempt_at, id LIMIT $3{skip_locked}) RETURNING id"
        );
        let ids: Vec<i64> = query(&claim)
            .bind(now.as_millis())
            .bind(lease_until.as_millis())
            .bind(limit)
            .fetch_all(&mut Pool(&self.pools.write))
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT d.id, d.endpoint_id, w.url, w.secret_sealed, ev.public_id, ev.body, d.attempts, \
             d.give_up_at, d.claimed_until FROM webhook_deliveries d \
             JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN webhook_events ev ON ev.id = d.event_id \
             WHERE d.id IN ({}) ORDER BY d.id",
            list.join(", ")
        );
        let mut q = query(&sql);
        for id in &ids {
            q = q.bind(*id);
        }
        // The claim is committed: a reader sees it, and the writer (SQLite's
        // only one) is left to the requests.
        let rows = q.fetch_all(&mut Pool(self.read())).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for r in &rows {
            claimed.push(ClaimedDelivery {
                id: r.try_get("id")?,
                endpoint_id: r.try_get("endpoint_id")?,
                url: r.try_get("url")?,
                secret_sealed: r.try_get("secret_sealed")?,
                event_id: r.try_get("public_id")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
                give_up_at: Timestamp::from_millis(r.try_get("give_up_at")?),
                claimed_until: Timestamp::from_millis(r.try_get("claimed_until")?),
            });
        }
        Ok(claimed)
    }

    /// Records attempts in one transaction (one commit for many: SQLite
    /// has one writer); each only while its claim still holds, `false`
    /// when it ran out and the delivery may be someone else's now.
    pub(super) async fn record_attempts_impl(
        &self,
        attempts: &[(ClaimedDelivery, Attempt)],
        now: Timestamp,
    ) -> Result<Vec<bool>, StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                let mut out = Vec::with_capacity(attempts.len());
                for (d, a) in attempts {
                    out.push(record_in_tx(&mut tx, d, a, now).await?);
                }
                tx.commit().await?;
                Ok::<_, StoreError>(out)
            }
            .await
        )
    }
}

async fn record_in_tx(
    tx: &mut impl Exec,
    d: &ClaimedDelivery,
    a: &Attempt,
    now: Timestamp,
) -> Result<bool, StoreError> {
    {
        let (status, next, finished) = match a.next {
            AttemptNext::Delivered => ("delivered", now, Some(now)),
            AttemptNext::RetryAt(at) => ("pending", at, None),
            AttemptNext::Failed => ("failed", now, Some(now)),
        };
        let n = query(
            "UPDATE webhook_deliveries SET claimed_until = NULL, status = $3, next_attempt_at = $4, \
             last_status = $5, last_latency_ms = $6, last_error = $7, finished_at = $8 \
             WHERE id = $1 AND claimed_until = $2",
        )
        .bind(d.id)
        .bind(d.claimed_until.as_millis())
        .bind(status)
        .bind(next.as_millis())
        .bind(a.status)
        .bind(a.latency_ms)
        .bind(a.error.clone())
        .bind(finished.map(Timestamp::as_millis))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}

impl SqlStore {
    pub(super) async fn webhook_queue_impl(&self) -> Result<WebhookQueue, StoreError> {
        let r = query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM webhook_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&mut Pool(self.read()))
        .await?;
        Ok(WebhookQueue {
            pending: r.try_get("n")?,
            oldest_pending: r
                .try_get::<Option<i64>, _>("oldest")?
                .map(Timestamp::from_millis),
        })
    }
}
