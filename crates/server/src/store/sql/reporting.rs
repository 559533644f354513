//! Reporting reads (SPEC §8): a page of a key's activations and the key's
//! whole history. Read-only, on the read pool, no locks: a report is a
//! snapshot of committed rows.
//!
//! The page query walks `activations_key_created (key_id, created_at, id)`
//! backwards from the key's newest entry and stops after `LIMIT + OFFSET`
//! entries, reading only the index (a deferred join: the page's rows and
//! sites are read for its ids alone). The unfiltered total is the key's
//! counter (`key_activation_counts`, at most 16 rows, kept by the
//! provision unit); a filtered one counts the key's entries of
//! the same index. Nothing reads another key's rows, and an unfiltered page
//! costs the same whatever the key holds.

use jpstart_types::{ActivationId, KeyId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::{bind_values, blog_id, slug, state, time, FilterValue};
use super::SqlStore;
use crate::clock::Timestamp;
use crate::domain::invoices::HistoryEntry;
use crate::store::reporting::{ActivationPage, ActivationQuery, ReportedActivation};
use crate::store::StoreError;

/// The `WHERE` of a query and the values of its placeholders after `$1`
/// (the key id), in order.
fn filter(q: &ActivationQuery) -> (String, Vec<FilterValue>) {
    let mut sql = String::from("a.key_id = $1");
    let mut values = Vec::new();
    let next = |v: FilterValue, values: &mut Vec<FilterValue>| {
        values.push(v);
        format!("${}", values.len() + 1)
    };
    if !q.products.is_empty() {
        let marks: Vec<String> = q
            .products
            .iter()
            .map(|p| next(FilterValue::Text(p.to_string()), &mut values))
            .collect();
        sql += &format!(" AND a.product IN ({})", marks.join(", "));
    }
    // A never activated one has a NULL activated_at, which no comparison
    // matches: it matches no date filter.
    if let Some(t) = q.activated_after {
        let mark = next(FilterValue::Int(t.as_millis()), &mut values);
        sql += &format!(" AND a.activated_at > {mark}");
    }
    if let Some(t) = q.activated_before {
        let mark = next(FilterValue::Int(t.as_millis()), &mut values);
        sql += &format!(" AND a.activated_at < {mark}");
    }
    (sql, values)
}

impl SqlStore {
    pub(super) async fn report_activations_impl(
        &self,
        q: &ActivationQuery,
    ) -> Result<ActivationPage, StoreError> {
        let (filter, values) = filter(q);
        let total: i64 = if values.is_empty() {
            // Unfiltered: the key's counter rows (migration 11), at most 16.
            sqlx::query(
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM key_activation_counts \
                 WHERE key_id = $1",
            )
            .bind(q.key_id.get())
            .fetch_one(self.read())
            .await?
            .try_get("n")?
        } else {
            let count_sql = format!("SELECT COUNT(*) AS n FROM activations a WHERE {filter}");
            bind_values!(sqlx::query(&count_sql).bind(q.key_id.get()), &values)
                .fetch_one(self.read())
                .await?
                .try_get("n")?
        };
        let n = values.len();
        // The page's ids first, from the index alone (a deep OFFSET skips
        // index entries, not joined rows), then their rows and sites.
        let page_sql = format!(
            "SELECT a.id, a.key_id, a.blog_id, a.product, a.state, a.created_at, a.activated_at, \
             a.ended_at, s.url, s.local_user, s.created_at AS site_created_at, \
             (SELECT MIN(t.user_id) FROM wpcom_user_tokens t WHERE t.blog_id = a.blog_id) AS wpcom_user_id \
             FROM (SELECT a.id FROM activations a WHERE {filter} \
                   ORDER BY a.created_at DESC, a.id DESC LIMIT ${} OFFSET ${}) page \
             JOIN activations a ON a.id = page.id JOIN sites s ON s.blog_id = a.blog_id \
             ORDER BY a.created_at DESC, a.id DESC",
            n + 2,
            n + 3
        );
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        let rows = bind_values!(sqlx::query(&page_sql).bind(q.key_id.get()), &values)
            .bind(i64::from(q.limit))
            .bind(offset)
            .fetch_all(self.read())
            .await?;
        Ok(ActivationPage {
            total: u64::try_from(total).unwrap_or(0),
            rows: rows.iter().map(reported).collect::<Result<_, _>>()?,
        })
    }

    pub(super) async fn key_history_impl(
        &self,
        key: KeyId,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.blog_id, a.product, a.state, a.created_at, a.activated_at, a.ended_at, \
             a.expires_at FROM activations a WHERE a.key_id = $1 ORDER BY a.created_at, a.id",
        )
        .bind(key.get())
        .fetch_all(self.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryEntry {
                    blog_id: blog_id(r.try_get("blog_id")?)?,
                    product: slug(r.try_get("product")?)?,
                    state: state(&r.try_get::<String, _>("state")?)?,
                    created_at: Timestamp::from_millis(r.try_get("created_at")?),
                    activated_at: time(r, "activated_at")?,
                    ended_at: time(r, "ended_at")?,
                    expires_at: time(r, "expires_at")?,
                })
            })
            .collect()
    }
}

/// A reported activation from a page row (the reporting list's and the
/// portal's, which select the same columns).
pub(super) fn reported(r: &AnyRow) -> Result<ReportedActivation, StoreError> {
    Ok(ReportedActivation {
        id: ActivationId::new(r.try_get("id")?),
        key_id: KeyId::new(r.try_get("key_id")?),
        blog_id: blog_id(r.try_get("blog_id")?)?,
        product: slug(r.try_get("product")?)?,
        state: state(&r.try_get::<String, _>("state")?)?,
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
        activated_at: time(r, "activated_at")?,
        ended_at: time(r, "ended_at")?,
        site_url: r.try_get("url")?,
        site_created_at: Timestamp::from_millis(r.try_get("site_created_at")?),
        local_user: r.try_get("local_user")?,
        wpcom_user_id: r.try_get("wpcom_user_id")?,
    })
}
