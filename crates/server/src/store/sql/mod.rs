//! The [`Store`] on SQLite or PostgreSQL: sqlx's `Any` driver, and on an
//! SQLite file a native rusqlite path for the hot units ([`native`]).
//!
//! Every query is written once in SQL both backends accept (`$N`
//! placeholders, `RETURNING`, `ON CONFLICT DO NOTHING`, partial indexes).
//! Times are integers (ms), flags are 0/1 integers. The hot units are
//! written against [`exec`], which runs them on either executor.
//!
//! One module per aggregate: [`keys`] (partners, keys, limits, redirect
//! allow-lists), [`tokens`], [`sites`] (registration, status, connection,
//! credentials), [`activations`] (provision, cancel, grant, expiry),
//! [`links`] (authorization links); [`rows`] decodes rows. Each unit of work
//! loads its context under its locks, asks [`crate::domain`], and applies
//! the plan; the `impl Store` (in `store.rs`) only delegates.

mod activations;
pub(crate) mod exec;
mod keys;
mod links;
mod monitor;
mod native;
mod partner_users;
mod portal_pages;
mod reporting;
mod request_log;
mod rows;
mod sandbox;
mod sites;
mod tokens;
mod users;
mod webhooks;

use sqlx::{Any, AnyPool, Transaction};

use super::dialect::{self, Backend, Pools};
use super::{migrate, StoreError};

type Tx = Transaction<'static, Any>;

/// See the module docs.
pub struct SqlStore {
    units: Units,
    pub(super) pools: Pools,
    /// On an SQLite file: the hot units' native path ([`native`]).
    native: Option<native::NativeSqlite>,
}

/// What the hot units of work need of the store: only the backend (they
/// run on sqlx, or on SQLite inside one closure on a native connection,
/// where there is no `&SqlStore`). [`SqlStore`] derefs to it, so the units
/// are called as its methods.
#[derive(Debug, Clone, Copy)]
pub struct Units {
    pub(super) backend: Backend,
}

impl std::ops::Deref for SqlStore {
    type Target = Units;

    fn deref(&self) -> &Units {
        &self.units
    }
}

/// The live predicate: active, or pending and not yet past its expiry (the
/// rule of [`crate::domain::lifecycle::is_expired`], written for queries).
/// `$NOW` is replaced by the placeholder that carries the current time.
const LIVE: &str = "(a.state = 'active' OR (a.state = 'pending' AND a.expires_at > $NOW))";

pub(super) fn live_at(placeholder: &str) -> String {
    LIVE.replace("$NOW", placeholder)
}

impl SqlStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url)?;
        let pools = dialect::connect(backend, url).await?;
        migrate::run(backend, &pools.write).await?;
        let native = match super::files::database_file(url) {
            Some(path) if backend == Backend::Sqlite => {
                Some(native::NativeSqlite::open(&path, pools.write.clone())?)
            }
            _ => None,
        };
        Ok(SqlStore {
            units: Units { backend },
            pools,
            native,
        })
    }

    async fn begin_write(&self) -> Result<Tx, StoreError> {
        Ok(self
            .pools
            .write
            .begin_with(self.backend.begin_write())
            .await?)
    }

    fn read(&self) -> &AnyPool {
        &self.pools.read
    }
}

/// Runs a unit of work in a write transaction: commits on `Ok(Ok)`, rolls
/// back on a refusal or a failure, and starts over on a retryable failure
/// (see [`super::retry`]).
macro_rules! in_write_tx {
    ($self:ident, |$tx:ident| $body:expr) => {
        retrying!(
            async {
                let mut $tx = $self.begin_write().await?;
                let result = $body;
                match result {
                    Ok(Ok(v)) => {
                        $tx.commit().await?;
                        Ok(Ok(v))
                    }
                    other => {
                        $tx.rollback().await?;
                        other
                    }
                }
            }
            .await
        )
    };
}

// After `in_write_tx!`, which it uses.
mod store;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ActivationState;

    /// The SQL predicates name states as literals (so that the partial
    /// indexes on live rows apply); they must be the states' one text form.
    #[test]
    fn the_live_predicate_uses_the_state_texts() {
        for st in [ActivationState::Active, ActivationState::Pending] {
            assert!(LIVE.contains(&format!("'{}'", st.as_str())), "{st}");
        }
        assert!(!LIVE.contains(ActivationState::Expired.as_str()));
    }
}
