//! Access tokens, stored as SHA-256 digests.

use jpstart_types::{KeyId, PartnerId};

use super::exec::{query, run_ready, Exec, Pool, Row};
use super::rows::flag;
use super::{SqlStore, Units};
use crate::clock::Timestamp;
use crate::domain::bounds::{self, LiveToken};
use crate::store::types::TokenRecord;
use crate::store::StoreError;

impl SqlStore {
    pub(super) async fn insert_token_impl(
        &self,
        digest: &[u8],
        key: KeyId,
        scope: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        query("INSERT INTO tokens (hash, key_id, scope, created_at) VALUES ($1, $2, $3, $4)")
            .bind(digest.to_vec())
            .bind(key.get())
            .bind(scope)
            .bind(now.as_millis())
            .execute(&mut Pool(&self.pools.write))
            .await?;
        Ok(())
    }

    pub(super) async fn issue_token_impl(
        &self,
        digest: &[u8],
        key: KeyId,
        scope: &str,
        now: Timestamp,
        cap: u32,
    ) -> Result<u64, StoreError> {
        if let Some(native) = &self.native {
            let (units, digest, scope) = (**self, digest.to_vec(), scope.to_string());
            return native
                .write(move |e| run_ready(units.issue_token_in(e, &digest, key, &scope, now, cap)))
                .await;
        }
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                let n = self
                    .issue_token_in(&mut tx, digest, key, scope, now, cap)
                    .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(n)
            }
            .await
        )
    }

    pub(super) async fn touch_token_impl(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if let Some(native) = &self.native {
            let (units, digest) = (**self, digest.to_vec());
            return native
                .write(move |e| run_ready(units.touch_token_in(e, &digest, now)))
                .await;
        }
        self.touch_token_in(&mut Pool(&self.pools.write), digest, now)
            .await
    }

    pub(super) async fn token_impl(
        &self,
        digest: &[u8],
    ) -> Result<Option<TokenRecord>, StoreError> {
        if let Some(native) = &self.native {
            return native.read(|e| run_ready(self.token_in(e, digest)));
        }
        self.token_in(&mut Pool(self.read()), digest).await
    }

    pub(super) async fn revoke_token_impl(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = query("UPDATE tokens SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL")
            .bind(digest.to_vec())
            .bind(now.as_millis())
            .execute(&mut Pool(&self.pools.write))
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub(super) async fn revoke_key_tokens_impl(
        &self,
        key: KeyId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let n = query("UPDATE tokens SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL")
            .bind(key.get())
            .bind(now.as_millis())
            .execute(&mut Pool(&self.pools.write))
            .await?
            .rows_affected();
        Ok(n)
    }
}

impl Units {
    /// Issues a token under the key's lock, first revoking (deleting: a
    /// revoked token and an unknown one answer alike, and the row would be
    /// growth again) the least recently used beyond `cap`
    /// ([`bounds::tokens_to_evict`]). Concurrent issues for one key
    /// serialise on the key row, so the cap is exact; without a cap they
    /// take no lock. Returns how many were revoked.
    pub(super) async fn issue_token_in(
        &self,
        tx: &mut impl Exec,
        digest: &[u8],
        key: KeyId,
        scope: &str,
        now: Timestamp,
        cap: u32,
    ) -> Result<u64, StoreError> {
        // Only a cap needs the key's lock (and its live tokens).
        let evict = if bounds::caps_tokens(cap) {
            self.lock_key(tx, key).await?;
            bounds::tokens_to_evict(&live_tokens(tx, key).await?, cap)
        } else {
            Vec::new()
        };
        for d in &evict {
            query("DELETE FROM tokens WHERE hash = $1")
                .bind(d.clone())
                .execute(tx)
                .await?;
        }
        query("INSERT INTO tokens (hash, key_id, scope, created_at) VALUES ($1, $2, $3, $4)")
            .bind(digest.to_vec())
            .bind(key.get())
            .bind(scope)
            .bind(now.as_millis())
            .execute(tx)
            .await?;
        Ok(u64::try_from(evict.len()).unwrap_or(u64::MAX))
    }

    /// Records a use of a token (the caller decided it is due,
    /// [`bounds::needs_touch`]); a concurrent touch or a revocation in
    /// between leaves it alone.
    pub(super) async fn touch_token_in(
        &self,
        e: &mut impl Exec,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        query(
            "UPDATE tokens SET last_used_at = $2 WHERE hash = $1 AND revoked_at IS NULL \
             AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .bind(digest.to_vec())
        .bind(now.as_millis())
        .execute(e)
        .await?;
        Ok(())
    }

    pub(super) async fn token_in(
        &self,
        e: &mut impl Exec,
        digest: &[u8],
    ) -> Result<Option<TokenRecord>, StoreError> {
        let row = query(TOKEN_BY_HASH)
            .bind(digest.to_vec())
            .fetch_optional(e)
            .await?;
        row.map(|r| token_record(&r, "")).transpose()
    }
}

/// A live token with its key and the key's parent, by its digest, as
/// [`token_record`] reads it.
const TOKEN_BY_HASH: &str = "SELECT t.key_id, t.scope, t.last_used_at, k.partner_id, \
     k.parent_key_id, k.disabled, k.test, COALESCE(pk.disabled, 0) AS parent_disabled \
     FROM tokens t JOIN keys k ON k.id = t.key_id LEFT JOIN keys pk ON pk.id = k.parent_key_id \
     WHERE t.hash = $1 AND t.revoked_at IS NULL";

/// `prefix`: what the columns' names start with, in a query that selects
/// them beside others.
pub(super) fn token_record(r: &Row, prefix: &str) -> Result<TokenRecord, StoreError> {
    let col = |c: &str| format!("{prefix}{c}");
    Ok(TokenRecord {
        key_id: KeyId::new(r.try_get(col("key_id"))?),
        partner_id: PartnerId::new(r.try_get(col("partner_id"))?),
        parent_key_id: r
            .try_get::<Option<i64>, _>(col("parent_key_id"))?
            .map(KeyId::new),
        scope: r.try_get(col("scope"))?,
        disabled: flag(r, &col("disabled"))?,
        parent_disabled: flag(r, &col("parent_disabled"))?,
        test: flag(r, &col("test"))?,
        last_used_at: r
            .try_get::<Option<i64>, _>(col("last_used_at"))?
            .map(Timestamp::from_millis),
    })
}

/// The key's live tokens, read under its lock.
async fn live_tokens(tx: &mut impl Exec, key: KeyId) -> Result<Vec<LiveToken>, StoreError> {
    let rows = query(
        "SELECT hash, created_at, last_used_at FROM tokens WHERE key_id = $1 AND revoked_at IS NULL",
    )
    .bind(key.get())
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LiveToken {
                digest: r.try_get("hash")?,
                created_at: Timestamp::from_millis(r.try_get("created_at")?),
                last_used_at: r
                    .try_get::<Option<i64>, _>("last_used_at")?
                    .map(Timestamp::from_millis),
            })
        })
        .collect()
}
