//! The sandbox's counters (SPEC §9, migration 0009): requests per key to
//! each `flaky-N.jpstart.test` site. One statement per hit, so that two
//! servers on one database count every request once and agree on which
//! ones fail.

use jpstart_types::{KeyId, SiteIdentifier};
use sqlx::Row;

use super::SqlStore;
use crate::store::StoreError;

impl SqlStore {
    pub(super) async fn sandbox_flaky_hit_impl(
        &self,
        key_id: KeyId,
        site: &SiteIdentifier,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO sandbox_flaky_hits (key_id, site, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (key_id, site) DO UPDATE SET hits = sandbox_flaky_hits.hits + 1 \
             RETURNING hits",
        )
        .bind(key_id.get())
        .bind(site.as_str())
        .fetch_one(&self.pools.write)
        .await?;
        Ok(row.try_get("hits")?)
    }
}
