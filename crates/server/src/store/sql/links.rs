//! Authorization links (one-time tokens stored as digests).

use jpstart_types::{BlogId, KeyId, SiteRef};

use super::exec::{query, Exec, Pool};
use super::rows::auth_link_from_row;
use super::SqlStore;
use crate::clock::Timestamp;
use crate::domain::lifecycle::{self, AuthLink, ConnectedBy};
use crate::domain::LinkRefusal;
use crate::store::types::ConnectOutcome;
use crate::store::StoreError;

const LINK_SELECT: &str = "SELECT l.blog_id, l.key_id, k.partner_id, l.expires_at, l.used_at \
     FROM auth_links l JOIN keys k ON k.id = l.key_id WHERE l.hash = $1";

impl SqlStore {
    pub(super) async fn insert_auth_link_impl(
        &self,
        digest: &[u8],
        blog: BlogId,
        key: KeyId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_link(&mut tx, digest, blog, key, now, expires_at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn auth_link_impl(
        &self,
        digest: &[u8],
    ) -> Result<Option<AuthLink>, StoreError> {
        let row = query(LINK_SELECT)
            .bind(digest.to_vec())
            .fetch_optional(&mut Pool(self.read()))
            .await?;
        row.map(|r| auth_link_from_row(&r)).transpose()
    }

    /// Spends a link: [`lifecycle::link_validity`], then connects its site
    /// for the link's partner. That partner's links of the site are spent
    /// with it; another partner's stay valid for its own pending ones.
    pub(super) async fn use_auth_link_in_tx(
        &self,
        tx: &mut impl Exec,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<Result<(AuthLink, ConnectOutcome), LinkRefusal>, StoreError> {
        let sql = format!("{LINK_SELECT}{}", self.backend.for_update());
        let Some(r) = query(&sql)
            .bind(digest.to_vec())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(Err(LinkRefusal::Unknown));
        };
        let link = auth_link_from_row(&r)?;
        if let Err(refusal) = lifecycle::link_validity(&link, now) {
            return Ok(Err(refusal));
        }
        let Some(site) = self.lock_site(tx, &SiteRef::BlogId(link.blog_id)).await? else {
            return Ok(Err(LinkRefusal::Unknown));
        };
        let by = ConnectedBy::Link(link.partner_id);
        let out = self.connect_in_tx(tx, &site, now, by).await?;
        query(
            "UPDATE auth_links SET used_at = $2 WHERE blog_id = $1 AND used_at IS NULL \
             AND key_id IN (SELECT id FROM keys WHERE partner_id = $3)",
        )
        .bind(link.blog_id.as_i64())
        .bind(now.as_millis())
        .bind(link.partner_id.get())
        .execute(&mut *tx)
        .await?;
        Ok(Ok((link, out)))
    }
}

/// Issues the key's one link for the site (SPEC §11: one live link per
/// site and key): the key's earlier links for it, live or spent, are
/// deleted, so a retried provision replaces its link rather than adding a
/// row, and the old link stops working. Runs under the site's lock, so two
/// provisions cannot both keep theirs.
pub(super) async fn reissue_link(
    tx: &mut impl Exec,
    digest: &[u8],
    blog: BlogId,
    key: KeyId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    query("DELETE FROM auth_links WHERE blog_id = $1 AND key_id = $2")
        .bind(blog.as_i64())
        .bind(key.get())
        .execute(&mut *tx)
        .await?;
    insert_link(tx, digest, blog, key, now, expires_at).await
}

pub(super) async fn insert_link(
    tx: &mut impl Exec,
    digest: &[u8],
    blog: BlogId,
    key: KeyId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    query("INSERT INTO auth_links (hash, blog_id, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(digest.to_vec())
        .bind(blog.as_i64())
        .bind(key.get())
        .bind(now.as_millis())
        .bind(expires_at.as_millis())
        .execute(&mut *tx)
        .await?;
    Ok(())
}
