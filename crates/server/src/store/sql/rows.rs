//! Decoding rows into domain values, the one SQL mapping of the closed sets,
//! and the event log append.

use jpstart_types::{ActivationId, BlogId, KeyId, PartnerId, ProductSlug, SiteIdentifier, SiteRef};

use super::exec::{query, Columns, Exec, Row};
use crate::clock::Timestamp;
use crate::domain::lifecycle::AuthLink;
use crate::domain::rules::LiveActivation;
use crate::domain::{ActivationState, Actor};
use crate::store::StoreError;

pub(super) struct SiteRow {
    pub(super) blog_id: i64,
    pub(super) identifier: String,
    pub(super) url: String,
    pub(super) connected: bool,
}

impl SiteRow {
    pub(super) fn from_row(r: &Row) -> Result<Self, StoreError> {
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

/// The columns [`live_from_row`] reads (activations `a`, keys `k`).
pub(super) const LIVE_COLUMNS: &str =
    "a.id, a.product, a.family, a.key_id, k.partner_id, a.state, a.created_at, a.partner_tracking_id";

pub(super) fn live_query(live: &str) -> String {
    format!(
        "SELECT {LIVE_COLUMNS} FROM activations a LEFT JOIN keys k ON k.id = a.key_id \
         WHERE a.blog_id = $1 AND {live} ORDER BY a.id"
    )
}

pub(super) fn live_from_row(r: &Row) -> Result<LiveActivation, StoreError> {
    Ok(LiveActivation {
        id: ActivationId::new(r.try_get("id")?),
        product: slug(r.try_get("product")?)?,
        family: r.try_get("family")?,
        key_id: r.try_get::<Option<i64>, _>("key_id")?.map(KeyId::new),
        partner_id: r
            .try_get::<Option<i64>, _>("partner_id")?
            .map(PartnerId::new),
        state: state(&r.try_get::<String, _>("state")?)?,
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
        partner_tracking_id: r.try_get("partner_tracking_id")?,
    })
}

pub(super) fn auth_link_from_row(r: &Row) -> Result<AuthLink, StoreError> {
    let used: Option<i64> = r.try_get("used_at")?;
    Ok(AuthLink {
        blog_id: blog_id(r.try_get("blog_id")?)?,
        key_id: KeyId::new(r.try_get("key_id")?),
        partner_id: PartnerId::new(r.try_get("partner_id")?),
        expires_at: Timestamp::from_millis(r.try_get("expires_at")?),
        used: used.is_some(),
    })
}

/// The `state` column: the one mapping between [`ActivationState`] and SQL.
pub(super) fn state(text: &str) -> Result<ActivationState, StoreError> {
    ActivationState::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("activation state {text:?}")))
}

pub(super) fn flag(r: &impl Columns, column: &str) -> Result<bool, StoreError> {
    let v: i64 = r.try_get(column)?;
    Ok(v != 0)
}

pub(super) fn time(r: &impl Columns, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(r.try_get::<Option<i64>, _>(column)?
        .map(Timestamp::from_millis))
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

/// Appends to the event log (in the caller's transaction).
pub(super) async fn event(
    tx: &mut impl Exec,
    activation: ActivationId,
    from: Option<ActivationState>,
    to: ActivationState,
    at: Timestamp,
    actor: Actor,
) -> Result<(), StoreError> {
    query("INSERT INTO events (activation_id, from_state, to_state, at, actor) VALUES ($1, $2, $3, $4, $5)")
        .bind(activation.get())
        .bind(from.map(ActivationState::as_str))
        .bind(to.as_str())
        .bind(at.as_millis())
        .bind(actor.to_string())
        .execute(&mut *tx)
        .await?;
    super::webhooks::on_activation_event(tx, activation, to, at).await
}

/// A placeholder's value in a query built at run time (the reporting and
/// portal filters), bound in order by [`bind_values`].
pub(super) enum FilterValue {
    Text(String),
    Int(i64),
}

/// Binds every [`FilterValue`] to `$q`, in order.
macro_rules! bind_values {
    ($q:expr, $values:expr) => {{
        let mut q = $q;
        for v in $values {
            q = match v {
                $crate::store::sql::rows::FilterValue::Text(s) => q.bind(s.clone()),
                $crate::store::sql::rows::FilterValue::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}
pub(super) use bind_values;
