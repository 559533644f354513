//! The test clock's offset kept in the database (`test_clock`, migration
//! 0002): one row, no row meaning 0. Every change is one statement, so two
//! operators moving the clock at once both take effect (advance) or the
//! later target wins only if it is later (set), on either backend.

use sqlx::Row;

use super::sql::SqlStore;
use super::StoreError;

impl SqlStore {
    pub(super) async fn clock_offset_impl(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT offset_ms FROM test_clock WHERE id = 1")
            .fetch_optional(&self.pools.read)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("offset_ms"))
            .transpose()?
            .unwrap_or(0))
    }

    pub(super) async fn advance_clock_offset_impl(&self, by_ms: i64) -> Result<i64, StoreError> {
        if by_ms < 0 {
            return Err(StoreError::Config(format!(
                "the clock only moves forward ({by_ms} ms asked)"
            )));
        }
        let row = sqlx::query(
            "INSERT INTO test_clock (id, offset_ms) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET offset_ms = test_clock.offset_ms + excluded.offset_ms \
             RETURNING offset_ms",
        )
        .bind(by_ms)
        .fetch_one(&self.pools.write)
        .await?;
        Ok(row.try_get("offset_ms")?)
    }

    pub(super) async fn raise_clock_offset_impl(
        &self,
        offset_ms: i64,
    ) -> Result<Result<i64, i64>, StoreError> {
        if offset_ms >= 0 {
            // The WHERE makes the update, and so the RETURNING, empty when
            // it would move the clock back.
            let row = sqlx::query(
                "INSERT INTO test_clock (id, offset_ms) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET offset_ms = excluded.offset_ms \
                 WHERE test_clock.offset_ms <= excluded.offset_ms \
                 RETURNING offset_ms",
            )
            .bind(offset_ms)
            .fetch_optional(&self.pools.write)
            .await?;
            if let Some(r) = row {
                return Ok(Ok(r.try_get("offset_ms")?));
            }
        }
        Ok(Err(self.clock_offset_impl().await?))
    }
}
