//! Partners, keys, their limits and redirect allow-lists.

use jpstart_types::{KeyId, PartnerId, ProductSlug};
use sqlx::Row;

use super::rows::{flag, slug};
use super::{live_at, SqlStore, Tx};
use crate::clock::Timestamp;
use crate::domain::lifecycle::{self, ParentKey};
use crate::domain::limits::{self, LimitUse};
use crate::domain::SubKeyRefusal;
use crate::store::types::{KeyRecord, NewKey, NewSubKey};
use crate::store::{Decided, StoreError};

/// The columns of a key row to insert.
struct KeyRow<'a> {
    partner_id: PartnerId,
    parent_key_id: Option<KeyId>,
    name: &'a str,
    secret_digest: &'a [u8],
    test: bool,
    limits: &'a [(ProductSlug, i64)],
}

impl SqlStore {
    pub(super) async fn create_partner_impl(
        &self,
        name: &str,
        now: Timestamp,
    ) -> Result<PartnerId, StoreError> {
        let row =
            sqlx::query("INSERT INTO partners (name, created_at) VALUES ($1, $2) RETURNING id")
                .bind(name)
                .bind(now.as_millis())
                .fetch_one(&self.pools.write)
                .await?;
        Ok(PartnerId::new(row.try_get("id")?))
    }

    pub(super) async fn create_key_impl(
        &self,
        key: &NewKey,
        now: Timestamp,
    ) -> Result<KeyId, StoreError> {
        let mut tx = self.begin_write().await?;
        if sqlx::query("SELECT id FROM partners WHERE id = $1")
            .bind(key.partner_id.get())
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("partner {}", key.partner_id)));
        }
        let row = KeyRow {
            partner_id: key.partner_id,
            parent_key_id: key.parent_key_id,
            name: &key.name,
            secret_digest: &key.secret_digest,
            test: key.test,
            limits: &key.limits,
        };
        let id = insert_key(&mut tx, &row, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(super) async fn create_sub_key_impl(
        &self,
        key: &NewSubKey,
        now: Timestamp,
    ) -> Decided<KeyId, SubKeyRefusal> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "SELECT id, partner_id, parent_key_id, test FROM keys WHERE id = $1{}",
                    self.backend.for_update()
                );
                let Some(r) = sqlx::query(&sql)
                    .bind(key.parent.get())
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Err(StoreError::NotFound(format!("key {}", key.parent)));
                };
                let parent = ParentKey {
                    id: KeyId::new(r.try_get("id")?),
                    partner_id: PartnerId::new(r.try_get("partner_id")?),
                    parent_key_id: r
                        .try_get::<Option<i64>, _>("parent_key_id")?
                        .map(KeyId::new),
                    test: flag(&r, "test")?,
                };
                let plan = match lifecycle::decide_sub_key(&parent) {
                    Ok(plan) => plan,
                    Err(refusal) => {
                        tx.rollback().await?;
                        return Ok(Err(refusal));
                    }
                };
                let row = KeyRow {
                    partner_id: plan.partner_id,
                    parent_key_id: Some(plan.parent_key_id),
                    name: &key.name,
                    secret_digest: &key.secret_digest,
                    test: plan.test,
                    limits: &key.limits,
                };
                let id = insert_key(&mut tx, &row, now).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(Ok(id))
            }
            .await
        )
    }

    /// Locks the key row for the transaction (`NotFound` for an unknown
    /// key): concurrent provisions by one key serialise here, so that the
    /// limit count below cannot be raced.
    pub(super) async fn lock_key(&self, tx: &mut Tx, key: KeyId) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT id FROM keys WHERE id = $1{}",
            self.backend.for_update()
        );
        if sqlx::query(&sql)
            .bind(key.get())
            .fetch_optional(&mut **tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("key {key}")));
        }
        Ok(())
    }

    /// The limit that applies to the key for a product
    /// ([`limits::applicable`]) with the key's live count of it, counted
    /// under the key's lock; `None`: unlimited.
    pub(super) async fn limit_use(
        &self,
        tx: &mut Tx,
        key: KeyId,
        is_sub_key: bool,
        product: &ProductSlug,
        now: Timestamp,
    ) -> Result<Option<LimitUse>, StoreError> {
        let stored: Option<i64> =
            sqlx::query("SELECT max_live FROM key_limits WHERE key_id = $1 AND product = $2")
                .bind(key.get())
                .bind(product.as_str())
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get("max_live"))
                .transpose()?;
        let Some(max) = limits::applicable(stored, is_sub_key) else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT COUNT(*) AS n FROM activations a WHERE a.key_id = $1 AND a.product = $2 AND {}",
            live_at("$3")
        );
        let live: i64 = sqlx::query(&sql)
            .bind(key.get())
            .bind(product.as_str())
            .bind(now.as_millis())
            .fetch_one(&mut **tx)
            .await?
            .try_get("n")?;
        Ok(Some(LimitUse { max, live }))
    }

    pub(super) async fn key_impl(&self, key: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, partner_id, parent_key_id, name, secret_hash, disabled, test FROM keys WHERE id = $1",
        )
        .bind(key.get())
        .fetch_optional(self.read())
        .await?;
        row.map(|r| {
            Ok(KeyRecord {
                id: KeyId::new(r.try_get("id")?),
                partner_id: PartnerId::new(r.try_get("partner_id")?),
                parent_key_id: r
                    .try_get::<Option<i64>, _>("parent_key_id")?
                    .map(KeyId::new),
                name: r.try_get("name")?,
                secret_digest: r.try_get("secret_hash")?,
                disabled: flag(&r, "disabled")?,
                test: flag(&r, "test")?,
            })
        })
        .transpose()
    }

    pub(super) async fn set_key_disabled_impl(
        &self,
        key: KeyId,
        disabled: bool,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE keys SET disabled = $2 WHERE id = $1")
            .bind(key.get())
            .bind(i64::from(disabled))
            .execute(&self.pools.write)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub(super) async fn key_limits_impl(
        &self,
        key: KeyId,
    ) -> Result<Vec<(ProductSlug, i64)>, StoreError> {
        let rows = sqlx::query("SELECT product, max_live FROM key_limits WHERE key_id = $1")
            .bind(key.get())
            .fetch_all(self.read())
            .await?;
        rows.iter()
            .map(|r| Ok((slug(r.try_get("product")?)?, r.try_get("max_live")?)))
            .collect()
    }

    pub(super) async fn key_live_counts_impl(
        &self,
        key: KeyId,
        now: Timestamp,
    ) -> Result<Vec<(ProductSlug, i64)>, StoreError> {
        let sql = format!(
            "SELECT a.product, COUNT(*) AS n FROM activations a WHERE a.key_id = $1 AND {} \
             GROUP BY a.product",
            live_at("$2")
        );
        let rows = sqlx::query(&sql)
            .bind(key.get())
            .bind(now.as_millis())
            .fetch_all(self.read())
            .await?;
        rows.iter()
            .map(|r| Ok((slug(r.try_get("product")?)?, r.try_get("n")?)))
            .collect()
    }

    pub(super) async fn add_partner_redirect_impl(
        &self,
        partner: PartnerId,
        prefix: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if sqlx::query("SELECT id FROM partners WHERE id = $1")
            .bind(partner.get())
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("partner {partner}")));
        }
        let n = sqlx::query("INSERT INTO partner_redirects (partner_id, prefix) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(partner.get())
            .bind(prefix)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    pub(super) async fn partner_redirects_impl(
        &self,
        partner: PartnerId,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT prefix FROM partner_redirects WHERE partner_id = $1 ORDER BY prefix",
        )
        .bind(partner.get())
        .fetch_all(self.read())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("prefix")?)).collect()
    }
}

async fn insert_key(tx: &mut Tx, key: &KeyRow<'_>, now: Timestamp) -> Result<KeyId, StoreError> {
    let id: i64 = sqlx::query(
        "INSERT INTO keys (partner_id, parent_key_id, name, secret_hash, test, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(key.partner_id.get())
    .bind(key.parent_key_id.map(KeyId::get))
    .bind(key.name)
    .bind(key.secret_digest.to_vec())
    .bind(i64::from(key.test))
    .bind(now.as_millis())
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    for (product, max) in key.limits {
        sqlx::query("INSERT INTO key_limits (key_id, product, max_live) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(product.as_str())
            .bind(*max)
            .execute(&mut **tx)
            .await?;
    }
    Ok(KeyId::new(id))
}
