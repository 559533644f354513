//! The upstream Monitor downtime webhook (SPEC §10): a partner's Monitor
//! URL, and the quiet periods its answers asked for.

use jpstart_types::{BlogId, PartnerId, SiteRef};
use sqlx::Row;

use super::SqlStore;
use crate::clock::Timestamp;
use crate::store::webhooks::{MonitorSite, MonitorTarget};
use crate::store::StoreError;

impl SqlStore {
    pub(super) async fn set_monitor_url_impl(
        &self,
        partner: PartnerId,
        url: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO monitor_webhooks (partner_id, url, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (partner_id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at",
        )
        .bind(partner.get())
        .bind(url)
        .bind(now.as_millis())
        .execute(&self.pools.write)
        .await?;
        Ok(())
    }

    pub(super) async fn monitor_site_impl(
        &self,
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<Option<MonitorSite>, StoreError> {
        let Some(state) = self.site_impl(site, now).await? else {
            return Ok(None);
        };
        let mut partners: Vec<i64> = state
            .live
            .iter()
            .filter_map(|a| a.partner_id.map(PartnerId::get))
            .collect();
        partners.sort_unstable();
        partners.dedup();
        let mut targets = Vec::new();
        for p in partners {
            let row = sqlx::query(
                "SELECT m.url, q.quiet_until FROM monitor_webhooks m LEFT JOIN monitor_suppressions q \
                 ON q.partner_id = m.partner_id AND q.blog_id = $2 WHERE m.partner_id = $1",
            )
            .bind(p)
            .bind(state.blog_id.as_i64())
            .fetch_optional(self.read())
            .await?;
            if let Some(r) = row {
                targets.push(MonitorTarget {
                    partner_id: PartnerId::new(p),
                    url: r.try_get("url")?,
                    quiet_until: r
                        .try_get::<Option<i64>, _>("quiet_until")?
                        .map(Timestamp::from_millis),
                });
            }
        }
        Ok(Some(MonitorSite {
            blog_id: state.blog_id,
            url: state.url,
            targets,
        }))
    }

    pub(super) async fn set_monitor_quiet_impl(
        &self,
        partner: PartnerId,
        blog: BlogId,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO monitor_suppressions (partner_id, blog_id, quiet_until) VALUES ($1, $2, $3) \
             ON CONFLICT (partner_id, blog_id) DO UPDATE SET quiet_until = excluded.quiet_until",
        )
        .bind(partner.get())
        .bind(blog.as_i64())
        .bind(until.as_millis())
        .execute(&self.pools.write)
        .await?;
        Ok(())
    }
}
