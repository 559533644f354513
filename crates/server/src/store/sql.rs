//! The [`Store`] on SQLite or PostgreSQL through sqlx's `Any` driver.
//!
//! Every query is written once in SQL both backends accept (`$N`
//! placeholders, `RETURNING`, `ON CONFLICT DO NOTHING`, partial indexes).
//! Times are integers (ms), flags are 0/1 integers.

use async_trait::async_trait;
use jpstart_types::{BlogId, ProductSlug, SiteIdentifier, SiteRef};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};

use super::dialect::{self, Backend, Pools};
use super::{migrate, types::*, ActivationId, RuleResult, Store, StoreError};
use crate::domain::rules::{
    self, CancelTarget, KeyId, LiveActivation, PartnerId, ProvisionDecision,
};
use crate::domain::{ApiError, Catalogue, ErrorCode};

type Tx = Transaction<'static, Any>;

/// See the module docs.
pub struct SqlStore {
    backend: Backend,
    pools: Pools,
}

/// The live predicate: active, or pending and not yet past its expiry.
/// `$NOW` is replaced by the placeholder that carries the current time.
const LIVE: &str = "(a.state = 'active' OR (a.state = 'pending' AND a.expires_at > $NOW))";

fn live_at(placeholder: &str) -> String {
    LIVE.replace("$NOW", placeholder)
}

impl SqlStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url)?;
        let pools = dialect::connect(backend, url).await?;
        migrate::run(backend, &pools.write).await?;
        Ok(SqlStore { backend, pools })
    }

    async fn begin_write(&self) -> Result<Tx, StoreError> {
        Ok(self
            .pools
            .write
            .begin_with(self.backend.begin_write())
            .await?)
    }

    fn read(&self) -> &AnyPool {
        &self.pools.read
    }

    /// Finds a site row and, on PostgreSQL, locks it for the transaction.
    async fn lock_site(&self, tx: &mut Tx, site: &SiteRef) -> Result<Option<SiteRow>, StoreError> {
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
    async fn expire_site(&self, tx: &mut Tx, blog_id: i64, now: i64) -> Result<(), StoreError> {
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

    async fn live_in_tx(
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
    async fn connect_in_tx(
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

    async fn provision_in_tx(
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
                self.lock_site(tx, &SiteRef::Identifier(identifier.clone()))
                    .await?
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

    async fn cancel_in_tx(
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

/// Runs a unit of work in a write transaction: commits on `Ok(Ok)`, rolls
/// back on a refusal or a failure.
macro_rules! in_write_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut $tx = $self.begin_write().await?;
        let result = $body;
        match result {
            Ok(Ok(v)) => {
                $tx.commit().await?;
                Ok(Ok(v))
            }
            other => {
                $tx.rollback().await?;
                other
            }
        }
    }};
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.read()).await?;
        Ok(())
    }

    async fn create_partner(&self, name: &str, now: i64) -> Result<PartnerId, StoreError> {
        let row =
            sqlx::query("INSERT INTO partners (name, created_at) VALUES ($1, $2) RETURNING id")
                .bind(name)
                .bind(now)
                .fetch_one(&self.pools.write)
                .await?;
        Ok(row.try_get("id")?)
    }

    async fn create_key(&self, key: &NewKey, now: i64) -> Result<KeyId, StoreError> {
        let mut tx = self.begin_write().await?;
        if sqlx::query("SELECT id FROM partners WHERE id = $1")
            .bind(key.partner_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("partner {}", key.partner_id)));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO keys (partner_id, parent_key_id, name, secret_hash, test, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(key.partner_id)
        .bind(key.parent_key_id)
        .bind(key.name.as_str())
        .bind(key.secret_digest.clone())
        .bind(i64::from(key.test))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for (product, max) in &key.limits {
            sqlx::query("INSERT INTO key_limits (key_id, product, max_live) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(product.as_str())
                .bind(*max)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn key(&self, key: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, partner_id, parent_key_id, name, secret_hash, disabled, test FROM keys WHERE id = $1",
        )
        .bind(key)
        .fetch_optional(self.read())
        .await?;
        row.map(|r| {
            Ok(KeyRecord {
                id: r.try_get("id")?,
                partner_id: r.try_get("partner_id")?,
                parent_key_id: r.try_get("parent_key_id")?,
                name: r.try_get("name")?,
                secret_digest: r.try_get("secret_hash")?,
                disabled: flag(&r, "disabled")?,
                test: flag(&r, "test")?,
            })
        })
        .transpose()
    }

    async fn set_key_disabled(&self, key: KeyId, disabled: bool) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE keys SET disabled = $2 WHERE id = $1")
            .bind(key)
            .bind(i64::from(disabled))
            .execute(&self.pools.write)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn key_limits(&self, key: KeyId) -> Result<Vec<(ProductSlug, i64)>, StoreError> {
        let rows = sqlx::query("SELECT product, max_live FROM key_limits WHERE key_id = $1")
            .bind(key)
            .fetch_all(self.read())
            .await?;
        rows.iter()
            .map(|r| Ok((slug(r.try_get("product")?)?, r.try_get("max_live")?)))
            .collect()
    }

    async fn add_partner_redirect(
        &self,
        partner: PartnerId,
        prefix: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if sqlx::query("SELECT id FROM partners WHERE id = $1")
            .bind(partner)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("partner {partner}")));
        }
        let n = sqlx::query("INSERT INTO partner_redirects (partner_id, prefix) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(partner)
            .bind(prefix)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn partner_redirects(&self, partner: PartnerId) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT prefix FROM partner_redirects WHERE partner_id = $1 ORDER BY prefix",
        )
        .bind(partner)
        .fetch_all(self.read())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("prefix")?)).collect()
    }

    async fn insert_token(
        &self,
        digest: &[u8],
        key: KeyId,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO tokens (hash, key_id, scope, created_at) VALUES ($1, $2, $3, $4)")
            .bind(digest.to_vec())
            .bind(key)
            .bind(scope)
            .bind(now)
            .execute(&self.pools.write)
            .await?;
        Ok(())
    }

    async fn token(&self, digest: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT t.key_id, t.scope, k.partner_id, k.parent_key_id, k.disabled, k.test \
             FROM tokens t JOIN keys k ON k.id = t.key_id WHERE t.hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(digest.to_vec())
        .fetch_optional(self.read())
        .await?;
        row.map(|r| {
            Ok(TokenRecord {
                key_id: r.try_get("key_id")?,
                partner_id: r.try_get("partner_id")?,
                parent_key_id: r.try_get("parent_key_id")?,
                scope: r.try_get("scope")?,
                disabled: flag(&r, "disabled")?,
                test: flag(&r, "test")?,
            })
        })
        .transpose()
    }

    async fn revoke_token(&self, digest: &[u8], now: i64) -> Result<bool, StoreError> {
        let n =
            sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL")
                .bind(digest.to_vec())
                .bind(now)
                .execute(&self.pools.write)
                .await?
                .rows_affected();
        Ok(n == 1)
    }

    async fn revoke_key_tokens(&self, key: KeyId, now: i64) -> Result<u64, StoreError> {
        let n = sqlx::query(
            "UPDATE tokens SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL",
        )
        .bind(key)
        .bind(now)
        .execute(&self.pools.write)
        .await?
        .rows_affected();
        Ok(n)
    }

    async fn provision(
        &self,
        req: &ProvisionRequest,
        cat: &Catalogue,
    ) -> RuleResult<ProvisionOutcome> {
        in_write_tx!(self, |tx| {
            async {
                let out = self.provision_in_tx(&mut tx, req, cat).await?;
                if let (Ok(o), Some(link)) = (&out, &req.auth_link) {
                    if !o.connected {
                        sqlx::query("INSERT INTO auth_links (hash, blog_id, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                            .bind(link.digest.clone())
                            .bind(o.blog_id.as_i64())
                            .bind(req.key_id)
                            .bind(req.now)
                            .bind(link.expires_at)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Ok(out)
            }
            .await
        })
    }

    async fn cancel(&self, req: &CancelRequest, cat: &Catalogue) -> RuleResult<CancelOutcome> {
        in_write_tx!(self, |tx| self.cancel_in_tx(&mut tx, req, cat).await)
    }

    async fn site(&self, site: &SiteRef, now: i64) -> Result<Option<SiteState>, StoreError> {
        // One statement, so one snapshot: the site and its activations
        // agree without a transaction. (Status is the hottest read; on
        // SQLite every statement and BEGIN/COMMIT is a round trip to the
        // connection's worker thread, and these dominated its CPU time.)
        let (column, value) = site_key(site);
        let sql = format!(
            "SELECT s.blog_id, s.identifier, s.url, s.connected, \
             (SELECT COUNT(*) FROM credentials c WHERE c.blog_id = s.blog_id) AS creds, \
             a.id, a.product, a.key_id, k.partner_id, a.state, a.created_at, a.partner_tracking_id \
             FROM sites s LEFT JOIN activations a ON a.blog_id = s.blog_id AND {} \
             LEFT JOIN keys k ON k.id = a.key_id WHERE s.{column} = $1 ORDER BY a.id",
            live_at("$2")
        );
        let rows = match value {
            SiteKey::Id(id) => {
                sqlx::query(&sql)
                    .bind(id)
                    .bind(now)
                    .fetch_all(self.read())
                    .await?
            }
            SiteKey::Text(s) => {
                sqlx::query(&sql)
                    .bind(s)
                    .bind(now)
                    .fetch_all(self.read())
                    .await?
            }
        };
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let s = SiteRow::from_row(first)?;
        let creds: i64 = first.try_get("creds")?;
        let mut live = Vec::new();
        for r in &rows {
            // No live activation: one row with NULL activation columns.
            if r.try_get::<Option<i64>, _>("id")?.is_some() {
                live.push(live_from_row(r)?);
            }
        }
        Ok(Some(SiteState {
            blog_id: s.blog_id()?,
            identifier: s.identifier()?,
            url: s.url.clone(),
            connected: s.connected,
            has_backup_credentials: creds > 0,
            live,
        }))
    }

    async fn connect_site(
        &self,
        site: &SiteRef,
        now: i64,
    ) -> Result<Option<ConnectOutcome>, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(row) = self.lock_site(&mut tx, site).await? else {
            return Ok(None);
        };
        let out = self.connect_in_tx(&mut tx, &row, now, "operator").await?;
        tx.commit().await?;
        Ok(Some(out))
    }

    async fn expire_pending(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "UPDATE activations SET state = 'expired', ended_at = expires_at \
             WHERE state = 'pending' AND expires_at <= $1 RETURNING id, expires_at",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            event(
                &mut tx,
                r.try_get("id")?,
                Some("pending"),
                "expired",
                r.try_get("expires_at")?,
                "system",
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    async fn grant(
        &self,
        site: &SiteIdentifier,
        url: &str,
        product: &ProductSlug,
        family: &str,
        now: i64,
    ) -> RuleResult<ActivationId> {
        in_write_tx!(self, |tx| {
            async {
                sqlx::query("INSERT INTO sites (identifier, url, created_at) VALUES ($1, $2, $3) ON CONFLICT (identifier) DO NOTHING")
                    .bind(site.as_str())
                    .bind(url)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let Some(row) = self.lock_site(&mut tx, &SiteRef::Identifier(site.clone())).await? else {
                    return Err(StoreError::NotFound(format!("site {site}")));
                };
                self.expire_site(&mut tx, row.blog_id, now).await?;
                let sql = format!("SELECT a.id FROM activations a WHERE a.blog_id = $1 AND a.family = $2 AND {}", live_at("$3"));
                if sqlx::query(&sql).bind(row.blog_id).bind(family).bind(now).fetch_optional(&mut *tx).await?.is_some() {
                    return Ok(Err(ApiError {
                        code: ErrorCode::ProductOwnedByAnotherPartner,
                        message: format!("the site already has a live product of family {family}"),
                    }));
                }
                let id: i64 = sqlx::query(
                    "INSERT INTO activations (blog_id, key_id, product, family, state, created_at, activated_at) \
                     VALUES ($1, NULL, $2, $3, 'active', $4, $4) RETURNING id",
                )
                .bind(row.blog_id)
                .bind(product.as_str())
                .bind(family)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
                event(&mut tx, id, None, "active", now, "operator").await?;
                Ok(Ok(id))
            }
            .await
        })
    }

    async fn activations(
        &self,
        filter: &ActivationFilter,
    ) -> Result<Vec<ActivationRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT a.id, a.blog_id, s.identifier, a.product, a.state, a.key_id, k.partner_id, a.created_at, \
             a.activated_at, a.ended_at, a.partner_tracking_id \
             FROM activations a JOIN sites s ON s.blog_id = a.blog_id LEFT JOIN keys k ON k.id = a.key_id WHERE 1 = 1",
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let site = filter.site.as_ref().map(site_key);
        if let Some((column, _)) = &site {
            sql += &format!(" AND s.{column} = {}", next());
        }
        if filter.partner_id.is_some() {
            sql += &format!(" AND k.partner_id = {}", next());
        }
        if filter.key_id.is_some() {
            sql += &format!(" AND a.key_id = {}", next());
        }
        sql += " ORDER BY a.id";
        let mut q = sqlx::query(&sql);
        if let Some((_, value)) = site {
            q = match value {
                SiteKey::Id(id) => q.bind(id),
                SiteKey::Text(s) => q.bind(s),
            };
        }
        if let Some(p) = filter.partner_id {
            q = q.bind(p);
        }
        if let Some(k) = filter.key_id {
            q = q.bind(k);
        }
        let rows = q.fetch_all(self.read()).await?;
        rows.iter()
            .map(|r| {
                Ok(ActivationRecord {
                    id: r.try_get("id")?,
                    blog_id: blog_id(r.try_get("blog_id")?)?,
                    identifier: ident(r.try_get("identifier")?)?,
                    product: slug(r.try_get("product")?)?,
                    state: r.try_get("state")?,
                    key_id: r.try_get("key_id")?,
                    partner_id: r.try_get("partner_id")?,
                    created_at: r.try_get("created_at")?,
                    activated_at: r.try_get("activated_at")?,
                    ended_at: r.try_get("ended_at")?,
                    partner_tracking_id: r.try_get("partner_tracking_id")?,
                })
            })
            .collect()
    }

    async fn set_credentials(
        &self,
        blog: BlogId,
        kind: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if self
            .lock_site(&mut tx, &SiteRef::BlogId(blog))
            .await?
            .is_none()
        {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO credentials (blog_id, kind, sealed, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (blog_id, kind) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
        )
        .bind(blog.as_i64())
        .bind(kind)
        .bind(sealed.to_vec())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_auth_link(
        &self,
        digest: &[u8],
        blog: BlogId,
        key: KeyId,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO auth_links (hash, blog_id, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(digest.to_vec())
            .bind(blog.as_i64())
            .bind(key)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pools.write)
            .await?;
        Ok(())
    }

    async fn auth_link(&self, digest: &[u8], now: i64) -> Result<Option<AuthLink>, StoreError> {
        let row = sqlx::query(
            "SELECT l.blog_id, l.key_id, k.partner_id, l.expires_at, l.used_at FROM auth_links l \
             JOIN keys k ON k.id = l.key_id WHERE l.hash = $1",
        )
        .bind(digest.to_vec())
        .fetch_optional(self.read())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let link = auth_link_from_row(&r)?;
        Ok((link.expires_at > now).then_some(link))
    }

    async fn use_auth_link(
        &self,
        digest: &[u8],
        now: i64,
    ) -> Result<Option<(AuthLink, ConnectOutcome)>, StoreError> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT l.blog_id, l.key_id, k.partner_id, l.expires_at, l.used_at FROM auth_links l \
             JOIN keys k ON k.id = l.key_id WHERE l.hash = $1{}",
            self.backend.for_update()
        );
        let Some(r) = sqlx::query(&sql)
            .bind(digest.to_vec())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let link = auth_link_from_row(&r)?;
        if link.used || link.expires_at <= now {
            return Ok(None);
        }
        let Some(site) = self
            .lock_site(&mut tx, &SiteRef::BlogId(link.blog_id))
            .await?
        else {
            return Ok(None);
        };
        let out = self
            .connect_in_tx(&mut tx, &site, now, "site-owner")
            .await?;
        sqlx::query("UPDATE auth_links SET used_at = $2 WHERE blog_id = $1 AND used_at IS NULL")
            .bind(link.blog_id.as_i64())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some((link, out)))
    }
}

// --- Row helpers ---

struct SiteRow {
    blog_id: i64,
    identifier: String,
    url: String,
    connected: bool,
}

impl SiteRow {
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(SiteRow {
            blog_id: r.try_get("blog_id")?,
            identifier: r.try_get("identifier")?,
            url: r.try_get("url")?,
            connected: flag(r, "connected")?,
        })
    }

    fn blog_id(&self) -> Result<BlogId, StoreError> {
        blog_id(self.blog_id)
    }

    fn identifier(&self) -> Result<SiteIdentifier, StoreError> {
        ident(self.identifier.clone())
    }
}

enum SiteKey {
    Id(i64),
    Text(String),
}

fn site_key(site: &SiteRef) -> (&'static str, SiteKey) {
    match site {
        SiteRef::BlogId(id) => ("blog_id", SiteKey::Id(id.as_i64())),
        SiteRef::Identifier(i) => ("identifier", SiteKey::Text(i.as_str().to_string())),
    }
}

fn live_query(live: &str) -> String {
    format!(
        "SELECT a.id, a.product, a.key_id, k.partner_id, a.state, a.created_at, a.partner_tracking_id \
         FROM activations a LEFT JOIN keys k ON k.id = a.key_id WHERE a.blog_id = $1 AND {live} ORDER BY a.id"
    )
}

fn live_from_row(r: &AnyRow) -> Result<LiveActivation, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(LiveActivation {
        id: r.try_get("id")?,
        product: slug(r.try_get("product")?)?,
        key_id: r.try_get("key_id")?,
        partner_id: r.try_get("partner_id")?,
        pending: state == "pending",
        created_at: r.try_get("created_at")?,
        partner_tracking_id: r.try_get("partner_tracking_id")?,
    })
}

fn auth_link_from_row(r: &AnyRow) -> Result<AuthLink, StoreError> {
    let used: Option<i64> = r.try_get("used_at")?;
    Ok(AuthLink {
        blog_id: blog_id(r.try_get("blog_id")?)?,
        key_id: r.try_get("key_id")?,
        partner_id: r.try_get("partner_id")?,
        expires_at: r.try_get("expires_at")?,
        used: used.is_some(),
    })
}

fn flag(r: &AnyRow, column: &str) -> Result<bool, StoreError> {
    let v: i64 = r.try_get(column)?;
    Ok(v != 0)
}

fn blog_id(v: i64) -> Result<BlogId, StoreError> {
    u64::try_from(v)
        .ok()
        .and_then(BlogId::new)
        .ok_or_else(|| StoreError::Corrupt(format!("blog id {v}")))
}

fn ident(v: String) -> Result<SiteIdentifier, StoreError> {
    SiteIdentifier::parse(&v)
        .map_err(|e| StoreError::Corrupt(format!("site identifier {v:?}: {e}")))
}

fn slug(v: String) -> Result<ProductSlug, StoreError> {
    ProductSlug::parse(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn actor(key: KeyId) -> String {
    format!("key:{key}")
}

/// Appends to the event log (in the caller's transaction).
async fn event(
    tx: &mut Tx,
    activation: i64,
    from: Option<&str>,
    to: &str,
    at: i64,
    actor: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO events (activation_id, from_state, to_state, at, actor) VALUES ($1, $2, $3, $4, $5)")
        .bind(activation)
        .bind(from)
        .bind(to)
        .bind(at)
        .bind(actor)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
