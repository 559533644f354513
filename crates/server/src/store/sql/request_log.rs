//! The request log (SPEC §9) on both backends: batch inserts from the
//! background writer, filtered pages for the endpoint and the operator, and
//! pruning past the retention.

use jpstart_types::{KeyId, PartnerId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::SqlStore;
use crate::clock::Timestamp;
use crate::store::{LoggedRequestRecord, NewLoggedRequest, RequestLogFilter, StoreError};

const COLUMNS: &str =
    "time, partner_id, key_id, method, path, status, error_code, latency_ms, params, response";
/// Placeholders per row (one per column of [`COLUMNS`]).
const PER_ROW: usize = 10;
/// Rows per INSERT statement: far below both backends' placeholder limits.
const ROWS_PER_STATEMENT: usize = 50;

fn record(r: &AnyRow) -> Result<LoggedRequestRecord, StoreError> {
    let status: i64 = r.try_get("status")?;
    Ok(LoggedRequestRecord {
        id: r.try_get("id")?,
        entry: NewLoggedRequest {
            time: Timestamp::from_millis(r.try_get("time")?),
            partner_id: r
                .try_get::<Option<i64>, _>("partner_id")?
                .map(PartnerId::new),
            key_id: r.try_get::<Option<i64>, _>("key_id")?.map(KeyId::new),
            method: r.try_get("method")?,
            path: r.try_get("path")?,
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt(format!("request status {status}")))?,
            error_code: r.try_get("error_code")?,
            latency_ms: r.try_get("latency_ms")?,
            params: r.try_get("params")?,
            response: r.try_get("response")?,
        },
    })
}

/// `WHERE ...` of a filter, with its values in placeholder order.
fn conditions(f: &RequestLogFilter) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    let mut add = |clause: &str, v: Value| {
        values.push(v);
        clauses.push(clause.replace('?', &format!("${}", values.len())));
    };
    if let Some(p) = f.partner {
        add("partner_id = ?", Value::Int(p.get()));
    }
    if let Some(k) = f.key {
        add("key_id = ?", Value::Int(k.get()));
    }
    if let Some(s) = f.status {
        add("status = ?", Value::Int(i64::from(s)));
    }
    if let Some(prefix) = &f.path_prefix {
        // substr() rather than LIKE: no wildcards to escape, and the same
        // case-sensitive comparison on both backends.
        let n = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
        add(
            &format!("substr(path, 1, {n}) = ?"),
            Value::Text(prefix.clone()),
        );
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, values)
}

enum Value {
    Int(i64),
    Text(String),
}

fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    v: &Value,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    match v {
        Value::Int(i) => q.bind(*i),
        Value::Text(s) => q.bind(s.clone()),
    }
}

impl SqlStore {
    pub(super) async fn insert_requests_impl(
        &self,
        batch: &[NewLoggedRequest],
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let ps: Vec<String> = (1..=PER_ROW)
                        .map(|j| format!("${}", i * PER_ROW + j))
                        .collect();
                    format!("({})", ps.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO request_log ({COLUMNS}) VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.time.as_millis())
                    .bind(e.partner_id.map(|p| p.get()))
                    .bind(e.key_id.map(|k| k.get()))
                    .bind(e.method.clone())
                    .bind(e.path.clone())
                    .bind(i64::from(e.status))
                    .bind(e.error_code.clone())
                    .bind(e.latency_ms)
                    .bind(e.params.clone())
                    .bind(e.response.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn requests_impl(
        &self,
        filter: &RequestLogFilter,
    ) -> Result<(u64, Vec<LoggedRequestRecord>), StoreError> {
        let (cond, values) = conditions(filter);
        let count_sql = format!("SELECT COUNT(*) AS n FROM request_log {cond}");
        let mut count = sqlx::query(&count_sql);
        for v in &values {
            count = bind(count, v);
        }
        let total: i64 = count.fetch_one(self.read()).await?.try_get("n")?;
        let n = values.len();
        let page_sql = format!(
            "SELECT id, {COLUMNS} FROM request_log {cond} \
             ORDER BY time DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut page = sqlx::query(&page_sql);
        for v in &values {
            page = bind(page, v);
        }
        let rows = page
            .bind(filter.limit.max(0))
            .bind(filter.offset.max(0))
            .fetch_all(self.read())
            .await?;
        let records = rows.iter().map(record).collect::<Result<_, _>>()?;
        Ok((u64::try_from(total).unwrap_or(0), records))
    }

    pub(super) async fn prune_requests_impl(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM request_log WHERE time < $1")
            .bind(before.as_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_number_their_placeholders_in_order() {
        let f = RequestLogFilter {
            partner: Some(PartnerId::new(1)),
            key: None,
            status: Some(400),
            path_prefix: Some("/rest/v1.3".into()),
            offset: 0,
            limit: 20,
        };
        let (sql, values) = conditions(&f);
        assert_eq!(
            sql,
            "WHERE partner_id = $1 AND status = $2 AND substr(path, 1, 10) = $3"
        );
        assert_eq!(values.len(), 3);
        assert_eq!(conditions(&RequestLogFilter::default()).0, "");
    }
}
