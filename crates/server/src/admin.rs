//! The operator's commands (SPEC §6), on the same store as the server. The
//! binary prints what these return as JSON.

use std::sync::Arc;

pub use jpstart_types::admin::{
    BackedUp, Connected, Granted, KeyListed, KeyState, LiveShown, RedirectAllowed, Revoked,
    SiteShown,
};
use jpstart_types::wire::{AdminActivation, KeyCredentials, TokenResponse};
use jpstart_types::{KeyId, PartnerId, ProductSlug, SiteRef};

use crate::auth::PARTNER_SCOPE;
use crate::clock::{Clock, ClockError, ClockState, TestClock, Timestamp};
use crate::domain::{limits, ApiError, Catalogue};
use crate::secrets;
use crate::store::{self, ActivationFilter, NewKey, Store, StoreError};

mod partner_users;
mod request_log;
mod wpcom_users;
pub use wpcom_users::*;

/// A one-line reason an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
}

pub struct Admin {
    store: Arc<dyn Store>,
    catalogue: Catalogue,
    clock: Clock,
}

/// Parses `SLUG=N` limits against the catalogue.
pub fn parse_limits(
    cat: &Catalogue,
    specs: &[String],
) -> Result<Vec<(ProductSlug, i64)>, AdminError> {
    specs
        .iter()
        .map(|spec| {
            let (slug, n) = spec
                .split_once('=')
                .ok_or_else(|| AdminError::Invalid(format!("limit {spec:?} is not SLUG=N")))?;
            let product = cat.find(slug).ok_or_else(|| {
                AdminError::Invalid(format!(
                    "limit {spec:?}: {slug:?} is not a product of the catalogue"
                ))
            })?;
            let n: i64 = n
                .trim()
                .parse()
                .ok()
                .filter(|n| limits::in_bound(*n))
                .ok_or_else(|| {
                    AdminError::Invalid(format!(
                        "limit {spec:?}: {n:?} is not a whole number from 0 to {}",
                        limits::MAX_LIMIT
                    ))
                })?;
            Ok((product.slug.clone(), n))
        })
        .collect()
}

impl Admin {
    pub async fn open(database_url: &str, catalogue: Catalogue) -> Result<Self, AdminError> {
        Ok(Admin {
            store: store::open(database_url).await?,
            catalogue,
            clock: Clock::system(),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A partner with its first key.
    pub async fn create_partner(&self, name: &str) -> Result<KeyCredentials, AdminError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(AdminError::Invalid(
                "a partner needs a non-empty --name".into(),
            ));
        }
        let partner = self.store.create_partner(name, self.clock.now()).await?;
        self.create_key(partner.get(), Some(name), false, &[]).await
    }

    pub async fn create_key(
        &self,
        partner: i64,
        name: Option<&str>,
        test: bool,
        limits: &[String],
    ) -> Result<KeyCredentials, AdminError> {
        let partner = PartnerId::new(partner);
        let limits = parse_limits(&self.catalogue, limits)?;
        let secret = secrets::generate();
        let key = NewKey {
            partner_id: partner,
            parent_key_id: None,
            name: name.unwrap_or("key").to_string(),
            secret_digest: secrets::digest(&secret),
            test,
            limits,
        };
        let key_id = self
            .store
            .create_key(&key, self.clock.now())
            .await
            .map_err(not_found)?;
        Ok(KeyCredentials {
            partner_id: partner.get().unsigned_abs(),
            key_id: key_id.get().unsigned_abs(),
            client_id: key_id.to_string(),
            client_secret: secret,
        })
    }

    pub async fn set_key_disabled(&self, key: i64, disabled: bool) -> Result<KeyState, AdminError> {
        let key = KeyId::new(key);
        if !self.store.set_key_disabled(key, disabled).await? {
            return Err(AdminError::NotFound(format!("key {key} not found")));
        }
        Ok(KeyState {
            key_id: key,
            disabled,
        })
    }

    /// Revokes one token (given as text) or every token of a key.
    pub async fn revoke(
        &self,
        token: Option<&str>,
        key: Option<i64>,
    ) -> Result<Revoked, AdminError> {
        let key = key.map(KeyId::new);
        let now = self.clock.now();
        match (token, key) {
            // A revoke that matched nothing is a failure (SPEC §6): the
            // operator may have pasted the wrong token, which stays valid.
            (Some(t), None) => {
                if !self
                    .store
                    .revoke_token(&secrets::digest(t.trim()), now)
                    .await?
                {
                    return Err(AdminError::NotFound(
                        "token not found (or already revoked)".into(),
                    ));
                }
                Ok(Revoked { revoked: 1 })
            }
            (None, Some(k)) => {
                if self.store.key(k).await?.is_none() {
                    return Err(AdminError::NotFound(format!("key {k} not found")));
                }
                Ok(Revoked {
                    revoked: self.store.revoke_key_tokens(k, now).await?,
                })
            }
            _ => Err(AdminError::Invalid(
                "give exactly one of --token or --key".into(),
            )),
        }
    }

    /// Mints a token for a key, with any scope: lets a sandbox user exercise
    /// `invalid_scope` handling without a second OAuth server.
    pub async fn create_token(
        &self,
        key: i64,
        scope: Option<&str>,
    ) -> Result<TokenResponse, AdminError> {
        let key = KeyId::new(key);
        if self.store.key(key).await?.is_none() {
            return Err(AdminError::NotFound(format!("key {key} not found")));
        }
        let scope = scope.unwrap_or(PARTNER_SCOPE);
        let token = secrets::generate();
        self.store
            .insert_token(&secrets::digest(&token), key, scope, self.clock.now())
            .await?;
        Ok(TokenResponse {
            access_token: token,
            token_type: "bearer".into(),
            blog_id: 0,
            blog_url: 0,
            scope: scope.into(),
        })
    }

    /// A site as the server sees it now: blog id, connection, live products.
    pub async fn site(&self, site: &str) -> Result<SiteShown, AdminError> {
        let site_ref = parse_site(site)?;
        let s = self
            .store
            .site(&site_ref, self.clock.now())
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("site {site} not found")))?;
        Ok(SiteShown {
            blog_id: s.blog_id.get(),
            site: s.identifier.to_string(),
            url: s.url,
            connected: s.connected,
            has_backups_credentials: s.has_backup_credentials,
            live: s
                .live
                .into_iter()
                .map(|a| LiveShown {
                    activation_id: a.id,
                    product: a.product.to_string(),
                    state: a.state.to_string(),
                    key_id: a.key_id,
                })
                .collect(),
        })
    }

    pub async fn connect_site(&self, site: &str) -> Result<Connected, AdminError> {
        let site_ref = parse_site(site)?;
        let out = self
            .store
            .connect_site(&site_ref, self.clock.now())
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("site {site} not found")))?;
        Ok(Connected {
            blog_id: out.blog_id.get(),
            site: out.identifier.to_string(),
            was_connected: out.was_connected,
            activated: out.activated,
        })
    }

    /// Grants a product outside the partner API (the site owner bought it
    /// elsewhere): partners then get `not_jps_plan` when they try to cancel it.
    pub async fn grant(&self, site_url: &str, product: &str) -> Result<Granted, AdminError> {
        // Stored without query and fragment, as a provision stores it.
        let url = jpstart_types::SiteUrl::parse(site_url)
            .map_err(|e| AdminError::Invalid(format!("site {site_url:?}: {e}")))?;
        let ident = url.identifier().clone();
        // Resolved here, at the edge: the store never reads the catalogue.
        let p = ProductSlug::parse(product)
            .ok()
            .and_then(|slug| self.catalogue.resolve(&slug))
            .ok_or_else(|| {
                AdminError::Invalid(format!("{product:?} is not a product of the catalogue"))
            })?;
        let id = self
            .store
            .grant(&ident, url.as_str(), &p, self.clock.now())
            .await?
            .map_err(|refusal| AdminError::Invalid(ApiError::from(refusal).message))?;
        Ok(Granted {
            activation_id: id,
            site: ident.to_string(),
            product: p.slug.to_string(),
        })
    }

    pub async fn allow_redirect(
        &self,
        partner: i64,
        prefix: &str,
    ) -> Result<RedirectAllowed, AdminError> {
        let partner = PartnerId::new(partner);
        let prefix = prefix.trim();
        if !(prefix.starts_with("https://") || prefix.starts_with("http://")) {
            return Err(AdminError::Invalid(format!(
                "{prefix:?} is not an http(s) URL prefix"
            )));
        }
        let added = self
            .store
            .add_partner_redirect(partner, prefix)
            .await
            .map_err(not_found)?;
        Ok(RedirectAllowed {
            partner_id: partner,
            prefix: prefix.into(),
            added,
        })
    }

    /// Every key (of one partner) with its parent, flags, limits and live
    /// counts (SPEC §11): its own, and its family's, which its limits are
    /// checked against.
    pub async fn keys(&self, partner: Option<i64>) -> Result<Vec<KeyListed>, AdminError> {
        let now = self.clock.now();
        let mut listed = Vec::new();
        for k in self.store.keys(partner.map(PartnerId::new)).await? {
            let named = |v: Vec<(ProductSlug, i64)>| {
                v.into_iter()
                    .map(|(s, n)| (s.to_string(), n))
                    .collect::<std::collections::BTreeMap<_, _>>()
            };
            let live = named(self.store.key_live_counts(k.id, now).await?);
            listed.push(KeyListed {
                key_id: k.id,
                partner_id: k.partner_id,
                parent_key_id: k.parent_key_id,
                name: k.name,
                disabled: k.disabled,
                test: k.test,
                limits: named(self.store.key_limits(k.id).await?),
                live_with_sub_keys: live.clone(),
                live,
            });
        }
        // A family's count: the head's own and each sub-key's (every sub-key
        // is in the same partner, so in the list whenever its parent is).
        let subs: Vec<(KeyId, std::collections::BTreeMap<String, i64>)> = listed
            .iter()
            .filter_map(|k| k.parent_key_id.map(|p| (p, k.live.clone())))
            .collect();
        for (parent, live) in subs {
            if let Some(head) = listed.iter_mut().find(|k| k.key_id == parent) {
                for (product, n) in live {
                    *head.live_with_sub_keys.entry(product).or_default() += n;
                }
            }
        }
        Ok(listed)
    }

    pub async fn activations(
        &self,
        site: Option<&str>,
        partner: Option<i64>,
    ) -> Result<Vec<AdminActivation>, AdminError> {
        let filter = ActivationFilter {
            site: site.map(parse_site).transpose()?,
            partner_id: partner.map(PartnerId::new),
            key_id: None,
        };
        let rows = self.store.activations(&filter).await?;
        Ok(rows
            .into_iter()
            .map(|a| AdminActivation {
                id: a.id.get().unsigned_abs(),
                blog_id: a.blog_id.get(),
                site: a.identifier.to_string(),
                product: a.product.to_string(),
                state: a.state.to_string(),
                key_id: a.key_id.map(|k| k.get().unsigned_abs()),
                partner_id: a.partner_id.map(|p| p.get().unsigned_abs()),
                created_at: a.created_at.rfc3339(),
                activated_at: a.activated_at.map(|t| t.rfc3339()),
                ended_at: a.ended_at.map(|t| t.rfc3339()),
                partner_tracking_id: a.partner_tracking_id,
            })
            .collect())
    }

    /// `jpstart admin clock`: reads or moves the test clock kept in the
    /// database. Servers in test-clock mode follow it at once; the other
    /// commands of `admin`, like servers without the mode, stay on the
    /// system time.
    pub async fn clock(&self, step: ClockStep) -> Result<ClockState, AdminError> {
        let tc = TestClock::new(self.store.clone(), Clock::system());
        let moved = match step {
            ClockStep::Show => tc.refresh().await.map_err(ClockError::from),
            ClockStep::Advance(by) => tc.advance(by).await,
            ClockStep::Set(to) => tc.set(to).await,
        };
        moved.map_err(|e| match e {
            ClockError::Store(e) => AdminError::Store(e),
            refused => AdminError::Invalid(refused.to_string()),
        })
    }
}

/// What `jpstart admin clock` does.
#[derive(Debug, Clone, Copy)]
pub enum ClockStep {
    Show,
    /// Forward by a duration.
    Advance(std::time::Duration),
    /// Forward to a time (refused if it is in the clock's past).
    Set(Timestamp),
}

/// A site on the command line: blog id, identifier or URL.
fn parse_site(s: &str) -> Result<SiteRef, AdminError> {
    SiteRef::parse(s).map_err(|e| AdminError::Invalid(format!("site {s:?}: {e}")))
}

fn not_found(e: StoreError) -> AdminError {
    match e {
        StoreError::NotFound(what) => AdminError::NotFound(format!("{what} not found")),
        other => AdminError::Store(other),
    }
}

/// Online backup of an SQLite database into a new file (see
/// docs/OPERATIONS.md). The key file beside the database is copied to
/// `FILE.key`, where a server on `sqlite://FILE` looks for it.
pub async fn backup(database_url: &str, file: &std::path::Path) -> Result<BackedUp, AdminError> {
    if store::Backend::from_url(database_url)? == store::Backend::Postgres {
        return Err(AdminError::Invalid(
            "backup works on SQLite only; back up PostgreSQL with pg_dump \
             (e.g. pg_dump --format=custom --file=jpstart.dump DBNAME)"
                .into(),
        ));
    }
    // Opening the store would create an empty database where none is.
    let source = crate::crypto::sqlite_key_path(database_url)
        .map(|key| key.with_extension(""))
        .ok_or_else(|| {
            AdminError::Invalid("an in-memory database has nothing to back up".into())
        })?;
    if !source.exists() {
        return Err(AdminError::NotFound(format!(
            "no database at {}",
            source.display()
        )));
    }
    let mut key_copy = file.as_os_str().to_owned();
    key_copy.push(".key");
    let key_copy = std::path::PathBuf::from(key_copy);
    for path in [file, key_copy.as_path()] {
        if path.exists() {
            return Err(AdminError::Invalid(format!(
                "{} exists; refusing to overwrite it",
                path.display()
            )));
        }
    }
    let store = store::open(database_url).await?;
    // Created empty first (VACUUM INTO accepts an empty file), readable by
    // its owner only: the copy holds token digests and sealed credentials.
    private_file(file)
        .and_then(|f| f.sync_all())
        .map_err(|e| AdminError::Invalid(format!("cannot create {}: {e}", file.display())))?;
    if let Err(e) = store.backup(file).await {
        let _ = std::fs::remove_file(file);
        return Err(e.into());
    }
    let key = match crate::crypto::sqlite_key_path(database_url).filter(|k| k.exists()) {
        Some(key) => {
            copy_private(&key, &key_copy).map_err(|e| {
                AdminError::Invalid(format!(
                    "database copied to {}, but copying its key {} failed: {e}",
                    file.display(),
                    key.display()
                ))
            })?;
            Some(key_copy.display().to_string())
        }
        None => None,
    };
    Ok(BackedUp {
        database: file.display().to_string(),
        key,
    })
}

/// A new file readable by its owner only; fails if `path` exists.
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Copies a key file into a new file readable by its owner only.
fn copy_private(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let bytes = std::fs::read(from)?;
    let mut out = private_file(to)?;
    out.write_all(&bytes)?;
    out.sync_all()
}
