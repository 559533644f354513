//! The [`Store`] on SQLite or PostgreSQL through sqlx's `Any` driver.
//!
//! Every query is written once in SQL both backends accept (`$N`
//! placeholders, `RETURNING`, `ON CONFLICT DO NOTHING`, partial indexes).
//! Times are integers (ms), flags are 0/1 integers.
//!
//! [`units`] holds the rule-applying units of work, [`rows`] row decoding.

mod rows;
mod units;
mod users;

use rows::*;

use async_trait::async_trait;
use jpstart_types::{BlogId, ProductSlug, SiteIdentifier, SiteRef};
use sqlx::{Any, AnyPool, Row, Transaction};

use super::dialect::{self, Backend, Pools};
use super::{migrate, types::*, users::*, ActivationId, RuleResult, Store, StoreError};
use crate::domain::rules::{KeyId, PartnerId};
use crate::domain::{ApiError, Catalogue, ErrorCode};

type Tx = Transaction<'static, Any>;

/// See the module docs.
pub struct SqlStore {
    pub(super) backend: Backend,
    pub(super) pools: Pools,
}

/// The live predicate: active, or pending and not yet past its expiry.
/// `$NOW` is replaced by the placeholder that carries the current time.
const LIVE: &str = "(a.state = 'active' OR (a.state = 'pending' AND a.expires_at > $NOW))";

pub(super) fn live_at(placeholder: &str) -> String {
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
}

/// Runs a unit of work in a write transaction: commits on `Ok(Ok)`, rolls
/// back on a refusal or a failure, and starts over on a retryable failure
/// (see [`super::retry`]).
macro_rules! in_write_tx {
    ($self:ident, |$tx:ident| $body:expr) => {
        retrying!(
            async {
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
            }
            .await
        )
    };
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

    async fn key_live_counts(
        &self,
        key: KeyId,
        now: i64,
    ) -> Result<Vec<(ProductSlug, i64)>, StoreError> {
        let sql = format!(
            "SELECT a.product, COUNT(*) AS n FROM activations a WHERE a.key_id = $1 AND {} \
             GROUP BY a.product",
            live_at("$2")
        );
        let rows = sqlx::query(&sql)
            .bind(key)
            .bind(now)
            .fetch_all(self.read())
            .await?;
        rows.iter()
            .map(|r| Ok((slug(r.try_get("product")?)?, r.try_get("n")?)))
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
                Ok::<_, StoreError>(out)
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
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                let Some(row) = self.lock_site(&mut tx, site).await? else {
                    return Ok(None);
                };
                let out = self.connect_in_tx(&mut tx, &row, now, "operator").await?;
                tx.commit().await?;
                Ok::<_, StoreError>(Some(out))
            }
            .await
        )
    }

    async fn expire_pending(&self, now: i64) -> Result<u64, StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                // Every change to a site's activations holds the site's row
                // lock (cancel and provision read the live set, then update
                // it). Without it, the sweep could expire an activation a
                // cancel had just read as live, and the cancel would fail.
                // Sites are locked in blog id order so that two sweeps cannot
                // deadlock; the set of rows to expire can only shrink
                // meanwhile, since new pending rows expire after `now`.
                if self.backend == Backend::Postgres {
                    let sql = format!(
                        "SELECT blog_id FROM sites WHERE blog_id IN \
                         (SELECT blog_id FROM activations WHERE state = 'pending' AND expires_at <= $1) \
                         ORDER BY blog_id{}",
                        self.backend.for_update()
                    );
                    sqlx::query(&sql).bind(now).fetch_all(&mut *tx).await?;
                }
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
                Ok::<_, StoreError>(rows.len() as u64)
            }
            .await
        )
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
                    return Ok(Err(ApiError::with_arg(ErrorCode::ProductOwnedByAnotherPartner, format!("a live {family} product"))));
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
        retrying!(
            async {
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
                Ok::<_, StoreError>(true)
            }
            .await
        )
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

    async fn auth_link(&self, digest: &[u8]) -> Result<Option<AuthLink>, StoreError> {
        let row = sqlx::query(
            "SELECT l.blog_id, l.key_id, k.partner_id, l.expires_at, l.used_at FROM auth_links l \
             JOIN keys k ON k.id = l.key_id WHERE l.hash = $1",
        )
        .bind(digest.to_vec())
        .fetch_optional(self.read())
        .await?;
        row.map(|r| auth_link_from_row(&r)).transpose()
    }

    async fn use_auth_link(
        &self,
        digest: &[u8],
        now: i64,
    ) -> Result<Option<(AuthLink, ConnectOutcome)>, StoreError> {
        retrying!(
            async {
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
                Ok::<_, StoreError>(Some((link, out)))
            }
            .await
        )
    }

    async fn live_by_product(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
        self.live_by_product_impl(now).await
    }

    async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        self.backup_impl(path).await
    }

    async fn user_creation_allowed(
        &self,
        partner: PartnerId,
    ) -> Result<Option<(String, bool)>, StoreError> {
        self.user_creation_allowed_impl(partner).await
    }

    async fn set_user_creation(
        &self,
        partner: PartnerId,
        allowed: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.set_user_creation_impl(partner, allowed, now).await
    }

    async fn create_wpcom_user(&self, user: &NewWpcomUser) -> RuleResult<WpcomUser> {
        self.create_wpcom_user_impl(user).await
    }

    async fn wpcom_users(&self, email_key: Option<&str>) -> Result<Vec<WpcomUser>, StoreError> {
        self.wpcom_users_impl(email_key).await
    }

    async fn auto_account(
        &self,
        req: &AutoAccount,
    ) -> Result<Option<AutoAccountOutcome>, StoreError> {
        self.auto_account_impl(req).await
    }

    async fn enqueue_mail(&self, mail: &NewMail) -> Result<i64, StoreError> {
        self.enqueue_mail_impl(mail).await
    }

    async fn outbox(&self, filter: &MailFilter) -> Result<Vec<OutboxMail>, StoreError> {
        self.outbox_impl(filter).await
    }

    async fn claim_mail(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        self.claim_mail_impl(now, lease_until, limit).await
    }

    async fn mail_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.mail_sent_impl(id, now).await
    }

    async fn mail_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.mail_failed_impl(id, error, retry_at, now).await
    }
}
