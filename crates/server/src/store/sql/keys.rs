//! Partners, keys, their limits and redirect allow-lists.

use jpstart_types::{KeyId, PartnerId, ProductSlug};

use super::exec::{query, Exec, Pool, Row};
use super::rows::{flag, slug};
use super::{live_at, SqlStore, Units};
use crate::clock::Timestamp;
use crate::domain::lifecycle::{self, ParentKey, SubKeyContext};
use crate::domain::limits::{self, LimitUse};
use crate::domain::rules::{KeyUsage, ParentUsage};
use crate::domain::SubKeyRefusal;
use crate::store::types::{KeyRecord, NewKey, NewSubKey};
use crate::store::{Backend, Decided, StoreError};

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
        let row = query("INSERT INTO partners (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(now.as_millis())
            .fetch_one(&mut Pool(&self.pools.write))
            .await?;
        Ok(PartnerId::new(row.try_get("id")?))
    }

    pub(super) async fn create_key_impl(
        &self,
        key: &NewKey,
        now: Timestamp,
    ) -> Result<KeyId, StoreError> {
        let mut tx = self.begin_write().await?;
        if query("SELECT id FROM partners WHERE id = $1")
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
                let parent = self.lock_parent(&mut tx, key.parent).await?;
                // The partner's row after the key's (the lock order of
                // `store/`): concurrent creations by any key of the
                // partner serialise here, so the cap is exact.
                let sql = format!(
                    "SELECT id FROM partners WHERE id = $1{}",
                    self.backend.for_update()
                );
                query(&sql)
                    .bind(parent.partner_id.get())
                    .fetch_one(&mut *tx)
                    .await?;
                let sub_keys: i64 = query(
                    "SELECT COUNT(*) AS n FROM keys WHERE partner_id = $1 AND parent_key_id IS NOT NULL",
                )
                .bind(parent.partner_id.get())
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                let parent_limits = stored_limits(&mut tx, parent.id).await?;
                let ctx = SubKeyContext {
                    parent,
                    parent_limits: &parent_limits,
                    asked: &key.limits,
                    sub_keys,
                    max_sub_keys: key.max_sub_keys,
                };
                let plan = match lifecycle::decide_sub_key(&ctx) {
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

    /// The would-be parent of a sub-key, locked (`NotFound` if unknown).
    async fn lock_parent(&self, tx: &mut impl Exec, key: KeyId) -> Result<ParentKey, StoreError> {
        let sql = format!(
            "SELECT id, partner_id, parent_key_id, test FROM keys WHERE id = $1{}",
            self.backend.for_update()
        );
        let Some(r) = query(&sql).bind(key.get()).fetch_optional(&mut *tx).await? else {
            return Err(StoreError::NotFound(format!("key {key}")));
        };
        Ok(ParentKey {
            id: KeyId::new(r.try_get("id")?),
            partner_id: PartnerId::new(r.try_get("partner_id")?),
            parent_key_id: r
                .try_get::<Option<i64>, _>("parent_key_id")?
                .map(KeyId::new),
            test: flag(&r, "test")?,
        })
    }
}

impl Units {
    /// Locks the key's row for the transaction, its parent's first
    /// (`NotFound` for an unknown key), and returns the parent: for the
    /// units that must exclude every other change by the key family (the
    /// token cap); the order parent → sub-key → site is the global lock
    /// order (see `store/mod.rs`). Provisions lock only what their limits
    /// need ([`Self::limit_uses`]).
    pub(super) async fn lock_key(
        &self,
        tx: &mut impl Exec,
        key: KeyId,
    ) -> Result<Option<KeyId>, StoreError> {
        // A key's parent never changes: it may be read before the locks.
        let Some(row) = query("SELECT parent_key_id FROM keys WHERE id = $1")
            .bind(key.get())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Err(StoreError::NotFound(format!("key {key}")));
        };
        let parent = row
            .try_get::<Option<i64>, _>("parent_key_id")?
            .map(KeyId::new);
        for k in parent.into_iter().chain([key]) {
            self.lock_key_row(tx, k).await?;
        }
        Ok(parent)
    }

    /// The limits that apply to a provision of `product` by `key`, each
    /// with the live count it is checked against ([`limits`]): a sub-key's
    /// own against its own count, the family head's (the parent's, or a
    /// top-level key's own) against the whole family's. Each is counted
    /// under the lock of the row it belongs to, parent before sub-key (the
    /// global lock order, see `store/mod.rs`), and only those rows are
    /// locked: a provision no limit applies to takes no key lock, so one
    /// partner's provisions do not queue behind each other. Limits are
    /// written once, with their key, so they may be read before the locks.
    /// `NotFound` for an unknown key.
    pub(super) async fn limit_uses(
        &self,
        tx: &mut impl Exec,
        key: KeyId,
        product: Option<&ProductSlug>,
        now: Timestamp,
    ) -> Result<Vec<LimitUse>, StoreError> {
        let row = query(
            "SELECT k.parent_key_id, \
             (SELECT l.max_live FROM key_limits l WHERE l.key_id = k.id AND l.product = $2) AS own_max, \
             (SELECT l.max_live FROM key_limits l \
              WHERE l.key_id = COALESCE(k.parent_key_id, k.id) AND l.product = $2) AS head_max \
             FROM keys k WHERE k.id = $1",
        )
        .bind(key.get())
        .bind(product.map_or("", ProductSlug::as_str))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("key {key}")))?;
        let Some(product) = product else {
            return Ok(Vec::new());
        };
        let parent = row
            .try_get::<Option<i64>, _>("parent_key_id")?
            .map(KeyId::new);
        let applicable = limits::for_provision(
            parent.is_some(),
            row.try_get("own_max")?,
            row.try_get("head_max")?,
        );
        let head = parent.unwrap_or(key);
        let mut uses = Vec::new();
        if let Some(max) = applicable.family {
            self.lock_key_row(tx, head).await?;
            let live = count_live(tx, head, true, product, now).await?;
            uses.push(LimitUse { max, live });
        }
        if let Some(max) = applicable.own {
            self.lock_key_row(tx, key).await?;
            let live = count_live(tx, key, false, product, now).await?;
            uses.push(LimitUse { max, live });
        }
        Ok(uses)
    }

    /// Locks one key's row for the transaction (PostgreSQL; SQLite's write
    /// transactions exclude each other already).
    async fn lock_key_row(&self, tx: &mut impl Exec, key: KeyId) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            return Ok(());
        }
        let sql = format!(
            "SELECT id FROM keys WHERE id = $1{}",
            self.backend.for_update()
        );
        match query(&sql).bind(key.get()).fetch_optional(tx).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!("key {key}"))),
        }
    }
}

impl SqlStore {
    /// What the upgrade paths check ([`KeyUsage`]), read without locks.
    pub(super) async fn key_usage_impl(
        &self,
        key: KeyId,
        now: Timestamp,
    ) -> Result<KeyUsage, StoreError> {
        let mut conn = self.read().acquire().await?;
        let parent: Option<KeyId> = query("SELECT parent_key_id FROM keys WHERE id = $1")
            .bind(key.get())
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.try_get::<Option<i64>, _>("parent_key_id"))
            .transpose()?
            .flatten()
            .map(KeyId::new);
        let mut usage = KeyUsage {
            is_sub_key: parent.is_some(),
            limits: stored_limits(&mut conn, key).await?,
            live: live_counts(&mut conn, key, parent.is_none(), now).await?,
            parent: None,
        };
        if let Some(p) = parent {
            usage.parent = Some(ParentUsage {
                limits: stored_limits(&mut conn, p).await?,
                live: live_counts(&mut conn, p, true, now).await?,
            });
        }
        Ok(usage)
    }

    /// Every key (of one partner), in id order.
    pub(super) async fn keys_impl(
        &self,
        partner: Option<PartnerId>,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let sql = format!("{KEY_SELECT} WHERE ($1 IS NULL OR k.partner_id = $1) ORDER BY k.id");
        let rows = query(&sql)
            .bind(partner.map(PartnerId::get))
            .fetch_all(&mut Pool(self.read()))
            .await?;
        rows.iter().map(key_record).collect()
    }

    pub(super) async fn key_impl(&self, key: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let sql = format!("{KEY_SELECT} WHERE k.id = $1");
        let row = query(&sql)
            .bind(key.get())
            .fetch_optional(&mut Pool(self.read()))
            .await?;
        row.as_ref().map(key_record).transpose()
    }

    pub(super) async fn set_key_disabled_impl(
        &self,
        key: KeyId,
        disabled: bool,
    ) -> Result<bool, StoreError> {
        let n = query("UPDATE keys SET disabled = $2 WHERE id = $1")
            .bind(key.get())
            .bind(i64::from(disabled))
            .execute(&mut Pool(&self.pools.write))
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub(super) async fn key_limits_impl(
        &self,
        key: KeyId,
    ) -> Result<Vec<(ProductSlug, i64)>, StoreError> {
        let rows = query("SELECT product, max_live FROM key_limits WHERE key_id = $1")
            .bind(key.get())
            .fetch_all(&mut Pool(self.read()))
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
        let mut conn = self.read().acquire().await?;
        live_counts(&mut conn, key, false, now).await
    }

    pub(super) async fn add_partner_redirect_impl(
        &self,
        partner: PartnerId,
        prefix: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if query("SELECT id FROM partners WHERE id = $1")
            .bind(partner.get())
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound(format!("partner {partner}")));
        }
        let n = query("INSERT INTO partner_redirects (partner_id, prefix) VALUES ($1, $2) ON CONFLICT DO NOTHING")
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
        let rows =
            query("SELECT prefix FROM partner_redirects WHERE partner_id = $1 ORDER BY prefix")
                .bind(partner.get())
                .fetch_all(&mut Pool(self.read()))
                .await?;
        rows.iter().map(|r| r.try_get("prefix")).collect()
    }
}

/// A key row with its parent's disabled flag.
const KEY_SELECT: &str =
    "SELECT k.id, k.partner_id, k.parent_key_id, k.name, k.secret_hash, k.disabled, k.test, \
     COALESCE(pk.disabled, 0) AS parent_disabled \
     FROM keys k LEFT JOIN keys pk ON pk.id = k.parent_key_id";

fn key_record(r: &Row) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        id: KeyId::new(r.try_get("id")?),
        partner_id: PartnerId::new(r.try_get("partner_id")?),
        parent_key_id: r
            .try_get::<Option<i64>, _>("parent_key_id")?
            .map(KeyId::new),
        name: r.try_get("name")?,
        secret_digest: r.try_get("secret_hash")?,
        disabled: flag(r, "disabled")?,
        parent_disabled: flag(r, "parent_disabled")?,
        test: flag(r, "test")?,
    })
}

/// Which activations a live count takes in: the key's own, or (`family`)
/// the key's and its sub-keys'.
fn key_scope(family: bool) -> &'static str {
    if family {
        "(a.key_id = $1 OR a.key_id IN (SELECT id FROM keys WHERE parent_key_id = $1))"
    } else {
        "a.key_id = $1"
    }
}

async fn stored_limits(
    conn: &mut impl Exec,
    key: KeyId,
) -> Result<Vec<(ProductSlug, i64)>, StoreError> {
    let rows = query("SELECT product, max_live FROM key_limits WHERE key_id = $1")
        .bind(key.get())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((slug(r.try_get("product")?)?, r.try_get("max_live")?)))
        .collect()
}

async fn count_live(
    conn: &mut impl Exec,
    key: KeyId,
    family: bool,
    product: &ProductSlug,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM activations a WHERE {} AND a.product = $2 AND {}",
        key_scope(family),
        live_at("$3")
    );
    query(&sql)
        .bind(key.get())
        .bind(product.as_str())
        .bind(now.as_millis())
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")
}

/// Live activations per product (products with none are absent).
async fn live_counts(
    conn: &mut impl Exec,
    key: KeyId,
    family: bool,
    now: Timestamp,
) -> Result<Vec<(ProductSlug, i64)>, StoreError> {
    let sql = format!(
        "SELECT a.product, COUNT(*) AS n FROM activations a WHERE {} AND {} GROUP BY a.product",
        key_scope(family),
        live_at("$2")
    );
    let rows = query(&sql)
        .bind(key.get())
        .bind(now.as_millis())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((slug(r.try_get("product")?)?, r.try_get("n")?)))
        .collect()
}

async fn insert_key(
    tx: &mut impl Exec,
    key: &KeyRow<'_>,
    now: Timestamp,
) -> Result<KeyId, StoreError> {
    let id: i64 = query(
        "INSERT INTO keys (partner_id, parent_key_id, name, secret_hash, test, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(key.partner_id.get())
    .bind(key.parent_key_id.map(KeyId::get))
    .bind(key.name)
    .bind(key.secret_digest.to_vec())
    .bind(i64::from(key.test))
    .bind(now.as_millis())
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    for (product, max) in key.limits {
        query("INSERT INTO key_limits (key_id, product, max_live) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(product.as_str())
            .bind(*max)
            .execute(&mut *tx)
            .await?;
    }
    Ok(KeyId::new(id))
}
