//! The one place where SQLite and PostgreSQL differ.
//!
//! Everything else is written once, so queries keep to what both accept
//! through sqlx's `Any` driver (the PostgreSQL half of the test suite is
//! what catches a slip):
//! - `$1`, `$2`... placeholders (PostgreSQL rejects `?`); a number may repeat.
//! - Integers are `BIGINT` on PostgreSQL and bound/decoded as `i64`; flags
//!   are 0/1 integers, never `TRUE`/`bool`. `COUNT(*)` and `MAX` of a
//!   `BIGINT` are `BIGINT`, but `SUM` and `AVG` are `NUMERIC` on PostgreSQL,
//!   which `Any` cannot decode: write `CAST(SUM(x) AS BIGINT)`.
//! - `INSERT .. ON CONFLICT (cols) DO NOTHING / DO UPDATE SET c =
//!   excluded.c`, not `INSERT OR IGNORE`/`REPLACE`; `RETURNING` works in both.
//! - No backend functions (`datetime()`, `now()`, `GROUP_CONCAT`,
//!   `string_agg`): times are milliseconds computed in Rust.
//! - A NULL is bound typed (`None::<i64>`), so PostgreSQL knows its type.
//! - Row locks: append [`Backend::for_update`] to the `SELECT`, and lock
//!   the key before the site.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use super::StoreError;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sqlite:` / `sqlite://` or `postgres://` / `postgresql://`; anything
    /// else is refused with a message naming the schemes that are built in.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        let scheme = url.split(':').next().unwrap_or("");
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::Config(format!(
                "unsupported database URL {:?}: jpstart is built with sqlite:// and postgres:// only",
                redact_url(url)
            ))),
        }
    }

    /// Appended to a `SELECT` that must lock the rows it reads for the rest
    /// of the transaction. SQLite needs none: its write transactions start
    /// with `BEGIN IMMEDIATE` and so already exclude each other.
    ///
    /// PostgreSQL: `FOR NO KEY UPDATE` rather than `FOR UPDATE`. Both
    /// exclude each other, which is all the write transactions need (they
    /// all lock the same way, key before site). Only `FOR UPDATE` would also
    /// conflict with the `FOR KEY SHARE` lock a foreign-key check takes on
    /// the referenced row, so that a plain `INSERT` referencing a locked key
    /// or site (a token, an authorization link) would queue behind the lock
    /// and could close a deadlock cycle with the transactions waiting on it.
    pub fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// The statement that opens a write transaction.
    pub fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The pools a store writes and reads through.
pub struct Pools {
    pub write: AnyPool,
    pub read: AnyPool,
}

pub async fn connect(backend: Backend, url: &str) -> Result<Pools, StoreError> {
    sqlx::any::install_default_drivers();
    match backend {
        Backend::Sqlite => {
            super::files::make_private(url)?;
            let url = sqlite_url(url);
            // One writer: SQLite allows one write transaction at a time
            // anyway, and queueing in the pool is fairer and cheaper than
            // spinning on SQLITE_BUSY. Readers run beside it (WAL).
            let write = sqlite_pool(1).connect(&url).await?;
            let read = sqlite_pool(4).connect(&url).await?;
            Ok(Pools { write, read })
        }
        Backend::Postgres => {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                // sqlx would otherwise ping the server before lending each
                // connection: one more round trip per unit of work, as many
                // as the status request itself. A connection PostgreSQL has
                // dropped (a restart) fails the one statement that meets
                // it, that request answers `internal_error` with nothing
                // written, and sqlx replaces the connection.
                .test_before_acquire(false)
                .connect(url)
                .await
                .map_err(|e| postgres_connect_error(url, e))?;
            Ok(Pools {
                write: pool.clone(),
                read: pool,
            })
        }
    }
}

/// A clear message for the usual reasons a PostgreSQL URL does not work.
/// sqlx never creates a database, and neither does jpstart: a typo in the
/// database name must fail rather than start on an empty database.
fn postgres_connect_error(url: &str, e: sqlx::Error) -> StoreError {
    let shown = redact_url(url);
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000") => {
            let name = database_name(url);
            StoreError::Config(format!(
                "PostgreSQL database {name:?} does not exist ({shown}); jpstart never creates \
                 databases: create it first (e.g. `createdb {name}`) or fix the URL"
            ))
        }
        sqlx::Error::Database(db) => StoreError::Config(format!(
            "PostgreSQL refused the connection ({shown}): {}",
            db.message()
        )),
        sqlx::Error::Io(io) => {
            StoreError::Config(format!("cannot reach PostgreSQL ({shown}): {io}"))
        }
        _ => StoreError::Database(e),
    }
}

/// The database name in a PostgreSQL URL (its path), for messages.
fn database_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    let name = path.split(['?', '#']).next().unwrap_or("");
    name.to_string()
}

/// Whether PostgreSQL aborted a transaction only because of what ran beside
/// it (serialization failure, deadlock victim): running it again is safe
/// and will usually succeed.
pub fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("40001" | "40P01")),
        _ => false,
    }
}

/// `sqlite://PATH` → the same with `mode=rwc` so that the file is created on
/// first start.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        // A connection to a local file cannot drop out under us; the ping
        // sqlx otherwise sends on every acquire is one more round trip to
        // the connection's worker thread per query (measured: a large part
        // of a status request's CPU time, see docs/BENCHMARKS.md).
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL: readers do not block the writer. synchronous=FULL: a
                // commit is on disk before it is acknowledged (billing
                // depends on acknowledged activations). busy_timeout covers
                // a second process (admin commands) writing at the same time.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                )
                .await?;
                Ok(())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/jp?sslmode=require"),
            "postgres://app:***@db:5432/jp?sslmode=require"
        );
        assert_eq!(redact_url("postgres://app@db/jp"), "postgres://app@db/jp");
        assert_eq!(
            redact_url("sqlite:///var/lib/jp.db"),
            "sqlite:///var/lib/jp.db"
        );
    }

    #[test]
    fn database_names() {
        assert_eq!(database_name("postgres://u:p@h:1/jpstart?x=y"), "jpstart");
        assert_eq!(database_name("postgresql://h/"), "");
    }

    #[test]
    fn schemes() {
        assert_eq!(
            Backend::from_url("sqlite://x.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgresql://h/d").ok(),
            Some(Backend::Postgres)
        );
        let err = Backend::from_url("mysql://u:pw@h/d")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("unsupported") && !e.contains("pw")));
    }
}
