//! Access tokens, stored as SHA-256 digests.

use jpstart_types::{KeyId, PartnerId};
use sqlx::Row;

use super::rows::flag;
use super::SqlStore;
use crate::clock::Timestamp;
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
        sqlx::query("INSERT INTO tokens (hash, key_id, scope, created_at) VALUES ($1, $2, $3, $4)")
            .bind(digest.to_vec())
            .bind(key.get())
            .bind(scope)
            .bind(now.as_millis())
            .execute(&self.pools.write)
            .await?;
        Ok(())
    }

    pub(super) async fn token_impl(
        &self,
        digest: &[u8],
    ) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT t.key_id, t.scope, k.partner_id, k.parent_key_id, k.disabled, k.test, \
             COALESCE(pk.disabled, 0) AS parent_disabled \
             FROM tokens t JOIN keys k ON k.id = t.key_id LEFT JOIN keys pk ON pk.id = k.parent_key_id \
             WHERE t.hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(digest.to_vec())
        .fetch_optional(self.read())
        .await?;
        row.map(|r| {
            Ok(TokenRecord {
                key_id: KeyId::new(r.try_get("key_id")?),
                partner_id: PartnerId::new(r.try_get("partner_id")?),
                parent_key_id: r
                    .try_get::<Option<i64>, _>("parent_key_id")?
                    .map(KeyId::new),
                scope: r.try_get("scope")?,
                disabled: flag(&r, "disabled")?,
                parent_disabled: flag(&r, "parent_disabled")?,
                test: flag(&r, "test")?,
            })
        })
        .transpose()
    }

    pub(super) async fn revoke_token_impl(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n =
            sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL")
                .bind(digest.to_vec())
                .bind(now.as_millis())
                .execute(&self.pools.write)
                .await?
                .rows_affected();
        Ok(n == 1)
    }

    pub(super) async fn revoke_key_tokens_impl(
        &self,
        key: KeyId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let n = sqlx::query(
            "UPDATE tokens SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL",
        )
        .bind(key.get())
        .bind(now.as_millis())
        .execute(&self.pools.write)
        .await?
        .rows_affected();
        Ok(n)
    }
}
