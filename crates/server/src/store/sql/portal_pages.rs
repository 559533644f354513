//! The portal's data pages (SPEC §8): the activations table of a partner,
//! a site's event history as one partner sees it, and a key's secret
//! rotation.
//!
//! The table's query names the partner in its `WHERE` (every row through
//! a key of that partner), so a page cannot show another partner's rows
//! whatever its parameters. With one key it walks `activations_key_created`
//! as the list endpoint does.

use jpstart_types::{ActivationId, BlogId, KeyId, PartnerId};
use sqlx::Row;

use super::reporting::reported;
use super::rows::{bind_values, slug, FilterValue};
use super::SqlStore;
use crate::clock::Timestamp;
use crate::store::portal_pages::{ActivationEvent, PortalActivationQuery, Rotated};
use crate::store::reporting::ActivationPage;
use crate::store::StoreError;

/// The `WHERE` of the table's query and its placeholders' values, in order.
fn filter(q: &PortalActivationQuery) -> (String, Vec<FilterValue>) {
    let mut values = vec![FilterValue::Int(q.partner_id.get())];
    let mut sql = String::from("a.key_id IN (SELECT k.id FROM keys k WHERE k.partner_id = $1)");
    let mark = |v: FilterValue, values: &mut Vec<FilterValue>| {
        values.push(v);
        format!("${}", values.len())
    };
    if let Some(k) = q.key_id {
        sql += &format!(
            " AND a.key_id = {}",
            mark(FilterValue::Int(k.get()), &mut values)
        );
    }
    if !q.products.is_empty() {
        let marks: Vec<String> = q
            .products
            .iter()
            .map(|p| mark(FilterValue::Text(p.to_string()), &mut values))
            .collect();
        sql += &format!(" AND a.product IN ({})", marks.join(", "));
    }
    if !q.states.is_empty() {
        let marks: Vec<String> = q
            .states
            .iter()
            .map(|s| mark(FilterValue::Text(s.as_str().to_string()), &mut values))
            .collect();
        sql += &format!(" AND a.state IN ({})", marks.join(", "));
    }
    if let Some(t) = q.activated_after {
        sql += &format!(
            " AND a.activated_at > {}",
            mark(FilterValue::Int(t.as_millis()), &mut values)
        );
    }
    if let Some(t) = q.activated_before {
        sql += &format!(
            " AND a.activated_at < {}",
            mark(FilterValue::Int(t.as_millis()), &mut values)
        );
    }
    (sql, values)
}

impl SqlStore {
    pub(super) async fn portal_activations_impl(
        &self,
        q: &PortalActivationQuery,
    ) -> Result<ActivationPage, StoreError> {
        let (filter, values) = filter(q);
        let count_sql = format!("SELECT COUNT(*) AS n FROM activations a WHERE {filter}");
        let total: i64 = bind_values!(sqlx::query(&count_sql), &values)
            .fetch_one(self.read())
            .await?
            .try_get("n")?;
        let n = values.len();
        let page_sql = format!(
            "SELECT a.id, a.key_id, a.blog_id, a.product, a.state, a.created_at, a.activated_at, \
             a.ended_at, s.url, s.local_user, s.created_at AS site_created_at, \
             (SELECT MIN(t.user_id) FROM wpcom_user_tokens t WHERE t.blog_id = a.blog_id) AS wpcom_user_id \
             FROM activations a JOIN sites s ON s.blog_id = a.blog_id \
             WHERE {filter} ORDER BY a.created_at DESC, a.id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        let rows = bind_values!(sqlx::query(&page_sql), &values)
            .bind(i64::from(q.limit))
            .bind(offset)
            .fetch_all(self.read())
            .await?;
        Ok(ActivationPage {
            total: u64::try_from(total).unwrap_or(0),
            rows: rows.iter().map(reported).collect::<Result<_, _>>()?,
        })
    }

    pub(super) async fn site_events_impl(
        &self,
        blog: BlogId,
        partner: PartnerId,
    ) -> Result<Vec<ActivationEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.activation_id, a.product, a.key_id, e.from_state, e.to_state, e.at, e.actor \
             FROM events e JOIN activations a ON a.id = e.activation_id \
             JOIN keys k ON k.id = a.key_id \
             WHERE a.blog_id = $1 AND k.partner_id = $2 ORDER BY e.at, e.id",
        )
        .bind(blog.as_i64())
        .bind(partner.get())
        .fetch_all(self.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ActivationEvent {
                    activation_id: ActivationId::new(r.try_get("activation_id")?),
                    product: slug(r.try_get("product")?)?,
                    key_id: r.try_get::<Option<i64>, _>("key_id")?.map(KeyId::new),
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    at: Timestamp::from_millis(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                })
            })
            .collect()
    }

    /// Under the key's lock (as token issuing takes it), so that a token
    /// issued before the rotation is revoked by it and none is issued
    /// while it runs.
    pub(super) async fn rotate_key_secret_impl(
        &self,
        key: KeyId,
        secret_digest: &[u8],
        now: Timestamp,
    ) -> Result<Option<Rotated>, StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                match self.lock_key(&mut tx, key).await {
                    Ok(_) => {}
                    Err(StoreError::NotFound(_)) => {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                }
                sqlx::query("UPDATE keys SET secret_hash = $2 WHERE id = $1")
                    .bind(key.get())
                    .bind(secret_digest.to_vec())
                    .execute(&mut *tx)
                    .await?;
                let revoked = sqlx::query(
                    "UPDATE tokens SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL",
                )
                .bind(key.get())
                .bind(now.as_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok::<_, StoreError>(Some(Rotated {
                    revoked_tokens: revoked,
                }))
            }
            .await
        )
    }
}
