//! Decoding rows into domain values, and the event log append.

use jpstart_types::{BlogId, ProductSlug, SiteIdentifier, SiteRef};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::Tx;
use crate::domain::rules::{KeyId, LiveActivation};
use crate::store::types::AuthLink;
use crate::store::StoreError;

pub(super) struct SiteRow {
    pub(super) blog_id: i64,
    pub(super) identifier: String,
    pub(super) url: String,
    pub(super) connected: bool,
}

impl SiteRow {
    pub(super) fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(SiteRow {
            blog_id: r.try_get("blog_id")?,
            identifier: r.try_get("identifier")?,
            url: r.try_get("url")?,
            connected: flag(r, "connected")?,
        })
    }

    pub(super) fn blog_id(&self) -> Result<BlogId, StoreError> {
        blog_id(self.blog_id)
    }

    pub(super) fn identifier(&self) -> Result<SiteIdentifier, StoreError> {
        ident(self.identifier.clone())
    }
}

pub(super) enum SiteKey {
    Id(i64),
    Text(String),
}

pub(super) fn site_key(site: &SiteRef) -> (&'static str, SiteKey) {
    match site {
        SiteRef::BlogId(id) => ("blog_id", SiteKey::Id(id.as_i64())),
        SiteRef::Identifier(i) => ("identifier", SiteKey::Text(i.as_str().to_string())),
    }
}

pub(super) fn live_query(live: &str) -> String {
    format!(
        "SELECT a.id, a.product, a.key_id, k.partner_id, a.state, a.created_at, a.partner_tracking_id \
         FROM activations a LEFT JOIN keys k ON k.id = a.key_id WHERE a.blog_id = $1 AND {live} ORDER BY a.id"
    )
}

pub(super) fn live_from_row(r: &AnyRow) -> Result<LiveActivation, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(LiveActivation {
        id: r.try_get("id")?,
        product: slug(r.try_get("product")?)?,
        key_id: r.try_get("key_id")?,
        partner_id: r.try_get("partner_id")?,
        pending: state == "pending",
        created_at: r.try_get("created_at")?,
        partner_tracking_id: r.try_get("partner_tracking_id")?,
    })
}

pub(super) fn auth_link_from_row(r: &AnyRow) -> Result<AuthLink, StoreError> {
    let used: Option<i64> = r.try_get("used_at")?;
    Ok(AuthLink {
        blog_id: blog_id(r.try_get("blog_id")?)?,
        key_id: r.try_get("key_id")?,
        partner_id: r.try_get("partner_id")?,
        expires_at: r.try_get("expires_at")?,
        used: used.is_some(),
    })
}

pub(super) fn flag(r: &AnyRow, column: &str) -> Result<bool, StoreError> {
    let v: i64 = r.try_get(column)?;
    Ok(v != 0)
}

pub(super) fn blog_id(v: i64) -> Result<BlogId, StoreError> {
    u64::try_from(v)
        .ok()
        .and_then(BlogId::new)
        .ok_or_else(|| StoreError::Corrupt(format!("blog id {v}")))
}

pub(super) fn ident(v: String) -> Result<SiteIdentifier, StoreError> {
    SiteIdentifier::parse(&v)
        .map_err(|e| StoreError::Corrupt(format!("site identifier {v:?}: {e}")))
}

pub(super) fn slug(v: String) -> Result<ProductSlug, StoreError> {
    ProductSlug::parse(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn actor(key: KeyId) -> String {
    format!("key:{key}")
}

/// Appends to the event log (in the caller's transaction).
pub(super) async fn event(
    tx: &mut Tx,
    activation: i64,
    from: Option<&str>,
    to: &str,
    at: i64,
    actor: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO events (activation_id, from_state, to_state, at, actor) VALUES ($1, $2, $3, $4, $5)")
        .bind(activation)
        .bind(from)
        .bind(to)
        .bind(at)
        .bind(actor)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
