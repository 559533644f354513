//! Operator-facing queries of the SQL store: metrics and online backup.

use std::path::Path;

use sqlx::Row;

use super::dialect::Backend;
use super::sql::{live_at, SqlStore};
use super::StoreError;

impl SqlStore {
    pub(super) async fn live_by_product_impl(
        &self,
        now: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = format!(
            "SELECT a.product, COUNT(*) AS n FROM activations a WHERE {} \
             GROUP BY a.product ORDER BY a.product",
            live_at("$1")
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .fetch_all(&self.pools.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("product")?, r.try_get("n")?)))
            .collect()
    }

    pub(super) async fn backup_impl(&self, path: &Path) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            return Err(StoreError::Config(
                "backup works on SQLite only; back up PostgreSQL with pg_dump \
                 (e.g. pg_dump --format=custom --file=jpstart.dump DBNAME)"
                    .into(),
            ));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Config(format!("{}: not UTF-8", path.display())))?;
        // VACUUM INTO reads one snapshot of the database and writes a
        // compacted copy; writers go on meanwhile (WAL), and the copy holds
        // every transaction committed before the snapshot, none half.
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pools.read)
            .await?;
        Ok(())
    }
}
