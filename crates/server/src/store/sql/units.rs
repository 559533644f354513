//! The units of work behind the [`Store`](super::super::Store) operations
//! that apply the domain rules: each runs inside the caller's write
//! transaction, reads what the rules need (locking it on PostgreSQL), asks
//! [`crate::domain::rules`], and applies the answer.

use jpstart_types::SiteRef;
use sqlx::Row;

use super::rows::{actor, event, live_from_row, live_query, site_key, SiteKey, SiteRow};
use super::{live_at, SqlStore, Tx};
use crate::domain::rules::{self, CancelTarget, LiveActivation, ProvisionDecision};
use crate::domain::{ApiError, Catalogue, ErrorCode};
use crate::store::types::*;
use crate::store::{RuleResult, StoreError};

impl SqlStore {
    /// Finds a site row and, on PostgreSQL, locks it for the transaction.
    pub(super) async fn lock_site(
        &self,
        tx: &mut Tx,
        site: &SiteRef,
    ) -> Result<Option<SiteRow>, StoreError> {
        let (column, value) = site_key(site);
        let sql = format!(
            "SELECT blog_id, identifier, url, connected FROM sites WHERE {column} = $1{}",
            self.backend.for_update()
        );
        let row = match value {
            SiteKey::Id(id) => sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?,
            SiteKey::Text(s) => sqlx::query(&sql).bind(s).fetch_optional(&mut **tx).await?,
        };
        row.map(|r| SiteRow::from_row(&r)).transpose()
    }

    /// Marks this site's pending activations whose time ran out as expired.
    pub(super) async fn expire_site(
        &self,
        tx: &mut Tx,
        blog_id: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let rows = sqlx::query(
            "UPDATE activations SET state = 'expired', ended_at = expires_at \
             WHERE blog_id = $1 AND state = 'pending' AND expires_at <= $2 RETURNING id, expires_at",
        )
        .bind(blog_id)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            let ended: i64 = r.try_get("expires_at")?;
            event(
                tx,
                r.try_get("id")?,
                Some("pending"),
                "expired",
                ended,
                "system",
            )
            .await?;
        }
        Ok(())
    }

    pub(super) async fn live_in_tx(
        &self,
        tx: &mut Tx,
        blog_id: i64,
        now: i64,
    ) -> Result<Vec<LiveActivation>, StoreError> {
        let sql = live_query(&live_at("$2"));
        let rows = sqlx::query(&sql)
            .bind(blog_id)
            .bind(now)
            .fetch_all(&mut **tx)
            .await?;
        rows.iter().map(live_from_row).collect()
    }

    /// Connects the site and activates its pending activations.
    pub(super) async fn connect_in_tx(
        &self,
        tx: &mut Tx,
        site: &SiteRow,
        now: i64,
        actor: &str,
    ) -> Result<ConnectOutcome, StoreError> {
        self.expire_site(tx, site.blog_id, now).await?;
        sqlx::query("UPDATE sites SET connected = 1, connected_at = $2 WHERE blog_id = $1")
            .bind(site.blog_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        let rows = sqlx::query(
            "UPDATE activations SET state = 'active', activated_at = $2, expires_at = NULL \
             WHERE blog_id = $1 AND state = 'pending' RETURNING id",
        )
        .bind(site.blog_id)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
        let mut activated = Vec::new();
        for r in rows {
            let id: i64 = r.try_get("id")?;
            event(tx, id, Some("pending"), "active", now, actor).await?;
            activated.push(id);
        }
        activated.sort_unstable();
        Ok(ConnectOutcome {
            blog_id: site.blog_id()?,
            identifier: site.identifier()?,
            url: site.url.clone(),
            activated,
            was_connected: site.connected,
        })
    }

    pub(super) async fn provision_in_tx(
        &self,
        tx: &mut Tx,
        req: &ProvisionRequest,
        cat: &Catalogue,
    ) -> RuleResult<ProvisionOutcome> {
        let now = req.now;
        // Lock the key first, then the site, always in this order: concurrent
        // provisions by one key serialise here (limits), concurrent
        // provisions to one site serialise on the site row.
        let key_sql = format!(
            "SELECT id FROM keys WHERE id = $1{}",
            self.backend.for_update()
        );
        if sqlx::query(&key_sql)
            .bind(req.key_id)
            .fetch_optional(&mut **tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("key {}", req.key_id)));
        }
        let site = match &req.site {
            ProvisionSite::Url { identifier, url } => {
                let site_ref = SiteRef::Identifier(identifier.clone());
                // Look first: on PostgreSQL an `INSERT .. ON CONFLICT DO
                // NOTHING` draws a blog id from the identity sequence even
                // when the site exists, and blog ids should not be burnt by
                // every repeated provision.
                if let Some(site) = self.lock_site(tx, &site_ref).await? {
                    Some(site)
                } else {
                    sqlx::query(
                    "INSERT INTO sites (identifier, url, local_user, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (identifier) DO NOTHING",
                )
                .bind(identifier.as_str())
                .bind(url.as_str())
                .bind(req.local_user.clone())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                    self.lock_site(tx, &site_ref).await?
                }
            }
            ProvisionSite::BlogId(id) => self.lock_site(tx, &SiteRef::BlogId(*id)).await?,
        };
        let Some(mut site) = site else {
            let id = match &req.site {
                ProvisionSite::BlogId(id) => id.to_string(),
                ProvisionSite::Url { identifier, .. } => identifier.to_string(),
            };
            return Ok(Err(ApiError::with_arg(ErrorCode::InvalidBlog, id)));
        };
        if req.force_register || req.force_connect {
            let bump = i64::from(req.force_register);
            sqlx::query("UPDATE sites SET connected = 0, connected_at = NULL, registration = registration + $2 WHERE blog_id = $1")
                .bind(site.blog_id)
                .bind(bump)
                .execute(&mut **tx)
                .await?;
            site.connected = false;
        }
        // A fresh registration takes the URL given (checked, SPEC §11), so
        // that no URL stored before URLs were checked outlives it.
        if let (true, ProvisionSite::Url { url, .. }) = (req.force_register, &req.site) {
            sqlx::query("UPDATE sites SET url = $2 WHERE blog_id = $1")
                .bind(site.blog_id)
                .bind(url.as_str())
                .execute(&mut **tx)
                .await?;
            site.url = url.clone();
        }
        if let Some(user) = &req.local_user {
            sqlx::query("UPDATE sites SET local_user = $2 WHERE blog_id = $1")
                .bind(site.blog_id)
                .bind(user.as_str())
                .execute(&mut **tx)
                .await?;
        }
        self.expire_site(tx, site.blog_id, now).await?;

        let mut outcome = ProvisionOutcome {
            blog_id: site.blog_id()?,
            identifier: site.identifier()?,
            url: site.url.clone(),
            connected: site.connected,
            activation: None,
        };
        let Some(slug) = &req.product else {
            return Ok(Ok(outcome));
        };
        let Some(product) = cat.product(slug) else {
            return Ok(Err(ApiError::with_arg(ErrorCode::InvalidPlan, slug)));
        };
        let live = self.live_in_tx(tx, site.blog_id, now).await?;
        let supersede = match rules::decide_provision(cat, &live, req.key_id, product) {
            Err(refusal) => return Ok(Err(refusal)),
            Ok(ProvisionDecision::AlreadyLive { activation_id }) => {
                let pending = live.iter().any(|a| a.id == activation_id && a.pending);
                outcome.activation = Some(ProvisionedActivation {
                    id: activation_id,
                    pending,
                    created: false,
                    superseded: None,
                });
                return Ok(Ok(outcome));
            }
            Ok(ProvisionDecision::Create { supersede }) => supersede,
        };

        let limit: Option<i64> =
            sqlx::query("SELECT max_live FROM key_limits WHERE key_id = $1 AND product = $2")
                .bind(req.key_id)
                .bind(slug.as_str())
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get("max_live"))
                .transpose()?;
        let limit = match (limit, req.restricted) {
            (Some(n), _) => Some(n),
            // A sub-key may provision only the products it has a limit for.
            (None, true) => Some(0),
            (None, false) => None,
        };
        if let Some(max) = limit {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM activations a WHERE a.key_id = $1 AND a.product = $2 AND {}",
                live_at("$3")
            );
            let n: i64 = sqlx::query(&sql)
                .bind(req.key_id)
                .bind(slug.as_str())
                .bind(now)
                .fetch_one(&mut **tx)
                .await?
                .try_get("n")?;
            if n >= max {
                return Ok(Err(ApiError::with_arg(
                    ErrorCode::ActivationLimitReached,
                    slug,
                )));
            }
        }

        if let Some(old) = supersede {
            sqlx::query("UPDATE activations SET state = 'superseded', ended_at = $2 WHERE id = $1")
                .bind(old)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            let from = if live.iter().any(|a| a.id == old && a.pending) {
                "pending"
            } else {
                "active"
            };
            event(tx, old, Some(from), "superseded", now, &actor(req.key_id)).await?;
        }
        let pending = !site.connected;
        let (state, activated_at, expires_at) = if pending {
            (
                "pending",
                None,
                Some(now.saturating_add(req.pending_ttl_ms)),
            )
        } else {
            ("active", Some(now), None)
        };
        let id: i64 = sqlx::query(
            "INSERT INTO activations (blog_id, key_id, product, family, state, partner_tracking_id, created_at, activated_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(site.blog_id)
        .bind(req.key_id)
        .bind(slug.as_str())
        .bind(cat.family_name(product))
        .bind(state)
        .bind(req.partner_tracking_id.clone())
        .bind(now)
        .bind(activated_at)
        .bind(expires_at)
        .fetch_one(&mut **tx)
        .await?
        .try_get("id")?;
        event(tx, id, None, state, now, &actor(req.key_id)).await?;
        if let Some(old) = supersede {
            sqlx::query("UPDATE activations SET superseded_by = $2 WHERE id = $1")
                .bind(old)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        outcome.activation = Some(ProvisionedActivation {
            id,
            pending,
            created: true,
            superseded: supersede,
        });
        Ok(Ok(outcome))
    }

    pub(super) async fn cancel_in_tx(
        &self,
        tx: &mut Tx,
        req: &CancelRequest,
        cat: &Catalogue,
    ) -> RuleResult<CancelOutcome> {
        let nothing = CancelOutcome {
            cancelled: Vec::new(),
        };
        let Some(site) = self.lock_site(tx, &req.site).await? else {
            return Ok(match req.site {
                // An unknown blog id is an error; an unknown domain is
                // "nothing to cancel", so that retries are harmless.
                SiteRef::BlogId(id) => Err(ApiError::with_arg(ErrorCode::InvalidBlog, id)),
                SiteRef::Identifier(_) => Ok(nothing),
            });
        };
        self.expire_site(tx, site.blog_id, req.now).await?;
        let live = self.live_in_tx(tx, site.blog_id, req.now).await?;
        let product;
        let target = if req.all {
            CancelTarget::All
        } else if let Some(slug) = &req.product {
            match cat.product(slug) {
                Some(p) => {
                    product = p;
                    CancelTarget::Product(product)
                }
                None => return Ok(Err(ApiError::with_arg(ErrorCode::InvalidPlan, slug))),
            }
        } else {
            CancelTarget::PlansFamily
        };
        let ids = match rules::decide_cancel(cat, &live, req.key_id, target) {
            Ok(ids) => ids,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let mut cancelled = Vec::new();
        for a in live.iter().filter(|a| ids.contains(&a.id)) {
            let changed = sqlx::query(
                "UPDATE activations SET state = 'cancelled', ended_at = $2 WHERE id = $1 AND state IN ('pending', 'active')",
            )
            .bind(a.id)
            .bind(req.now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if changed != 1 {
                return Err(StoreError::Corrupt(format!(
                    "activation {} changed under a lock",
                    a.id
                )));
            }
            let from = if a.pending { "pending" } else { "active" };
            event(
                tx,
                a.id,
                Some(from),
                "cancelled",
                req.now,
                &actor(req.key_id),
            )
            .await?;
            cancelled.push(CancelledRecord {
                id: a.id,
                blog_id: site.blog_id()?,
                identifier: site.identifier()?,
                product: a.product.clone(),
                was_pending: a.pending,
                created_at: a.created_at,
                partner_tracking_id: a.partner_tracking_id.clone(),
            });
        }
        Ok(Ok(CancelOutcome { cancelled }))
    }
}
