//! Sites: lookup and lock, registration, status, connection and backup
//! credentials.

use std::sync::LazyLock;

use jpstart_types::{BlogId, PartnerId, SiteIdentifier, SiteRef};

use super::exec::{query, run_ready, Exec, Pool, Row};
use super::rows::{live_from_row, site_key, SiteKey, SiteRow, LIVE_COLUMNS};
use super::tokens::token_record;
use super::{live_at, SqlStore, Units};
use crate::clock::Timestamp;
use crate::domain::credentials::Kind as CredentialKind;
use crate::domain::lifecycle::{self, ConnectedBy};
use crate::domain::{Actor, CredentialsRefusal};
use crate::store::types::{ConnectOutcome, SiteState, TokenRecord};
use crate::store::{Backend, StoreError};
use jpstart_types::webhooks::EventType;

impl Units {
    /// Finds a site row and, on PostgreSQL, locks it for the transaction.
    pub(super) async fn lock_site(
        &self,
        tx: &mut impl Exec,
        site: &SiteRef,
    ) -> Result<Option<SiteRow>, StoreError> {
        let (column, value) = site_key(site);
        let sql = format!(
            "SELECT blog_id, identifier, url, connected FROM sites WHERE {column} = $1{}",
            self.backend.for_update()
        );
        let row = match value {
            SiteKey::Id(id) => query(&sql).bind(id).fetch_optional(&mut *tx).await?,
            SiteKey::Text(s) => query(&sql).bind(s).fetch_optional(&mut *tx).await?,
        };
        row.map(|r| SiteRow::from_row(&r)).transpose()
    }

    /// Finds the site by identifier, registering it first if it is new, and
    /// locks it; `true` when this transaction registered it.
    pub(super) async fn register_site(
        &self,
        tx: &mut impl Exec,
        identifier: &SiteIdentifier,
        url: &str,
        local_user: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<(SiteRow, bool)>, StoreError> {
        let site_ref = SiteRef::Identifier(identifier.clone());
        // Look first: on PostgreSQL an `INSERT .. ON CONFLICT DO NOTHING`
        // draws a blog id from the identity sequence even when the site
        // exists, and blog ids should not be burnt by every repeated
        // provision.
        if let Some(site) = self.lock_site(tx, &site_ref).await? {
            return Ok(Some((site, false)));
        }
        // A row this transaction inserts is its own until COMMIT: locked.
        let inserted = query(
            "INSERT INTO sites (identifier, url, local_user, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (identifier) DO NOTHING RETURNING blog_id, identifier, url, connected",
        )
        .bind(identifier.as_str())
        .bind(url)
        .bind(local_user)
        .bind(now.as_millis())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = inserted {
            return Ok(Some((SiteRow::from_row(&row)?, true)));
        }
        // Registered by a concurrent transaction meanwhile.
        Ok(self.lock_site(tx, &site_ref).await?.map(|s| (s, false)))
    }
}

impl Units {
    /// The site and its live activations, in one statement (so one
    /// snapshot: they agree without a transaction).
    pub(super) async fn site_in(
        &self,
        e: &mut impl Exec,
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<Option<SiteState>, StoreError> {
        // Built once per spelling: the hottest statement of all.
        static BY: LazyLock<[String; 2]> =
            LazyLock::new(|| ["blog_id", "identifier"].map(site_sql));
        let (column, value) = site_key(site);
        let sql = &BY[usize::from(column == "identifier")];
        let query = match value {
            SiteKey::Id(id) => query(sql).bind(id),
            SiteKey::Text(s) => query(sql).bind(s),
        };
        let rows = query.bind(now.as_millis()).fetch_all(e).await?;
        site_state(&rows)
    }
}

impl Units {
    /// The token and the site. On PostgreSQL in one statement (one round
    /// trip): a one-row stub, the token (columns `tok_*`, NULL when unknown
    /// or revoked) and the site's rows beside it (NULL when there is no
    /// such site). On SQLite, where there is no round trip to save, as its
    /// two plain statements: SQLite would materialise the joined subqueries
    /// into temporary tables, which costs more than the second statement.
    pub(super) async fn token_and_site_in(
        &self,
        e: &mut impl Exec,
        digest: &[u8],
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<(Option<TokenRecord>, Option<SiteState>), StoreError> {
        if self.backend == Backend::Sqlite {
            let token = self.token_in(e, digest).await?;
            return Ok((token, self.site_in(e, site, now).await?));
        }
        let (column, value) = site_key(site);
        let sql = format!(
            "SELECT tk.*, st.* FROM (SELECT 1 AS one) o \
             LEFT JOIN (SELECT t.key_id AS tok_key_id, t.scope AS tok_scope, \
             t.last_used_at AS tok_last_used_at, k.partner_id AS tok_partner_id, \
             k.parent_key_id AS tok_parent_key_id, k.disabled AS tok_disabled, k.test AS tok_test, \
             COALESCE(pk.disabled, 0) AS tok_parent_disabled \
             FROM tokens t JOIN keys k ON k.id = t.key_id LEFT JOIN keys pk ON pk.id = k.parent_key_id \
             WHERE t.hash = $1 AND t.revoked_at IS NULL) tk ON 1 = 1 \
             LEFT JOIN (SELECT s.blog_id, s.identifier, s.url, s.connected, \
             (SELECT COUNT(*) FROM credentials c WHERE c.blog_id = s.blog_id) AS creds, {LIVE_COLUMNS} \
             FROM sites s LEFT JOIN activations a ON a.blog_id = s.blog_id AND {} \
             LEFT JOIN keys k ON k.id = a.key_id WHERE s.{column} = $2) st ON 1 = 1 \
             ORDER BY st.id",
            live_at("$3")
        );
        let q = query(&sql).bind(digest.to_vec());
        let q = match value {
            SiteKey::Id(id) => q.bind(id),
            SiteKey::Text(s) => q.bind(s),
        };
        let rows = q.bind(now.as_millis()).fetch_all(e).await?;
        let token = match rows.first() {
            Some(r) if r.try_get::<Option<i64>, _>("tok_key_id")?.is_some() => {
                Some(token_record(r, "tok_")?)
            }
            _ => None,
        };
        Ok((token, site_state(&rows)?))
    }
}

impl SqlStore {
    pub(super) async fn token_and_site_impl(
        &self,
        digest: &[u8],
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<(Option<TokenRecord>, Option<SiteState>), StoreError> {
        if let Some(native) = &self.native {
            return native.read(|e| run_ready(self.token_and_site_in(e, digest, site, now)));
        }
        self.token_and_site_in(&mut Pool(self.read()), digest, site, now)
            .await
    }
}

/// The site by `column` (`$1`) and its activations live at `$2`.
fn site_sql(column: &str) -> String {
    format!(
        "SELECT s.blog_id, s.identifier, s.url, s.connected, \
         (SELECT COUNT(*) FROM credentials c WHERE c.blog_id = s.blog_id) AS creds, \
         {LIVE_COLUMNS} \
         FROM sites s LEFT JOIN activations a ON a.blog_id = s.blog_id AND {} \
         LEFT JOIN keys k ON k.id = a.key_id WHERE s.{column} = $1 ORDER BY a.id",
        live_at("$2")
    )
}

/// A [`SiteState`] from the rows of a site joined with its live
/// activations ([`LIVE_COLUMNS`] and `creds`): none, or a NULL `blog_id`
/// (the combined token-and-site statement's), is no site.
pub(super) fn site_state(rows: &[Row]) -> Result<Option<SiteState>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    if first.try_get::<Option<i64>, _>("blog_id")?.is_none() {
        return Ok(None);
    }
    let s = SiteRow::from_row(first)?;
    let creds: i64 = first.try_get("creds")?;
    let mut live = Vec::new();
    for r in rows {
        // No live activation: one row with NULL activation columns.
        if r.try_get::<Option<i64>, _>("id")?.is_some() {
            live.push(live_from_row(r)?);
        }
    }
    Ok(Some(SiteState {
        blog_id: s.blog_id()?,
        identifier: s.identifier()?,
        url: s.url.clone(),
        connected: s.connected,
        has_backup_credentials: creds > 0,
        live,
    }))
}

impl SqlStore {
    pub(super) async fn site_impl(
        &self,
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<Option<SiteState>, StoreError> {
        if let Some(native) = &self.native {
            return native.read(|e| run_ready(self.site_in(e, site, now)));
        }
        self.site_in(&mut Pool(self.read()), site, now).await
    }

    pub(super) async fn connect_site_impl(
        &self,
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<Option<ConnectOutcome>, StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                let Some(row) = self.lock_site(&mut tx, site).await? else {
                    return Ok(None);
                };
                let out = self
                    .connect_in_tx(&mut tx, &row, now, ConnectedBy::Operator)
                    .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(Some(out))
            }
            .await
        )
    }

    /// Connects the site and applies [`lifecycle::decide_connect`].
    pub(super) async fn connect_in_tx(
        &self,
        tx: &mut impl Exec,
        site: &SiteRow,
        now: Timestamp,
        by: ConnectedBy,
    ) -> Result<ConnectOutcome, StoreError> {
        let actor = match by {
            ConnectedBy::Operator => Actor::Operator,
            ConnectedBy::Link(_) => Actor::SiteOwner,
        };
        self.expire_in_tx(tx, Some(site.blog_id), now).await?;
        query("UPDATE sites SET connected = 1, connected_at = $2 WHERE blog_id = $1")
            .bind(site.blog_id)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        if !site.connected {
            let partner = match by {
                ConnectedBy::Link(p) => Some(p),
                ConnectedBy::Operator => None,
            };
            super::webhooks::on_site_event(
                tx,
                site.blog_id,
                EventType::SiteConnected,
                partner,
                now,
            )
            .await?;
        }
        let live = self.live_in_tx(tx, site.blog_id, now).await?;
        let mut activated = Vec::new();
        for t in lifecycle::decide_connect(&live, by, now) {
            self.apply_transition(tx, &t, actor).await?;
            activated.push(t.id);
        }
        activated.sort_unstable();
        Ok(ConnectOutcome {
            blog_id: site.blog_id()?,
            identifier: site.identifier()?,
            url: site.url.clone(),
            activated,
            was_connected: site.connected,
        })
    }

    pub(super) async fn set_credentials_in_tx(
        &self,
        tx: &mut impl Exec,
        blog: BlogId,
        partner: PartnerId,
        kind: CredentialKind,
        sealed: &[u8],
        now: Timestamp,
    ) -> Result<Result<(), CredentialsRefusal>, StoreError> {
        // The live set is read under the site's lock, so that no other
        // partner's provision can make this one a non-holder meanwhile.
        let live = match self.lock_site(tx, &SiteRef::BlogId(blog)).await? {
            Some(site) => {
                self.expire_in_tx(tx, Some(site.blog_id), now).await?;
                Some(self.live_in_tx(tx, site.blog_id, now).await?)
            }
            None => None,
        };
        if let Err(refusal) = lifecycle::decide_credentials(blog, live.as_deref(), partner) {
            return Ok(Err(refusal));
        }
        query(
            "INSERT INTO credentials (blog_id, kind, sealed, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (blog_id, kind) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
        )
        .bind(blog.as_i64())
        .bind(kind.as_str())
        .bind(sealed.to_vec())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        Ok(Ok(()))
    }
}
